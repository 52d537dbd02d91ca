"""Checks of exercise 3.4: GELU MLP and SwiGLU.

The grader's own forward and backward (below) give the expected values and the results of
the usual slips, so a wrong gradient is named when it is one of them (see `close_or_slip`).
"""

from __future__ import annotations

import math

import numpy as np

from ... import expect
from .. import check
from .common import FFN_KEYS, _matches, _params, close_or_slip, fx, get, matches

SWIGLU_KEYS = ("W_gate", "W_up", "W_down")
IGNORES = "ignores the upstream gradient dout (it is the gradient for dout = 1)"


def _act(name, h):
    """The grader's activation `name` and its derivative at h."""
    if name == "relu":
        return np.maximum(h, 0), (h > 0) * 1.0
    s = 1.0 / (1.0 + np.exp(-h))
    if name == "silu":
        return h * s, s * (1 + h * (1 - s))
    if name == "gelu_exact":
        cdf = 0.5 * (1 + np.vectorize(math.erf)(h / math.sqrt(2.0)))
        return h * cdf, cdf + h * np.exp(-0.5 * h * h) / math.sqrt(2 * math.pi)
    c = math.sqrt(2.0 / math.pi)
    t = np.tanh(c * (h + 0.044715 * h ** 3))
    return 0.5 * h * (1 + t), 0.5 * (1 + t) + 0.5 * h * (1 - t * t) * c * (1 + 0.134145 * h * h)


def _rows(v):
    return v.reshape(-1, v.shape[-1])


def _ffn(x, p, activation="gelu"):
    return _act(activation, x @ p["W_1"] + p["b_1"])[0] @ p["W_2"] + p["b_2"]


def _ffn_grads(x, p, dout, skip_act=False, db1_before_act=False):
    """The grader's (dx, dparams) of the GELU MLP, or of a slip."""
    h = x @ p["W_1"] + p["b_1"]
    a, d = _act("gelu", h)
    da = dout @ p["W_2"].T
    dh = da if skip_act else da * d
    grads = {"W_1": _rows(x).T @ _rows(dh), "b_1": _rows(da if db1_before_act else dh).sum(0),
             "W_2": _rows(a).T @ _rows(dout), "b_2": _rows(dout).sum(0)}
    return dh @ p["W_1"].T, grads


def _ffn_slips(x, p, dout):
    """(dx, dparams, the slip) of the usual wrong MLP backwards."""
    return [(*_ffn_grads(x, p, np.ones_like(dout)), f"feed_forward_backward {IGNORES}"),
            (*_ffn_grads(x, p, dout, skip_act=True), "the gradient skips the activation: "
             "dh = act_backward(da, cache['act']) before the first linear's backward"),
            (*_ffn_grads(x, p, dout, db1_before_act=True), "db_1 sums the gradient before "
             "the activation's backward (da); it sums dh = act_backward(da, ...)")]


def _swiglu_grads(x, p, dout, swapped=False, one_branch=False):
    """The grader's (dx, dparams) of SwiGLU, or of a slip."""
    g, u = x @ p["W_gate"], x @ p["W_up"]
    s, d = _act("silu", g)
    dh = dout @ p["W_down"].T
    ds, du = (dh * s, dh * u) if swapped else (dh * u, dh * s)
    dg = ds * d
    dx = dg @ p["W_gate"].T + (0 if one_branch else du @ p["W_up"].T)
    return dx, {"W_gate": _rows(x).T @ _rows(dg), "W_up": _rows(x).T @ _rows(du),
                "W_down": _rows(s * u).T @ _rows(dout)}


def _swiglu_slips(x, p, dout):
    return [(*_swiglu_grads(x, p, np.ones_like(dout)), f"swiglu_backward {IGNORES}"),
            (*_swiglu_grads(x, p, dout, swapped=True), "the product rule is swapped: the "
             "gate's gradient is dh * u, the up branch's dh * silu(g)"),
            (*_swiglu_grads(x, p, dout, one_branch=True), "dx lacks the up branch's "
             "gradient: x feeds both branches, dx = dg W_gateᵀ + du W_upᵀ")]


def _backward(impl, fn: str, params, right_out, pure=False):
    """The student's forward output and (dx, dparams) of `fn` on the 3.4 inputs."""
    x, dout = get("ffn.x"), get("ffn.dout")
    # Copies (except in the purity probe): in-place changes must not reach our inputs.
    out, cache = expect.pair(getattr(impl, fn)(x.copy(), {k: v.copy() for k, v in
                                                          params.items()}), fn)
    back = getattr(impl, f"{fn}_backward")
    result = (expect.call_pure(back, f"{fn}_backward", dout, cache) if pure
              else back(dout.copy(), cache))
    if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict)):
        expect.fail(f"3.4 {fn}_backward should return (dx, dparams), dparams a dict keyed "
                    "like params.")
    return matches(out, right_out), result


def _check_dparams(result, forward_ok, keys, params, expected, slips, fn, hints):
    _, dparams = result
    for key in reversed(keys):
        expect.array(dparams.get(key), f"3.4 {fn}_backward: d{key}", shape=params[key].shape)
    # A slip is confirmed by all the gradients together (two slips may share one of them).
    found = [(grads, why) for _, grads, why in slips
             if all(matches(dparams[k], grads[k], **expect.GRAD) for k in keys)][:1]
    for key in reversed(keys):  # backward order: the first mismatch is the bug
        close_or_slip(dparams[key], expected[key], f"d{key}", f"3.4 {fn}_backward: d{key}",
                      hint=hints.get(key, ""),
                      candidates=[(grads[key], why) for grads, why in found],
                      gate=(forward_ok, f"{fn}_values" if fn == "swiglu" else
                            "feed_forward_values"), **expect.GRAD)


@check("3.4", weight=2)
def feed_forward_values(impl):
    """x -> act(x W_1 + b_1) W_2 + b_2, GELU (tanh) by default, any activation by name"""
    x, params = get("ffn.x"), _params("ffn.params.")
    for activation in ("gelu", "relu", "gelu_exact", "silu"):
        kwargs = {} if activation == "gelu" else {"activation": activation}
        out, _ = expect.pair(expect.call_pure(impl.feed_forward, "feed_forward", x, params,
                                              **kwargs), "feed_forward")
        label = f"3.4 feed_forward ({activation}{', the default' if not kwargs else ''})"
        expect.array(out, label, shape=x.shape, dtype=np.float64)
        expected = (fx()[f"ffn.{activation}.out"] if activation in ("gelu", "relu")
                    else _ffn(x, params, activation))
        hint = "The default activation is GELU with the tanh approximation."
        if not kwargs and not matches(out, expected) and _matches(out, "ffn.relu.out"):
            explicit, _ = expect.pair(impl.feed_forward(x, params, activation="gelu"),
                                      "feed_forward")
            if matches(explicit, expected):
                hint = expect.cause("feed_forward's default activation is ReLU: the default "
                                    "is 'gelu' (the tanh form, GPT-2's)")
        expect.close(out, expected, label, hint=hint)


@check("3.4")
def feed_forward_errors(impl):
    """ValueError for an unknown activation, a missing or a mis-shaped parameter"""
    x, params = get("ffn.x"), _params("ffn.params.")
    sw = _params("swiglu.params.")
    expect.pair(impl.feed_forward(x, params), "feed_forward")  # points only for working
    expect.pair(impl.swiglu(x, sw), "swiglu")  # functions
    expect.raises(impl.feed_forward, ValueError, "3.4 feed_forward(..., activation='tanh')",
                  x, params, activation="tanh")
    missing = {k: v for k, v in params.items() if k != "b_2"}
    expect.raises(impl.feed_forward, ValueError, "3.4 feed_forward with params lacking 'b_2'",
                  x, missing)
    narrow = {**sw, "W_up": sw["W_up"][:, :1]}  # (C, 1) broadcasts against (..., F)
    expect.raises(impl.swiglu, ValueError, "3.4 swiglu with W_up of shape (C, 1)", x, narrow)


@check("3.4", weight=2)
def feed_forward_backward_values(impl):
    """the gradient of every parameter of the MLP"""
    x, params, dout = get("ffn.x"), _params("ffn.params."), get("ffn.dout")
    ok, result = _backward(impl, "feed_forward", params, fx()["ffn.gelu.out"])
    expected = {k: fx()[f"ffn.grads.{k}"] for k in FFN_KEYS}
    _check_dparams(result, ok, FFN_KEYS, params, expected, _ffn_slips(x, params, dout),
                   "feed_forward", {})


@check("3.4")
def feed_forward_backward_dx(impl):
    """dx of the MLP; the backward modifies neither dout nor the cache"""
    x, params, dout = get("ffn.x"), _params("ffn.params."), get("ffn.dout")
    ok, (dx, _) = _backward(impl, "feed_forward", params, fx()["ffn.gelu.out"], pure=True)
    close_or_slip(dx, fx()["ffn.dx"], "dx", "3.4 feed_forward_backward: dx",
                  hint="dx = dh W_1ᵀ, dh the gradient after the activation's backward.",
                  candidates=[(d, why) for d, _, why in _ffn_slips(x, params, dout)],
                  gate=(ok, "feed_forward_values"), **expect.GRAD)


@check("3.4")
def swiglu_values(impl):
    """W_down(silu(x W_gate) * (x W_up))"""
    x, params = get("ffn.x"), _params("swiglu.params.")
    out, _ = expect.pair(expect.call_pure(impl.swiglu, "swiglu", x, params), "swiglu")
    expect.array(out, "swiglu", shape=x.shape, dtype=np.float64)
    if _matches(out, "swiglu.bug.silu_on_up"):
        expect.fail("3.4 swiglu(x, params) is wrong. " + expect.cause(
            "swiglu applies SiLU to the wrong branch: the gate is silu(x W_gate), multiplied "
            "by the linear branch x W_up"))
    expect.close(out, fx()["swiglu.out"], "swiglu(x, params)")


@check("3.4")
def swiglu_backward_values(impl):
    """the gradients of W_gate, W_up and W_down"""
    x, params, dout = get("ffn.x"), _params("swiglu.params."), get("ffn.dout")
    ok, result = _backward(impl, "swiglu", params, fx()["swiglu.out"])
    expected = {k: fx()[f"swiglu.grads.{k}"] for k in SWIGLU_KEYS}
    hint = ("Product rule: the gate's gradient is d(h) * up, the linear branch's "
            "d(h) * silu(gate).")
    _check_dparams(result, ok, SWIGLU_KEYS, params, expected, _swiglu_slips(x, params, dout),
                   "swiglu", {"W_gate": hint, "W_up": hint})


@check("3.4")
def swiglu_backward_dx(impl):
    """dx of SwiGLU; the backward modifies neither dout nor the cache"""
    x, params, dout = get("ffn.x"), _params("swiglu.params."), get("ffn.dout")
    ok, (dx, _) = _backward(impl, "swiglu", params, fx()["swiglu.out"], pure=True)
    close_or_slip(dx, fx()["swiglu.dx"], "dx", "3.4 swiglu_backward: dx",
                  hint="x feeds both branches: dx = d(gate) W_gateᵀ + d(up) W_upᵀ.",
                  candidates=[(d, why) for d, _, why in _swiglu_slips(x, params, dout)],
                  gate=(ok, "swiglu_values"), **expect.GRAD)


@check("3.4")
def feed_forward_float32(impl):
    """float32 in, float32 out, forward and backward, MLP and SwiGLU"""
    x, dout = get("ffn.x").astype(np.float32), get("ffn.dout").astype(np.float32)
    for fn, prefix, right in (("feed_forward", "ffn.params.", "ffn.gelu.out"),
                              ("swiglu", "swiglu.params.", "swiglu.out")):
        params = {k: v.astype(np.float32) for k, v in _params(prefix).items()}
        out, cache = expect.pair(getattr(impl, fn)(x, params), fn)
        expect.array(out, f"3.4 {fn} of float32 inputs", shape=x.shape, dtype=np.float32)
        expect.close(out, fx()[right], f"3.4 {fn} of float32 inputs", **expect.F32)
        result = getattr(impl, f"{fn}_backward")(dout, cache)
        if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict)):
            expect.fail(f"3.4 {fn}_backward should return (dx, dparams).")
        dx, dparams = result
        expect.array(dx, f"3.4 {fn}_backward dx of float32 inputs", shape=x.shape,
                     dtype=np.float32)
        for key, value in params.items():
            expect.array(dparams.get(key), f"3.4 {fn}_backward d{key} of float32 inputs",
                         shape=value.shape, dtype=np.float32)
