"""Exercise 5.3 reference vs Hugging Face's Mixtral (transformers 5.24): ``moe_router`` vs
``MixtralTopKRouter``, ``moe_layer`` / ``moe_layer_backward`` vs ``MixtralSparseMoeBlock``
and torch autograd (x, the router and every expert), ``load_balancing_loss`` and its
backward vs ``load_balancing_loss_func``, alone and added to the block's loss.

HF stores the experts fused as 3-D tensors: ``experts.gate_up_proj`` ``(E, 2F, C)``, whose
first F rows of expert e are ``W_gate`` transposed and last F rows ``W_up`` transposed
(``.chunk(2, dim=-1)`` of the output), and ``experts.down_proj`` ``(E, C, F)``, ``W_down``
transposed; ``gate.weight`` ``(E, C)`` is our ``gate`` transposed.

Float64, random weights, eval mode with ``router_jitter_noise = 0``. Two casts of HF are
kept out of the float64 comparison: the router's ``router_logits.float()`` (the softmax and
the top-k run in float32 so that bf16 training routes stably) and the same ``.float()`` in
``load_balancing_loss_func``. ``float64_router`` lets ``Tensor.float`` leave float64 tensors
as they are for the exact tests; ``test_hf_float32_router_agrees_to_float32_precision`` runs
HF unpatched. N = B * T = 16 tokens, a power of two, so that HF's float32 counts f_i = c_i / N
are exact.
"""

import contextlib
from unittest import mock

import numpy as np
import pytest
import torch
from transformers import MixtralConfig
from transformers.models.mixtral.modeling_mixtral import (
    MixtralSparseMoeBlock,
    load_balancing_loss_func,
)

from reference.modern.moe import (
    load_balancing_loss,
    load_balancing_loss_backward,
    moe_layer,
    moe_layer_backward,
    moe_router,
)
from reference.self_attention.softmax import softmax_backward

RTOL, ATOL = 1e-10, 1e-12
B, T, C, F = 2, 8, 6, 5  # N = 16 tokens
CASES = [(5, 2), (4, 1), (8, 3), (4, 4)]  # (E, top_k): Mixtral's 2, Switch's 1, dense k = E


@contextlib.contextmanager
def float64_router():
    """HF's ``.float()`` casts leave float64 tensors in float64 (float32 ones still cast)."""
    original = torch.Tensor.float

    def keep_float64(self, *args, **kwargs):
        return self if self.dtype == torch.float64 else original(self, *args, **kwargs)

    with mock.patch.object(torch.Tensor, "float", keep_float64):
        yield


def hf_block(n_experts, top_k, seed=0):
    config = MixtralConfig(hidden_size=C, intermediate_size=F, num_local_experts=n_experts,
                           num_experts_per_tok=top_k, router_jitter_noise=0.0,
                           hidden_act="silu", experts_implementation="eager")
    block = MixtralSparseMoeBlock(config).double().eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in block.parameters():  # std 0.5: routing margins well above rounding
            p.copy_(0.5 * torch.randn(p.shape, generator=gen, dtype=torch.float64))
    return block


def our_params(block):
    """HF's fused (out, in) tensors -> the course's per-expert (in, out) matrices."""
    params = {"gate": block.gate.weight.detach().numpy().T.copy()}
    gate_up = block.experts.gate_up_proj.detach().numpy()  # (E, 2F, C)
    down = block.experts.down_proj.detach().numpy()  # (E, C, F)
    for e in range(gate_up.shape[0]):
        params[f"experts.{e}.W_gate"] = gate_up[e, :F].T.copy()
        params[f"experts.{e}.W_up"] = gate_up[e, F:].T.copy()
        params[f"experts.{e}.W_down"] = down[e].T.copy()
    return params


def hf_grads(block):
    """HF's parameter gradients under our names and layout."""
    grads = {"gate": block.gate.weight.grad.numpy().T}
    gate_up, down = block.experts.gate_up_proj.grad.numpy(), block.experts.down_proj.grad.numpy()
    for e in range(gate_up.shape[0]):
        grads[f"experts.{e}.W_gate"] = gate_up[e, :F].T
        grads[f"experts.{e}.W_up"] = gate_up[e, F:].T
        grads[f"experts.{e}.W_down"] = down[e].T
    return grads


def inputs(seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((B, T, C)), rng.standard_normal((B, T, C))


def run_hf(block, x, dout, aux_coef=None):
    """HF's block forward and backward of sum(out * dout) [+ aux_coef * aux loss]."""
    captured = {}
    hook = block.gate.register_forward_hook(
        lambda module, args, output: captured.update(logits=output[0]))
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    block.zero_grad()
    out = block(tx)
    hook.remove()
    loss = (out * torch.from_numpy(dout)).sum()
    aux = None
    if aux_coef is not None:
        aux = load_balancing_loss_func((captured["logits"],), block.experts.num_experts,
                                       block.top_k)
        loss = loss + aux_coef * aux
    loss.backward()
    return out.detach().numpy(), tx.grad.numpy(), hf_grads(block), aux


@pytest.mark.parametrize("n_experts, top_k", CASES)
def test_router_matches_mixtral_top_k_router(n_experts, top_k):
    block = hf_block(n_experts, top_k)
    x, _ = inputs()
    with float64_router(), torch.no_grad():
        logits, scores, index = block.gate(torch.from_numpy(x))
    weights, expert_index, probs, _ = moe_router(x, our_params(block)["gate"], top_k)
    np.testing.assert_allclose(x.reshape(-1, C) @ our_params(block)["gate"], logits.numpy(),
                               rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(probs, torch.softmax(logits, -1).numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_array_equal(expert_index, index.numpy())
    np.testing.assert_allclose(weights, scores.numpy(), rtol=RTOL, atol=ATOL)
    assert expert_index.dtype == np.int64 and weights.shape == (B * T, top_k)


@pytest.mark.parametrize("n_experts, top_k", CASES)
def test_layer_output_and_gradients_match_autograd(n_experts, top_k):
    block = hf_block(n_experts, top_k, seed=n_experts + top_k)
    params, (x, dout) = our_params(block), inputs(seed=top_k)
    with float64_router():
        out_hf, dx_hf, grads_hf, _ = run_hf(block, x, dout)
    out, cache = moe_layer(x, params, top_k)
    np.testing.assert_allclose(out, out_hf, rtol=RTOL, atol=ATOL)
    dx, dparams = moe_layer_backward(dout, cache)
    np.testing.assert_allclose(dx, dx_hf, rtol=RTOL, atol=ATOL)
    assert dparams.keys() == grads_hf.keys()
    for key, grad in grads_hf.items():
        np.testing.assert_allclose(dparams[key], grad, rtol=RTOL, atol=ATOL, err_msg=key)
    if top_k == 1:  # one weight renormalised is 1: the output sends the router nothing
        np.testing.assert_array_equal(dparams["gate"], 0.0)
    else:
        assert np.abs(dparams["gate"]).max() > 1e-3  # the router's gradient is there


def test_an_expert_no_token_chose_gets_zero_gradients():
    block = hf_block(8, 1, seed=3)
    x, dout = inputs(seed=4)
    x, dout = x[:1, :2], dout[:1, :2]  # 2 tokens, top-1 of 8: at least 6 experts idle
    with float64_router():
        out_hf, dx_hf, grads_hf, _ = run_hf(block, x, dout)
    out, cache = moe_layer(x, our_params(block), 1)
    dx, dparams = moe_layer_backward(dout, cache)
    np.testing.assert_allclose(out, out_hf, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(dx, dx_hf, rtol=RTOL, atol=ATOL)
    idle = sorted(set(range(8)) - set(cache["expert_index"].ravel().tolist()))
    assert len(idle) >= 6
    for e in idle:
        for name in ("W_gate", "W_up", "W_down"):
            key = f"experts.{e}.{name}"
            assert dparams[key].shape == grads_hf[key].shape
            np.testing.assert_array_equal(dparams[key], 0.0)
            np.testing.assert_array_equal(grads_hf[key], 0.0)


@pytest.mark.parametrize("n_experts, top_k", CASES)
def test_load_balancing_loss_matches_hf(n_experts, top_k):
    """HF's f counts the top-k slots over N tokens (sum_i f_i = k); so does ours."""
    block = hf_block(n_experts, top_k, seed=7)
    x, _ = inputs(seed=8)
    logits = torch.from_numpy(x.reshape(-1, C) @ our_params(block)["gate"]).requires_grad_(True)
    with float64_router():
        aux_hf = load_balancing_loss_func((logits,), n_experts, top_k)
        aux_hf.backward()
    _, expert_index, probs, _ = moe_router(x, our_params(block)["gate"], top_k)
    aux, aux_cache = load_balancing_loss(probs, expert_index, n_experts)
    assert aux_hf.dtype == torch.float64
    np.testing.assert_allclose(aux, aux_hf.item(), rtol=RTOL, atol=ATOL)
    drouter_probs = load_balancing_loss_backward(1.0, aux_cache)
    np.testing.assert_allclose(softmax_backward(drouter_probs, probs), logits.grad.numpy(),
                               rtol=RTOL, atol=ATOL)
    counts = np.bincount(expert_index.ravel(), minlength=n_experts)
    np.testing.assert_allclose(aux, n_experts * np.sum(counts / (B * T) * probs.mean(0)),
                               rtol=RTOL)


@pytest.mark.parametrize("n_experts, top_k", CASES)
def test_layer_with_load_balancing_loss_matches_autograd(n_experts, top_k):
    """sum(out * dout) + 0.3 * aux: the aux loss's gradient enters through drouter_probs."""
    block = hf_block(n_experts, top_k, seed=11)
    params, (x, dout) = our_params(block), inputs(seed=12)
    with float64_router():
        _, dx_hf, grads_hf, aux_hf = run_hf(block, x, dout, aux_coef=0.3)
    _, cache = moe_layer(x, params, top_k)
    aux, aux_cache = load_balancing_loss(cache["router_probs"], cache["expert_index"],
                                         n_experts)
    np.testing.assert_allclose(aux, aux_hf.item(), rtol=RTOL, atol=ATOL)
    dx, dparams = moe_layer_backward(dout, cache, load_balancing_loss_backward(0.3, aux_cache))
    np.testing.assert_allclose(dx, dx_hf, rtol=RTOL, atol=ATOL)
    for key, grad in grads_hf.items():
        np.testing.assert_allclose(dparams[key], grad, rtol=RTOL, atol=ATOL, err_msg=key)


def test_hf_float32_router_agrees_to_float32_precision():
    """HF unpatched (router softmax in float32) vs ours in float64: equal to float32 rounding."""
    block = hf_block(5, 2, seed=5)
    x, dout = inputs(seed=6)
    out_hf, dx_hf, grads_hf, aux_hf = run_hf(block, x, dout, aux_coef=0.3)
    assert aux_hf.dtype == torch.float32
    out, cache = moe_layer(x, our_params(block), 2)
    aux, aux_cache = load_balancing_loss(cache["router_probs"], cache["expert_index"], 5)
    dx, dparams = moe_layer_backward(dout, cache, load_balancing_loss_backward(0.3, aux_cache))
    np.testing.assert_allclose(out, out_hf, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(aux, aux_hf.item(), rtol=1e-5)
    np.testing.assert_allclose(dx, dx_hf, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dparams["gate"], grads_hf["gate"], rtol=1e-5, atol=1e-6)


def test_float32_and_errors():
    block = hf_block(5, 2)
    params32 = {k: v.astype(np.float32) for k, v in our_params(block).items()}
    x, dout = (a.astype(np.float32) for a in inputs())
    out, cache = moe_layer(x, params32, 2)
    dx, dparams = moe_layer_backward(dout, cache)
    assert out.dtype == dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in dparams.values())
    with torch.no_grad():
        theirs = block.float()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(out, theirs, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="top_k"):
        moe_layer(x, params32, 6)
    with pytest.raises(ValueError, match="n_experts"):
        load_balancing_loss(cache["router_probs"], cache["expert_index"], 4)
