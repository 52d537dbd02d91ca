"""Checks of exercise 2.6: RoPE context extension."""

from __future__ import annotations

import numpy as np

from ... import expect
from .. import check
from .common import HEAD_DIM, fx, get


def _scaling_inputs() -> tuple[np.ndarray, float, float]:
    """(positions, base, factor) of the scaling fixtures."""
    return (get("scaling.positions"), float(fx()["scaling.base"]),
            float(fx()["scaling.factor"]))


def _scaled(impl, kind: str, key: str = "type"):
    positions, base, factor = _scaling_inputs()
    result = impl.rope_scaling(positions, HEAD_DIM, base, {key: kind, "factor": factor})
    if not (isinstance(result, tuple) and len(result) == 2):
        expect.fail("rope_scaling should return the pair (positions, base).")
    return result


@check("2.6", weight=2)
def linear_interpolation(impl):
    """linear scaling divides positions by the factor (position interpolation)"""
    given, base0, factor = _scaling_inputs()
    positions, base = _scaled(impl, "linear")
    expect.close(np.asarray(positions, dtype=np.float64), fx()["scaling.linear.positions"],
                 f"positions after linear scaling by {factor:g}",
                 hint="Position interpolation squeezes positions: p -> p / factor.")
    if not np.isclose(float(base), base0):
        expect.fail(f"linear scaling must leave the base ({base0:g}) alone; got "
                    f"{float(base)!r}.")
    cos, sin = impl.rope_cos_sin(given, HEAD_DIM, base=base0,
                                 scaling={"type": "linear", "factor": factor})
    expect.close(cos, fx()["scaling.linear.cos"],
                 f"rope_cos_sin(..., scaling=linear x{factor:g}): cos")


@check("2.6", weight=2)
def ntk_base_scaling(impl):
    """NTK-aware scaling raises the base to base * s^(d / (d - 2))"""
    given, base0, factor = _scaling_inputs()
    positions, base = _scaled(impl, "ntk")
    expected = float(fx()["scaling.ntk.base"])
    if not np.isclose(float(base), expected, rtol=1e-12):
        hint = (" You used base * s: the exponent d / (d - 2) keeps the lowest frequency "
                "interpolated by exactly s." if np.isclose(float(base), base0 * factor) else "")
        expect.fail(f"NTK scaling by {factor:g} of base {base0:g} with head_dim {HEAD_DIM}: "
                    f"base should become {expected:.6g}, got {float(base):.6g}.{hint}")
    expect.close(np.asarray(positions, dtype=np.float64), given,
                 "positions after NTK scaling", hint="NTK scaling changes the base only.")
    cos, _ = impl.rope_cos_sin(given, HEAD_DIM, base=base0,
                               scaling={"rope_type": "ntk", "factor": factor})
    expect.close(cos, fx()["scaling.ntk.cos"], f"rope_cos_sin(..., scaling=ntk x{factor:g}): cos",
                 hint='"rope_type" (Hugging Face configs) is an alias of "type".')
