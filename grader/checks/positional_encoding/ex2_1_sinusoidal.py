"""Checks of exercise 2.1: Sinusoidal encoding."""

from __future__ import annotations

import numpy as np

from ... import expect
from .. import check
from .common import fx, matches, skip_unless

# Drawn by `fixtures.py`: an even d, an odd d, a small base (each with its own t and base),
# and a longer table with the default base (the linear shift, float32).
SINUSOID_CASES = ("even", "odd", "small_base")
DEFAULT_BASE = 10000.0  # the docstring's default, and the paper's
LONG_T, LONG_D = 10_001, 16  # float32 at position 1e4: angles must be float64, then cast


def _sinusoid(name: str) -> tuple[int, int, float | None]:
    """(t, d, base) of a fixture case; base None for the default-base case."""
    prefix = f"sinusoidal.{name}."
    base = fx().get(prefix + "base")
    return (int(fx()[prefix + "t"]), int(fx()[prefix + "d"]),
            None if base is None else float(base))


def _math(t: int, d: int, base: float, first: int = 0, exponent=None, halves=False):
    """The docstring's table in float64, or one of the slips it is compared with: rows from
    position `first`, another frequency `exponent(i2, d)` (i2 = 0, 2, 4, ...), or the sin
    and cos columns in two halves instead of alternating."""
    i2 = np.arange(0, d, 2)
    w = base ** (exponent(i2, d) if exponent else -i2 / d)
    angles = np.arange(first, first + t, dtype=np.float64)[:, None] * w
    if halves:
        return np.concatenate([np.sin(angles), np.cos(angles[:, : d // 2])], axis=1)
    pe = np.empty((t, d))
    pe[:, 0::2], pe[:, 1::2] = np.sin(angles), np.cos(angles[:, : d // 2])
    return pe


def _diagnose(pe: np.ndarray, t: int, d: int, base: float, label: str) -> None:
    """Name the slip the table shows, each one confirmed by comparing with that slip's table."""
    expected = _math(t, d, base)
    pairs = d // 2 * 2
    swapped = expected.copy()
    swapped[:, 0:pairs:2], swapped[:, 1:pairs:2] = expected[:, 1:pairs:2], \
        expected[:, 0:pairs:2]
    if pairs and matches(pe[:, :pairs], swapped[:, :pairs]):
        expect.fail(f"{label}: {expect.cause('sin and cos are swapped')} Column 2i holds "
                    "sin(p w_i) and column 2i+1 holds cos(p w_i).")
    slips = (
        (_math(t, d, base, exponent=lambda i2, d: -(i2 // 2) / d),
         "the exponent is -i/d instead of -2i/d"),
        (_math(t, d, base, exponent=lambda i2, d: i2 / d), "the exponent's sign is flipped"),
        (_math(t, d, DEFAULT_BASE), f"the base argument is ignored ({DEFAULT_BASE:g} is used)"),
        (_math(t, d, base, first=1), "the rows start at position 1 instead of 0"),
        (_math(t, d, base, halves=True),
         "the sin columns come first and the cos columns after them, instead of alternating"),
    )
    for table, slip in slips:
        if base != DEFAULT_BASE or "base argument" not in slip:
            if matches(pe, table):
                expect.fail(f"{label} is wrong: {expect.cause(slip)} The frequency of "
                            "columns 2i and 2i+1 is w_i = base^(-2i/d) (i counts pairs); row "
                            "p is position p, from 0; columns alternate sin, cos.")
    if matches(pe[:, :2], expected[:, :2]):
        expect.fail(f"{label}: the first pair is right but later ones are not: check the "
                    "frequency w_i = base^(-2i/d), where i counts pairs (columns 2i and "
                    "2i+1 share one frequency).")


@check("2.1", weight=2)
def sinusoidal_values(impl):
    """sin on even columns, cos on odd ones, frequencies base^(-2i/d), any d"""
    for name in SINUSOID_CASES:
        t, d, base = _sinusoid(name)
        label = f"sinusoidal_positional_encoding({t}, {d}, base={base:g})"
        odd_hint = (f" With odd d={d} there are {d // 2 + 1} sin columns but only {d // 2} "
                    "cos columns: the last column is sin(p w_{(d-1)/2})." if d % 2 else "")
        pe = _call_naming_the_case(impl.sinusoidal_positional_encoding, label, odd_hint,
                                   t, d, base=base)
        expected = fx()[f"sinusoidal.{name}.out"]
        if isinstance(pe, np.ndarray) and pe.dtype != np.float64:
            explicit = impl.sinusoidal_positional_encoding(t, d, base=base, dtype=np.float64)
            if isinstance(explicit, np.ndarray) and explicit.dtype == np.float64:
                expect.fail(f"{label} has dtype {pe.dtype}, expected float64: "
                            f"{expect.cause('the default of dtype is not np.float64')} "
                            "(with dtype=np.float64 passed, float64 comes back).")
        expect.array(pe, label, shape=(t, d), dtype=np.float64)
        if np.allclose(pe, expected, **expect.F64):
            continue
        _diagnose(pe, t, d, base, label)
        expect.close(pe, expected, label, hint=odd_hint.strip() or
                     "Row p is position p, starting at 0; columns alternate sin, cos.")


def _call_naming_the_case(fn, label: str, hint: str, *args, **kwargs):
    """Call the student's function; if it raises, say on which input (and why, if we know)."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 — re-raised unless it is the student's own error
        name = getattr(exc, "type_name", type(exc).__name__)
        if name == "NotImplementedError" or not hasattr(exc, "type_name"):
            raise
        expect.fail(f"{label} raised {name}: {getattr(exc, 'message', exc)}.{hint}")


@check("2.1")
def sinusoidal_default_base(impl):
    """called without base, the base is 10000"""
    t, d, _ = _sinusoid("default")
    label = f"sinusoidal_positional_encoding({t}, {d})"
    pe = impl.sinusoidal_positional_encoding(t, d)
    expect.array(pe, label, shape=(t, d))
    if matches(pe, fx()["sinusoidal.default.out"]):
        return
    explicit = impl.sinusoidal_positional_encoding(t, d, base=DEFAULT_BASE)
    skip_unless(matches(explicit, fx()["sinusoidal.default.out"]), "sinusoidal_values",
                f"the table with base={DEFAULT_BASE:g} passed is not right either")
    expect.fail(f"{label}, called without base, differs from the table with base="
                f"{DEFAULT_BASE:g} passed: {expect.cause('the default of base is not 10000.0')}"
                " (the signature's default is the paper's 10000).")


def _gate_on_values(impl) -> tuple[int, int, np.ndarray]:
    """Skip a check until the float64 table of the default case is right; else its t, d and
    the student's table."""
    t, d, _ = _sinusoid("default")
    pe = impl.sinusoidal_positional_encoding(t, d, base=DEFAULT_BASE)
    skip_unless(matches(pe, fx()["sinusoidal.default.out"]), "sinusoidal_values",
                f"sinusoidal_positional_encoding({t}, {d}, base={DEFAULT_BASE:g}) is not right")
    return t, d, pe


@check("2.1", hidden=True)
def sinusoidal_linear_shift(impl):
    """PE[p + k] is a fixed rotation of PE[p], the same for every p"""
    t, d, pe = _gate_on_values(impl)
    k = 3
    m, *_ = np.linalg.lstsq(pe[:-k], pe[k:], rcond=None)  # PE[p] @ m = PE[p + k]
    residual = np.abs(pe[:-k] @ m - pe[k:]).max()
    if residual > 1e-8 or not np.allclose(m @ m.T, np.eye(d), atol=1e-6):
        expect.fail(f"PE[p + {k}] should equal PE[p] times a fixed rotation matrix; the best "
                    f"linear fit leaves an error of {residual:.3g}.")


@check("2.1")
def sinusoidal_dtype_and_edges(impl):
    """dtype argument, d = 1 and t = 0 work"""
    t, d, _ = _gate_on_values(impl)
    pe32 = impl.sinusoidal_positional_encoding(t, d, base=DEFAULT_BASE, dtype=np.float32)
    expect.array(pe32, f"sinusoidal_positional_encoding({t}, {d}, dtype=float32)",
                 shape=(t, d), dtype=np.float32)
    expect.close(pe32, fx()["sinusoidal.default.out"], "float32 encoding", **expect.F32)
    one = impl.sinusoidal_positional_encoding(3, 1, base=DEFAULT_BASE)
    expect.array(one, "sinusoidal_positional_encoding(3, 1)", shape=(3, 1))
    expect.close(one, np.sin(np.arange(3.0))[:, None], "sinusoidal_positional_encoding(3, 1)",
                 hint="With d = 1 there is only the sin column, at frequency 1.")
    empty = impl.sinusoidal_positional_encoding(0, 4, base=DEFAULT_BASE)
    expect.array(empty, "sinusoidal_positional_encoding(0, 4)", shape=(0, 4))


@check("2.1")
def sinusoidal_float32_long(impl):
    """float32 tables are the rounded float64 values, also at position 10000"""
    _gate_on_values(impl)
    label = f"sinusoidal_positional_encoding({LONG_T}, {LONG_D}, dtype=float32)"
    pe32 = impl.sinusoidal_positional_encoding(LONG_T, LONG_D, base=DEFAULT_BASE,
                                               dtype=np.float32)
    expect.array(pe32, label, shape=(LONG_T, LONG_D), dtype=np.float32)
    expected = _math(LONG_T, LONG_D, DEFAULT_BASE)
    short = 64  # where float32 angles are still within the tolerance
    if matches(pe32[:short], expected[:short], expect.F32):
        err = np.abs(pe32 - expected).max(axis=1)
        expect.close(pe32, expected, label, **expect.F32,
                     hint=f"The first {short} rows are right, the error grows with the "
                          f"position (up to {err.max():.2g} by row {int(np.argmax(err))}): "
                          "check that the angles p * w_i are computed in float64 and only "
                          "the finished table is cast to dtype, as the docstring says.")
    expect.close(pe32, expected, label, **expect.F32)


@check("2.1")
def sinusoidal_bad_arguments(impl):
    """negative t or d < 1 raise ValueError, a non-integer size TypeError"""
    expect.array(impl.sinusoidal_positional_encoding(2, 2, base=DEFAULT_BASE),
                 "sinusoidal_positional_encoding(2, 2)", shape=(2, 2))
    fn = impl.sinusoidal_positional_encoding
    expect.raises(fn, ValueError, "sinusoidal_positional_encoding(-1, 4)", -1, 4)
    expect.raises(fn, ValueError, "sinusoidal_positional_encoding(3, 0)", 3, 0)
    expect.raises(fn, TypeError, "sinusoidal_positional_encoding(2.5, 4)", 2.5, 4)
    expect.raises(fn, TypeError, "sinusoidal_positional_encoding(3, 4.0)", 3, 4.0)
