"""Exercise 4.5 reference (``KVCache``, ``GPT.forward(idx, kv_cache=...)``, ``generate``) vs
Hugging Face's ``GPT2LMHeadModel`` with ``past_key_values`` / ``use_cache`` and ``generate``.

The same tiny GPT-2 as ``test_gpt_parity.py`` (V=37, T_max=16, 2 layers, 3 heads, C=24,
D=8), every parameter at a 'loud' scale, B=2. Our logits, decoded step by step with the
cache, against HF's decoding with its own cache, in float64 (rtol 1e-10); our cache buffers
against HF's cached keys and values; a prompt prefilled in chunks (fewer queries than keys);
our greedy ``generate`` (with and without the cache) against HF's ``generate(do_sample=
False)``, in float64 and float32.
"""

import inspect

import numpy as np
import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from reference.llm.kv_cache import KVCache, generate
from reference.transformer.gpt import GPT, GPTConfig

V, T_MAX, N_LAYER, N_HEAD, C = 37, 16, 2, 3, 24
B, T0 = 2, 4
PREFIX = "transformer."


def hf_model(dtype=torch.float64, seed=0):
    """A randomised HF GPT-2 in eval mode with every parameter at a 'loud' scale (no token
    id of this vocabulary is its end-of-text id, so HF's generate never stops early)."""
    config = GPT2Config(vocab_size=V, n_positions=T_MAX, n_layer=N_LAYER, n_head=N_HEAD,
                        n_embd=C, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                        attn_implementation="eager")
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(config).to(dtype).eval()
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in model.transformer.named_parameters():
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float64).to(dtype)
            if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
                p.copy_(1.0 + 0.3 * noise)
            elif name.endswith(".bias"):
                p.copy_(0.3 * noise)
            elif name in ("wte.weight", "wpe.weight"):
                p.copy_(noise)
            else:
                p.copy_(noise / p.shape[0] ** 0.5)
    return model


def ours_from(model, np_dtype=np.float64):
    """Our GPT with the HF model's weights (its state_dict minus the `transformer.` prefix)."""
    ours = GPT(GPTConfig.from_hf(model.config, dtype=np.dtype(np_dtype).name),
               np.random.default_rng(0))
    state = model.state_dict()
    for name in ours.params:
        ours.params[name] = state[PREFIX + name].detach().numpy().astype(np_dtype)
    return ours


# HF's name of the cache argument: `past_key_values`, renamed `cache` in transformers 5.
CACHE_ARG = ("cache" if "cache" in inspect.signature(GPT2LMHeadModel.forward).parameters
             else "past_key_values")


def hf_layer(past, i):
    """HF's cached (keys, values) of layer i, (B, H, L, D), whatever its cache class."""
    if hasattr(past, "layers"):
        return past.layers[i].keys, past.layers[i].values
    if hasattr(past, "key_cache"):
        return past.key_cache[i], past.value_cache[i]
    return past[i][0], past[i][1]


def tokens(seed=3, t=10):
    return np.random.default_rng(seed).integers(0, V, (B, t))


@pytest.mark.parametrize("chunks", [(4, 1, 1, 1, 1, 1, 1), (3, 2, 4, 1)],
                         ids=["prefill-then-one-per-step", "chunked-prefill"])
def test_cached_logits_and_buffers_match_hf_past_key_values(chunks):
    model = hf_model()
    ours = ours_from(model)
    idx = tokens(t=sum(chunks))
    cache = KVCache.for_model(ours, B)
    past, start = None, 0
    for t_new in chunks:
        end = start + t_new
        logits = ours.forward(idx[:, start:end], kv_cache=cache)
        with torch.no_grad():
            out = model(input_ids=torch.tensor(idx[:, start:end]), use_cache=True,
                        **{CACHE_ARG: past})
        past = getattr(out, "cache", None) or out.past_key_values
        np.testing.assert_allclose(logits, out.logits.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=f"logits of positions [{start}, {end})")
        assert cache.length == end
        for i in range(N_LAYER):
            keys, values = hf_layer(past, i)
            np.testing.assert_allclose(cache.k[i, :, :, :end], keys.numpy(), rtol=1e-12,
                                       atol=1e-12, err_msg=f"layer {i} keys")
            np.testing.assert_allclose(cache.v[i, :, :, :end], values.numpy(), rtol=1e-12,
                                       atol=1e-12, err_msg=f"layer {i} values")
        start = end
    assert not np.any(cache.k[:, :, :, start:]), "positions beyond length stay untouched"


@pytest.mark.parametrize("dtype, np_dtype", [(torch.float64, np.float64),
                                             (torch.float32, np.float32)],
                         ids=["float64", "float32"])
def test_greedy_generate_matches_hf_generate(dtype, np_dtype):
    model = hf_model(dtype, seed=5)
    ours = ours_from(model, np_dtype)
    prompt = tokens(seed=7, t=T0)
    new = T_MAX - T0
    with torch.no_grad():
        theirs = model.generate(torch.tensor(prompt), attention_mask=torch.ones(B, T0,
                                dtype=torch.long), max_new_tokens=new, do_sample=False,
                                pad_token_id=0, use_cache=True).numpy()
    for use_cache in (True, False):
        ids = generate(ours, prompt, new, use_cache=use_cache)
        assert ids.dtype == np.int64 and ids.shape == (B, T_MAX)
        np.testing.assert_array_equal(ids, theirs, err_msg=f"use_cache={use_cache}")


def test_float32_cached_decoding_stays_close_to_float64():
    model = hf_model()
    ours64, ours32 = ours_from(model), ours_from(model, np.float32)
    idx = tokens(t=T_MAX)
    full = ours64.forward(idx)
    cache = KVCache.for_model(ours32, B)
    assert cache.k.dtype == np.float32
    steps = [ours32.forward(idx[:, :T0], kv_cache=cache)]
    steps += [ours32.forward(idx[:, t:t + 1], kv_cache=cache) for t in range(T0, T_MAX)]
    cached = np.concatenate(steps, axis=1)
    assert cached.dtype == np.float32
    scale = np.abs(full).max()
    np.testing.assert_allclose(cached, full, rtol=0, atol=1e-4 * scale)
