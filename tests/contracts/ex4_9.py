"""Contract of 4.9 (chat template and SFT loss mask): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "apply_chat_template: result": ("template_text",),
    "apply_chat_template: default add_generation_prompt": ("template_text",
                                                           "template_generation_prompt"),
    "apply_chat_template: option add_generation_prompt": ("template_generation_prompt",),
    "apply_chat_template: raises ValueError": ("chat_template_refuses_bad_conversations",),
    "apply_chat_template: raises TypeError": ("chat_template_refuses_bad_conversations",),
    # the list of message dicts (call_unchanged compares it before and after)
    "apply_chat_template: inputs unchanged": ("template_text", "template_generation_prompt"),
    "sft_loss_mask: result": ("mask_trains_only_assistant_tokens", "mask_every_assistant_turn",
                              "mask_counts_tokens_not_characters"),
    "sft_loss_mask: raises ValueError": ("chat_template_refuses_bad_conversations",),
    "sft_loss_mask: raises TypeError": ("chat_template_refuses_bad_conversations",),
    "sft_loss_mask: inputs unchanged": ("mask_trains_only_assistant_tokens",),
}
