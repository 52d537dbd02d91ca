"""Checks of exercise 3.3: ReLU, GELU, SiLU."""

from __future__ import annotations

import math

import numpy as np

from ... import expect
from ...sandbox import instrumented_call
from .. import check
from .common import _matches, close_or_slip, fx, get, matches, skipped_until

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
                expect.fail(f"3.3 {label} is wrong. " + expect.cause(
                    f"{label} computes the other GELU: approximate='tanh' is GPT-2's "
                    "0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))), 'none' the exact "
                    "0.5x(1 + erf(x/sqrt(2)))"))
        expect.close(out, fx()[key + ".out"], label)


def _derivatives(x):
    """The grader's derivative of each activation, and of the slips that drop a term:
    name -> (f'(x), [(a wrong derivative, the slip), ...])."""
    c = math.sqrt(2.0 / math.pi)
    t = np.tanh(c * (x + 0.044715 * x ** 3))
    tanh_d = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)
    cdf = 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2.0)))
    pdf = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    s = 1.0 / (1.0 + np.exp(-x))
    return {
        "relu": ((x > 0) * 1.0, [((x >= 0) * 1.0, "relu_backward passes the gradient at "
                                                  "x == 0, where the derivative is taken to "
                                                  "be 0 (as in PyTorch)")]),
        "gelu_tanh": (tanh_d, [(0.5 * (1 + t), "gelu_backward (tanh form) lacks the term "
                                               "0.5 x (1 - t^2) du/dx"),
                               (cdf + x * pdf, "gelu_backward differentiates the exact GELU "
                                               "where the forward used the tanh form")]),
        "gelu_none": (cdf + x * pdf, [(cdf, "gelu_backward (exact form) lacks the term "
                                            "x * phi(x)"),
                                      (tanh_d, "gelu_backward differentiates the tanh GELU "
                                               "where the forward used the exact form")]),
        "silu": (s * (1 + x * (1 - s)), [(s, "silu_backward lacks the term x * sigmoid'(x)"),
                                         (x * s * (1 - s), "silu_backward lacks the term "
                                                           "sigmoid(x)")]),
    }


@check("3.3", weight=2)
def activation_backward_values(impl):
    """the derivative of each activation, times the upstream gradient; inputs unchanged"""
    x, dout = get("act.x"), get("act.dout")
    derivatives = _derivatives(x)
    for name, kwargs in ACTIVATIONS:
        key = _act_key(name, kwargs)
        out, cache = expect.pair(getattr(impl, name)(x.copy(), **kwargs), name)
        forward_ok = matches(out, fx()[key + ".out"])
        try:
            dx = expect.call_pure(getattr(impl, f"{name}_backward"), f"{name}_backward", dout,
                                  cache)
        except expect.CheckFailed:
            raise
        except Exception as exc:  # noqa: BLE001 — a wrong forward's cache may make it raise
            if forward_ok or getattr(exc, "type_name", type(exc).__name__) == \
                    "NotImplementedError":
                raise
            skipped_until("activation_values", f"your {key[4:]} forward is wrong, and the "
                          "backward raised on its cache.", f"3.3 {key[4:]}_backward")
        expect.array(dx, f"3.3 {name}_backward", shape=x.shape, dtype=np.float64)
        hint = {"relu": "The derivative is 1 where x > 0 and 0 elsewhere (0 at x = 0).",
                "silu": "d/dx x*sigmoid(x) = sigmoid(x) * (1 + x * (1 - sigmoid(x))).",
                }.get(name, "Differentiate the same GELU form the forward used.")
        right, wrong = derivatives[key[4:]]
        slips = [(dout * d, why) for d, why in wrong]
        slips.append((right, f"{name}_backward ignores the upstream gradient dout (it returns "
                             "the derivative alone, not dout times it)"))
        close_or_slip(dx, fx()[key + ".dx"], "dx", f"3.3 {key[4:]}_backward", hint=hint,
                      candidates=slips, gate=(forward_ok, "activation_values"), **expect.GRAD)


@check("3.3")
def gelu_default_form(impl):
    """gelu(x) without `approximate` is the tanh form (GPT-2's)"""
    x = get("act.x")
    out, _ = expect.pair(impl.gelu(x), "gelu")
    if matches(out, fx()["act.gelu_tanh.out"]):
        return
    explicit, _ = expect.pair(impl.gelu(x, approximate="tanh"), "gelu")
    if not matches(explicit, fx()["act.gelu_tanh.out"]):
        skipped_until("activation_values", "gelu(x, approximate='tanh') is wrong too.",
                      "3.3 gelu(x) without approximate")
    hint = ""
    if matches(out, fx()["act.gelu_none.out"]):
        hint = expect.cause("gelu's default is the exact form: the default must be "
                            "approximate='tanh' (GPT-2's gelu_new)")
    expect.close(out, fx()["act.gelu_tanh.out"], "3.3 gelu(x) without approximate",
                 hint=hint or "Called without approximate, gelu is the tanh form.")


@check("3.3")
def gelu_unknown_form(impl):
    """ValueError for an `approximate` other than 'tanh' or 'none'"""
    x = get("act.x")
    expect.pair(impl.gelu(x), "gelu")  # points only for a gelu that works
    for bad in ("exact", "erf"):
        expect.raises(impl.gelu, ValueError, f"3.3 gelu(x, approximate={bad!r})", x,
                      approximate=bad)


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
