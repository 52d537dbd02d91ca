"""Module 4 -- LLM fundamentals: from raw text to a GPT that pretrains and samples.

Exercises so far: 4.1 byte-level BPE (``train_bpe``, ``BPETokenizer``); 4.2 batches of
next-token targets (``get_batch``); 4.3 pretraining (``train``, ``evaluate``,
``save_checkpoint``, ``load_checkpoint``); 4.4 decoding (``greedy``, ``top_k_filter``,
``top_p_filter``, ``sample_next_token``); 4.5 the KV cache (``KVCache``, ``generate``;
``forward_with_cache``, which ``GPT.forward(idx, kv_cache=...)`` calls).
Given helpers (not exercises): ``pretokenize``, ``split_special``, ``merge_pair``,
``to_bytes``, ``PRETOKENIZE``, ``batch_rng``, ``as_logits``.
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
from .data import get_batch
from .kv_cache import KVCache, forward_with_cache, generate
from .pretrain import batch_rng, evaluate, load_checkpoint, save_checkpoint, train
from .sampling import as_logits, greedy, sample_next_token, top_k_filter, top_p_filter

__all__ = [
    "train_bpe",
    "BPETokenizer",
    "pretokenize",
    "split_special",
    "merge_pair",
    "to_bytes",
    "PRETOKENIZE",
    "get_batch",
    "train",
    "evaluate",
    "save_checkpoint",
    "load_checkpoint",
    "batch_rng",
    "greedy",
    "top_k_filter",
    "top_p_filter",
    "sample_next_token",
    "as_logits",
    "KVCache",
    "forward_with_cache",
    "generate",
]
