"""Checks of exercise 3.6: Encoder layer (post- and pre-norm)."""

from __future__ import annotations

import numpy as np

from ... import expect
from ...gradcheck import check_gradient_of
from .. import check
from .common import (
    LAYER_FORMULAS,
    PLACEMENTS,
    _check_backward,
    _diagnose,
    _forward_bugs,
    _heads,
    _layer_dropout,
    _params,
    fx,
    get,
)


def _encoder(impl, placement: str, x=None, **kwargs):
    norm_first = placement == "pre"
    x = get("enc.x") if x is None else x
    kwargs.setdefault("mask", get("enc.mask"))
    result = expect.call_pure(impl.encoder_layer, "encoder_layer", x, _params("enc.params."),
                              _heads("enc"), norm_first=norm_first, **kwargs)
    return expect.pair(result, "encoder_layer")


@check("3.6", weight=3)
def encoder_values(impl):
    """post-norm (Vaswani) and pre-norm encoder layers, with a padding mask"""
    for placement, norm_first in PLACEMENTS:
        out, _ = _encoder(impl, placement)
        label = f"3.6 encoder_layer(norm_first={norm_first})"
        expect.array(out, label, shape=get("enc.x").shape, dtype=np.float64)
        _diagnose(out, f"enc.{placement}.out", label, _forward_bugs("enc", placement))
        expect.close(out, fx()[f"enc.{placement}.out"], label,
                     hint=f"Expected {LAYER_FORMULAS[('enc', placement)]}: self-attention "
                          "(queries, keys and values all from the same input, with the mask), "
                          "then the ReLU FFN, each with its residual add and its LayerNorm.")


@check("3.6", weight=3)
def encoder_backward_values(impl):
    """dx and every parameter gradient of both placements"""
    for placement, norm_first in PLACEMENTS:
        out, cache = _encoder(impl, placement)
        expect.require_correct(out, fx()[f"enc.{placement}.out"], "encoder_layer", "3.6")
        result = impl.encoder_layer_backward(get("enc.dout"), cache)
        if not (isinstance(result, tuple) and len(result) == 2):
            expect.fail("encoder_layer_backward should return (dx, dparams).")
        dx, dparams = result
        what = f"3.6 encoder_layer_backward (norm_first={norm_first})"
        _check_backward("enc", placement, what, dparams, {"dx": dx},
                        {"dx": f"enc.{placement}.dx"})
        expect.close(dx, fx()[f"enc.{placement}.dx"], f"{what}: dx",
                     hint="The residual adds the identity path: dx gets the upstream gradient "
                          "itself plus what flows back through the sublayer (self-attention "
                          "uses x three times: sum dx_q and dx_kv).")


@check("3.6", weight=2)
def encoder_dropout(impl):
    """training dropout on both sub-layer outputs (attention's mask drawn first), none in eval"""

    def call(placement, **kwargs):
        return impl.encoder_layer(get("enc.x"), _params("enc.params."), _heads("enc"),
                                  mask=get("enc.mask"), norm_first=placement == "pre", **kwargs)

    def backward(dout, cache):
        result = impl.encoder_layer_backward(dout, cache)
        if not (isinstance(result, tuple) and len(result) == 2):
            expect.fail("encoder_layer_backward should return (dx, dparams).")
        return {"dx": result[0]}

    _layer_dropout(impl, "enc", call, backward)


@check("3.6", weight=2, hidden=True, timeout=30)
def encoder_finite_differences(impl):
    """the backward agrees with finite differences of your own forward"""
    x, dout = get("enc.x"), get("enc.dout")
    out, cache = _encoder(impl, "pre", x)
    expect.require_correct(out, fx()["enc.pre.out"], "encoder_layer", "3.6")
    dx, dparams = impl.encoder_layer_backward(dout, cache)
    params = _params("enc.params.")

    args, kwargs = (x, params, _heads("enc")), {"mask": get("enc.mask"), "norm_first": True}
    check_gradient_of(dx, impl.encoder_layer, args, kwargs, x, dout,
                      "encoder dx (finite differences)")
    for key in ("ln_1.gamma", "ffn.b_1", "attn.W_v"):
        check_gradient_of(dparams[key], impl.encoder_layer, args, kwargs, params[key], dout,
                          f"encoder d{key} (finite differences)")
