"""Contract of 4.13 (few-shot, chain of thought, self-consistency): clause -> its checks."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "few_shot_prompt: result": ("few_shot_prompt_exact_format",),
    "few_shot_prompt: default instruction": ("few_shot_prompt_exact_format",
                                             "few_shot_prompt_instruction_and_zero_shot"),
    "few_shot_prompt: option instruction": ("few_shot_prompt_instruction_and_zero_shot",),
    "few_shot_prompt: raises TypeError": ("prompts_refuse_bad_input",),
    "few_shot_prompt: raises ValueError": ("prompts_refuse_bad_input",),
    # the list of examples (call_unchanged compares it before and after)
    "few_shot_prompt: inputs unchanged": ("few_shot_prompt_exact_format",),
    "chain_of_thought_prompt: result": ("chain_of_thought_prompt_exact_format",),
    "chain_of_thought_prompt: default instruction": (
        "chain_of_thought_prompt_exact_format",
        "chain_of_thought_prompt_instruction_and_zero_shot"),
    "chain_of_thought_prompt: option instruction": (
        "chain_of_thought_prompt_instruction_and_zero_shot",),
    "chain_of_thought_prompt: raises TypeError": ("prompts_refuse_bad_input",),
    "chain_of_thought_prompt: raises ValueError": ("prompts_refuse_bad_input",),
    "chain_of_thought_prompt: inputs unchanged": ("chain_of_thought_prompt_exact_format",),
    "self_consistency: result": ("self_consistency_majority_ignores_none",
                                 "self_consistency_ties_first_occurrence"),
    "self_consistency: inputs unchanged": ("self_consistency_majority_ignores_none",),
}
