"""Checks of exercise 2.5: ALiBi slopes and bias."""

from __future__ import annotations

import numpy as np

from ... import expect
from .. import check
from .common import fx

N_SLOPE_CASES = (4, 4)  # alibi_slopes: head counts drawn, (powers of two, other counts)


N_BIAS_CASES = 3  # alibi_bias: t_q = t_k, t_q < t_k - 1, t_q = 1 < t_k - 1


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
        power_of_two = n & (n - 1) == 0
        if not power_of_two:
            expect.fail(f"alibi_slopes({n}) is wrong but powers of two may be right: for a "
                        f"head count that is not a power of two, take the slopes of the "
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
        label = f"alibi_bias({n}, {t_q}, {t_k})"
        bias = impl.alibi_bias(n, t_q, t_k)
        expected = fx()[f"alibi.bias.{j}.out"]
        expect.array(bias, label, shape=(n, t_q, t_k), dtype=np.float64)
        if np.allclose(bias, expected, **expect.F64):
            continue
        slopes = fx()[f"alibi.bias.{j}.slopes"][:, None, None]
        diff = bias - expected
        if np.allclose(diff, diff[:, :1, :1], **expect.F64) and np.allclose(
                np.abs(diff[:, 0, 0]), slopes[:, 0, 0], **expect.F64):
            expect.fail(f"{label} is off by one position (by exactly one slope everywhere): "
                        "the distance is (query position) - (key position), and query i sits "
                        "at position i + t_k - t_q.")
        if t_q != t_k and np.allclose(bias, -slopes * (np.arange(t_q)[:, None] -
                                                       np.arange(t_k)[None, :]), **expect.F64):
            expect.fail(f"{label} is top-left aligned. Like causal masks, ALiBi is "
                        "bottom-right aligned: the last query is the newest token, at position "
                        "t_k - 1, so query i sits at i + t_k - t_q.")
        if np.allclose(bias, -expected, **expect.F64):
            expect.fail(f"{label} has the wrong sign: distant keys must get a negative bias.")
        expect.close(bias, expected, label)
