"""Module 1 -- self-attention in NumPy: softmax, masks, scaled dot-product and multi-head
attention with their backward passes, and the online (FlashAttention-style) softmax.

Exercises 1.1-1.9; run ``python -m demos self_attention`` for a worked example.
"""

from .attention import scaled_dot_product_attention, scaled_dot_product_attention_backward
from .heads import merge_heads, split_heads
from .masks import causal_mask, padding_mask
from .multi_head import init_mha_params, multi_head_attention, multi_head_attention_backward
from .online_softmax import online_softmax_attention
from .softmax import softmax, softmax_backward

__all__ = [
    "softmax",
    "softmax_backward",
    "causal_mask",
    "padding_mask",
    "scaled_dot_product_attention",
    "scaled_dot_product_attention_backward",
    "split_heads",
    "merge_heads",
    "multi_head_attention",
    "multi_head_attention_backward",
    "init_mha_params",
    "online_softmax_attention",
]
