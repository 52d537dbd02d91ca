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
    _check_layer_input_grad,
    _diagnose,
    _float32_tree,
    _forward_bugs,
    _heads,
    _layer_dropout,
    _matches,
    _norms_only,
    _norms_only_out,
    _params,
    _same_out,
    _skipped_until,
    _upstream_probe,
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


def _backward_pair(impl, placement: str):
    out, cache = _encoder(impl, placement)
    _skipped_until(out, fx()[f"enc.{placement}.out"], "encoder_values", "3.6")
    result = impl.encoder_layer_backward(get("enc.dout"), cache)
    if not (isinstance(result, tuple) and len(result) == 2):
        expect.fail("encoder_layer_backward should return (dx, dparams).")
    return result


@check("3.6", weight=2)
def encoder_backward_values(impl):
    """every parameter gradient of both placements"""
    for placement, norm_first in PLACEMENTS:
        _, dparams = _backward_pair(impl, placement)
        _check_backward("enc", placement, f"3.6 encoder_layer_backward (norm_first={norm_first})",
                        dparams, {}, {})


@check("3.6")
def encoder_backward_dx(impl):
    """dx of both placements"""
    for placement, norm_first in PLACEMENTS:
        dx, _ = _backward_pair(impl, placement)
        _check_layer_input_grad(
            "enc", placement, f"3.6 encoder_layer_backward (norm_first={norm_first})", "dx", dx,
            hint="The residual adds the identity path: dx gets the upstream gradient itself plus "
                 "what flows back through the sublayer (self-attention uses x three times: sum "
                 "dx_q and dx_kv).")


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
    _skipped_until(out, fx()["enc.pre.out"], "encoder_values", "3.6")
    dx, dparams = impl.encoder_layer_backward(dout, cache)
    params = _params("enc.params.")

    args, kwargs = (x, params, _heads("enc")), {"mask": get("enc.mask"), "norm_first": True}
    check_gradient_of(dx, impl.encoder_layer, args, kwargs, x, dout,
                      "encoder dx (finite differences)")
    for key in ("ln_1.gamma", "ffn.b_1", "attn.W_v"):
        check_gradient_of(dparams[key], impl.encoder_layer, args, kwargs, params[key], dout,
                          f"encoder d{key} (finite differences)")


# --- defaults, options, dtype, stated errors, the upstream gradient ---------------------
def _call(impl, *args, **kwargs):
    return expect.pair(expect.call_pure(impl.encoder_layer, "encoder_layer", *args, **kwargs),
                       "encoder_layer")


def _gate(impl) -> None:
    out, _ = _encoder(impl, "post")
    _skipped_until(out, fx()["enc.post.out"], "encoder_values", "3.6")


@check("3.6")
def encoder_defaults(impl):
    """called without its options: no mask, post-norm, no dropout, ReLU, eps 1e-5"""
    _gate(impl)
    x, params, heads = get("enc.x"), _params("enc.params."), _heads("enc")
    out, _ = _call(impl, x, params, heads)
    if not _matches(out, "enc.post.bug.no_mask"):  # probe: the same layer, every key visible
        visible = np.ones((x.shape[0], 1, 1, x.shape[1]), dtype=bool)
        if _matches(_call(impl, x, params, heads, mask=visible)[0], "enc.post.bug.no_mask"):
            expect.fail("3.6 encoder_layer(x, params, n_heads) differs from the same call with "
                        "an all-True mask. " + expect.cause(
                            "mask=None is not treated as no mask: with mask=None every source "
                            "position is visible"))
    _same_out(out, "enc.post.bug.no_mask", "3.6 encoder_layer(x, params, n_heads)",
              "Called without options it is the post-norm layer without a mask, in evaluation "
              "(no dropout), with the ReLU FFN and eps=1e-5: check each default against the "
              "signature.", {"enc.pre.bug.no_mask": "norm_first defaults to True; the default "
                             "is False (post-norm)"})
    p, seed = float(fx()["enc.drop.p"]), int(fx()["enc.drop.seed"])
    for kwargs, what in (({"dropout_p": p}, "train"), ({"train": True}, "dropout_p")):
        rng = np.random.default_rng(seed)
        state = rng.bit_generator.state
        label = f"3.6 encoder_layer({', '.join(f'{k}={v}' for k, v in kwargs.items())}, rng=...)"
        out, _ = _call(impl, x, params, heads, mask=get("enc.mask"), rng=rng, **kwargs)
        _same_out(out, "enc.post.out", label,
                  f"Without {what}, dropout is off ({what}'s default), so the layer is the "
                  "evaluation one.")
        if rng.bit_generator.state != state:
            expect.fail(f"{label} drew random numbers: without {what} dropout is off and the "
                        "generator is not touched.")


@check("3.6")
def encoder_eps_and_activation(impl):
    """eps reaches both LayerNorms; activation reaches the FFN"""
    _gate(impl)
    x, params, heads = get("enc.x"), _params("enc.params."), _heads("enc")
    for placement, norm_first in PLACEMENTS:
        out, _ = _encoder(impl, placement, activation="gelu")
        _same_out(out, f"enc.{placement}.bug.ffn_gelu",
                  f"3.6 encoder_layer(norm_first={norm_first}, activation='gelu')",
                  "activation is the FFN's: feed_forward(h, ffn_params, activation).",
                  {f"enc.{placement}.out": "activation is not passed on to feed_forward (the "
                                           "output is the ReLU layer's)"})
        eps = 0.25  # large enough that every LayerNorm's eps shows in the output
        out, _ = _encoder(impl, placement, eps=eps)
        label = f"3.6 encoder_layer(norm_first={norm_first}, eps={eps})"
        expect.array(out, label, shape=x.shape, dtype=np.float64)
        if _matches(out, f"enc.{placement}.out"):
            expect.fail(f"{label} is the output of eps=1e-5. " + expect.cause(
                "eps is not passed on to the LayerNorms: layer_norm(..., eps)"))
        # exactly, on a layer reduced to its LayerNorms (see _norms_only)
        reduced = _norms_only("enc", params, placement)
        out, _ = _call(impl, x, reduced, heads, mask=get("enc.mask"), norm_first=norm_first,
                       eps=eps)
        expect.close(out, _norms_only_out(impl, "enc", reduced, placement, x, eps),
                     f"{label}, sub-layer outputs zeroed",
                     hint="eps is every LayerNorm's: pass it to both (ln_1 and ln_2).")


@check("3.6")
def encoder_float32(impl):
    """float32 in, float32 out: the layer and its backward"""
    _gate(impl)
    for placement, norm_first in PLACEMENTS:
        x, params = get("enc.x").astype(np.float32), _float32_tree(_params("enc.params."))
        out, cache = _call(impl, x, params, _heads("enc"), mask=get("enc.mask"),
                           norm_first=norm_first)
        label = f"3.6 encoder_layer(float32, norm_first={norm_first})"
        expect.array(out, label, shape=x.shape, dtype=np.float32)
        expect.close(out, fx()[f"enc.{placement}.out"], label, **expect.F32)
        result = impl.encoder_layer_backward(get("enc.dout").astype(np.float32), cache)
        if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict)):
            expect.fail("encoder_layer_backward should return (dx, dparams).")
        dx, dparams = result
        expect.array(dx, f"{label} backward: dx", shape=x.shape, dtype=np.float32)
        for key in sorted(dparams):
            expect.array(dparams[key], f"{label} backward: d({key})", dtype=np.float32)
        expect.close(dx, fx()[f"enc.{placement}.dx"], f"{label} backward: dx",
                     rtol=1e-3, atol=1e-4)


@check("3.6")
def encoder_raises(impl):
    """the documented errors: a wrong shape or key, a bad rate, a missing generator"""
    _gate(impl)  # the checks of the inputs are given code: points only for a working layer
    x, params, heads = get("enc.x"), _params("enc.params."), _heads("enc")
    expect.raises(impl.encoder_layer, ValueError, "3.6 encoder_layer with x of shape (S, C)",
                  x[0], params, heads)
    missing = {k: v for k, v in params.items() if k != "ffn.b_2"}
    expect.raises(impl.encoder_layer, ValueError, "3.6 encoder_layer with params missing "
                  "'ffn.b_2'", x, missing, heads)
    expect.raises(impl.encoder_layer, ValueError, "3.6 encoder_layer with an unexpected key "
                  "'attn.W_x' in params", x, {**params, "attn.W_x": params["attn.W_q"]}, heads)
    expect.raises(impl.encoder_layer, ValueError, "3.6 encoder_layer(dropout_p=1.5)",
                  x, params, heads, dropout_p=1.5)
    expect.raises(impl.encoder_layer, TypeError, "3.6 encoder_layer(dropout_p=0.5, train=True) "
                  "without rng", x, params, heads, dropout_p=0.5, train=True)


@check("3.6")
def encoder_backward_upstream(impl):
    """the backward scales with the dout it is given, and leaves dout unchanged"""
    _gate(impl)

    def run(dout):
        _, cache = _encoder(impl, "pre")
        result = expect.call_pure(impl.encoder_layer_backward, "encoder_layer_backward", dout,
                                  cache)
        if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict)):
            expect.fail("encoder_layer_backward should return (dx, dparams).")
        return {"dx": result[0], "d(ln_2.gamma)": result[1].get("ln_2.gamma"),
                "d(attn.W_q)": result[1].get("attn.W_q")}

    _upstream_probe(run, get("enc.dout"), "encoder_layer_backward", "3.6",
                    {"dx": fx()["enc.pre.dx"]}, "encoder_backward_dx")
