"""Checks of exercise 1.6: Split and merge heads."""

from __future__ import annotations

import numpy as np

from ... import expect
from .. import check
from .common import fx, get


@check("1.6", weight=2)
def split_heads_layout(impl):
    """split_heads gives (B, H, T, D) with head h = columns h*D:(h+1)*D"""
    x = get("heads.x")  # (2, 5, 12)
    out = expect.call_pure(impl.split_heads, "split_heads", x, 3)
    expected = fx()["heads.split"]
    if isinstance(out, np.ndarray) and out.shape == (2, 5, 3, 4):
        expect.fail("split_heads returned (B, T, H, D); the course wants (B, H, T, D): "
                    "transpose axes 1 and 2 after the reshape.")
    expect.array(out, "split_heads(x, 3)", shape=expected.shape)
    if np.array_equal(out, x.reshape(2, 5, 4, 3).transpose(0, 3, 1, 2)):
        expect.fail("split_heads gives head h every 3rd column; a head must take the "
                    "contiguous block of columns h*D:(h+1)*D (reshape to (B, T, H, D)).")
    expect.close(out, expected, "split_heads(x, 3)")


@check("1.6")
def merge_heads_inverse(impl):
    """merge_heads is the inverse of split_heads and keeps float32"""
    split = get("heads.split")
    merged = expect.call_pure(impl.merge_heads, "merge_heads", split)
    expect.array(merged, "merge_heads", shape=(2, 5, 12))
    expect.close(merged, fx()["heads.x"], "merge_heads(split_heads(x))",
                 hint="Transpose back to (B, T, H, D) before reshaping to (B, T, C).")
    merged32 = impl.merge_heads(split.astype(np.float32))
    expect.array(merged32, "merge_heads(float32)", shape=(2, 5, 12), dtype=np.float32)
