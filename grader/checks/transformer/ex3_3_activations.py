"""Checks of exercise 3.3: ReLU, GELU, SiLU."""

from __future__ import annotations

import numpy as np

from ... import expect
from ...sandbox import instrumented_call
from .. import check
from .common import _matches, fx, get

ACTIVATIONS = (("relu", {}), ("gelu", {"approximate": "tanh"}),
               ("gelu", {"approximate": "none"}), ("silu", {}))


def _act_key(name, kwargs):
    return f"act.{name}_{kwargs.get('approximate', '')}".rstrip("_")


@check("3.3", weight=2)
def activation_values(impl):
    """ReLU, GELU (tanh and exact) and SiLU"""
    x = get("act.x")
    for name, kwargs in ACTIVATIONS:
        label = f"{name}({', '.join(f'{k}={v!r}' for k, v in kwargs.items()) or 'x'})"
        out, _ = expect.pair(expect.call_pure(getattr(impl, name), name, x, **kwargs), name)
        expect.array(out, label, shape=x.shape, dtype=np.float64)
        key = _act_key(name, kwargs)
        if name == "gelu":
            other = _act_key("gelu", {"approximate": "none" if kwargs["approximate"] == "tanh"
                                      else "tanh"})
            if not _matches(out, key + ".out") and _matches(out, other + ".out"):
                expect.fail(f"{label} computes the other GELU: approximate='tanh' is GPT-2's "
                            "0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))), 'none' the exact "
                            "0.5x(1 + erf(x/sqrt(2))).")
        expect.close(out, fx()[key + ".out"], label)


@check("3.3", weight=2)
def activation_backward_values(impl):
    """the derivative of each activation, times the upstream gradient"""
    x, dout = get("act.x"), get("act.dout")
    for name, kwargs in ACTIVATIONS:
        key = _act_key(name, kwargs)
        out, cache = expect.pair(getattr(impl, name)(x, **kwargs), name)
        expect.require_correct(out, fx()[key + ".out"], f"{key[4:]} (forward)", "3.3")
        dx = getattr(impl, f"{name}_backward")(dout, cache)
        expect.array(dx, f"{name}_backward", shape=x.shape, dtype=np.float64)
        hint = {"relu": "The derivative is 1 where x > 0 and 0 elsewhere (0 at x = 0).",
                "silu": "d/dx x*sigmoid(x) = sigmoid(x) * (1 + x * (1 - sigmoid(x))).",
                }.get(name, "Differentiate the same GELU form the forward used.")
        expect.close(dx, fx()[key + ".dx"], f"{key[4:]}_backward", hint=hint)


@check("3.3")
def activation_float32(impl):
    """float32 in, float32 out, forward and backward"""
    x = get("act.x").astype(np.float32)
    for name, kwargs in ACTIVATIONS:
        out, cache = expect.pair(getattr(impl, name)(x, **kwargs), name)
        expect.array(out, f"{name} of float32 input", shape=x.shape, dtype=np.float32)
        expect.close(out, fx()[_act_key(name, kwargs) + ".out"], f"{name} of float32 input",
                     **expect.F32)
        dx = getattr(impl, f"{name}_backward")(get("act.dout").astype(np.float32), cache)
        expect.array(dx, f"{name}_backward of float32 input", shape=x.shape, dtype=np.float32)
    far = get("act.far").astype(np.float32)  # |x| >= 100: exp(|x|) overflows float32
    result, info = instrumented_call(impl.silu, far)
    out, _ = expect.pair(result, "silu")
    numeric = [w for w in info.warnings if w.startswith("RuntimeWarning")]
    if numeric or not np.all(np.isfinite(out)):
        expect.fail("silu overflows for inputs like -1000 (exp(1000) in float32 is inf): "
                    "compute the sigmoid in a stable form, e.g. with exp(-|x|).")
