"""Module 4 -- LLM fundamentals: from raw text to a GPT that pretrains, samples and decodes
with a KV cache.

Exercises: 4.1 byte-level BPE (``train_bpe``, ``BPETokenizer``); 4.2 batches of next-token
targets (``get_batch``); 4.3 pretraining (``train``, ``evaluate``, ``save_checkpoint``,
``load_checkpoint``); 4.4 decoding (``greedy``, ``top_k_filter``, ``top_p_filter``,
``sample_next_token``); 4.5 the KV cache (``KVCache``, ``generate``; ``forward_with_cache``,
which ``GPT.forward(idx, kv_cache=cache)`` reaches through ``cache.forward``, and
``cached_attention``, the attention it gives ``GPT.block_forward``); 4.6 grouped-query
attention (``repeat_kv``, ``grouped_query_attention``, ``kv_cache_bytes``); 4.7 quantization
(``quantize_int8``, ``dequantize_int8``, ``quantize_int4``, ``dequantize_int4``,
``quantized_linear``); 4.8 scaling (``count_parameters``, ``flops_per_token``,
``chinchilla_optimal``, ``fit_power_law``); 4.9 SFT (``apply_chat_template``,
``sft_loss_mask``); 4.10 reward models (``bradley_terry_loss``,
``bradley_terry_loss_backward``); 4.11 PPO (``gae``, ``ppo_clip_loss``, ``kl_penalty``); 4.12
DPO (``sequence_logprob``, ``dpo_loss``, ``dpo_loss_backward``); 4.13 prompting
(``few_shot_prompt``, ``chain_of_thought_prompt``, ``self_consistency``).
Given helpers (not exercises): ``pretokenize``, ``split_special``, ``merge_pair``,
``to_bytes``, ``PRETOKENIZE``, ``batch_rng``, ``as_logits``, ``dtype_itemsize``,
``config_value``, ``check_messages``, ``header``, ``special_id``, ``as_rewards``,
``as_logps``, ``extract_answer``.
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
from .dpo import as_logps, dpo_loss, dpo_loss_backward, sequence_logprob
from .gqa import config_value, dtype_itemsize, grouped_query_attention, kv_cache_bytes, repeat_kv
from .kv_cache import KVCache, cached_attention, forward_with_cache, generate
from .ppo import gae, kl_penalty, ppo_clip_loss
from .pretrain import batch_rng, evaluate, load_checkpoint, save_checkpoint, train
from .prompting import chain_of_thought_prompt, extract_answer, few_shot_prompt, self_consistency
from .quantization import (
    dequantize_int4,
    dequantize_int8,
    quantize_int4,
    quantize_int8,
    quantized_linear,
)
from .reward import as_rewards, bradley_terry_loss, bradley_terry_loss_backward
from .sampling import as_logits, greedy, sample_next_token, top_k_filter, top_p_filter
from .scaling import chinchilla_optimal, count_parameters, fit_power_law, flops_per_token
from .sft import apply_chat_template, check_messages, header, sft_loss_mask, special_id

__all__ = [
    "train_bpe", "BPETokenizer", "pretokenize", "split_special", "merge_pair", "to_bytes",
    "PRETOKENIZE",
    "get_batch", "train", "evaluate", "save_checkpoint", "load_checkpoint", "batch_rng",
    "greedy", "top_k_filter", "top_p_filter", "sample_next_token", "as_logits",
    "KVCache", "forward_with_cache", "cached_attention", "generate",
    "repeat_kv", "grouped_query_attention", "kv_cache_bytes", "dtype_itemsize", "config_value",
    "quantize_int8", "dequantize_int8", "quantize_int4", "dequantize_int4", "quantized_linear",
    "count_parameters", "flops_per_token", "chinchilla_optimal", "fit_power_law",
    "apply_chat_template", "sft_loss_mask", "check_messages", "header", "special_id",
    "bradley_terry_loss", "bradley_terry_loss_backward", "as_rewards",
    "gae", "ppo_clip_loss", "kl_penalty",
    "sequence_logprob", "dpo_loss", "dpo_loss_backward", "as_logps",
    "few_shot_prompt", "chain_of_thought_prompt", "self_consistency", "extract_answer",
]
