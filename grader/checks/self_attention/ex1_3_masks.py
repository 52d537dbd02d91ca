"""Checks of exercise 1.3: Causal and padding masks."""

from __future__ import annotations

import numpy as np

from ... import expect
from .. import check
from .common import fx, get, skipped_until

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
        if one_arg and not (isinstance(mask, np.ndarray) and np.array_equal(mask, expected)):
            both = impl.causal_mask(t_q, t_q)
            if isinstance(both, np.ndarray) and np.array_equal(both, expected):
                expect.fail(f"{label}, without t_k, differs from causal_mask({t_q}, {t_q}), "
                            "which is right: t_k defaults to t_q.")
        expect.array(mask, label, shape=expected.shape, dtype=bool)
        if np.array_equal(mask, expected):
            continue
        if np.array_equal(mask, ~expected):
            expect.fail(f"{label} is the expected mask with every entry flipped. "
                        + expect.cause("the mask is inverted: the course's masks say True = "
                                       "may attend"))
        if np.array_equal(mask, np.tri(*expected.shape, dtype=bool)):
            expect.fail(f"{label} is\n{mask.astype(int)}\nexpected\n{expected.astype(int)}\n"
                        + expect.cause("the mask is top-left aligned (np.tri). With fewer "
                                       "queries than keys (decoding with a KV cache) query i "
                                       "sits at position i + t_k - t_q, so it may attend to "
                                       "keys j <= i + t_k - t_q"))
        expect.fail(f"{label} is\n{mask.astype(int)}\nexpected\n{expected.astype(int)}\n"
                    "(1 = may attend; keys at or before the query's position).")


@check("1.3")
def padding_mask_values(impl):
    """padding_mask marks the first `length` keys of each sequence"""
    lengths, t = get("masks.lengths"), int(fx()["masks.padding_t"])
    mask = expect.call_pure(impl.padding_mask, "padding_mask", lengths, t)  # int array
    expected = fx()["masks.padding"]
    label = f"padding_mask({lengths.tolist()}, {t})"
    expect.array(mask, label, shape=expected.shape, dtype=bool)
    if not np.array_equal(mask, expected):
        expect.fail(f"{label} is\n{mask.astype(int)}\nexpected\n"
                    f"{expected.astype(int)}\n(row b is True for key positions j < lengths[b]).")
    as_list = impl.padding_mask([int(n) for n in lengths], t)
    if not (isinstance(as_list, np.ndarray) and np.array_equal(as_list, expected)):
        expect.fail("padding_mask should accept lengths as a Python list too.")


@check("1.3")
def masks_reject_bad_sizes(impl):
    """negative sizes, lengths out of [0, t] and 2-D lengths raise ValueError"""
    lengths, t = get("masks.lengths"), int(fx()["masks.padding_t"])
    right = impl.padding_mask(lengths, t)
    if not (isinstance(right, np.ndarray) and np.array_equal(right, fx()["masks.padding"])):
        skipped_until("padding_mask_values")
    square = impl.causal_mask(3, 3)
    if not (isinstance(square, np.ndarray) and np.array_equal(square, np.tri(3, dtype=bool))):
        skipped_until("causal_mask_alignment")
    expect.raises(impl.causal_mask, ValueError, "causal_mask(-1)", -1)
    expect.raises(impl.causal_mask, ValueError, "causal_mask(2, -1)", 2, -1)
    expect.raises(impl.padding_mask, ValueError, f"padding_mask([1, {t + 1}], {t}) (a length "
                  "greater than t)", np.array([1, t + 1]), t)
    expect.raises(impl.padding_mask, ValueError, f"padding_mask([-1, 1], {t})",
                  np.array([-1, 1]), t)
    expect.raises(impl.padding_mask, ValueError, f"padding_mask([[1, 2]], {t}) (2-D lengths)",
                  np.array([[1, 2]]), t)
    expect.raises(impl.padding_mask, ValueError, "padding_mask([0], -1)", np.array([0]), -1)
