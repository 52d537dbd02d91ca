"""Checks of exercise 3.7: Decoder layer with cross-attention."""

from __future__ import annotations

import numpy as np

from ... import expect
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


def _explain_shape_error(impl, exc: Exception, placement: str) -> None:
    """A decoder_layer that raised a broadcasting error: say what the cross-attention's
    shapes are (its queries, keys or values probably come from the wrong stream)."""
    text = str(getattr(exc, "message", exc))
    memory_length = get("dec.memory").shape[1]  # S shows up only in the memory's shapes
    if not (any(s in text for s in ("broadcast", "mismatch", "not aligned"))
            and str(memory_length) in text):
        return
    kind = getattr(exc, "type_name", type(exc).__name__)
    found = ""
    try:  # without memory_mask, a cross-attention that reads x may run: which one is it?
        out, _ = impl.decoder_layer(get("dec.x"), get("dec.memory"), _params("dec.params."),
                                    _heads("dec"), norm_first=placement == "pre")
        if _matches(out, f"dec.{placement}.bug.kv_from_x"):
            found = (" Without memory_mask your layer runs, and its output is the "
                     "cross-attention's with keys and values from x: take them from memory.")
    except Exception:  # noqa: BLE001 — the first error is the one to explain
        pass
    x, memory = get("dec.x"), get("dec.memory")
    expect.fail(
        f"3.7 decoder_layer(norm_first={placement == 'pre'}) raised {kind}: {text}. Here the "
        f"target has T = {x.shape[1]} positions and the memory S = {memory.shape[1]}: the "
        "cross-attention takes its queries from the decoder stream (h_1, or ln_2(h_1) in "
        "pre-norm) and its keys and values from memory, so its weights are (B, H, T, S), "
        "memory_mask (B, 1, 1, S) broadcasts against them, and its output is (B, T, C) like "
        f"h_1. Queries from memory, or keys and values from x, do not fit.{found}")


def _decoder(impl, placement: str, x=None, pure: bool = True, **kwargs):
    """decoder_layer on the fixture's inputs; `pure`: also check that no input is modified
    (not with a generator, whose state the call must advance)."""
    x = get("dec.x") if x is None else x
    kwargs.setdefault("memory_mask", get("dec.memory_mask"))
    args = (x, get("dec.memory"), _params("dec.params."), _heads("dec"))
    try:
        if pure:
            result = expect.call_pure(impl.decoder_layer, "decoder_layer", *args,
                                      norm_first=placement == "pre", **kwargs)
        else:
            result = impl.decoder_layer(*args, norm_first=placement == "pre", **kwargs)
    except expect.CheckFailed:
        raise
    except Exception as exc:  # noqa: BLE001 — explained when it is a shape error, else raised
        _explain_shape_error(impl, exc, placement)
        raise
    return expect.pair(result, "decoder_layer")


@check("3.7", weight=3)
def decoder_values(impl):
    """masked self-attention, cross-attention to the memory, FFN; both placements; masks"""
    for placement, norm_first in PLACEMENTS:
        out, _ = _decoder(impl, placement)
        label = f"3.7 decoder_layer(norm_first={norm_first})"
        expect.array(out, label, shape=get("dec.x").shape, dtype=np.float64)
        _diagnose(out, f"dec.{placement}.out", label, _forward_bugs("dec", placement))
        expect.close(out, fx()[f"dec.{placement}.out"], label,
                     hint=f"Expected {LAYER_FORMULAS[('dec', placement)]}, the self-attention "
                          "causal, the cross-attention with memory_mask.")
    # A self_mask that is passed is used as it is (here: causal and target padding).
    out, _ = _decoder(impl, "post", self_mask=get("dec.self_mask"))
    label = "3.7 decoder_layer(self_mask=causal & padding)"
    expect.array(out, label, shape=get("dec.x").shape, dtype=np.float64)
    _diagnose(out, "dec.post.self_mask.out", label, {
        "dec.post.out": "the self_mask you were given is ignored (the output is the one of the "
                        "plain causal mask): use self_mask as it is when it is not None."})
    expect.close(out, fx()["dec.post.self_mask.out"], label,
                 hint="When self_mask is given, the self-attention uses it as it is.")


@check("3.7", hidden=True)
def decoder_causality(impl):
    """changing a later target token never changes an earlier output"""
    x = get("dec.x")
    out, _ = _decoder(impl, "pre", x)
    expect.array(out, "decoder_layer output", shape=x.shape)
    changed = x.copy()
    changed[:, -1] += 3.0
    out2, _ = _decoder(impl, "pre", changed)
    expect.array(out2, "decoder_layer output", shape=x.shape)
    leak = np.abs(out2[:, :-1] - out[:, :-1]).max()
    if leak > 1e-12:
        expect.fail(f"3.7: changing the last target token moved earlier outputs by {leak:.3g}: "
                    "the decoder's self-attention must be causal (self_mask=None means "
                    "causal_mask(T)).")
    _skipped_until(out, fx()["dec.pre.out"], "decoder_values", "3.7")


def _decoder_backward(impl, dout, cache):
    result = impl.decoder_layer_backward(dout, cache)
    if not (isinstance(result, tuple) and len(result) == 3):
        expect.fail("decoder_layer_backward should return (dx, dmemory, dparams).")
    return result


@check("3.7", weight=2)
def decoder_dropout(impl):
    """training dropout on the three sub-layer outputs, in their order; none in eval"""

    def call(placement, **kwargs):
        return _decoder(impl, placement, pure=False, **kwargs)

    def backward(dout, cache):
        dx, dmemory, _ = _decoder_backward(impl, dout, cache)
        return {"dmemory": dmemory, "dx": dx}

    _layer_dropout(impl, "dec", call, backward)


def _backward_triple(impl, placement: str):
    out, cache = _decoder(impl, placement)
    _skipped_until(out, fx()[f"dec.{placement}.out"], "decoder_values", "3.7")
    return _decoder_backward(impl, get("dec.dout"), cache)


@check("3.7", weight=2)
def decoder_backward_values(impl):
    """every parameter gradient of both placements"""
    for placement, norm_first in PLACEMENTS:
        _, _, dparams = _backward_triple(impl, placement)
        _check_backward("dec", placement, f"3.7 decoder_layer_backward (norm_first={norm_first})",
                        dparams, {}, {})


@check("3.7")
def decoder_backward_dmemory(impl):
    """dmemory (from the cross-attention) of both placements"""
    for placement, norm_first in PLACEMENTS:
        _, dmemory, _ = _backward_triple(impl, placement)
        _check_layer_input_grad(
            "dec", placement, f"3.7 decoder_layer_backward (norm_first={norm_first})", "dmemory",
            dmemory, hint="The memory feeds the cross-attention's keys and values: dmemory is "
                          "its dx_kv.")


@check("3.7")
def decoder_backward_dx(impl):
    """dx of both placements"""
    for placement, norm_first in PLACEMENTS:
        dx, _, _ = _backward_triple(impl, placement)
        _check_layer_input_grad(
            "dec", placement, f"3.7 decoder_layer_backward (norm_first={norm_first})", "dx", dx)


# --- defaults, options, dtype, stated errors, the upstream gradient ---------------------
def _call(impl, *args, **kwargs):
    return expect.pair(expect.call_pure(impl.decoder_layer, "decoder_layer", *args, **kwargs),
                       "decoder_layer")


def _args() -> tuple:
    return get("dec.x"), get("dec.memory"), _params("dec.params."), _heads("dec")


def _gate(impl) -> None:
    out, _ = _decoder(impl, "post")
    _skipped_until(out, fx()["dec.post.out"], "decoder_values", "3.7")


@check("3.7")
def decoder_defaults(impl):
    """called without its options: causal, no memory mask, post-norm, no dropout, ReLU"""
    _gate(impl)
    out, _ = _call(impl, *_args())
    if not _matches(out, "dec.post.bug.no_memory_mask"):  # probe: every memory key visible
        x, memory = get("dec.x"), get("dec.memory")
        visible = np.ones((x.shape[0], 1, 1, memory.shape[1]), dtype=bool)
        if _matches(_call(impl, *_args(), memory_mask=visible)[0], "dec.post.bug.no_memory_mask"):
            expect.fail("3.7 decoder_layer(x, memory, params, n_heads) differs from the same "
                        "call with an all-True memory_mask. " + expect.cause(
                            "memory_mask=None is not treated as no mask: with memory_mask=None "
                            "every memory position is visible (no causal mask there)"))
    _same_out(out, "dec.post.bug.no_memory_mask", "3.7 decoder_layer(x, memory, params, n_heads)",
              "Called without options it is the post-norm layer in evaluation, the "
              "self-attention causal (self_mask=None), the cross-attention without a mask "
              "(memory_mask=None: every memory position is visible), the ReLU FFN, eps=1e-5.",
              {"dec.pre.bug.no_memory_mask": "norm_first defaults to True; the default is False "
                                             "(post-norm)",
               "dec.post.bug.no_causal": "self_mask=None is not the causal mask: with "
                                         "self_mask=None use causal_mask(T)"})
    p, seed = float(fx()["dec.drop.p"]), int(fx()["dec.drop.seed"])
    for kwargs, what in (({"dropout_p": p}, "train"), ({"train": True}, "dropout_p")):
        rng = np.random.default_rng(seed)
        state = rng.bit_generator.state
        label = f"3.7 decoder_layer({', '.join(f'{k}={v}' for k, v in kwargs.items())}, rng=...)"
        out, _ = _call(impl, *_args(), memory_mask=get("dec.memory_mask"), rng=rng, **kwargs)
        _same_out(out, "dec.post.out", label,
                  f"Without {what}, dropout is off ({what}'s default), so the layer is the "
                  "evaluation one.")
        if rng.bit_generator.state != state:
            expect.fail(f"{label} drew random numbers: without {what} dropout is off and the "
                        "generator is not touched.")


@check("3.7")
def decoder_eps_and_activation(impl):
    """eps reaches the three LayerNorms; activation reaches the FFN"""
    _gate(impl)
    x, memory, params, heads = _args()
    for placement, norm_first in PLACEMENTS:
        out, _ = _decoder(impl, placement, activation="gelu")
        _same_out(out, f"dec.{placement}.bug.ffn_gelu",
                  f"3.7 decoder_layer(norm_first={norm_first}, activation='gelu')",
                  "activation is the FFN's: feed_forward(h_2, ffn_params, activation).",
                  {f"dec.{placement}.out": "activation is not passed on to feed_forward (the "
                                           "output is the ReLU layer's)"})
        eps = 0.25  # large enough that every LayerNorm's eps shows in the output
        out, _ = _decoder(impl, placement, eps=eps)
        label = f"3.7 decoder_layer(norm_first={norm_first}, eps={eps})"
        expect.array(out, label, shape=x.shape, dtype=np.float64)
        if _matches(out, f"dec.{placement}.out"):
            expect.fail(f"{label} is the output of eps=1e-5. " + expect.cause(
                "eps is not passed on to the LayerNorms: layer_norm(..., eps)"))
        # exactly, on a layer reduced to its LayerNorms (see _norms_only)
        reduced = _norms_only("dec", params, placement)
        out, _ = _call(impl, x, memory, reduced, heads, memory_mask=get("dec.memory_mask"),
                       norm_first=norm_first, eps=eps)
        expect.close(out, _norms_only_out(impl, "dec", reduced, placement, x, eps),
                     f"{label}, sub-layer outputs zeroed",
                     hint="eps is every LayerNorm's: pass it to ln_1, ln_2 and ln_3.")


@check("3.7")
def decoder_float32(impl):
    """float32 in, float32 out: the layer and its backward"""
    _gate(impl)
    for placement, norm_first in PLACEMENTS:
        x, memory, params, heads = _args()
        x, memory, params = x.astype(np.float32), memory.astype(np.float32), _float32_tree(params)
        out, cache = _call(impl, x, memory, params, heads, memory_mask=get("dec.memory_mask"),
                           norm_first=norm_first)
        label = f"3.7 decoder_layer(float32, norm_first={norm_first})"
        expect.array(out, label, shape=x.shape, dtype=np.float32)
        expect.close(out, fx()[f"dec.{placement}.out"], label, **expect.F32)
        dx, dmemory, dparams = _decoder_backward(impl, get("dec.dout").astype(np.float32), cache)
        expect.array(dx, f"{label} backward: dx", shape=x.shape, dtype=np.float32)
        expect.array(dmemory, f"{label} backward: dmemory", shape=memory.shape,
                     dtype=np.float32)
        if not isinstance(dparams, dict):
            expect.fail("decoder_layer_backward should return (dx, dmemory, dparams).")
        for key in sorted(dparams):
            expect.array(dparams[key], f"{label} backward: d({key})", dtype=np.float32)
        expect.close(dx, fx()[f"dec.{placement}.dx"], f"{label} backward: dx",
                     rtol=1e-3, atol=1e-4)


@check("3.7")
def decoder_raises(impl):
    """the documented errors: a wrong shape or key, a bad rate, a missing generator"""
    _gate(impl)  # the checks of the inputs are given code: points only for a working layer
    x, memory, params, heads = _args()
    layer = impl.decoder_layer
    expect.raises(layer, ValueError, "3.7 decoder_layer with x of shape (T, C)",
                  x[0], memory, params, heads)
    expect.raises(layer, ValueError, "3.7 decoder_layer with memory of another batch size",
                  x, memory[:1], params, heads)
    expect.raises(layer, ValueError, "3.7 decoder_layer with an unexpected key 'ln_4.gamma' in "
                  "params", x, memory, {**params, "ln_4.gamma": params["ln_3.gamma"]}, heads)
    expect.raises(layer, ValueError, "3.7 decoder_layer(dropout_p=1.5)",
                  x, memory, params, heads, dropout_p=1.5)
    expect.raises(layer, TypeError, "3.7 decoder_layer(dropout_p=0.5, train=True) without rng",
                  x, memory, params, heads, dropout_p=0.5, train=True)


@check("3.7")
def decoder_backward_upstream(impl):
    """the backward scales with the dout it is given, and leaves dout unchanged"""
    _gate(impl)

    def run(dout):
        _, cache = _decoder(impl, "pre")
        result = expect.call_pure(impl.decoder_layer_backward, "decoder_layer_backward", dout,
                                  cache)
        if not (isinstance(result, tuple) and len(result) == 3 and isinstance(result[2], dict)):
            expect.fail("decoder_layer_backward should return (dx, dmemory, dparams).")
        return {"dx": result[0], "dmemory": result[1],
                "d(ln_3.gamma)": result[2].get("ln_3.gamma")}

    _upstream_probe(run, get("dec.dout"), "decoder_layer_backward", "3.7",
                    {"dx": fx()["dec.pre.dx"]}, "decoder_backward_dx")
