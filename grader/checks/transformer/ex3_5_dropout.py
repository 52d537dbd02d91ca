"""Checks of exercise 3.5: Dropout."""

from __future__ import annotations

import numpy as np

from ... import expect
from .. import check
from .common import _matches, fx, get


@check("3.5", weight=2)
def dropout_values(impl):
    """inverted dropout with the keep-mask rng.random(x.shape) >= p; identity in eval"""
    x, p = get("dropout.x"), float(fx()["dropout.p"])
    rng = np.random.default_rng(int(fx()["dropout.seed"]))
    out, _ = expect.pair(expect.call_pure(impl.dropout, "dropout", x, p, rng), "dropout")
    expect.array(out, "dropout(x, p, rng)", shape=x.shape, dtype=np.float64)
    if _matches(out, "dropout.bug.no_rescale"):
        expect.fail("dropout does not rescale the kept units: inverted dropout divides them "
                    "by 1 - p so that the expectation is unchanged.")
    expect.close(out, fx()["dropout.out"], "dropout(x, p, rng)",
                 hint="Draw the keep-mask as rng.random(x.shape) >= p (one draw of x's "
                      "shape), then out = x * mask / (1 - p).")
    rng = np.random.default_rng(int(fx()["dropout.eval_seed"]))
    state = rng.bit_generator.state
    out_eval, _ = expect.pair(impl.dropout(x, p, rng, train=False), "dropout")
    expect.close(out_eval, x, "dropout(..., train=False)", hint="Evaluation is the identity.")
    if rng.bit_generator.state != state:
        expect.fail("dropout(..., train=False) consumed random numbers; evaluation draws none.")
    zero, _ = expect.pair(impl.dropout(x, 1.0, np.random.default_rng(
        int(fx()["dropout.eval_seed"]))), "dropout")
    expect.close(zero, np.zeros_like(x), "dropout with p = 1",
                 hint="p = 1 drops everything (and must not divide by zero).")


@check("3.5")
def dropout_backward_values(impl):
    """the gradient passes through the same mask, scaled the same way"""
    x, p, dout = get("dropout.x"), float(fx()["dropout.p"]), get("dropout.dout")
    rng = np.random.default_rng(int(fx()["dropout.seed"]))
    out, cache = expect.pair(impl.dropout(x, p, rng), "dropout")
    expect.require_correct(out, fx()["dropout.out"], "dropout", "3.5")
    dx = impl.dropout_backward(dout, cache)
    expect.close(dx, fx()["dropout.dx"], "dropout_backward",
                 hint="dx = dout * mask / (1 - p), with the forward's mask.")
    rng = np.random.default_rng(int(fx()["dropout.seed"]))
    out32, cache32 = expect.pair(impl.dropout(x.astype(np.float32), p, rng), "dropout")
    expect.array(out32, "dropout of float32 input", shape=x.shape, dtype=np.float32)
    dx32 = impl.dropout_backward(dout.astype(np.float32), cache32)
    expect.array(dx32, "dropout_backward of float32 input", shape=x.shape, dtype=np.float32)
