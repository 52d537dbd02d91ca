"""Module 1 reference vs PyTorch: softmax, masks, scaled dot-product attention (forward and
gradients), the online softmax, and multi-head attention vs ``torch.nn.MultiheadAttention``.

Everything runs in float64 with tight tolerances; dimensions are distinct (B=2, H=3, T_q=3,
T_k=5, D=4, D_v=6, C=12) so that a transposed axis fails loudly.
"""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.nn.attention.bias import causal_lower_right

from reference.self_attention import attention, masks, multi_head, online_softmax, softmax

# The functions under test, from the files that hold them (the packages import nothing).
FILES = (attention, masks, multi_head, online_softmax, softmax)
ref = SimpleNamespace(**{name: getattr(file, name) for file in FILES for name in dir(file)
                         if not name.startswith("_")})

RTOL, ATOL = 1e-10, 1e-12
B, H, T_Q, T_K, D, D_V, C = 2, 3, 3, 5, 4, 6, 12


def assert_close(actual, expected, what):
    if isinstance(expected, torch.Tensor):
        expected = expected.detach().numpy()
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=what)


def leaf(array):
    """A float64 torch leaf tensor that records its gradient."""
    return torch.tensor(array, dtype=torch.float64, requires_grad=True)


def random_qkv(rng, t_q=T_Q, t_k=T_K):
    return (
        rng.standard_normal((B, H, t_q, D)),
        rng.standard_normal((B, H, t_k, D)),
        rng.standard_normal((B, H, t_k, D_V)),
    )


def torch_causal(t_q, t_k):
    """torch's bottom-right causal mask: its CausalBias, or an explicit tril when t_q > t_k
    (CausalBias warns there; the first t_q - t_k rows are fully masked and give zeros)."""
    if t_q <= t_k:
        return causal_lower_right(t_q, t_k)
    return torch.ones(t_q, t_k, dtype=torch.bool).tril(diagonal=t_k - t_q)


# --- 1.1, 1.2 softmax ----------------------------------------------------------------------
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_and_backward_match_torch(axis):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5)) * 3
    x[0, 1, 2] = x[1, 2, 0] = -np.inf  # masked entries (no row is all -inf: torch gives NaN)
    x[1, 0, :] += 1e4  # large logits: the max must be subtracted
    dout = rng.standard_normal(x.shape)

    out = ref.softmax(x, axis=axis)
    x_t = leaf(x)
    out_t = torch.softmax(x_t, dim=axis)
    out_t.backward(torch.tensor(dout))
    assert_close(out, out_t, "softmax")
    assert_close(ref.softmax_backward(dout, out, axis=axis), x_t.grad, "softmax_backward")


# --- 1.3 masks -----------------------------------------------------------------------------
@pytest.mark.parametrize("t_q, t_k", [(4, 4), (3, 5), (1, 6), (5, 3)])
def test_causal_mask_is_torch_lower_right_tril(t_q, t_k):
    expected = torch.ones(t_q, t_k, dtype=torch.bool).tril(diagonal=t_k - t_q).numpy()
    np.testing.assert_array_equal(ref.causal_mask(t_q, t_k), expected)


def test_padding_mask_is_the_negated_torch_key_padding_mask():
    lengths = [5, 2, 0]
    ignore = torch.arange(T_K)[None, :] >= torch.tensor(lengths)[:, None]  # torch: True = ignore
    np.testing.assert_array_equal(ref.padding_mask(lengths, T_K), ~ignore.numpy())


# --- 1.4, 1.5 scaled dot-product attention ---------------------------------------------------
CASES = {  # name: (T_q, T_k)
    "no mask": (T_Q, T_K),
    "random bool": (T_Q, T_K),
    "padding": (T_Q, T_K),
    "causal square": (T_K, T_K),
    "causal t_q < t_k": (T_Q, T_K),
    "causal t_q > t_k": (T_K, T_Q),
}
CASE_NAMES = list(CASES)


def _case(name, seed=0):
    """q, k, v, our boolean mask (or None), torch's attn_mask, torch's is_causal, the rng."""
    rng = np.random.default_rng(seed)
    t_q, t_k = CASES[name]
    q, k, v = random_qkv(rng, t_q, t_k)
    mask, torch_mask, is_causal = None, None, False
    if name == "random bool":
        mask = rng.random((B, 1, t_q, t_k)) > 0.4
        mask[:, :, :, 0] = True  # every query sees a key ...
        mask[1, 0, 2, :] = False  # ... except one fully masked row: zeros in both libraries
        torch_mask = torch.tensor(mask)
    elif name == "padding":
        mask = ref.padding_mask([t_k, 2], t_k)[:, None, None, :]
        torch_mask = torch.tensor(mask)
    elif name == "causal square":
        mask, is_causal = ref.causal_mask(t_q), True  # torch's own (top-left == bottom-right)
    elif name.startswith("causal"):
        mask, torch_mask = ref.causal_mask(t_q, t_k), torch_causal(t_q, t_k)
    return q, k, v, mask, torch_mask, is_causal, rng


@pytest.mark.parametrize("name", CASE_NAMES)
def test_sdpa_forward_and_gradients_match_torch(name):
    q, k, v, mask, torch_mask, is_causal, rng = _case(name)
    out, cache = ref.scaled_dot_product_attention(q, k, v, mask)
    dout = rng.standard_normal(out.shape)
    dq, dk, dv = ref.scaled_dot_product_attention_backward(dout, cache)

    q_t, k_t, v_t = leaf(q), leaf(k), leaf(v)
    out_t = F.scaled_dot_product_attention(q_t, k_t, v_t, attn_mask=torch_mask, is_causal=is_causal)
    out_t.backward(torch.tensor(dout))
    assert_close(out, out_t, f"{name}: output")
    assert_close(dq, q_t.grad, f"{name}: dq")
    assert_close(dk, k_t.grad, f"{name}: dk")
    assert_close(dv, v_t.grad, f"{name}: dv")

    # The weights in the cache reproduce torch's output: weights @ v == sdpa(q, k, v).
    assert cache["weights"].shape == q.shape[:-1] + (k.shape[-2],)
    assert_close(cache["weights"] @ v, out_t, f"{name}: cache['weights'] @ v")


def test_sdpa_float32_stays_float32_and_matches_torch():
    rng = np.random.default_rng(1)
    q, k, v = (a.astype(np.float32) for a in random_qkv(rng))
    mask = ref.causal_mask(T_Q, T_K)
    out, cache = ref.scaled_dot_product_attention(q, k, v, mask)
    dq, dk, dv = ref.scaled_dot_product_attention_backward(np.ones_like(out), cache)
    assert {a.dtype for a in (out, cache["weights"], dq, dk, dv)} == {np.dtype(np.float32)}
    q_t, k_t, v_t = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    out_t = F.scaled_dot_product_attention(q_t, k_t, v_t, attn_mask=torch_causal(T_Q, T_K))
    out_t.sum().backward()
    for ours, theirs in [(out, out_t), (dq, q_t.grad), (dk, k_t.grad), (dv, v_t.grad)]:
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-5, atol=1e-6)


# --- 1.9 online softmax ----------------------------------------------------------------------
@pytest.mark.parametrize("block_size", [1, 2, 3, 64])
@pytest.mark.parametrize("name", CASE_NAMES)
def test_online_softmax_matches_torch(name, block_size):
    q, k, v, mask, torch_mask, is_causal, _ = _case(name)
    expected = F.scaled_dot_product_attention(
        *map(torch.tensor, (q, k, v)), attn_mask=torch_mask, is_causal=is_causal
    )
    assert_close(ref.online_softmax_attention(q, k, v, mask, block_size), expected, name)


@pytest.mark.parametrize("t_q, t_k", [(3, 5), (5, 5), (5, 3)])
@pytest.mark.parametrize("block_size", [1, 2, 4])
def test_online_softmax_causal_flag_matches_torch_lower_right(t_q, t_k, block_size):
    q, k, v = random_qkv(np.random.default_rng(2), t_q, t_k)
    expected = F.scaled_dot_product_attention(
        *map(torch.tensor, (q, k, v)), attn_mask=torch_causal(t_q, t_k)
    )
    out = ref.online_softmax_attention(q, k, v, block_size=block_size, causal=True)
    assert_close(out, expected, f"causal=True, t_q={t_q}, t_k={t_k}")


# --- 1.7, 1.8 multi-head attention -----------------------------------------------------------
def _torch_mha(rng):
    """nn.MultiheadAttention with large random weights and biases, and the same as our dict."""
    mha = torch.nn.MultiheadAttention(C, H, bias=True, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        for p in mha.parameters():  # std 0.5, not 0.02: layout bugs must move the output a lot
            p.copy_(torch.tensor(0.5 * rng.standard_normal(tuple(p.shape))))
    w_in = mha.in_proj_weight.detach().numpy()  # (3C, C) rows = [q; k; v] outputs
    b_in = mha.in_proj_bias.detach().numpy()
    params = {}
    for i, n in enumerate("qkv"):
        params[f"W_{n}"] = w_in[i * C : (i + 1) * C].T.copy()  # torch: y = x W^T + b
        params[f"b_{n}"] = b_in[i * C : (i + 1) * C].copy()
    params["W_o"] = mha.out_proj.weight.detach().numpy().T.copy()
    params["b_o"] = mha.out_proj.bias.detach().numpy().copy()
    return mha, params


def _torch_param_grads(mha):
    """Gradients of nn.MultiheadAttention in the layout of our params dict."""
    g_w, g_b = mha.in_proj_weight.grad.numpy(), mha.in_proj_bias.grad.numpy()
    grads = {}
    for i, n in enumerate("qkv"):
        grads[f"W_{n}"] = g_w[i * C : (i + 1) * C].T
        grads[f"b_{n}"] = g_b[i * C : (i + 1) * C]
    grads["W_o"] = mha.out_proj.weight.grad.numpy().T
    grads["b_o"] = mha.out_proj.bias.grad.numpy()
    return grads


@pytest.mark.parametrize("padded", [False, True], ids=["no mask", "padding mask"])
def test_cross_attention_matches_torch_multihead_attention(padded):
    rng = np.random.default_rng(3)
    mha, params = _torch_mha(rng)
    x_q, x_kv = rng.standard_normal((B, T_Q, C)), rng.standard_normal((B, T_K, C))
    keep = ref.padding_mask([T_K, 2], T_K) if padded else None  # (B, T_k), True = real token

    out, cache = ref.multi_head_attention(
        x_q, x_kv, params, H, None if keep is None else keep[:, None, None, :]
    )
    dout = rng.standard_normal(out.shape)
    dx_q, dx_kv, dparams = ref.multi_head_attention_backward(dout, cache)

    x_q_t, x_kv_t = leaf(x_q), leaf(x_kv)
    out_t, weights_t = mha(
        x_q_t,
        x_kv_t,
        x_kv_t,
        key_padding_mask=None if keep is None else torch.tensor(~keep),  # torch: True = ignore
        need_weights=True,
        average_attn_weights=False,
    )
    out_t.backward(torch.tensor(dout))
    assert_close(out, out_t, "output")
    assert_close(cache["weights"], weights_t, "per-head attention weights (B, H, T_q, T_k)")
    assert_close(dx_q, x_q_t.grad, "dx_q")
    assert_close(dx_kv, x_kv_t.grad, "dx_kv")
    assert list(dparams) == list(params)
    for name, grad in _torch_param_grads(mha).items():
        assert_close(dparams[name], grad, f"d{name}")


@pytest.mark.parametrize("padded", [False, True], ids=["causal", "causal + padding"])
def test_causal_self_attention_matches_torch_multihead_attention(padded):
    rng = np.random.default_rng(4)
    mha, params = _torch_mha(rng)
    x = rng.standard_normal((B, T_K, C))
    causal = ref.causal_mask(T_K)  # (T, T)
    keep = ref.padding_mask([T_K, 3], T_K)
    mask = causal & keep[:, None, None, :] if padded else causal  # (B, 1, T, T) or (T, T)

    out, cache = ref.multi_head_attention(x, x, params, H, mask)
    dout = rng.standard_normal(out.shape)
    dx_q, dx_kv, dparams = ref.multi_head_attention_backward(dout, cache)

    x_t = leaf(x)
    out_t, weights_t = mha(
        x_t,
        x_t,
        x_t,
        attn_mask=torch.tensor(~causal),  # torch: True = not allowed
        key_padding_mask=torch.tensor(~keep) if padded else None,
        need_weights=True,
        average_attn_weights=False,
    )
    out_t.backward(torch.tensor(dout))
    assert_close(out, out_t, "output")
    assert_close(cache["weights"], weights_t, "per-head attention weights (B, H, T, T)")
    assert_close(dx_q + dx_kv, x_t.grad, "dx = dx_q + dx_kv (self-attention)")
    for name, grad in _torch_param_grads(mha).items():
        assert_close(dparams[name], grad, f"d{name}")
