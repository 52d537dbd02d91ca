"""Module 3 encoder and decoder layers (exercises 3.6, 3.7) vs ``torch.nn.TransformerEncoderLayer``
and ``torch.nn.TransformerDecoderLayer``: outputs, input gradients and the gradient of every
parameter, post-norm and pre-norm, with and without masks.

The torch layers run with ``batch_first=True``, ``dropout=0.0``, ``activation="relu"`` in
float64; their weights (std 0.5, LayerNorm gains around 1, nonzero biases: layout bugs must
move the outputs a lot) are copied into our flat params dict: ``in_proj_weight`` split into
q/k/v and transposed, ``out_proj``, ``linear1``/``linear2`` transposed, ``norm1..3``.
Boolean masks are negated on the way: torch's True means *masked out*, ours *may attend*.
Dimensions are distinct (B=2, T=4, S=5, C=6, H=3, F=7) so that a transposed axis fails loudly.
"""

import numpy as np
import pytest
import torch

from reference.self_attention.masks import causal_mask, padding_mask
from reference.transformer.decoder import (
    DECODER_PARAM_NAMES,
    decoder_layer,
    decoder_layer_backward,
)
from reference.transformer.encoder import (
    ENCODER_PARAM_NAMES,
    encoder_layer,
    encoder_layer_backward,
)

RTOL, ATOL = 1e-10, 1e-12
B, T, S, C, H, F = 2, 4, 5, 6, 3, 7
NORM_FIRST = pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])

# our prefix -> torch submodule, for the attentions, the norms and the FFN's two linears
ENCODER_MODULES = {"attn": "self_attn", "ln_1": "norm1", "ln_2": "norm2"}
DECODER_MODULES = {"self_attn": "self_attn", "cross_attn": "multihead_attn", "ln_1": "norm1",
                   "ln_2": "norm2", "ln_3": "norm3"}


def assert_close(actual, expected, what):
    if isinstance(expected, torch.Tensor):
        expected = expected.detach().numpy()
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=what)


def leaf(array):
    """A float64 torch leaf tensor that records its gradient."""
    return torch.tensor(np.asarray(array), dtype=torch.float64, requires_grad=True)


def randomize(layer, rng):
    """Large random weights and biases; LayerNorm gains near 1 (as numbers, not zeros)."""
    with torch.no_grad():
        for name, p in layer.named_parameters():
            values = 0.5 * rng.standard_normal(tuple(p.shape))
            if name.startswith("norm") and name.endswith("weight"):
                values = 1.0 + 0.3 * values
            p.copy_(torch.tensor(values))


def in_our_layout(layer, modules, get):
    """The layer's parameters (``get = lambda p: p.detach()``) or gradients
    (``get = lambda p: p.grad``) as our flat dict of NumPy arrays."""
    out = {}
    for prefix, name in modules.items():
        module = getattr(layer, name)
        if prefix.startswith("ln"):
            out[f"{prefix}.gamma"] = get(module.weight).numpy().copy()
            out[f"{prefix}.beta"] = get(module.bias).numpy().copy()
            continue
        w_in, b_in = get(module.in_proj_weight).numpy(), get(module.in_proj_bias).numpy()
        for i, n in enumerate("qkv"):  # (3C, C) rows = [q; k; v]; torch: y = x W^T + b
            out[f"{prefix}.W_{n}"] = w_in[i * C : (i + 1) * C].T.copy()
            out[f"{prefix}.b_{n}"] = b_in[i * C : (i + 1) * C].copy()
        out[f"{prefix}.W_o"] = get(module.out_proj.weight).numpy().T.copy()
        out[f"{prefix}.b_o"] = get(module.out_proj.bias).numpy().copy()
    for i in (1, 2):
        lin = getattr(layer, f"linear{i}")
        out[f"ffn.W_{i}"] = get(lin.weight).numpy().T.copy()  # torch (out, in) -> ours (in, out)
        out[f"ffn.b_{i}"] = get(lin.bias).numpy().copy()
    return out


def random_attention_mask(rng, t_q, t_k):
    """A boolean (B, H, t_q, t_k) mask, True = may attend, with no fully masked row (torch
    gives NaN there, we give zeros)."""
    mask = rng.random((B, H, t_q, t_k)) < 0.6
    mask[..., 0] = True
    return mask


def torch_attn_mask(mask):
    """Our (B, H, t_q, t_k) mask as torch's 3-D ``attn_mask`` (B * H, t_q, t_k), negated."""
    return torch.tensor(~mask.reshape(B * H, *mask.shape[2:]))


def compare_grads(dparams, layer, modules, names):
    assert list(dparams) == list(names), "dparams must have the params' keys, in their order"
    expected = in_our_layout(layer, modules, lambda p: p.grad)
    assert set(expected) == set(names), "the test maps every torch parameter to one of ours"
    for name in names:
        assert_close(dparams[name], expected[name], f"d[{name!r}]")


# --- 3.6 encoder layer -------------------------------------------------------------------------
ENCODER_MASKS = ["no mask", "source padding", "padding + (B, H, S, S) mask"]


@pytest.mark.parametrize("masks", ENCODER_MASKS)
@NORM_FIRST
def test_encoder_layer_matches_torch(norm_first, masks):
    rng = np.random.default_rng(10)
    layer = torch.nn.TransformerEncoderLayer(
        C, H, dim_feedforward=F, dropout=0.0, activation="relu", batch_first=True,
        norm_first=norm_first, dtype=torch.float64,
    )
    randomize(layer, rng)
    layer.eval()
    params = in_our_layout(layer, ENCODER_MODULES, lambda p: p.detach())
    params = {name: params[name] for name in ENCODER_PARAM_NAMES}
    x = rng.standard_normal((B, S, C))
    keep = padding_mask([S, 3], S)  # (B, S), True = real token
    general = random_attention_mask(rng, S, S)

    mask, torch_kwargs = None, {}
    if masks != "no mask":
        mask = keep[:, None, None, :]
        torch_kwargs["src_key_padding_mask"] = torch.tensor(~keep)  # torch: True = ignore
    if masks == "padding + (B, H, S, S) mask":
        mask = mask & general
        torch_kwargs["src_mask"] = torch_attn_mask(general)

    out, cache = encoder_layer(x, params, H, mask=mask, norm_first=norm_first)
    dout = rng.standard_normal(out.shape)
    dx, dparams = encoder_layer_backward(dout, cache)

    x_t = leaf(x)
    out_t = layer(x_t, **torch_kwargs)
    out_t.backward(torch.tensor(dout))
    assert_close(out, out_t, "output")
    assert_close(dx, x_t.grad, "dx")
    compare_grads(dparams, layer, ENCODER_MODULES, ENCODER_PARAM_NAMES)


# --- 3.7 decoder layer -------------------------------------------------------------------------
DECODER_MASKS = ["causal (self_mask=None)", "causal + target and memory padding",
                 "causal + (B, H, T, S) memory mask"]


@pytest.mark.parametrize("masks", DECODER_MASKS)
@NORM_FIRST
def test_decoder_layer_matches_torch(norm_first, masks):
    rng = np.random.default_rng(11)
    layer = torch.nn.TransformerDecoderLayer(
        C, H, dim_feedforward=F, dropout=0.0, activation="relu", batch_first=True,
        norm_first=norm_first, dtype=torch.float64,
    )
    randomize(layer, rng)
    layer.eval()
    params = in_our_layout(layer, DECODER_MODULES, lambda p: p.detach())
    params = {name: params[name] for name in DECODER_PARAM_NAMES}
    x, memory = rng.standard_normal((B, T, C)), rng.standard_normal((B, S, C))
    causal = causal_mask(T)  # (T, T)
    keep_tgt, keep_src = padding_mask([T, 3], T), padding_mask([2, S], S)
    general = random_attention_mask(rng, T, S)

    self_mask, memory_mask = None, None
    torch_kwargs = {"tgt_mask": torch.tensor(~causal)}  # torch: True = not allowed
    if masks == "causal + target and memory padding":
        self_mask = causal & keep_tgt[:, None, None, :]  # (B, 1, T, T)
        memory_mask = keep_src[:, None, None, :]  # (B, 1, 1, S)
        torch_kwargs["tgt_key_padding_mask"] = torch.tensor(~keep_tgt)
        torch_kwargs["memory_key_padding_mask"] = torch.tensor(~keep_src)
    if masks == "causal + (B, H, T, S) memory mask":
        memory_mask = general
        torch_kwargs["memory_mask"] = torch_attn_mask(general)

    out, cache = decoder_layer(x, memory, params, H, self_mask=self_mask,
                               memory_mask=memory_mask, norm_first=norm_first)
    dout = rng.standard_normal(out.shape)
    dx, dmemory, dparams = decoder_layer_backward(dout, cache)

    x_t, memory_t = leaf(x), leaf(memory)
    out_t = layer(x_t, memory_t, **torch_kwargs)
    out_t.backward(torch.tensor(dout))
    assert_close(out, out_t, "output")
    assert_close(dx, x_t.grad, "dx")
    assert_close(dmemory, memory_t.grad, "dmemory")
    if memory_mask is not None and memory_mask.shape[-2] == 1:  # padded sources: no gradient
        assert np.all(dmemory[0, 2:] == 0), "padded memory positions must get zero gradient"
    compare_grads(dparams, layer, DECODER_MODULES, DECODER_PARAM_NAMES)
