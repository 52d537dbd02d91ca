"""Checks of exercise 2.6: RoPE context extension."""

from __future__ import annotations

import numpy as np

from ... import expect
from .. import check
from .common import HEAD_DIM, fx, get


def _scaling_inputs() -> tuple[np.ndarray, float, float]:
    """(positions, base, factor) of the scaling fixtures; float64 positions, which a
    conversion to float64 does not copy (an in-place edit would reach the caller's)."""
    return (get("scaling.positions").astype(np.float64), float(fx()["scaling.base"]),
            float(fx()["scaling.factor"]))


def _scaled(impl, kind: str, key: str = "type"):
    positions, base, factor = _scaling_inputs()
    result = expect.call_pure(impl.rope_scaling, "rope_scaling", positions, HEAD_DIM, base,
                              {key: kind, "factor": factor})
    if not (isinstance(result, tuple) and len(result) == 2):
        expect.fail("rope_scaling should return the pair (positions, base).")
    return result


def _tables_agree(impl, kind: str, key: str, positions, base: float) -> None:
    """`rope_cos_sin(..., scaling=)` must build the tables from what rope_scaling returned:
    compared with your own rope_cos_sin at those positions and base (exercise 2.3 is graded
    on its own)."""
    given, base0, factor = _scaling_inputs()
    cos, sin = impl.rope_cos_sin(given, HEAD_DIM, base=base0,
                                 scaling={key: kind, "factor": factor})
    plain_cos, plain_sin = impl.rope_cos_sin(positions, HEAD_DIM, base=base)
    label = f"rope_cos_sin(..., scaling={{{key!r}: {kind!r}, 'factor': {factor:g}}})"
    expect.close(cos, plain_cos, f"{label}: cos",
                 hint=f"It should equal rope_cos_sin at the {kind}-scaled positions and base; "
                      "check that the given code of rope_cos_sin that calls rope_scaling is "
                      "unchanged." + (' "rope_type" (Hugging Face configs) is an alias of '
                                      '"type".' if key == "rope_type" else ""))
    expect.close(sin, plain_sin, f"{label}: sin")


@check("2.6", weight=2)
def linear_interpolation(impl):
    """linear scaling divides positions by the factor (position interpolation)"""
    given, base0, factor = _scaling_inputs()
    positions, base = _scaled(impl, "linear")
    positions = np.asarray(positions, dtype=np.float64)
    expected = fx()["scaling.linear.positions"]
    label = f"positions after linear scaling by {factor:g}"
    if positions.shape == given.shape:
        if np.allclose(positions, given * factor, **expect.F64):
            expect.fail(f"{label} are wrong: "
                        f"{expect.cause('the positions are multiplied by the factor')} "
                        "Position interpolation squeezes positions: p -> p / factor.")
        if np.allclose(positions, given, **expect.F64) and np.isclose(float(base),
                                                                      base0 * factor):
            expect.fail(f"{label} are unchanged and the base became {float(base):g}: "
                        f"{expect.cause('the base is scaled instead of the positions')} "
                        "Linear scaling (position interpolation) is p -> p / factor, with the "
                        "base left alone.")
    expect.close(positions, expected, label,
                 hint="Position interpolation squeezes positions: p -> p / factor.")
    if not np.isclose(float(base), base0):
        expect.fail(f"linear scaling must leave the base ({base0:g}) alone; got "
                    f"{float(base)!r}.")
    _tables_agree(impl, "linear", "type", expected, base0)


@check("2.6", weight=2)
def ntk_base_scaling(impl):
    """NTK-aware scaling raises the base to base * s^(d / (d - 2))"""
    given, base0, factor = _scaling_inputs()
    positions, base = _scaled(impl, "ntk")
    expected = float(fx()["scaling.ntk.base"])
    if not np.isclose(float(base), expected, rtol=1e-12):
        label = (f"NTK scaling by {factor:g} of base {base0:g} with head_dim {HEAD_DIM}: base "
                 f"should become {expected:.6g}, got {float(base):.6g}")
        slips = ((base0 * factor, "the base is multiplied by s alone, without the exponent "
                                  "d / (d - 2)"),
                 (base0 * factor ** ((HEAD_DIM - 2) / HEAD_DIM),
                  "the exponent is inverted: (d - 2) / d instead of d / (d - 2)"))
        for value, slip in slips:
            if np.isclose(float(base), value, rtol=1e-12):
                expect.fail(f"{label}. {expect.cause(slip)} The exponent d / (d - 2) keeps "
                            "the lowest frequency interpolated by exactly s.")
        expect.fail(f"{label}.")
    expect.close(np.asarray(positions, dtype=np.float64), given,
                 "positions after NTK scaling", hint="NTK scaling changes the base only.")
    _tables_agree(impl, "ntk", "rope_type", given, expected)


@check("2.6")
def scaling_bad_dicts(impl):
    """a scaling that is not a dict, of an unknown type, or with a factor < 1 raises"""
    positions, base, factor = _scaling_inputs()
    expect.array(np.asarray(impl.rope_scaling(positions, HEAD_DIM, base,
                                              {"type": "linear", "factor": factor})[0]),
                 "rope_scaling(...)[0]", shape=positions.shape)
    for scaling, what in (("linear", "the string 'linear'"),
                          ({"type": "yarn", "factor": 2.0}, "an unknown type 'yarn'"),
                          ({"type": "linear"}, "no 'factor'"),
                          ({"type": "linear", "factor": 0.5}, "factor 0.5 < 1"),
                          ({"type": "ntk", "rope_type": "linear", "factor": 2.0},
                           "'type' and 'rope_type' that disagree")):
        expect.raises(impl.rope_scaling, ValueError, f"rope_scaling with scaling = {what}",
                      positions, HEAD_DIM, base, scaling)
