"""Exercise 5.1 reference vs Hugging Face's ``LlamaForCausalLM``, offline, in float64.

A small random Llama built here (2 layers, 4 query heads sharing 2 key/value heads, hidden
64, intermediate 160, vocabulary 101, ``rope_theta`` 5000 rather than the default 10000,
``rms_norm_eps`` 1e-5), every parameter at a "loud" scale so that a transposed, misnamed or
mis-grouped tensor moves the logits a lot, head tied and untied:

- HF saves it (``save_pretrained``, safetensors) -> ``Llama.from_pretrained``: the logits are
  HF's; the loss and the gradient of every parameter are torch autograd's; decoding with a
  ``KVCache`` (a prefill, then one token per step) gives HF's cached logits at every step.
- ``Llama.save_pretrained`` -> HF's ``from_pretrained``: no missing or unexpected tensor,
  the same logits.

Precision: HF's ``LlamaRMSNorm`` computes in float32 whatever the model's dtype (it casts
its input ``.to(torch.float32)``), and ``LlamaRotaryEmbedding`` builds its tables in float32
(``inv_freq`` is a float32 buffer, ``forward`` calls ``.float()``). The tight comparisons
(1e-10) therefore run HF with those two modules computing in the input's dtype (the same
formulas without the casts: ``float64_hf`` below); one test compares with HF unpatched, at
a tolerance sized by float32 rounding. Attention is HF's SDPA path (its eager path also
computes the softmax in float32).
"""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import LlamaConfig as HFLlamaConfig
from transformers import LlamaForCausalLM
from transformers.models.llama import modeling_llama

from reference.modern.llama import Llama, LlamaConfig

V, C, F_MLP, N_LAYER, H, H_KV, MAX_POS = 101, 64, 160, 2, 4, 2, 64
THETA, EPS = 5000.0, 1e-5
IDX = np.array([[1, 5, 9, 2, 100, 0, 7, 33, 64], [0, 3, 3, 7, 11, 30, 12, 99, 4]])  # (2, 9)
RTOL, ATOL = 1e-10, 1e-10


def hf_config(tied):
    return HFLlamaConfig(vocab_size=V, hidden_size=C, intermediate_size=F_MLP,
                         num_hidden_layers=N_LAYER, num_attention_heads=H,
                         num_key_value_heads=H_KV, max_position_embeddings=MAX_POS,
                         rms_norm_eps=EPS, rope_theta=THETA, tie_word_embeddings=tied,
                         attn_implementation="sdpa")


def hf_model(tied, seed=0):
    """A random HF Llama in float64, eval mode, every parameter at a 'loud' scale."""
    torch.manual_seed(seed)
    model = LlamaForCausalLM(hf_config(tied)).to(torch.float64).eval()
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float64)
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.3 * noise)
            elif name == "model.embed_tokens.weight":
                p.copy_(noise)
            else:  # nn.Linear (out, in)
                p.copy_(noise / p.shape[1] ** 0.5)
    return model


def _rms_norm_in_dtype(self, hidden_states):
    """LlamaRMSNorm.forward without its float32 round trip."""
    variance = hidden_states.pow(2).mean(-1, keepdim=True)
    return self.weight * (hidden_states * torch.rsqrt(variance + self.variance_epsilon))


def _rotary_in_float64(self, x, position_ids):
    """LlamaRotaryEmbedding.forward (default rope type) with float64 tables."""
    dim = self.inv_freq.shape[0] * 2
    base = self.config.rope_parameters["rope_theta"]
    inv_freq = 1.0 / base ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    freqs = position_ids[..., None].to(torch.float64) * inv_freq
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(x.dtype), emb.sin().to(x.dtype)


@pytest.fixture
def float64_hf(monkeypatch):
    """HF's RMSNorm and rotary tables computing in float64 (see the module docstring)."""
    monkeypatch.setattr(modeling_llama.LlamaRMSNorm, "forward", _rms_norm_in_dtype)
    monkeypatch.setattr(modeling_llama.LlamaRotaryEmbedding, "forward", _rotary_in_float64)


def hf_logits(model, idx=IDX):
    with torch.no_grad():
        return model(torch.from_numpy(idx)).logits.numpy()


def saved_and_loaded(model, path):
    """HF saves (safetensors); we load in float64."""
    model.save_pretrained(path, safe_serialization=True)
    return Llama.from_pretrained(path, dtype="float64")


@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
def test_from_pretrained_logits_match_hf(tied, tmp_path, float64_hf):
    model = hf_model(tied)
    ours = saved_and_loaded(model, tmp_path)
    assert ours.config.tie_word_embeddings is tied
    assert ("lm_head.weight" in ours.params) is not tied
    assert ours.num_parameters() == model.num_parameters()
    logits = ours.forward(IDX)
    assert logits.dtype == np.float64
    np.testing.assert_allclose(logits, hf_logits(model), rtol=RTOL, atol=ATOL)


def test_logits_match_unpatched_hf_to_float32_rounding(tmp_path):
    """HF as it ships: its float32 RMSNorm and tables put it ~1e-7 from exact, relative."""
    model = hf_model(tied=False)
    theirs = hf_logits(model)
    ours = saved_and_loaded(model, tmp_path).forward(IDX)
    scale = np.abs(theirs).max()
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5 * scale)


@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
def test_loss_and_every_gradient_match_autograd(tied, tmp_path, float64_hf):
    model = hf_model(tied, seed=3)
    ours = saved_and_loaded(model, tmp_path)
    targets = np.roll(IDX, -1, axis=1)
    targets[0, -1] = targets[1, 2] = -100  # ignored positions
    loss = ours.loss(IDX, targets)
    grads = ours.backward()
    logits = model(torch.from_numpy(IDX)).logits
    theirs = F.cross_entropy(logits.reshape(-1, V), torch.from_numpy(targets).reshape(-1),
                             ignore_index=-100)
    theirs.backward()
    np.testing.assert_allclose(loss, theirs.item(), rtol=RTOL, atol=0)
    named = dict(model.named_parameters())  # a tied head is one parameter (the embedding)
    assert sorted(grads) == sorted(named)
    for name, grad in grads.items():
        want = named[name].grad.numpy()
        if name.endswith("_proj.weight") or name == "lm_head.weight":
            want = want.T  # nn.Linear's (out, in) -> our (in, out)
        np.testing.assert_allclose(grad, want, rtol=1e-9, atol=1e-10, err_msg=name)


def test_loss_equals_hf_labels_loss(tmp_path, float64_hf):
    """HF shifts inside (labels = the inputs); ours takes shifted targets. HF's loss casts
    the logits to float32 (``ForCausalLMLoss``): equal to float32 rounding."""
    model = hf_model(tied=True, seed=4)
    ours = saved_and_loaded(model, tmp_path)
    with torch.no_grad():
        theirs = model(torch.from_numpy(IDX), labels=torch.from_numpy(IDX)).loss.item()
    np.testing.assert_allclose(ours.loss(IDX[:, :-1], IDX[:, 1:]), theirs, rtol=1e-6)


@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
def test_kv_cached_decoding_matches_hf(tied, tmp_path, float64_hf):
    """A prefill of 5 tokens, then one token per step: HF's cached logits at every step."""
    model = hf_model(tied, seed=5)
    ours = saved_and_loaded(model, tmp_path)
    cache = ours.new_kv_cache(IDX.shape[0], max_len=IDX.shape[1])
    past, start = None, 0
    for t_new in (5, 1, 1, 1, 1):
        chunk = IDX[:, start:start + t_new]
        with torch.no_grad():
            out = model(torch.from_numpy(chunk), cache=past, use_cache=True)
        past = out.cache
        mine = ours.forward(chunk, kv_cache=cache)
        assert cache.length == start + t_new
        np.testing.assert_allclose(mine, out.logits.numpy(), rtol=RTOL, atol=ATOL,
                                   err_msg=f"positions {start}..{start + t_new - 1}")
        start += t_new
    # HF caches the rotated keys, as ours: the buffers agree
    for layer in range(N_LAYER):
        keys = past.layers[layer].keys.numpy()
        np.testing.assert_allclose(cache.k[layer], keys, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
def test_save_pretrained_loads_in_hf(tied, tmp_path, float64_hf):
    config = LlamaConfig(vocab_size=V, hidden_size=C, intermediate_size=F_MLP,
                         num_hidden_layers=N_LAYER, num_attention_heads=H,
                         num_key_value_heads=H_KV, max_position_embeddings=MAX_POS,
                         rms_norm_eps=EPS, rope_theta=THETA, tie_word_embeddings=tied,
                         dtype="float64")
    ours = Llama(config, np.random.default_rng(7))
    ours.params = {n: p * (20.0 if p.ndim == 2 else 1.0) for n, p in ours.params.items()}
    ours.save_pretrained(tmp_path)
    theirs, info = LlamaForCausalLM.from_pretrained(tmp_path, dtype=torch.float64,
                                                    output_loading_info=True)
    assert not any(info.values()), info  # no missing, unexpected or mismatched tensor
    assert theirs.config.tie_word_embeddings is tied
    assert theirs.config.rope_parameters["rope_theta"] == THETA
    np.testing.assert_allclose(ours.forward(IDX), hf_logits(theirs.eval()), rtol=RTOL,
                               atol=ATOL)
    again = Llama.from_pretrained(tmp_path, dtype="float64")
    for name, p in ours.params.items():
        np.testing.assert_array_equal(again.params[name], p)


def test_config_from_hf_object_and_json_agree(tmp_path):
    model = hf_model(tied=False)
    model.save_pretrained(tmp_path)
    from_json = LlamaConfig.from_hf(json.loads((tmp_path / "config.json").read_text()))
    assert from_json == LlamaConfig.from_hf(model.config)
    assert (from_json.rope_theta, from_json.rms_norm_eps) == (THETA, EPS)
    assert from_json.num_key_value_heads == H_KV and from_json.head_dim == C // H


def test_float32_checkpoint_loads_as_float32(tmp_path):
    model = hf_model(tied=True).to(torch.float32)
    model.save_pretrained(tmp_path)
    ours = Llama.from_pretrained(tmp_path)  # float32 by default
    assert all(p.dtype == np.float32 for p in ours.params.values())
    logits = ours.forward(IDX)
    assert logits.dtype == np.float32
    theirs = hf_logits(model)
    np.testing.assert_allclose(logits, theirs, rtol=0, atol=1e-4 * np.abs(theirs).max())
