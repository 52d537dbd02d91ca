"""Contract of 4.1 (byte-level BPE): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "train_bpe: result": ("bpe_merges_on_tiny_texts", "bpe_tie_breaking",
                          "bpe_merges_and_encodings_match"),
    # these two call train_bpe(text, vocab_size) without special_tokens
    "train_bpe: default special_tokens": ("bpe_merges_on_tiny_texts", "bpe_tie_breaking"),
    "train_bpe: option special_tokens": ("bpe_vocab_layout_and_size",
                                         "bpe_special_tokens_stay_whole"),
    "train_bpe: raises ValueError": ("bpe_vocab_layout_and_size",),
    # a str cannot change; the list of special tokens is compared after the call (effective
    # where the code runs in the grader's process, nbgrader; the sandbox hands over copies)
    "train_bpe: inputs unchanged": ("bpe_special_tokens_stay_whole",),
}
