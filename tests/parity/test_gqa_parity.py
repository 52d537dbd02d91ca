"""Exercise 4.6 reference vs PyTorch / Hugging Face: ``repeat_kv`` vs transformers' Llama
``repeat_kv``; ``grouped_query_attention`` vs ``F.scaled_dot_product_attention(...,
enable_gqa=True)`` and vs HF's ``repeat_kv`` + SDPA, for MQA, GQA and MHA, with and without a
causal (bottom-right aligned) or padding mask; ``kv_cache_bytes`` vs the bytes HF actually
caches (``DynamicCache``) after a forward of a GQA Llama and of GPT-2.

Float64, distinct sizes (B=2, H=6, T_q=3, T_k=5, D=4).
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM
from transformers.models.llama.modeling_llama import repeat_kv as hf_repeat_kv

from reference.llm.gqa import grouped_query_attention, kv_cache_bytes, repeat_kv
from reference.self_attention.masks import causal_mask, padding_mask
from reference.transformer.gpt import GPTConfig

RTOL, ATOL = 1e-10, 1e-12
B, H, T_Q, T_K, D = 2, 6, 3, 5, 4


def qkv(h_kv, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((B, H, T_Q, D)), rng.standard_normal((B, h_kv, T_K, D)),
            rng.standard_normal((B, h_kv, T_K, D)))


@pytest.mark.parametrize("h_kv, n_rep", [(1, 1), (1, 4), (2, 3), (3, 2), (6, 1)])
def test_repeat_kv_matches_hf(h_kv, n_rep):
    x = np.random.default_rng(h_kv).standard_normal((B, h_kv, T_K, D))
    ours = repeat_kv(x, n_rep)
    theirs = hf_repeat_kv(torch.from_numpy(x), n_rep).numpy()
    assert ours.shape == theirs.shape == (B, h_kv * n_rep, T_K, D)
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(ours, torch.from_numpy(x).repeat_interleave(n_rep, 1).numpy())


MASKS = {
    "none": lambda: None,
    "causal": lambda: causal_mask(T_Q, T_K),  # bottom-right: the queries are the last T_q
    "padding": lambda: padding_mask([5, 3], T_K)[:, None, None, :],
    "causal_and_padding": lambda: causal_mask(T_Q, T_K) & padding_mask([5, 3], T_K)[:, None,
                                                                                   None, :],
}


@pytest.mark.parametrize("mask_name", list(MASKS))
@pytest.mark.parametrize("h_kv", [1, 2, 3, 6], ids=["MQA", "GQA2", "GQA3", "MHA"])
def test_grouped_query_attention_matches_torch_sdpa(h_kv, mask_name):
    q, k, v = qkv(h_kv, seed=h_kv)
    mask = MASKS[mask_name]()
    ours = grouped_query_attention(q, k, v, mask)
    tq, tk, tv = (torch.from_numpy(a) for a in (q, k, v))
    tmask = None if mask is None else torch.from_numpy(np.ascontiguousarray(mask))
    # torch's boolean attn_mask has our polarity: True = takes part in attention.
    theirs = F.scaled_dot_product_attention(tq, tk, tv, attn_mask=tmask, enable_gqa=True)
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=RTOL, atol=ATOL)
    n_rep = H // h_kv
    repeated = F.scaled_dot_product_attention(tq, hf_repeat_kv(tk, n_rep),
                                              hf_repeat_kv(tv, n_rep), attn_mask=tmask)
    np.testing.assert_allclose(ours, repeated.numpy(), rtol=RTOL, atol=ATOL)


def test_grouped_query_attention_float32_and_errors():
    q, k, v = (a.astype(np.float32) for a in qkv(2))
    out = grouped_query_attention(q, k, v, causal_mask(T_Q, T_K))
    assert out.dtype == np.float32
    with pytest.raises(ValueError, match="H = 6.*H_kv = 4"):
        grouped_query_attention(q, np.zeros((B, 4, T_K, D)), np.zeros((B, 4, T_K, D)))


def cached_bytes(cache):
    return sum(t.numel() * t.element_size() for layer in cache.layers
               for t in (layer.keys, layer.values))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_kv_cache_bytes_matches_hf_llama_cache(dtype):
    n_layer, n_head, n_kv, n_embd, batch, seq_len = 3, 6, 2, 24, 2, 7
    cfg = LlamaConfig(vocab_size=37, hidden_size=n_embd, intermediate_size=40,
                      num_hidden_layers=n_layer, num_attention_heads=n_head,
                      num_key_value_heads=n_kv, max_position_embeddings=32)
    model = LlamaForCausalLM(cfg).eval().to(dtype)
    with torch.no_grad():
        out = model(torch.randint(0, 37, (batch, seq_len)), use_cache=True)
    config = {"n_layer": n_layer, "n_head": n_head, "n_kv_heads": n_kv, "n_embd": n_embd}
    name = str(dtype).removeprefix("torch.")
    assert kv_cache_bytes(config, seq_len, batch, name) == cached_bytes(out.past_key_values)


def test_kv_cache_bytes_matches_hf_gpt2_cache():
    cfg = GPT2Config(vocab_size=37, n_positions=16, n_layer=2, n_head=3, n_embd=24,
                     bos_token_id=0, eos_token_id=0)
    model = GPT2LMHeadModel(cfg).eval()
    with torch.no_grad():
        out = model(torch.randint(0, 37, (3, 5)), use_cache=True)
    ours = kv_cache_bytes(GPTConfig(vocab_size=37, block_size=16, n_layer=2, n_head=3,
                                    n_embd=24), 5, 3, "float32")
    assert ours == cached_bytes(out.past_key_values)
