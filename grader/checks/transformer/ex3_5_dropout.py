"""Checks of exercise 3.5: Dropout."""

from __future__ import annotations

import numpy as np

from ... import expect
from .. import check
from .common import _matches, close_or_slip, fx, get, matches


def _keep(x, p, seed):
    """The grader's keep-mask: one draw of x's shape from the seeded generator."""
    return np.random.default_rng(seed).random(x.shape) >= p


@check("3.5", weight=2)
def dropout_values(impl):
    """inverted dropout with the keep-mask rng.random(x.shape) >= p; identity in eval"""
    x, p = get("dropout.x"), float(fx()["dropout.p"])
    rng = np.random.default_rng(int(fx()["dropout.seed"]))
    out, _ = expect.pair(expect.call_pure(impl.dropout, "dropout", x, p, rng), "dropout")
    expect.array(out, "dropout(x, p, rng)", shape=x.shape, dtype=np.float64)
    hint = ("Draw the keep-mask as rng.random(x.shape) >= p (one draw of x's shape), then "
            "out = x * mask / (1 - p).")
    if _matches(out, "dropout.bug.no_rescale"):
        hint = expect.cause("dropout does not rescale the kept units: inverted dropout "
                            "divides them by 1 - p so that the expectation is unchanged")
    elif matches(out, x):
        rng = np.random.default_rng(int(fx()["dropout.seed"]))
        explicit, _ = expect.pair(impl.dropout(x, p, rng, train=True), "dropout")
        if matches(explicit, fx()["dropout.out"]):
            hint = expect.cause("dropout's default is train=False: called without train it "
                                "must drop (train=True), as dropout(..., train=True) does")
    expect.close(out, fx()["dropout.out"], "3.5 dropout(x, p, rng)", hint=hint)
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
def dropout_errors(impl):
    """ValueError for p outside [0, 1], TypeError for a missing generator when one is drawn"""
    x = get("dropout.x")
    expect.pair(impl.dropout(x, 0.5, np.random.default_rng(0)), "dropout")  # it works first
    for p in (1.5, -0.1):
        expect.raises(impl.dropout, ValueError, f"3.5 dropout(x, p={p}, rng)", x, p,
                      np.random.default_rng(0))
    expect.raises(impl.dropout, TypeError, "3.5 dropout(x, 0.5, rng=None) in training", x,
                  0.5, None)
    out, _ = expect.pair(impl.dropout(x, 0.5, None, train=False), "dropout")
    expect.close(out, x, "3.5 dropout(x, 0.5, None, train=False)",
                 hint="In evaluation no generator is needed: rng may be None.")


@check("3.5")
def dropout_backward_values(impl):
    """the gradient passes through the same mask, scaled the same way; inputs unchanged"""
    x, p, dout = get("dropout.x"), float(fx()["dropout.p"]), get("dropout.dout")
    seed = int(fx()["dropout.seed"])
    out, cache = expect.pair(impl.dropout(x, p, np.random.default_rng(seed)), "dropout")
    dx = expect.call_pure(impl.dropout_backward, "dropout_backward", dout, cache)
    keep, scale = _keep(x, p, seed), 1.0 / (1.0 - p)
    slips = [(dout * keep, "dropout_backward does not scale the kept gradients by "
                           "1 / (1 - p) as the forward did"),
             (keep * scale, "dropout_backward ignores the upstream gradient dout (it "
                            "returns mask * scale)")]
    close_or_slip(dx, fx()["dropout.dx"], "dx", "3.5 dropout_backward",
                  hint="dx = dout * mask / (1 - p), with the forward's mask.",
                  candidates=slips, gate=(matches(out, fx()["dropout.out"]), "dropout_values"))


@check("3.5")
def dropout_float32(impl):
    """float32 in, float32 out, forward and backward"""
    x, p, dout = get("dropout.x"), float(fx()["dropout.p"]), get("dropout.dout")
    rng = np.random.default_rng(int(fx()["dropout.seed"]))
    out32, cache32 = expect.pair(impl.dropout(x.astype(np.float32), p, rng), "dropout")
    expect.array(out32, "dropout of float32 input", shape=x.shape, dtype=np.float32)
    expect.close(out32, fx()["dropout.out"], "dropout of float32 input", **expect.F32)
    dx32 = impl.dropout_backward(dout.astype(np.float32), cache32)
    expect.array(dx32, "dropout_backward of float32 input", shape=x.shape, dtype=np.float32)
