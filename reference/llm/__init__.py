"""Module 4 -- LLM fundamentals: from raw text to a GPT that pretrains, samples and decodes
with a KV cache.

Exercises: 4.1 byte-level BPE (``train_bpe``, ``BPETokenizer``); 4.2 batches of next-token
targets (``get_batch``); 4.3 pretraining (``train``, ``evaluate``, ``save_checkpoint``,
``load_checkpoint``); 4.4 decoding (``greedy``, ``top_k_filter``, ``top_p_filter``,
``sample_next_token``); 4.5 the KV cache (``KVCache``, ``generate``; ``forward_with_cache``,
which ``GPT.forward(idx, kv_cache=...)`` calls); 4.6 grouped-query attention (``repeat_kv``,
``grouped_query_attention``, ``kv_cache_bytes``); 4.7 quantization (``quantize_int8``,
``dequantize_int8``, ``quantize_int4``, ``dequantize_int4``, ``quantized_linear``); 4.8
scaling (``count_parameters``, ``flops_per_token``, ``chinchilla_optimal``,
``fit_power_law``).
Given helpers (not exercises): ``pretokenize``, ``split_special``, ``merge_pair``,
``to_bytes``, ``PRETOKENIZE``, ``batch_rng``, ``as_logits``, ``dtype_itemsize``,
``config_value``.
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
from .gqa import config_value, dtype_itemsize, grouped_query_attention, kv_cache_bytes, repeat_kv
from .kv_cache import KVCache, forward_with_cache, generate
from .pretrain import batch_rng, evaluate, load_checkpoint, save_checkpoint, train
from .quantization import (
    dequantize_int4,
    dequantize_int8,
    quantize_int4,
    quantize_int8,
    quantized_linear,
)
from .sampling import as_logits, greedy, sample_next_token, top_k_filter, top_p_filter
from .scaling import chinchilla_optimal, count_parameters, fit_power_law, flops_per_token

__all__ = [
    "train_bpe", "BPETokenizer", "pretokenize", "split_special", "merge_pair", "to_bytes",
    "PRETOKENIZE",
    "get_batch", "train", "evaluate", "save_checkpoint", "load_checkpoint", "batch_rng",
    "greedy", "top_k_filter", "top_p_filter", "sample_next_token", "as_logits",
    "KVCache", "forward_with_cache", "generate",
    "repeat_kv", "grouped_query_attention", "kv_cache_bytes", "dtype_itemsize", "config_value",
    "quantize_int8", "dequantize_int8", "quantize_int4", "dequantize_int4", "quantized_linear",
    "count_parameters", "flops_per_token", "chinchilla_optimal", "fit_power_law",
]
