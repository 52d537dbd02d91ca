"""Checks of exercise 2.3: RoPE, half-split layout."""

from __future__ import annotations

import numpy as np

from ... import expect
from ...gradcheck import numerical_gradient
from .. import check
from .common import HEAD_DIM, _tables, fx, get, matches, skip_unless, upstream_ignored

# Drawn by `fixtures.py`: consecutive positions from an offset (the default base; its
# tables rotate `rope.x`), sorted positions with gaps, and a small base; "long" (consecutive,
# default base) is for the relative property.
ROPE_TABLE_CASES = ("arange", "gaps", "base500")
DEFAULT_BASE = 10000.0  # the docstring's default (RoFormer, LLaMA 1/2)
# Far positions, fractional ones too: a float32 angle is off by ~1e-3 rad at 1e4.
LONG_POSITIONS = np.array([0.0, 1.0, 2.5, 4095.0, 10000.0, 12345.75, 65535.5])


def _rope_math(positions, head_dim: int, base: float, exponent=None, interleaved=False):
    """The docstring's tables in float64 (half-split: emb = [freqs, freqs]), or a slip:
    another exponent `exponent(i2, head_dim)` for i2 = 0, 2, 4, ..., or each frequency
    repeated twice in a row (the interleaved layout)."""
    i2 = np.arange(0, head_dim, 2)
    inv_freq = base ** (exponent(i2, head_dim) if exponent else -i2 / head_dim)
    freqs = np.asarray(positions, dtype=np.float64)[:, None] * inv_freq
    emb = (np.repeat(freqs, 2, axis=1) if interleaved
           else np.concatenate([freqs, freqs], axis=1))
    return np.cos(emb), np.sin(emb)


def _rotate_half(x):
    half = x.shape[-1] // 2
    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)


def _rope(x, cos, sin):
    """The docstring's rotation (the grader's own forward): x * cos + rotate_half(x) * sin."""
    return x * cos + _rotate_half(x) * sin


def _rope_cos_sin(impl, name: str):
    """The student's tables for fixture case `name` (base passed only if the case has one),
    and a label naming the call."""
    positions, base = get(f"rope.{name}.positions"), fx().get(f"rope.{name}.base")
    if base is None:
        result = impl.rope_cos_sin(positions, HEAD_DIM)
        label = f"rope_cos_sin(positions={positions.tolist()}, {HEAD_DIM})"
    else:
        result = impl.rope_cos_sin(positions, HEAD_DIM, base=float(base))
        label = f"rope_cos_sin(positions={positions.tolist()}, {HEAD_DIM}, base={float(base):g})"
    return _pair(result), label


def _pair(result):
    if not (isinstance(result, tuple) and len(result) == 2):
        expect.fail("rope_cos_sin should return the pair (cos, sin).")
    return result


def _diagnose_tables(impl, name: str, cos, sin, label: str) -> None:
    """Name the slip the tables show, each confirmed by comparing with that slip's tables."""
    positions, base = get(f"rope.{name}.positions"), fx().get(f"rope.{name}.base")
    exp_cos, exp_sin = _tables(name)
    if matches(cos, exp_sin) and matches(sin, exp_cos):
        expect.fail(f"{label}: {expect.cause('cos and sin are swapped')}")
    b = DEFAULT_BASE if base is None else float(base)
    slips = (
        (_rope_math(positions, HEAD_DIM, b, interleaved=True),
         "the table repeats each frequency twice in a row (the interleaved layout); the "
         "half-split layout concatenates the frequencies with themselves: emb = [freqs, freqs]"),
        (_rope_math(positions, HEAD_DIM, b, exponent=lambda i2, d: -(i2 // 2) / d),
         "the exponent is -i/head_dim instead of -2i/head_dim"),
        (_rope_math(positions, HEAD_DIM, b, exponent=lambda i2, d: i2 / d),
         "the exponent's sign is flipped"),
    )
    for (slip_cos, slip_sin), slip in slips:
        if matches(cos, slip_cos) and matches(sin, slip_sin):
            expect.fail(f"{label} is wrong: {expect.cause(slip)} inv_freq_i = "
                        "base^(-2i/head_dim) for i < head_dim/2.")
    if base is None:  # called without base: is the default the only thing wrong?
        explicit = _pair(impl.rope_cos_sin(positions, HEAD_DIM, base=DEFAULT_BASE))
        if matches(explicit[0], exp_cos) and matches(explicit[1], exp_sin):
            expect.fail(f"{label}, called without base, differs from the tables with base="
                        f"{DEFAULT_BASE:g} passed: "
                        f"{expect.cause('the default of base is not 10000.0')}")


@check("2.3", weight=2)
def rope_tables(impl):
    """cos/sin tables of shape (T, head_dim) in the half-split layout, default base 10000"""
    for name in ROPE_TABLE_CASES:
        (cos, sin), label = _rope_cos_sin(impl, name)
        exp_cos, exp_sin = _tables(name)
        expect.array(cos, f"{label}: cos", shape=exp_cos.shape, dtype=np.float64)
        expect.array(sin, f"{label}: sin", shape=exp_sin.shape, dtype=np.float64)
        if not (matches(cos, exp_cos) and matches(sin, exp_sin)):
            _diagnose_tables(impl, name, cos, sin, label)
        expect.close(cos, exp_cos, f"{label}: cos",
                     hint="inv_freq_i = base^(-2i/head_dim) for i < head_dim/2; the angle is "
                          "position * inv_freq_i.")
        expect.close(sin, exp_sin, f"{label}: sin")


@check("2.3")
def rope_long_positions(impl):
    """far and fractional positions (up to 65535.5) in float64; positions left unchanged"""
    positions = LONG_POSITIONS.copy()
    head_dim = 16
    label = f"rope_cos_sin(positions={positions.tolist()}, {head_dim}, base={DEFAULT_BASE:g})"
    cos, sin = _pair(expect.call_pure(impl.rope_cos_sin, "rope_cos_sin", positions, head_dim,
                                      base=DEFAULT_BASE))
    exp_cos, exp_sin = _rope_math(positions, head_dim, DEFAULT_BASE)
    for got, expected, which in ((cos, exp_cos, "cos"), (sin, exp_sin, "sin")):
        expect.array(got, f"{label}: {which}", shape=expected.shape, dtype=np.float64)
        near = positions < 4
        skip_unless(matches(got[near], expected[near]), "rope_tables",
                    f"the {which} rows of positions 0, 1 and 2.5 are wrong already")
        if not matches(got, expected):
            expect.close(got, expected, f"{label}: {which}",
                         hint="Positions below 4 are right, far ones are not: the error grows "
                              "with the position. Check that the angles position * inv_freq "
                              "are computed in float64 (no float32 step), as the docstring "
                              "says.")
        expect.close(got, expected, f"{label}: {which}")


@check("2.3", weight=2)
def apply_rope_values(impl):
    """x * cos + rotate_half(x) * sin on (B, H, T, head_dim) inputs"""
    x = get("rope.x")
    cos, sin = _tables("arange")
    out = expect.call_pure(impl.apply_rope, "apply_rope", x, cos, sin)
    expect.array(out, "apply_rope(x, cos, sin)", shape=x.shape, dtype=np.float64)
    expected = fx()["rope.out"]
    if matches(out, fx()["rope.out_interleaved"]):
        slip = "it rotates adjacent pairs (2i, 2i+1), the interleaved layout"
        expect.fail(f"apply_rope(x, cos, sin) is wrong: {expect.cause(slip)} "
                    "This function uses the half-split layout: dimension i pairs with i + "
                    "head_dim/2, via rotate_half(x) = [-x2, x1].")
    if matches(out, x * cos - _rotate_half(x) * sin):
        expect.fail("apply_rope rotates the wrong way (by minus the angle): "
                    f"{expect.cause('the rotate_half(x) * sin term has the wrong sign')} The "
                    "rotation is out = x * cos + rotate_half(x) * sin, with rotate_half(x) = "
                    "[-x2, x1].")
    expect.close(out, expected, "apply_rope(x, cos, sin)")


@check("2.3", weight=2)
def apply_rope_backward_is_inverse(impl):
    """the backward is the inverse rotation, and agrees with finite differences"""
    x, dout = get("rope.x"), get("rope.dout")
    cos, sin = _tables("arange")
    label = "apply_rope_backward(dout, cos, sin)"
    dx = expect.call_pure(impl.apply_rope_backward, "apply_rope_backward", dout, cos, sin)
    expect.array(dx, label, shape=x.shape, dtype=np.float64)
    if not matches(dx, fx()["rope.dx"]):
        _diagnose_backward(impl, dx, dout, cos, sin, label)
    expect.close(dx, fx()["rope.dx"], label)
    # The transpose of the grader's own forward, by finite differences: a wrong apply_rope
    # costs nothing here.
    small, g = x[0, 0, :3].copy(), dout[0, 0, :3]
    cos3, sin3 = cos[:3], sin[:3]
    numeric = numerical_gradient(lambda: float(np.sum(g * _rope(small, cos3, sin3))), small)
    expect.close(impl.apply_rope_backward(g, cos3, sin3), numeric,
                 "apply_rope_backward (finite differences of the rotation)", **expect.GRAD)


def _diagnose_backward(impl, dx, dout, cos, sin, label: str) -> None:
    """Name the backward's slip, each confirmed on the returned array or by re-running it."""
    if matches(dx, fx()["rope.dout_rotated"]):
        x = get("rope.x")
        both = matches(impl.apply_rope(x, cos, sin), x * cos - _rotate_half(x) * sin)
        expect.fail(f"{label} applies the forward rotation again: "
                    f"{expect.cause('the rotate_half(dout) * sin term has the wrong sign')} The "
                    "transpose of a rotation is its inverse: rotate by -angle (use -sin)."
                    + (" apply_rope has this sign flipped too: check that the given rotate_half "
                       "is unchanged, [-x2, x1]." if both else ""))
    if matches(dx, dout * cos):
        slip = "the rotate_half(dout) * sin term is missing"
        expect.fail(f"{label} is wrong: {expect.cause(slip)} "
                    "The inverse rotation mixes each pair: dx = dout * cos - "
                    "rotate_half(dout) * sin.")
    if upstream_ignored(impl.apply_rope_backward, dout, cos, sin):
        expect.fail(f"{label} is wrong: doubling dout leaves dx unchanged. "
                    f"{expect.cause('it ignores dout')} The backward rotates the incoming "
                    "gradient dout by -angle.")


@check("2.3", hidden=True)
def rope_relative_property(impl):
    """scores depend only on the relative position, and norms are preserved"""
    (cos, sin), _ = _rope_cos_sin(impl, "long")  # consecutive positions
    skip_unless(matches(cos, fx()["rope.long.cos"]), "rope_tables",
                "rope_cos_sin of consecutive positions, default base, is not right")
    n = cos.shape[0]
    rng = np.random.default_rng(3)
    q, k = rng.standard_normal((2, n, HEAD_DIM)) * 3
    rq = impl.apply_rope(q[None], cos, sin)[0]
    expect.array(rq, "apply_rope(q)", shape=q.shape)
    norms = np.linalg.norm(rq, axis=-1) / np.linalg.norm(q, axis=-1)
    if not np.allclose(norms, 1.0, atol=1e-9):
        expect.fail(f"apply_rope changed vector norms by a factor up to {np.abs(norms).max():.4g}: "
                    "a rotation preserves them.")
    # Same q and k at positions (m, n) and (m + s, n + s) give the same score.
    q1 = np.repeat(q[:1], n, axis=0)
    k1 = np.repeat(k[:1], n, axis=0)
    rq1, rk1 = impl.apply_rope(q1[None], cos, sin)[0], impl.apply_rope(k1[None], cos, sin)[0]
    scores = np.array([rq1[m] @ rk1[m + 4] for m in range(n - 4)])
    if np.abs(scores - scores[0]).max() > 1e-9:
        expect.fail("q·k after RoPE should depend only on the distance n - m; at distance 4 "
                    f"it varies by {np.abs(scores - scores[0]).max():.3g} with m.")


@check("2.3")
def apply_rope_float32(impl):
    """float32 inputs stay float32 (the tables are float64)"""
    x = get("rope.x")
    cos, sin = _tables("arange")
    skip_unless(matches(impl.apply_rope(x, cos, sin), fx()["rope.out"]), "apply_rope_values",
                "apply_rope of float64 x is not right")
    out = expect.call_pure(impl.apply_rope, "apply_rope", x.astype(np.float32), cos, sin)
    expect.array(out, "apply_rope(float32 x)", shape=x.shape, dtype=np.float32)
    expect.close(out, fx()["rope.out"], "apply_rope(float32 x)", **expect.F32)
    dx = expect.call_pure(impl.apply_rope_backward, "apply_rope_backward",
                          get("rope.dout").astype(np.float32), cos, sin)
    expect.array(dx, "apply_rope_backward(float32 dout)", shape=x.shape, dtype=np.float32)


@check("2.3")
def rope_bad_shapes(impl):
    """2-D positions, an odd head_dim, tables that do not fit x raise ValueError"""
    cos, sin = _pair(impl.rope_cos_sin(np.arange(5), HEAD_DIM))
    x = get("rope.x")
    expect.array(impl.apply_rope(x, cos, sin), "apply_rope(x, cos, sin)", shape=x.shape)
    expect.raises(impl.rope_cos_sin, ValueError, "rope_cos_sin(positions of shape (2, 3), 8)",
                  np.arange(6).reshape(2, 3), HEAD_DIM)
    expect.raises(impl.rope_cos_sin, ValueError, "rope_cos_sin(positions, head_dim=7)",
                  np.arange(5), 7)
    expect.raises(impl.rope_cos_sin, ValueError, "rope_cos_sin(positions, head_dim=0)",
                  np.arange(5), 0)
    one_step = x[:, :, :1]  # (B, H, 1, D): the (5, D) tables would broadcast it to T = 5
    odd = np.ones((1, 5, 7))  # head_dim 7, with (5, 7) tables that fit it
    for fn, name in ((impl.apply_rope, "apply_rope"),
                     (impl.apply_rope_backward, "apply_rope_backward")):
        expect.raises(fn, ValueError, f"{name}(x of shape {one_step.shape}, cos and sin of "
                      f"shape {cos.shape})", one_step, cos, sin)
        expect.raises(fn, ValueError, f"{name}(x of shape {odd.shape}, cos and sin of shape "
                      "(5, 7))", odd, np.ones((5, 7)), np.zeros((5, 7)))
        expect.raises(fn, ValueError, f"{name}(x, cos of shape {cos.shape}, sin of shape "
                      f"{sin[:, :4].shape})", x, cos, sin[:, :4])
