"""Checks of exercise 2.5: ALiBi slopes and bias."""

from __future__ import annotations

import numpy as np

from ... import expect
from .. import check
from .common import fx, matches, skip_unless

N_SLOPE_CASES = (4, 4)  # alibi_slopes: head counts drawn, (powers of two, other counts)


N_BIAS_CASES = 3  # alibi_bias: t_q = t_k, t_q < t_k - 1, t_q = 1 < t_k - 1


def _slopes_math(n: int, variant: str = "") -> np.ndarray:
    """The docstring's slopes, or a slip's: "naive" (the power-of-two formula for every n),
    "odd" (slopes(2m)[1::2] for the extra heads), "from_zero" (h counted from 0)."""
    def power_of_two(k):
        h = np.arange(k) if variant == "from_zero" else np.arange(1, k + 1)
        return 2.0 ** (-8.0 * h / k)

    if variant == "naive":
        return power_of_two(n)
    m = 1 << (n.bit_length() - 1)
    start = 1 if variant == "odd" else 0
    return np.concatenate([power_of_two(m), power_of_two(2 * m)[start::2][: n - m]])


SLOPE_SLIPS = {
    "from_zero": "h counts from 0 instead of 1 (the first slope must be 2^(-8/n), not 1)",
    "naive": "the power-of-two formula 2^(-8h/n) is used for a head count that is not a power "
             "of two",
    "odd": "the extra slopes are taken at odd positions of slopes(2m) ([1::2] instead of "
           "[0::2])",
}


@check("2.5", weight=3)
def alibi_slopes_values(impl):
    """Press et al.'s slopes, including non-power-of-two head counts"""
    for j in range(sum(N_SLOPE_CASES)):  # powers of two first, so that the hint below holds
        n = int(fx()[f"alibi.slopes.{j}.n"])
        slopes = impl.alibi_slopes(n)
        expected = fx()[f"alibi.slopes.{j}.out"]
        expect.array(slopes, f"alibi_slopes({n})", shape=(n,), dtype=np.float64)
        if np.allclose(slopes, expected, **expect.F64):
            continue
        for variant, slip in SLOPE_SLIPS.items():
            if matches(slopes, _slopes_math(n, variant)):
                expect.fail(f"alibi_slopes({n}) is wrong: {expect.cause(slip)} For n heads, "
                            "slopes(n) = 2^(-8h/n) for h = 1..n when n is a power of two; "
                            "otherwise the slopes of the largest power of two m < n, then "
                            "slopes(2m)[0::2] until there are n.\nExpected "
                            f"{np.round(expected, 5).tolist()}\ngot "
                            f"{np.round(slopes, 5).tolist()}")
        power_of_two = n & (n - 1) == 0
        if not power_of_two:  # the powers of two came first, and were right
            expect.fail(f"alibi_slopes({n}) is wrong, while the powers of two are right: for "
                        f"a head count that is not a power of two, take the slopes of the "
                        f"closest smaller power of two m, then every other slope of 2m "
                        f"(slopes(2m)[0::2]) until you have {n}.\nExpected "
                        f"{np.round(expected, 5).tolist()}\ngot {np.round(slopes, 5).tolist()}")
        expect.close(slopes, expected, f"alibi_slopes({n})",
                     hint=f"For n = {n} heads the slopes are 2^(-8h/n) for h = 1..n.")


@check("2.5", weight=2)
def alibi_bias_values(impl):
    """bias -slope (i - j) per head, bottom-right aligned when t_q < t_k"""
    for j in range(N_BIAS_CASES):
        n, t_q, t_k = (int(fx()[f"alibi.bias.{j}.{key}"]) for key in ("n", "t_q", "t_k"))
        slopes = fx()[f"alibi.bias.{j}.slopes"]
        skip_unless(matches(impl.alibi_slopes(n), slopes), "alibi_slopes_values",
                    f"alibi_bias builds on alibi_slopes({n}), which is not right")
        label = f"alibi_bias({n}, {t_q}, {t_k})"
        bias = impl.alibi_bias(n, t_q, t_k)
        expected = fx()[f"alibi.bias.{j}.out"]
        expect.array(bias, label, shape=(n, t_q, t_k), dtype=np.float64)
        if np.allclose(bias, expected, **expect.F64):
            continue
        slopes = slopes[:, None, None]
        diff = bias - expected
        if np.allclose(diff, diff[:, :1, :1], **expect.F64) and np.allclose(
                np.abs(diff[:, 0, 0]), slopes[:, 0, 0], **expect.F64):
            expect.fail(f"{label} is off by one position (by exactly one slope everywhere): "
                        f"{expect.cause('the query positions are off by one')} The distance "
                        "is (query position) - (key position), and query i sits at position "
                        "i + t_k - t_q.")
        if t_q != t_k and np.allclose(bias, -slopes * (np.arange(t_q)[:, None] -
                                                       np.arange(t_k)[None, :]), **expect.F64):
            expect.fail(f"{label} is top-left aligned: "
                        f"{expect.cause('query i is placed at position i, not i + t_k - t_q')} "
                        "Like causal masks, ALiBi is bottom-right aligned: the last query is "
                        "the newest token, at position t_k - 1.")
        if np.allclose(bias, -expected, **expect.F64):
            expect.fail(f"{label} has the wrong sign: "
                        f"{expect.cause('the bias is +slope (i - j) instead of -slope (i - j)')}"
                        " Distant keys must get a negative bias.")
        expect.close(bias, expected, label)


@check("2.5")
def alibi_bad_sizes(impl):
    """n_heads < 1 and negative t_q, t_k raise ValueError"""
    expect.array(impl.alibi_bias(2, 2, 3), "alibi_bias(2, 2, 3)", shape=(2, 2, 3))
    expect.raises(impl.alibi_slopes, ValueError, "alibi_slopes(0)", 0)
    expect.raises(impl.alibi_slopes, ValueError, "alibi_slopes(-2)", -2)
    expect.raises(impl.alibi_bias, ValueError, "alibi_bias(0, 3, 3)", 0, 3, 3)
    expect.raises(impl.alibi_bias, ValueError, "alibi_bias(2, -1, 3)", 2, -1, 3)
    expect.raises(impl.alibi_bias, ValueError, "alibi_bias(2, 3, -1)", 2, 3, -1)
