"""Helpers shared by the checks of several exercises."""

from __future__ import annotations

import numpy as np

from ... import expect, fixtures

AXES = (-1, 0, 1)


def fx() -> dict[str, np.ndarray]:
    return fixtures.by_name("self_attention")


def get(name: str) -> np.ndarray:
    return fx()[name].copy()


def _no_warnings(info, fn_name: str) -> None:
    """No numerical warning (0/0, overflow); a student's own prints and warnings are fine."""
    numeric = [w for w in info.warnings if w.startswith(("RuntimeWarning", "FloatingPoint"))]
    if numeric:
        expect.fail(f"{fn_name} raised a warning: {numeric[0]}. Fully masked rows and "
                    "-inf entries must be handled without 0/0 or exp overflow (use np.where, "
                    "or np.errstate around a step you then repair).")


def _case(name: str) -> dict[str, np.ndarray]:
    keys = ("q", "k", "v", "mask", "out", "weights", "dout", "dq", "dk", "dv")
    prefix = f"attention.{name}."
    return {k: get(prefix + k) for k in keys if prefix + k in fx()}


def _sdpa(impl, case, **overrides):
    args = {"q": case["q"], "k": case["k"], "v": case["v"], **overrides}
    mask = case.get("mask")
    result = expect.call_pure(impl.scaled_dot_product_attention, "scaled_dot_product_attention",
                              args["q"], args["k"], args["v"], mask=mask)
    out, cache = expect.pair(result, "scaled_dot_product_attention")
    return out, cache


PARAM_NAMES = ("W_q", "W_k", "W_v", "W_o", "b_q", "b_k", "b_v", "b_o")


def _mha_case(name: str) -> dict:
    prefix = f"mha.{name}."
    case = {k[len(prefix):]: get(k) for k in fx() if k.startswith(prefix)}
    case["params"] = {p: case.pop(f"params.{p}") for p in PARAM_NAMES}
    case["grads"] = {p: case.pop(f"grads.{p}") for p in PARAM_NAMES}
    case["n_heads"] = int(case.pop("n_heads"))
    if "mask" not in case:
        case["mask"] = None
    return case


def _mha(impl, case, x_q=None, x_kv=None):
    x_q = case["x_q"] if x_q is None else x_q
    if x_kv is None:
        x_kv = case.get("x_kv", x_q)  # self-attention cases store no x_kv: x_kv is x_q
    result = expect.call_pure(impl.multi_head_attention, "multi_head_attention", x_q, x_kv,
                              case["params"], case["n_heads"], mask=case["mask"])
    return expect.pair(result, "multi_head_attention")


# ---- The grader's own math and slip diagnoses ------------------------------------
# Expected gradients are central differences of the forwards written below (not of the
# student's forward), so a wrong forward never hides or excuses a backward bug.


def skipped_until(what: str, verb: str = "passes") -> None:
    """A check that builds on another clause of the same exercise earns nothing before it."""
    expect.fail(f"skipped until {what} {verb}: this check builds on it.")


def softmax_math(s: np.ndarray) -> np.ndarray:
    """Softmax over the last axis; -inf entries give 0 and an all -inf row zeros."""
    m = s.max(axis=-1, keepdims=True)
    e = np.exp(s - np.where(np.isneginf(m), 0.0, m))
    total = e.sum(axis=-1, keepdims=True)
    return e / np.where(total == 0, 1.0, total)


def attention_math(q, k, v, mask=None, scale=None) -> np.ndarray:
    """softmax(q k^T / sqrt(D)) v; leading axes broadcast (finite differences batch them)."""
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ np.swapaxes(k, -1, -2) * scale
    if mask is not None:
        s = np.where(mask, s, -np.inf)
    return softmax_math(s) @ v


def jacobian(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences of `f` at `x`, all perturbations in one call of `f` (which must
    broadcast a new leading axis): shape (x.size, *f(x).shape)."""
    n = x.size
    steps = np.zeros((2 * n, n))
    steps[np.arange(n), np.arange(n)] = h
    steps[n + np.arange(n), np.arange(n)] = -h
    outs = f(x + steps.reshape(2 * n, *x.shape))
    return (outs[:n] - outs[n:]) / (2 * h)


def vjp(jac: np.ndarray, dout: np.ndarray, shape) -> np.ndarray:
    """The gradient of sum(dout * f) from f's Jacobian."""
    return np.tensordot(jac, dout, axes=dout.ndim).reshape(shape)


def ratio(got, want) -> float | None:
    """The constant c with got == c * want (c != 1), if there is one."""
    if not (isinstance(got, np.ndarray) and got.shape == want.shape and got.dtype.kind == "f"
            and np.any(want) and np.all(np.isfinite(got))):
        return None
    got = got.astype(np.float64)
    c = float(np.vdot(want, got) / np.vdot(want, want))
    if abs(c - 1) < 1e-6 or abs(c) < 1e-6 or not np.allclose(got, c * want, rtol=1e-6,
                                                             atol=1e-9):
        return None
    return c


def matches(got, want) -> bool:
    return (isinstance(got, np.ndarray) and got.shape == np.shape(want)
            and np.allclose(got, want, **expect.GRAD))


def named_factor(ratios: list[tuple[float, dict]], candidates: dict) -> str:
    """Name the factor that explains the ratio of every case (`ratios`: (c, dims) pairs;
    `candidates`: name -> function of the dims); "" when none does."""
    for name, value in candidates.items():
        if all(np.isclose(c, value(dims), rtol=1e-5) for c, dims in ratios):
            return name
    cs = [c for c, _ in ratios]
    if np.allclose(cs, cs[0], rtol=1e-5):
        return f"a constant factor {cs[0]:.6g}"
    return ""


def gradient_slip(name: str, got, want: np.ndarray, others: dict, alternatives: dict) -> str:
    """The slip that turns the true gradient `want` into `got`, confirmed on the arrays: a
    transposed gradient, another input's gradient (`others`: name -> true gradient), or a
    known wrong formula (`alternatives`: cause -> what it gives); "" when none fits."""
    if not isinstance(got, np.ndarray) or got.ndim < 2:
        return ""
    flipped = np.swapaxes(got, -1, -2)
    if flipped.shape == want.shape and np.allclose(flipped, want, **expect.GRAD):
        return f"{name} is transposed (its last two axes are swapped)"
    for other, truth in others.items():
        if matches(got, truth):
            return f"{name} holds the gradient of {other}: the gradients are swapped"
    for cause, value in alternatives.items():
        if matches(got, value):
            return cause
    return ""


def _linear(x, w, b):
    """x @ w + b where w (..., C, C) and b (..., C) may carry a leading axis of their own."""
    return x @ w[..., None, :, :] + b[..., None, None, :]


def mha_math(x_q, x_k, x_v, params, n_heads, mask=None, scale=None):
    """Multi-head attention written out (keys and values may read different inputs, so that
    each path's gradient can be taken alone); leading axes broadcast."""
    def split(a):  # (..., T, C) -> (..., H, T, D)
        return np.swapaxes(a.reshape(*a.shape[:-1], n_heads, -1), -3, -2)

    q = split(_linear(x_q, params["W_q"], params["b_q"]))
    k = split(_linear(x_k, params["W_k"], params["b_k"]))
    v = split(_linear(x_v, params["W_v"], params["b_v"]))
    heads = np.swapaxes(attention_math(q, k, v, mask, scale), -3, -2)  # (..., T_q, H, D)
    merged = heads.reshape(*heads.shape[:-2], -1)
    return _linear(merged, params["W_o"], params["b_o"])
