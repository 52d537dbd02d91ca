"""Checks of exercise 2.4: RoPE, interleaved layout."""

from __future__ import annotations

import numpy as np

from ... import expect
from .. import check
from .common import _tables, fx, get


@check("2.4", weight=2)
def interleaved_values(impl):
    """adjacent pairs (2i, 2i+1) rotate by the angles of the table's first half"""
    x = get("rope.x")
    cos, sin = _tables("arange")
    out = expect.call_pure(impl.apply_rope_interleaved, "apply_rope_interleaved", x, cos, sin)
    expect.array(out, "apply_rope_interleaved(x, cos, sin)", shape=x.shape, dtype=np.float64)
    if np.allclose(out, fx()["rope.out"], **expect.F64):
        expect.fail("apply_rope_interleaved gives the half-split result: its pairs are "
                    "adjacent dimensions (2i, 2i+1), not (i, i + head_dim/2).")
    expect.close(out, fx()["rope.out_interleaved"], "apply_rope_interleaved(x, cos, sin)",
                 hint="Pair i uses angle cos[:, i], sin[:, i] from the first half of the "
                      "tables: out[2i] = x[2i] c - x[2i+1] s, out[2i+1] = x[2i] s + x[2i+1] c.")


@check("2.4", hidden=True)
def interleaved_properties(impl):
    """the interleaved rotation preserves norms and has the relative property"""
    x = get("rope.x")
    cos, sin = _tables("arange")
    out = impl.apply_rope_interleaved(x, cos, sin)
    expect.require_correct(out, fx()["rope.out_interleaved"], "apply_rope_interleaved", "2.4")
    norms = np.linalg.norm(out, axis=-1) / np.linalg.norm(x, axis=-1)
    if not np.allclose(norms, 1.0, atol=1e-9):
        expect.fail("apply_rope_interleaved changed vector norms: a rotation preserves them.")


@check("2.4")
def interleaved_float32(impl):
    """float32 inputs stay float32"""
    x = get("rope.x").astype(np.float32)
    cos, sin = _tables("arange")
    out = impl.apply_rope_interleaved(x, cos, sin)
    expect.array(out, "apply_rope_interleaved(float32 x)", shape=x.shape, dtype=np.float32)
    expect.close(out, fx()["rope.out_interleaved"], "apply_rope_interleaved(float32 x)",
                 **expect.F32)
