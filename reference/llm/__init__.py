"""Module 4 -- LLM fundamentals: from raw text to a GPT that pretrains and samples.

Exercises so far: 4.1 byte-level BPE (``train_bpe``, ``BPETokenizer``).
Given helpers (not exercises): ``pretokenize``, ``split_special``, ``merge_pair``,
``to_bytes``, ``PRETOKENIZE``.
"""

from .bpe import (
    PRETOKENIZE,
    BPETokenizer,
    merge_pair,
    pretokenize,
    split_special,
    to_bytes,
    train_bpe,
)

__all__ = [
    "train_bpe",
    "BPETokenizer",
    "pretokenize",
    "split_special",
    "merge_pair",
    "to_bytes",
    "PRETOKENIZE",
]
