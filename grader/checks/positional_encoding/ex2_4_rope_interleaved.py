"""Checks of exercise 2.4: RoPE, interleaved layout."""

from __future__ import annotations

import numpy as np

from ... import expect
from .. import check
from .common import _tables, fx, get, matches, skip_unless


def _pairs_rotated(x, c, s, interleave_back=True):
    """The docstring's rotation of adjacent pairs by angles (c, s) of shape (T, D/2), or, with
    `interleave_back=False`, the rotated pairs returned as two halves (a slip)."""
    a, b = x[..., 0::2], x[..., 1::2]
    first, second = a * c - b * s, a * s + b * c
    if not interleave_back:
        return np.concatenate([first, second], axis=-1)
    return np.stack([first, second], axis=-1).reshape(x.shape)


def _diagnose(out, x, cos, sin, label: str) -> None:
    """Name the slip, each confirmed by comparing with that slip's output."""
    half = x.shape[-1] // 2
    c, s = cos[:, :half], sin[:, :half]
    if matches(out, fx()["rope.out"]):
        expect.fail(f"{label} gives the half-split result: "
                    f"{expect.cause('it pairs dimensions (i, i + head_dim/2)')} Its pairs are "
                    "adjacent dimensions (2i, 2i+1).")
    slips = (
        (_pairs_rotated(x, cos[:, 0::2], sin[:, 0::2]),
         "pair i reads cos[:, 2i] and sin[:, 2i] instead of the first half's cos[:, i]"),
        (_pairs_rotated(x, c, -s), "the sin terms have the wrong sign (it rotates by minus "
                                   "the angle)"),
        (_pairs_rotated(x, c, s, interleave_back=False),
         "the rotated pairs come back as two halves instead of interleaved (2i, 2i+1)"),
    )
    for table, slip in slips:
        if matches(out, table):
            expect.fail(f"{label} is wrong: {expect.cause(slip)} Pair i uses cos[:, i], "
                        "sin[:, i] from the first half of the tables: out[2i] = x[2i] c - "
                        "x[2i+1] s, out[2i+1] = x[2i] s + x[2i+1] c.")


@check("2.4", weight=2)
def interleaved_values(impl):
    """adjacent pairs (2i, 2i+1) rotate by the angles of the table's first half"""
    x = get("rope.x")
    cos, sin = _tables("arange")
    label = "apply_rope_interleaved(x, cos, sin)"
    out = expect.call_pure(impl.apply_rope_interleaved, "apply_rope_interleaved", x, cos, sin)
    expect.array(out, label, shape=x.shape, dtype=np.float64)
    if not matches(out, fx()["rope.out_interleaved"]):
        _diagnose(out, x, cos, sin, label)
    expect.close(out, fx()["rope.out_interleaved"], label,
                 hint="Pair i uses angle cos[:, i], sin[:, i] from the first half of the "
                      "tables: out[2i] = x[2i] c - x[2i+1] s, out[2i+1] = x[2i] s + x[2i+1] c.")


def _gate(impl) -> None:
    x = get("rope.x")
    cos, sin = _tables("arange")
    skip_unless(matches(impl.apply_rope_interleaved(x, cos, sin), fx()["rope.out_interleaved"]),
                "interleaved_values", "apply_rope_interleaved of float64 x is not right")


@check("2.4", hidden=True)
def interleaved_properties(impl):
    """the interleaved rotation preserves norms and has the relative property"""
    _gate(impl)
    rng = np.random.default_rng(4)
    n, d = 12, 6  # another size: 12 positions from 100, head_dim 6
    half = np.arange(0, d, 2) / d
    angles = (100.0 + np.arange(n))[:, None] * 10000.0 ** -half
    cos = np.cos(np.concatenate([angles, angles], axis=1))
    sin = np.sin(np.concatenate([angles, angles], axis=1))
    q, k = rng.standard_normal((2, 1, n, d))
    rq = impl.apply_rope_interleaved(np.repeat(q[:, :1], n, axis=1), cos, sin)
    rk = impl.apply_rope_interleaved(np.repeat(k[:, :1], n, axis=1), cos, sin)
    expect.array(rq, "apply_rope_interleaved(q)", shape=(1, n, d))
    norms = np.linalg.norm(rq, axis=-1) / np.linalg.norm(q[:, :1], axis=-1)
    if not np.allclose(norms, 1.0, atol=1e-9):
        expect.fail("apply_rope_interleaved changed vector norms: a rotation preserves them.")
    scores = np.array([rq[0, m] @ rk[0, m + 3] for m in range(n - 3)])
    if np.abs(scores - scores[0]).max() > 1e-9:
        expect.fail("q·k after apply_rope_interleaved should depend only on the distance; at "
                    f"distance 3 it varies by {np.abs(scores - scores[0]).max():.3g}.")


@check("2.4")
def interleaved_float32(impl):
    """float32 inputs stay float32"""
    _gate(impl)
    x = get("rope.x").astype(np.float32)
    cos, sin = _tables("arange")
    out = expect.call_pure(impl.apply_rope_interleaved, "apply_rope_interleaved", x, cos, sin)
    expect.array(out, "apply_rope_interleaved(float32 x)", shape=x.shape, dtype=np.float32)
    expect.close(out, fx()["rope.out_interleaved"], "apply_rope_interleaved(float32 x)",
                 **expect.F32)


@check("2.4")
def interleaved_bad_shapes(impl):
    """an odd head_dim, tables that do not fit x raise ValueError"""
    x = get("rope.x")
    cos, sin = _tables("arange")
    expect.array(impl.apply_rope_interleaved(x, cos, sin), "apply_rope_interleaved(x, cos, sin)",
                 shape=x.shape)
    fn, name = impl.apply_rope_interleaved, "apply_rope_interleaved"
    one_step = x[:, :, :1]  # (B, H, 1, D): the (5, D) tables would broadcast it to T = 5
    expect.raises(fn, ValueError, f"{name}(x of shape {one_step.shape}, cos and sin of shape "
                  f"{cos.shape})", one_step, cos, sin)
    expect.raises(fn, ValueError, f"{name}(x of shape (1, 5, 7), cos and sin of shape (5, 7))",
                  np.ones((1, 5, 7)), np.ones((5, 7)), np.zeros((5, 7)))
    expect.raises(fn, ValueError, f"{name}(x, cos of shape {cos.shape}, sin of shape (5, 4))",
                  x, cos, sin[:, :4])
