"""Checks of exercise 2.3: RoPE, half-split layout."""

from __future__ import annotations

import numpy as np

from ... import expect
from ...gradcheck import numerical_gradient_of
from .. import check
from .common import HEAD_DIM, _tables, fx, get

# Drawn by `fixtures.py`: consecutive positions from an offset (the default base; its
# tables rotate `rope.x`), sorted positions with gaps, and a small base; "long" (consecutive,
# default base) is for the relative property.
ROPE_TABLE_CASES = ("arange", "gaps", "base500")


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
    if not (isinstance(result, tuple) and len(result) == 2):
        expect.fail("rope_cos_sin should return the pair (cos, sin).")
    return result, label


@check("2.3", weight=2)
def rope_tables(impl):
    """cos/sin tables of shape (T, head_dim) in the half-split layout"""
    for name in ROPE_TABLE_CASES:
        (cos, sin), label = _rope_cos_sin(impl, name)
        exp_cos, exp_sin = _tables(name)
        expect.array(cos, f"{label}: cos", shape=exp_cos.shape, dtype=np.float64)
        expect.array(sin, f"{label}: sin", shape=exp_sin.shape, dtype=np.float64)
        if np.allclose(cos, exp_sin, **expect.F64) and np.allclose(sin, exp_cos, **expect.F64):
            expect.fail(f"{label}: cos and sin are swapped.")
        half = HEAD_DIM // 2
        interleaved = np.repeat(exp_cos[:, :half], 2, axis=1)
        if np.allclose(cos, interleaved, **expect.F64):
            expect.fail(f"{label}: your table repeats each frequency twice in a row (the "
                        "interleaved layout). The half-split layout concatenates the "
                        "frequencies with themselves: emb = [freqs, freqs].")
        expect.close(cos, exp_cos, f"{label}: cos",
                     hint="inv_freq_i = base^(-2i/head_dim) for i < head_dim/2; the angle is "
                          "position * inv_freq_i.")
        expect.close(sin, exp_sin, f"{label}: sin")


@check("2.3", weight=2)
def apply_rope_values(impl):
    """x * cos + rotate_half(x) * sin on (B, H, T, head_dim) inputs"""
    x = get("rope.x")
    cos, sin = _tables("arange")
    out = expect.call_pure(impl.apply_rope, "apply_rope", x, cos, sin)
    expect.array(out, "apply_rope(x, cos, sin)", shape=x.shape, dtype=np.float64)
    expected = fx()["rope.out"]
    if np.allclose(out, fx()["rope.out_interleaved"], **expect.F64):
        expect.fail("apply_rope rotated adjacent pairs (2i, 2i+1) — the interleaved layout. "
                    "This function uses the half-split layout: dimension i pairs with i + "
                    "head_dim/2, via rotate_half(x) = [-x2, x1].")
    if np.allclose(out, x * cos + _wrong_rotate_half(x) * sin, **expect.F64):
        expect.fail("apply_rope rotates the wrong way (by minus the angle). The rotation is "
                    "out = x * cos + rotate_half(x) * sin, with rotate_half(x) = [-x2, x1].")
    expect.close(out, expected, "apply_rope(x, cos, sin)")


def _wrong_rotate_half(x):
    """The classic sign slip, [x2, -x1], to recognise it (a bug, not the solution)."""
    half = x.shape[-1] // 2
    return np.concatenate([x[..., half:], -x[..., :half]], axis=-1)


@check("2.3", weight=2)
def apply_rope_backward_is_inverse(impl):
    """the backward is the inverse rotation, and agrees with finite differences"""
    x, dout = get("rope.x"), get("rope.dout")
    cos, sin = _tables("arange")
    dx = impl.apply_rope_backward(dout, cos, sin)
    expect.array(dx, "apply_rope_backward(dout, cos, sin)", shape=x.shape, dtype=np.float64)
    if np.allclose(dx, fx()["rope.dout_rotated"], **expect.F64):
        expect.fail("apply_rope_backward applies the forward rotation again. The transpose "
                    "of a rotation is its inverse: rotate by -angle (use -sin). (If you edited "
                    "the given rotate_half, restore it: [-x2, x1].)")
    expect.close(dx, fx()["rope.dx"], "apply_rope_backward(dout, cos, sin)",
                 hint="dx = dout * cos - rotate_half(dout) * sin.")
    expect.require_correct(impl.apply_rope(x, cos, sin), fx()["rope.out"], "apply_rope", "2.3")
    small = x[:1, :1, :3].copy()
    cos3, sin3 = cos[:3], sin[:3]
    g = dout[:1, :1, :3]

    numeric = numerical_gradient_of(impl.apply_rope, (small, cos3, sin3), {}, small, g,
                                    output=None)
    expect.close(impl.apply_rope_backward(g, cos3, sin3), numeric,
                 "apply_rope_backward (finite differences)", **expect.GRAD)


@check("2.3", hidden=True)
def rope_relative_property(impl):
    """scores depend only on the relative position, and norms are preserved"""
    (cos, sin), _ = _rope_cos_sin(impl, "long")  # consecutive positions
    expect.require_correct(cos, fx()["rope.long.cos"], "rope_cos_sin", "2.3")
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
    x = get("rope.x").astype(np.float32)
    cos, sin = _tables("arange")
    out = impl.apply_rope(x, cos, sin)
    expect.array(out, "apply_rope(float32 x)", shape=x.shape, dtype=np.float32)
    expect.close(out, fx()["rope.out"], "apply_rope(float32 x)", **expect.F32)
    dx = impl.apply_rope_backward(get("rope.dout").astype(np.float32), cos, sin)
    expect.array(dx, "apply_rope_backward(float32 dout)", shape=x.shape, dtype=np.float32)
