"""Checks of exercise 1.6: Split and merge heads."""

from __future__ import annotations

import numpy as np

from ... import expect
from .. import check
from .common import fx, get, skipped_until


@check("1.6", weight=2)
def split_heads_layout(impl):
    """split_heads gives (B, H, T, D) with head h = columns h*D:(h+1)*D, keeps float32"""
    x = get("heads.x")  # (2, 5, 12)
    out = expect.call_pure(impl.split_heads, "split_heads", x, 3)
    expected = fx()["heads.split"]
    if isinstance(out, np.ndarray) and out.shape == (2, 5, 3, 4):
        confirmed = np.array_equal(out, x.reshape(2, 5, 3, 4))
        expect.fail("split_heads(x, 3) has shape (2, 5, 3, 4) = (B, T, H, D); the course wants "
                    "(B, H, T, D). " + (expect.cause("the transpose is missing: transpose axes "
                                                     "1 and 2 after the reshape") if confirmed
                                        else "Check the order of the axes."))
    expect.array(out, "split_heads(x, 3)", shape=expected.shape)
    if np.array_equal(out, x.reshape(2, 5, 4, 3).transpose(0, 3, 1, 2)):
        expect.fail("split_heads(x, 3) is wrong. " + expect.cause(
            "head h takes every 3rd column (an interleaved split); a head must take the "
            "contiguous block of columns h*D:(h+1)*D (reshape to (B, T, H, D))"))
    expect.close(out, expected, "split_heads(x, 3)")
    out32 = impl.split_heads(x.astype(np.float32), 3)
    expect.array(out32, "split_heads(float32 x, 3)", shape=expected.shape, dtype=np.float32)


@check("1.6")
def merge_heads_inverse(impl):
    """merge_heads is the inverse of split_heads and keeps float32"""
    split = get("heads.split")
    merged = expect.call_pure(impl.merge_heads, "merge_heads", split)
    expect.array(merged, "merge_heads", shape=(2, 5, 12))
    no_transpose = np.array_equal(merged, split.reshape(2, 5, 12))
    expect.close(merged, fx()["heads.x"], "merge_heads(split_heads(x))",
                 hint=expect.cause("the heads are reshaped without transposing back: "
                                   "transpose to (B, T, H, D) before reshaping to (B, T, C)")
                 if no_transpose else "Transpose back to (B, T, H, D) before reshaping to "
                                      "(B, T, C).")
    merged32 = impl.merge_heads(split.astype(np.float32))
    expect.array(merged32, "merge_heads(float32)", shape=(2, 5, 12), dtype=np.float32)


@check("1.6")
def heads_reject_bad_shapes(impl):
    """split_heads rejects a non-3-D x or C % H != 0, merge_heads a non-4-D x (ValueError)"""
    x = get("heads.x")  # (2, 5, 12)
    split = impl.split_heads(x, 3)
    if not (isinstance(split, np.ndarray) and np.array_equal(split, fx()["heads.split"])):
        skipped_until("split_heads_layout")
    merged = impl.merge_heads(fx()["heads.split"])
    if not (isinstance(merged, np.ndarray) and np.array_equal(merged, x)):
        skipped_until("merge_heads_inverse")
    expect.raises(impl.split_heads, ValueError, "split_heads(x, 5) with C = 12", x, 5)
    expect.raises(impl.split_heads, ValueError, "split_heads of a 2-D x (T, C)", x[0], 3)
    expect.raises(impl.merge_heads, ValueError, "merge_heads of a 3-D x (H, T, D)",
                  fx()["heads.split"][0])
