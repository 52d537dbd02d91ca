"""Checks of exercise 3.4: GELU MLP and SwiGLU."""

from __future__ import annotations

import numpy as np

from ... import expect
from .. import check
from .common import FFN_KEYS, _matches, _params, fx, get

SWIGLU_KEYS = ("W_gate", "W_up", "W_down")


@check("3.4", weight=2)
def feed_forward_values(impl):
    """x -> act(x W_1 + b_1) W_2 + b_2, GELU (tanh) by default"""
    x, params = get("ffn.x"), _params("ffn.params.")
    for activation in ("gelu", "relu"):
        kwargs = {} if activation == "gelu" else {"activation": activation}
        out, _ = expect.pair(expect.call_pure(impl.feed_forward, "feed_forward", x, params,
                                              **kwargs), "feed_forward")
        expect.array(out, f"feed_forward ({activation})", shape=x.shape, dtype=np.float64)
        expect.close(out, fx()[f"ffn.{activation}.out"], f"feed_forward ({activation})",
                     hint="The default activation is GELU with the tanh approximation.")


@check("3.4", weight=2)
def feed_forward_backward_values(impl):
    """dx and the gradient of every parameter of the MLP"""
    x, params, dout = get("ffn.x"), _params("ffn.params."), get("ffn.dout")
    out, cache = expect.pair(impl.feed_forward(x, params), "feed_forward")
    expect.require_correct(out, fx()["ffn.gelu.out"], "feed_forward", "3.4")
    result = impl.feed_forward_backward(dout, cache)
    if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict)):
        expect.fail("feed_forward_backward should return (dx, dparams), dparams a dict keyed "
                    "like params.")
    dx, dparams = result
    for key in reversed(FFN_KEYS):  # backward order: the first mismatch is the bug
        expect.array(dparams.get(key), f"d{key}", shape=params[key].shape)
        expect.close(dparams[key], fx()[f"ffn.grads.{key}"], f"d{key}")
    expect.close(dx, fx()["ffn.dx"], "dx of feed_forward")


@check("3.4", weight=2)
def swiglu_values_and_backward(impl):
    """W_down(silu(x W_gate) * (x W_up)) and its gradients"""
    x, params, dout = get("ffn.x"), _params("swiglu.params."), get("ffn.dout")
    out, cache = expect.pair(expect.call_pure(impl.swiglu, "swiglu", x, params), "swiglu")
    expect.array(out, "swiglu", shape=x.shape, dtype=np.float64)
    if _matches(out, "swiglu.bug.silu_on_up"):
        expect.fail("swiglu applies SiLU to the wrong branch: the gate is silu(x W_gate), "
                    "multiplied by the linear branch x W_up.")
    expect.close(out, fx()["swiglu.out"], "swiglu(x, params)")
    result = impl.swiglu_backward(dout, cache)
    if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict)):
        expect.fail("swiglu_backward should return (dx, dparams).")
    dx, dparams = result
    for key in reversed(SWIGLU_KEYS):
        expect.array(dparams.get(key), f"d{key}", shape=params[key].shape)
        expect.close(dparams[key], fx()[f"swiglu.grads.{key}"], f"d{key}",
                     hint="Product rule: the gate's gradient is d(h) * up, the linear "
                          "branch's d(h) * silu(gate).")
    expect.close(dx, fx()["swiglu.dx"], "dx of swiglu",
                 hint="x feeds both branches: dx = d(gate) W_gateᵀ + d(up) W_upᵀ.")
