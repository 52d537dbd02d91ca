"""Checks of exercise 2.1: Sinusoidal encoding."""

from __future__ import annotations

import numpy as np

from ... import expect
from .. import check
from .common import fx

# Drawn by `fixtures.py`: an even d, an odd d, a small base (each with its own t and base),
# and a longer table with the default base (the linear shift, float32).
SINUSOID_CASES = ("even", "odd", "small_base")


def _sinusoid(name: str) -> tuple[int, int, float | None]:
    """(t, d, base) of a fixture case; base None for the default-base case."""
    prefix = f"sinusoidal.{name}."
    base = fx().get(prefix + "base")
    return (int(fx()[prefix + "t"]), int(fx()[prefix + "d"]),
            None if base is None else float(base))


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
        expect.array(pe, label, shape=(t, d), dtype=np.float64)
        if np.allclose(pe, expected, **expect.F64):
            continue
        pairs = d // 2 * 2
        swapped = expected.copy()
        swapped[:, 0:pairs:2], swapped[:, 1:pairs:2] = expected[:, 1:pairs:2], \
            expected[:, 0:pairs:2]
        if np.allclose(pe[:, :pairs], swapped[:, :pairs], **expect.F64):
            expect.fail(f"{label}: sin and cos are swapped. Column 2i holds sin(p w_i) and "
                        "column 2i+1 holds cos(p w_i).")
        if np.allclose(pe[:, :2], expected[:, :2], **expect.F64):
            expect.fail(f"{label}: the first pair is right but later ones are not: check the "
                        "frequency w_i = base^(-2i/d), where i counts pairs (columns 2i and "
                        "2i+1 share one frequency).")
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


@check("2.1", hidden=True)
def sinusoidal_linear_shift(impl):
    """PE[p + k] is a fixed rotation of PE[p], the same for every p"""
    t, d, _ = _sinusoid("default")
    k = 3
    pe = impl.sinusoidal_positional_encoding(t, d)
    expect.require_correct(pe, fx()["sinusoidal.default.out"],
                           "sinusoidal_positional_encoding", "2.1")
    m, *_ = np.linalg.lstsq(pe[:-k], pe[k:], rcond=None)  # PE[p] @ m = PE[p + k]
    residual = np.abs(pe[:-k] @ m - pe[k:]).max()
    if residual > 1e-8 or not np.allclose(m @ m.T, np.eye(d), atol=1e-6):
        expect.fail(f"PE[p + {k}] should equal PE[p] times a fixed rotation matrix; the best "
                    f"linear fit leaves an error of {residual:.3g}.")


@check("2.1")
def sinusoidal_dtype_and_edges(impl):
    """dtype argument, d = 1 and t = 0 work"""
    t, d, _ = _sinusoid("default")
    pe32 = impl.sinusoidal_positional_encoding(t, d, dtype=np.float32)
    expect.array(pe32, f"sinusoidal_positional_encoding({t}, {d}, dtype=float32)",
                 shape=(t, d), dtype=np.float32)
    expect.close(pe32, fx()["sinusoidal.default.out"], "float32 encoding", **expect.F32)
    one = impl.sinusoidal_positional_encoding(3, 1)
    expect.array(one, "sinusoidal_positional_encoding(3, 1)", shape=(3, 1))
    expect.close(one, np.sin(np.arange(3.0))[:, None], "sinusoidal_positional_encoding(3, 1)",
                 hint="With d = 1 there is only the sin column, at frequency 1.")
    empty = impl.sinusoidal_positional_encoding(0, 4)
    expect.array(empty, "sinusoidal_positional_encoding(0, 4)", shape=(0, 4))
