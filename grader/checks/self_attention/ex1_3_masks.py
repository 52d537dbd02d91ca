"""Checks of exercise 1.3: Causal and padding masks."""

from __future__ import annotations

import numpy as np

from ... import expect
from .. import check
from .common import fx

# The causal_mask cases: square (called with one argument), fewer queries than keys, one
# query, more queries than keys; their sizes are drawn by `fixtures.py`.
CAUSAL_CASES = ("square", "fewer_queries", "one_query", "more_queries")


@check("1.3", weight=2)
def causal_mask_alignment(impl):
    """causal_mask is boolean, lower-triangular, and bottom-right aligned when t_q != t_k"""
    for j in range(len(CAUSAL_CASES)):  # square (one argument), t_q < t_k, t_q = 1, t_q > t_k
        t_q, t_k = (int(fx()[f"masks.causal.{j}.{n}"]) for n in ("t_q", "t_k"))
        one_arg = j == 0
        label = f"causal_mask({t_q})" if one_arg else f"causal_mask({t_q}, {t_k})"
        mask = impl.causal_mask(t_q) if one_arg else impl.causal_mask(t_q, t_k)
        expected = fx()[f"masks.causal.{j}.out"]
        expect.array(mask, label, shape=expected.shape, dtype=bool)
        if np.array_equal(mask, expected):
            continue
        if np.array_equal(mask, ~expected):
            expect.fail(f"{label} is inverted: the course's masks say True = may attend.")
        if np.array_equal(mask, np.tri(*expected.shape, dtype=bool)):
            expect.fail(f"{label} is top-left aligned. With fewer queries than keys (decoding "
                        "with a KV cache) query i sits at position i + t_k - t_q, so it may "
                        f"attend to keys j <= i + t_k - t_q. Expected\n{expected.astype(int)}")
        expect.fail(f"{label} is\n{mask.astype(int)}\nexpected\n{expected.astype(int)}\n"
                    "(1 = may attend; keys at or before the query's position).")


@check("1.3")
def padding_mask_values(impl):
    """padding_mask marks the first `length` keys of each sequence"""
    lengths, t = fx()["masks.lengths"], int(fx()["masks.padding_t"])
    mask = impl.padding_mask(lengths.copy(), t)
    expected = fx()["masks.padding"]
    label = f"padding_mask({lengths.tolist()}, {t})"
    expect.array(mask, label, shape=expected.shape, dtype=bool)
    if not np.array_equal(mask, expected):
        expect.fail(f"{label} is\n{mask.astype(int)}\nexpected\n"
                    f"{expected.astype(int)}\n(row b is True for key positions j < lengths[b]).")
    as_list = impl.padding_mask([int(n) for n in lengths], t)
    if not (isinstance(as_list, np.ndarray) and np.array_equal(as_list, expected)):
        expect.fail("padding_mask should accept lengths as a Python list too.")
