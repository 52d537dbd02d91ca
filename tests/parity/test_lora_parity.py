"""Exercise 5.2 reference vs Hugging Face PEFT 0.21.2: a float64 ``torch.nn.Linear(in, out,
bias=True)`` inside a tiny module, wrapped by ``get_peft_model`` with ``LoraConfig(r,
lora_alpha, lora_dropout=0.0, target_modules=["proj"])``.

- ``lora_linear`` = PEFT's forward, and ``lora_linear_backward`` = autograd's gradients of x,
  ``lora_A.weight`` and ``lora_B.weight`` (PEFT's layouts are the transposes of ours:
  ``lora_A.weight`` is ``(r, in)`` = ``A.T``, ``lora_B.weight`` ``(out, r)`` = ``B.T``); the
  frozen weight and bias get no gradient in either.  ``lora_B`` is set to random values, so
  that the update (zero at PEFT's init) shows.
- ``merge_lora`` = the weight of ``merge_and_unload()``.
- ``lora_init`` draws from PEFT's distribution (not bitwise: another generator): ``B`` zero,
  ``A`` uniform within PEFT's bound ``1/sqrt(in)``, with the same quantiles and variance as
  PEFT's own ``lora_A`` within stated tolerances.

Distinct sizes (in=7, out=5, r=2..4, B=2, T=3).
"""

import numpy as np
import pytest
import torch
from peft import LoraConfig, get_peft_model

from reference.modern.lora import lora_init, lora_linear, lora_linear_backward, merge_lora
from reference.transformer.linear import linear

RTOL, ATOL = 1e-10, 1e-12
N_IN, N_OUT = 7, 5


class Tiny(torch.nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.proj = torch.nn.Linear(n_in, n_out, bias=True)

    def forward(self, x):
        return self.proj(x)


def peft_layer(r, alpha, n_in=N_IN, n_out=N_OUT, seed=0, random_B=True):
    """(the PEFT model, its LoRA layer) in float64; lora_B random unless `random_B` is False."""
    torch.manual_seed(seed)
    model = Tiny(n_in, n_out).double()
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.0, target_modules=["proj"])
    peft_model = get_peft_model(model, config).double()
    layer = peft_model.base_model.model.proj
    if random_B:
        with torch.no_grad():
            layer.lora_B["default"].weight.copy_(torch.randn(n_out, r, dtype=torch.float64))
    return peft_model, layer


def ours_from(layer):
    """(W, b, A, B) in our layout, copied out of PEFT's layer."""
    W = layer.base_layer.weight.detach().numpy().T.copy()  # (out, in) -> (in, out)
    b = layer.base_layer.bias.detach().numpy().copy()
    A = layer.lora_A["default"].weight.detach().numpy().T.copy()  # (r, in) -> (in, r)
    B = layer.lora_B["default"].weight.detach().numpy().T.copy()  # (out, r) -> (r, out)
    return W, b, A, B


CASES = [(2, 16), (4, 8), (3, 3.5)]


@pytest.mark.parametrize("x_shape", [(2, 3, N_IN), (6, N_IN)], ids=["BTC", "NC"])
@pytest.mark.parametrize("r, alpha", CASES)
def test_forward_and_gradients_match_peft(r, alpha, x_shape):
    peft_model, layer = peft_layer(r, alpha)
    assert layer.scaling["default"] == alpha / r  # PEFT's default, not rsLoRA's
    W, b, A, B = ours_from(layer)
    rng = np.random.default_rng(r)
    x = rng.standard_normal(x_shape)
    dout = rng.standard_normal(x_shape[:-1] + (N_OUT,))

    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    ty = peft_model(tx)
    (ty * torch.from_numpy(dout)).sum().backward()

    ours, cache = lora_linear(x, W, A, B, alpha, b)
    np.testing.assert_allclose(ours, ty.detach().numpy(), rtol=RTOL, atol=ATOL)
    dx, dA, dB = lora_linear_backward(dout, cache)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(dA, layer.lora_A["default"].weight.grad.numpy().T,
                               rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(dB, layer.lora_B["default"].weight.grad.numpy().T,
                               rtol=RTOL, atol=ATOL)
    # frozen in PEFT too: no gradient for the base layer
    assert layer.base_layer.weight.grad is None and layer.base_layer.bias.grad is None
    assert not layer.base_layer.weight.requires_grad


@pytest.mark.parametrize("r, alpha", CASES)
def test_merge_lora_matches_merge_and_unload(r, alpha):
    peft_model, layer = peft_layer(r, alpha)
    W, b, A, B = ours_from(layer)
    x = np.random.default_rng(1).standard_normal((4, N_IN))
    adapted = peft_model(torch.from_numpy(x)).detach().numpy()
    merged_model = peft_model.merge_and_unload()
    proj = merged_model.proj
    assert isinstance(proj, torch.nn.Linear)
    W_before = W.copy()
    ours = merge_lora(W, A, B, alpha)
    np.testing.assert_allclose(ours, proj.weight.detach().numpy().T, rtol=RTOL, atol=ATOL)
    np.testing.assert_array_equal(W, W_before)  # ours leaves W as it was
    np.testing.assert_array_equal(proj.bias.detach().numpy(), b)  # the bias is not touched
    np.testing.assert_allclose(x @ ours + b, adapted, rtol=RTOL, atol=ATOL)


def test_lora_init_draws_from_peft_distribution():
    """B = 0 in both; A uniform within 1/sqrt(in) in both, its quantiles and variance equal
    within tolerances of several standard errors (40,000 draws each)."""
    n_in, n_out, r = 400, 3, 100
    bound = 1 / np.sqrt(n_in)
    peft_model, layer = peft_layer(r, 16, n_in=n_in, n_out=n_out, seed=5, random_B=False)
    theirs_A = layer.lora_A["default"].weight.detach().numpy().T  # (in, r)
    theirs_B = layer.lora_B["default"].weight.detach().numpy().T
    A, B = lora_init(n_in, n_out, r, np.random.default_rng(5))
    assert A.shape == theirs_A.shape and B.shape == theirs_B.shape
    assert not B.any() and not theirs_B.any()
    for sample in (A, theirs_A):
        assert np.abs(sample).max() <= bound  # the documented bound is PEFT's
        assert np.abs(sample).max() >= 0.99 * bound
        assert abs(sample.var() / (bound**2 / 3) - 1) < 0.05  # uniform: variance c^2 / 3
    # quantiles of two uniform samples of 40,000: standard error ~0.007 * bound apart
    q = np.linspace(0.05, 0.95, 19)
    np.testing.assert_allclose(np.quantile(A, q), np.quantile(theirs_A, q), rtol=0,
                               atol=0.04 * bound)
    # at init both adapted layers are their frozen layer
    W, b, _, _ = ours_from(layer)
    x = np.random.default_rng(2).standard_normal((3, n_in))
    np.testing.assert_array_equal(lora_linear(x, W, A, B, 16, b)[0], linear(x, W, b)[0])
    base = layer.base_layer(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(peft_model(torch.from_numpy(x)).detach().numpy(), base,
                               rtol=RTOL, atol=ATOL)


def test_float32_kept_and_close_to_peft():
    peft_model, layer = peft_layer(4, 8)
    W, b, A, B = ours_from(layer)
    x = np.random.default_rng(3).standard_normal((2, 3, N_IN))
    ours, _ = lora_linear(*(a.astype(np.float32) for a in (x, W, A, B)), 8,
                          b.astype(np.float32))
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, peft_model(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-5)
