"""Checks of exercise 4.4: greedy, temperature, top-k and top-p sampling.

The filters are checked on small hand-made rows whose kept sets are worked out in the comments
(probabilities chosen with margins of at least 0.03 around p, so any correct way of summing
gives the same set), then on random rows against fixtures from the reference
(`grader/data/llm.npz`, keys `4.4/...`). Sampling is checked two ways: statistically
(20,000 draws from a seeded rng in one batched call, 4,000 where the effect is large; every
frequency within 5 binomial standard deviations, sqrt(q (1 - q) / n), of its probability;
tokens that a filter removed must never be drawn), and exactly (the draw that the docstring
defines: one u = rng.random() per row, the first index whose normalised cumulative
probability exceeds u).
The fixtures' logits, k, p and draw settings (temperatures, filters and the seeds of the
generators) are drawn from the fixture seed and read back from the fixture.
Checks whose expected sets or draws rest on the filters are skipped until the filter checks
pass (a filter bug is reported once, by its own check), and a cause is stated only when a
probe confirms it: the same logits minus their max for overflow, draws that follow the
distribution of the slip (unfiltered, or tempered after filtering) for the others.
"""

from __future__ import annotations

import numpy as np

from ... import expect, fixtures
from ...sandbox import StudentCrash, StudentNotImplemented, StudentTimeout
from .. import check

N_DRAWS = 20_000


SIGMAS = 5.0


# Rows of probabilities; the filters see their logs (softmax(log q) = q).
TOP_P_ROWS = np.array([[0.05, 0.50, 0.15, 0.30],
                       [0.10, 0.60, 0.25, 0.05]])


def fx() -> dict[str, np.ndarray]:
    return fixtures.by_name("llm")


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _kept(out: np.ndarray) -> list:
    """Kept token ids per row (entries that are not -inf)."""
    keep = ~np.isneginf(out)
    if out.ndim == 1:
        return [int(i) for i in np.flatnonzero(keep)]
    return [[int(i) for i in np.flatnonzero(row)] for row in keep]


def _filtered(out, x: np.ndarray, what: str) -> np.ndarray:
    """`out` must be x's shape and dtype, each entry either x's own value or -inf."""
    expect.array(out, what, shape=x.shape, dtype=x.dtype, finite=False)
    if np.any(np.isnan(out)):
        expect.fail(f"{what} contains NaN: a filter only replaces logits by -inf (check "
                    "whether exp overflowed: subtracting the row's max before exp avoids it).")
    changed = ~np.isneginf(out) & (out != x)
    if np.any(changed):
        idx = tuple(int(i) for i in np.argwhere(changed)[0])
        expect.fail(f"{what} changed a kept logit at index {idx}: {x[idx]:.6g} became "
                    f"{out[idx]:.6g}. A filter returns logits, not probabilities: kept entries "
                    "stay as they are, removed ones become -inf.")
    return out


def _expect_kept(out, x, expected: list, what: str, hint: str = "") -> None:
    _filtered(out, x, what)
    got = _kept(out)
    if got != expected:
        expect.fail(f"{what} kept tokens {got}, expected {expected}. {hint}".rstrip())


def _token_ids(value, what: str, batch: int | None):
    """An int for (V,) logits, a (B,) int64 array for (B, V) logits."""
    if batch is None:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            expect.fail(f"{what} should return one int for logits of shape (V,), got "
                        f"{type(value).__name__} {value!r:.60}.")
        return int(value)
    expect.array(value, what, shape=(batch,), dtype=np.int64)
    return value


def _frequencies(ids: np.ndarray, V: int) -> np.ndarray:
    if ids.min() < 0 or ids.max() >= V:
        expect.fail(f"sample_next_token returned token {int(ids.max())}, outside 0..{V - 1}.")
    return np.bincount(ids, minlength=V) / ids.size


def _follows(freq: np.ndarray, q: np.ndarray, n: int) -> bool:
    """Frequencies of n draws within SIGMAS binomial standard deviations of `q`."""
    return bool(np.all(np.abs(freq - q) <= SIGMAS * np.sqrt(q * (1 - q) / n) + 1e-12))


UNFILTERED = ("it sampled from the unfiltered distribution: take the softmax of the filtered "
              "logits (removed ones are -inf, probability 0)")


def _expect_distribution(impl, x: np.ndarray, q: np.ndarray, what: str, seed: int,
                         hint: str, n: int = N_DRAWS, slips: tuple = (), **kwargs) -> None:
    """n draws from the row `x` (as one (n, V) batch) must follow `q`; `slips` are (cause,
    distribution) pairs: frequencies that follow one confirm that cause (the probe)."""
    rows = np.tile(x, (n, 1))
    ids = _token_ids(expect.call_pure(impl.sample_next_token, "sample_next_token", rows,
                                      np.random.default_rng(seed), **kwargs),
                     f"sample_next_token({what})", n)
    freq = _frequencies(ids, x.size)
    if _follows(freq, q, n):
        return
    found = f"token frequencies {np.round(freq, 4).tolist()} over {n} draws"
    for cause, slip in slips:
        if _follows(freq, slip, n):
            expect.fail(f"sample_next_token({what}): {found} follow "
                        f"{np.round(slip, 4).tolist()}, not {np.round(q, 4).tolist()}. "
                        f"{hint} {expect.cause(cause)}".replace("  ", " "))
    removed = [int(j) for j in np.flatnonzero((q == 0) & (freq > 0))]
    if removed:
        expect.fail(f"sample_next_token({what}) drew token {removed[0]} "
                    f"{int(round(freq[removed[0]] * n))} times out of {n}, but its probability "
                    f"is 0. {hint}".rstrip())
    expect.fail(f"sample_next_token({what}): {found}, expected probabilities "
                f"{np.round(q, 4).tolist()} (allowed: {SIGMAS:g} binomial standard "
                f"deviations). {hint}".rstrip())


def _gate(impl, *checks) -> None:
    """Skip a check whose expectations rest on other checks of 4.4 (the filters) until they
    pass: their bug would otherwise be reported here under a wrong name."""
    for fn in checks:
        try:
            fn(impl)
        except expect.CheckFailed:
            expect.fail(f"4.4 skipped until {fn.__name__} passes (this check relies on it).")
        except Exception as exc:  # noqa: BLE001 — a crash of the other check: skip as well
            if isinstance(exc, (StudentNotImplemented, NotImplementedError, StudentCrash,
                                StudentTimeout)):
                raise
            expect.fail(f"4.4 skipped until {fn.__name__} passes (this check relies on it; "
                        f"it raised {getattr(exc, 'type_name', type(exc).__name__)}).")


@check("4.4")
def greedy_argmax_over_vocabulary(impl):
    """greedy: argmax over the last axis, lowest id on ties; int for (V,), (B,) int64"""
    # Shape (B, V) = (2, 5): the argmax over axis 0 would have 5 entries, each 0 or 1.
    x = np.array([[0.1, 2.0, -1.0, 0.5, 1.9],
                  [3.0, -2.0, 0.0, 4.0, 1.0]])
    ids = expect.call_pure(impl.greedy, "greedy", x)
    if isinstance(ids, np.ndarray) and ids.shape == (5,):
        expect.fail("greedy((B, V) logits) returned shape (5,) = (V,): take the argmax over "
                    "the last axis (the vocabulary), one token per row: np.argmax(x, axis=-1).")
    ids = _token_ids(ids, "greedy((B, V) logits)", 2)
    if ids.tolist() != [1, 3]:
        expect.fail(f"greedy of the rows [0.1, 2, -1, 0.5, 1.9] and [3, -2, 0, 4, 1] gave "
                    f"{ids.tolist()}, expected [1, 3]: the argmax over the last axis.")
    one = _token_ids(expect.call_pure(impl.greedy, "greedy", x[1]), "greedy((V,) logits)", None)
    if one != 3:
        expect.fail(f"greedy([3, -2, 0, 4, 1]) = {one}, expected 3.")
    ties = np.array([[1.0, 5.0, 5.0, 2.0, 5.0], [7.0, 7.0, 0.0, 0.0, 0.0]])
    got = _token_ids(impl.greedy(ties), "greedy", 2).tolist()
    if got != [1, 0]:
        expect.fail(f"greedy of rows with tied maxima [1, 5, 5, 2, 5] and [7, 7, 0, 0, 0] gave "
                    f"{got}, expected [1, 0]: ties go to the lowest token id (as np.argmax).")


@check("4.4")
def top_k_filter_values(impl):
    """top-k: logits below the k-th largest become -inf, along the last axis, dtype kept"""
    x = np.array([[0.5, 2.0, -1.0, 1.0, 3.0],
                  [1.0, 0.0, 4.0, 2.0, -3.0]])
    for k, expected in ((1, [[4], [2]]), (2, [[1, 4], [2, 3]]), (3, [[1, 3, 4], [0, 2, 3]])):
        out = expect.call_pure(impl.top_k_filter, "top_k_filter", x, k)
        _filtered(out, x, f"top_k_filter(x, {k})")
        got = _kept(out)
        if got != expected:
            n = [len(r) for r in got]
            hint = ("Remove a logit only if it is strictly below the k-th largest of its row."
                    if n == [k - 1, k - 1] else
                    "Keep the k largest logits of each row (the last axis), e.g. with "
                    "np.partition or np.sort along axis=-1.")
            expect.fail(f"top_k_filter(x, {k}) kept tokens {got}, expected {expected}. {hint}")
    for k in (5, 7):
        out = expect.call_pure(impl.top_k_filter, "top_k_filter", x, k)
        _expect_kept(out, x, [[0, 1, 2, 3, 4]] * 2, f"top_k_filter(x, {k}) with V = 5",
                     "k >= V keeps every token.")
    out = expect.call_pure(impl.top_k_filter, "top_k_filter", x[0], 2)
    _expect_kept(out, x[0], [1, 4], "top_k_filter of a (V,) row with k = 2")
    out32 = impl.top_k_filter(x.astype(np.float32), 2)
    _expect_kept(out32, x.astype(np.float32), [[1, 4], [2, 3]], "top_k_filter of float32 logits")
    f = fx()
    for j in range(len(K_RANGES)):
        k = int(f[f"top_k.{j}.k"])
        out = expect.call_pure(impl.top_k_filter, "top_k_filter", f["x"], k)
        _expect_kept(out, f["x"], _kept(f[f"top_k.{j}.out"]),
                     f"top_k_filter of random (3, 10) logits with k = {k}")
    for bad in (0, -1, 2.5):
        expect.raises(impl.top_k_filter, ValueError, f"top_k_filter(x, {bad!r})", x, bad)


@check("4.4")
def top_k_keeps_ties(impl):
    """top-k keeps every token tied with the k-th largest logit (as Hugging Face)"""
    x = np.array([[1.0, 3.0, 2.0, 2.0, 0.0, 2.0],
                  [5.0, 1.0, 5.0, 2.0, 0.0, 1.0]])
    # k = 2: row 0's 2nd largest is 2.0, held by tokens 2, 3, 5 -> keep 1, 2, 3, 5.
    #        row 1's 2nd largest is 5.0 (tokens 0 and 2) -> keep 0, 2.
    # k = 1: row 1's largest, 5.0, is held by tokens 0 and 2: both stay.
    _gate(impl, top_k_filter_values)
    for k, expected in ((2, [[1, 2, 3, 5], [0, 2]]), (1, [[1], [0, 2]])):
        out = expect.call_pure(impl.top_k_filter, "top_k_filter", x, k)
        _filtered(out, x, f"top_k_filter(x, {k})")
        got = _kept(out)
        if got != expected:
            hint = ""
            if all(len(r) == k for r in got) and all(set(g) <= set(e)
                                                     for g, e in zip(got, expected)):
                hint = ("It kept exactly k tokens, but every token whose logit equals the k-th "
                        "largest must stay (remove only logits strictly below it), so the "
                        "result does not depend on token order. " + expect.cause(
                            "top-k broke a tie at the k-th value"))
            expect.fail(f"top_k_filter of the rows {x.tolist()} with k = {k} kept {got}, "
                        f"expected {expected}. {hint}".rstrip())


DROPPED_CROSSING = ("Keep the smallest set of most probable tokens whose mass reaches p, "
                    "including the crossing token. " + expect.cause(
                        "top-p dropped the token that crosses p"))


def _top_p_hint(got: list, expected: list, q: np.ndarray) -> str:
    """Name the likely bug from the first row where `got` differs from `expected`."""
    for g, e, row in zip(got, expected, q):
        if g == e:
            continue
        crossing = min(e, key=lambda j: row[j])  # the least probable token kept
        if not g:
            break
        if set(g) == set(e) - {crossing}:
            return DROPPED_CROSSING
        if set(g) > set(e):
            return ("Stop at the first token whose cumulative mass reaches p. "
                    + expect.cause("top-p kept too many tokens"))
        if len(g) == len(e):
            return ("The right number of tokens but the wrong ones: check that, after "
                    "sorting, the decision is mapped back to the original token positions.")
    return ""


@check("4.4")
def top_p_filter_values(impl):
    """top-p: the smallest set of most probable tokens whose mass reaches p, crossing token kept"""
    x = np.log(TOP_P_ROWS)
    # p = 0.7: row 0 sorted 0.50 (token 1), 0.30 (3): 0.80 >= 0.7 -> keep 1, 3.
    #          row 1 sorted 0.60 (1), 0.25 (2): 0.85 -> keep 1, 2.
    # p = 0.9: row 0: 0.50, 0.80, 0.95 -> keep 1, 3, 2; row 1: 0.60, 0.85, 0.95 -> keep 1, 2, 0.
    for p, expected in ((0.7, [[1, 3], [1, 2]]), (0.9, [[1, 2, 3], [0, 1, 2]])):
        out = expect.call_pure(impl.top_p_filter, "top_p_filter", x, p)
        _filtered(out, x, f"top_p_filter(x, {p})")
        got = _kept(out)
        if got != expected:
            expect.fail(f"top_p_filter with probabilities {TOP_P_ROWS.tolist()} and p = {p} kept "
                        f"{got}, expected {expected}. {_top_p_hint(got, expected, TOP_P_ROWS)}"
                        .rstrip())
    out = expect.call_pure(impl.top_p_filter, "top_p_filter", x[0], 0.7)
    _expect_kept(out, x[0], [1, 3], "top_p_filter of a (V,) row with p = 0.7")
    out = expect.call_pure(impl.top_p_filter, "top_p_filter", x, 1.0)
    _expect_kept(out, x, [[0, 1, 2, 3]] * 2, "top_p_filter(x, 1.0)", "p = 1 keeps every token.")
    x32 = x.astype(np.float32)
    _expect_kept(impl.top_p_filter(x32, 0.7), x32, [[1, 3], [1, 2]],
                 "top_p_filter of float32 logits")
    # Probabilities that do not come from logs: the filter must take the softmax itself.
    shifted = x * 2.0 + 3.0  # softmax: 0.5^2 / sum, ... row 0 -> 0.007, 0.685, 0.062, 0.247
    _expect_kept(impl.top_p_filter(shifted, 0.9), shifted, [[1, 3], [1, 2]],
                 "top_p_filter(2 log q + 3, 0.9)",
                 "Turn the logits into probabilities with a softmax before summing them.")
    f = fx()
    for j in range(len(P_RANGES)):
        p = float(f[f"top_p.{j}.p"])
        out = expect.call_pure(impl.top_p_filter, "top_p_filter", f["x"], p)
        _expect_kept(out, f["x"], _kept(f[f"top_p.{j}.out"]),
                     f"top_p_filter of random (3, 10) logits with p = {p:g}")
    for bad in (0.0, -0.1, 1.5):
        expect.raises(impl.top_p_filter, ValueError, f"top_p_filter(x, {bad})", x, bad)


@check("4.4")
def top_p_keeps_at_least_one_token(impl):
    """top-p keeps the most probable token even when its mass alone exceeds p"""
    q = np.array([[0.02, 0.90, 0.05, 0.03],
                  [0.30, 0.20, 0.45, 0.05],
                  [0.00, 1.00, 0.00, 0.00]])
    with np.errstate(divide="ignore"):
        x = np.log(q)  # row 2 = [-inf, 0, -inf, -inf]: already filtered down to one token
    # p = 0.5: row 0's token 1 alone has 0.90 >= 0.5; row 1: 0.45, then 0.75 -> keep 2, 0.
    # p = 1e-20 (1 - p rounds to 1.0): only the most probable token of each row.
    _gate(impl, top_p_filter_values)
    for p, expected in ((0.5, [[1], [0, 2], [1]]), (1e-20, [[1], [2], [1]])):
        out = expect.call_pure(impl.top_p_filter, "top_p_filter", x, p)
        _filtered(out, x, f"top_p_filter(x, {p:g})")
        got = _kept(out)
        if got != expected:
            hint = ""
            if any(not r for r in got):
                hint = ("When the most probable token alone has mass > p it is the crossing "
                        "token, and it must stay: always keep at least the most probable "
                        "token. " + expect.cause("top-p returned no token for a row"))
            elif got[:2] == [[1], [2]]:
                hint = DROPPED_CROSSING
            expect.fail(f"top_p_filter with probabilities {q.tolist()} and p = {p:g} kept "
                        f"{got}, expected {expected}. {hint}".rstrip())


@check("4.4")
def top_p_keeps_ties(impl):
    """top-p keeps every token tied with the smallest kept logit, in any token order"""
    q = np.array([[0.4, 0.2, 0.2, 0.2],
                  [0.2, 0.2, 0.4, 0.2],
                  [0.1, 0.3, 0.3, 0.3]])
    x = np.log(q)
    # p = 0.5: 0.4, then a 0.2 crosses (0.6): its two twins have the same logit -> keep all.
    # Row 2: a 0.3 already reaches 0.3 < 0.5, the second 0.3 crosses (0.6) -> keep the three
    # 0.3s, not the 0.1.
    _gate(impl, top_p_filter_values, top_p_keeps_at_least_one_token)
    expected = [[0, 1, 2, 3], [0, 1, 2, 3], [1, 2, 3]]
    out = expect.call_pure(impl.top_p_filter, "top_p_filter", x, 0.5)
    _filtered(out, x, "top_p_filter(x, 0.5)")
    got = _kept(out)
    if got != expected:
        hint = ""
        if all(set(g) <= set(e) for g, e in zip(got, expected)) and any(
                set(g) & {j for j in e if q[r, j] == min(q[r, e])} and len(g) < len(e)
                for r, (g, e) in enumerate(zip(got, expected))):
            hint = ("The tokens whose logit equals that of the last token kept must all stay "
                    "(as top-k keeps ties with the k-th value), so the result does not depend "
                    "on the order of the tokens: remove only logits strictly below the "
                    "smallest kept one. " + expect.cause("top-p broke a tie at the boundary"))
        expect.fail(f"top_p_filter with probabilities {q.tolist()} and p = 0.5 kept {got}, "
                    f"expected {expected}. {hint}".rstrip())


OVERFLOW = ("exp overflowed on large logits (inf / inf is NaN): subtract the row's max before "
            "exp; it does not change the softmax")


@check("4.4")
def large_logits_do_not_overflow(impl):
    """logits near 1000 (or a small temperature) give the right top-p set and draws"""
    _gate(impl, top_p_filter_values, top_p_keeps_at_least_one_token)
    x = np.array([[1000.0, 999.0, 0.0, -1000.0],
                  [-5.0, 700.0, 710.0, 0.0]])
    # softmax: row 0 = [0.731, 0.269, 0, 0]; row 1 = [0, 4.5e-5, 0.99995, 0].
    # The probe: the same logits minus the row's max (the same softmax, nothing to overflow).
    shifted = x - x.max(axis=-1, keepdims=True)
    for x_, s_, what in ((x, shifted, "float64"),
                         (x.astype(np.float32), shifted.astype(np.float32), "float32")):
        for p, expected in ((0.5, [[0], [2]]), (0.8, [[0, 1], [2]])):
            out = expect.call_pure(impl.top_p_filter, "top_p_filter", x_, p)
            try:
                _expect_kept(out, x_, expected, f"top_p_filter of large {what} logits, p = {p}")
            except expect.CheckFailed as failed:
                probe = impl.top_p_filter(s_, p)
                ok = isinstance(probe, np.ndarray) and probe.shape == s_.shape and \
                    _kept(probe) == expected
                expect.fail(f"{failed} " + (expect.cause(OVERFLOW) if ok else
                            "The same logits minus their row's max are not filtered right "
                            "either: see the other top-p checks."))
    q = np.array([np.exp(0.0), np.exp(-1.0), 0.0, 0.0])
    q /= q.sum()
    # Temperature 0.01 turns [10, 9.99, 0, -10] into [1000, 999, 0, -1000].
    for row, what, seed, kwargs in ((x[0], "[1000, 999, 0, -1000]", 41, {}),
                                    (x[0] / 100, "[10, 9.99, 0, -10], temperature=0.01", 42,
                                     {"temperature": 0.01})):
        try:
            _expect_distribution(impl, row, q, what, seed, "", n=4000, **kwargs)
        except expect.CheckFailed as failed:
            try:  # the probe: the same distribution from logits whose max is 0
                _expect_distribution(impl, row - row.max(), q, what, seed, "", n=4000,
                                     **kwargs)
            except expect.CheckFailed:
                expect.fail(f"{failed} The same logits minus their max are not sampled right "
                            "either: see sample_follows_filtered_distribution.")
            expect.fail(f"{failed} " + expect.cause(OVERFLOW))


X_ROW = np.array([1.0, -0.5, 2.0, 0.3, -2.0])


@check("4.4", weight=2)
def sample_follows_filtered_distribution(impl):
    """20,000 draws follow softmax(filtered logits / T); removed tokens never come up"""
    q = _softmax(X_ROW)
    _expect_distribution(impl, X_ROW, q, "x", 1,
                         "With no filter and temperature 1, sample from softmax(x).")
    q = _softmax(X_ROW / 0.5)
    _expect_distribution(impl, X_ROW, q, "x, temperature=0.5", 2,
                         "Divide the logits by the temperature (x / T), then softmax: T < 1 "
                         "sharpens the distribution.", temperature=0.5)
    # The filters' own bugs are reported by their checks, not here.
    _gate(impl, top_k_filter_values)
    # Top-k with k = 3 keeps tokens 2, 0, 3.
    z = np.where(np.isin(np.arange(5), [0, 2, 3]), X_ROW / 0.7, -np.inf)
    _expect_distribution(impl, X_ROW, _softmax(z), "x, temperature=0.7, top_k=3", 3,
                         "Sample from the softmax of the top-k-filtered logits.",
                         slips=((UNFILTERED, _softmax(X_ROW / 0.7)),),
                         temperature=0.7, top_k=3)
    _gate(impl, top_p_filter_values, top_p_keeps_at_least_one_token)
    # softmax(x / 1.3) = [0.241, 0.076, 0.519, 0.140, 0.024]: 0.519, 0.760, 0.900 -> p = 0.8
    # keeps tokens 2, 0, 3.
    z = np.where(np.isin(np.arange(5), [0, 2, 3]), X_ROW / 1.3, -np.inf)
    _expect_distribution(impl, X_ROW, _softmax(z), "x, temperature=1.3, top_p=0.8", 4,
                         "Sample from the softmax of the top-p-filtered logits.",
                         slips=((UNFILTERED, _softmax(X_ROW / 1.3)),),
                         temperature=1.3, top_p=0.8)
    # Both: top-k = 4 drops token 4, then top-p = 0.7 of the renormalised rest keeps 2, 0.
    z = np.where(np.isin(np.arange(5), [0, 2]), X_ROW, -np.inf)
    _expect_distribution(impl, X_ROW, _softmax(z), "x, top_k=4, top_p=0.7", 5,
                         "Apply top-k, then top-p, then softmax.", top_k=4, top_p=0.7)


@check("4.4")
def sample_temperature_before_filters(impl):
    """temperature divides the logits BEFORE top-p; temperature 0 is greedy and draws nothing"""
    # Temperature 0: greedy, lowest id on ties, and no random number drawn.
    rng = np.random.default_rng(8)
    state = rng.bit_generator.state
    ties = np.array([[0.0, 3.0, 3.0, 1.0], [2.0, -1.0, 0.5, 2.5]])
    ids = _token_ids(expect.call_pure(impl.sample_next_token, "sample_next_token", ties, rng,
                                      temperature=0.0), "sample_next_token(temperature=0)", 2)
    if ids.tolist() != [1, 3]:
        expect.fail(f"sample_next_token(temperature=0) gave {ids.tolist()}, expected the greedy "
                    "tokens [1, 3]: temperature 0 means greedy decoding.")
    if rng.bit_generator.state != state:
        expect.fail("sample_next_token(temperature=0) drew from rng: greedy decoding draws "
                    "no random number (answer with greedy before any draw).")
    expect.raises(impl.sample_next_token, ValueError, "sample_next_token(temperature=-1)",
                  np.array([2.0, 1.0, 0.0]), np.random.default_rng(0), temperature=-1.0)
    _gate(impl, top_p_filter_values, top_p_keeps_at_least_one_token)
    order = ("Divide the logits by the temperature FIRST, then top-k/top-p, so that top-p "
             "measures the mass of the tempered distribution (Hugging Face's order).")
    after = "temperature applied after filtering"
    # [2, 1, 0] / 0.5 = [4, 2, 0]: softmax [0.867, 0.117, 0.016], p = 0.8 keeps token 0 only.
    # Filtering at temperature 1 (softmax [0.665, 0.245, 0.090]) would keep tokens 0 and 1,
    # and then dividing by 0.5 gives softmax([4, 2, -inf]).
    x = np.array([2.0, 1.0, 0.0])
    _expect_distribution(impl, x, np.array([1.0, 0.0, 0.0]), "[2, 1, 0], temperature=0.5, "
                         "top_p=0.8", 6, order, n=4000, temperature=0.5, top_p=0.8,
                         slips=((after, _softmax(np.array([4.0, 2.0, -np.inf]))),
                                (UNFILTERED, _softmax(x / 0.5))))
    # [2, 1, 0] / 2 = [1, 0.5, 0]: softmax [0.506, 0.307, 0.186], p = 0.6 keeps tokens 0, 1
    # (filtering at temperature 1 would keep token 0 only).
    q = _softmax(np.array([1.0, 0.5, -np.inf]))
    _expect_distribution(impl, x, q, "[2, 1, 0], temperature=2, top_p=0.6", 7, order,
                         n=4000, temperature=2.0, top_p=0.6,
                         slips=((after, np.array([1.0, 0.0, 0.0])),
                                (UNFILTERED, _softmax(x / 2.0))))


@check("4.4", weight=2)
def sample_draw_is_reproducible(impl):
    """the draw uses rng only: one u = rng.random() per row, first index with cdf > u"""
    f = fx()
    x = f["x"]  # (3, 10)
    # From the definition: u = rng.random(3), token = #{j : cdf_j <= u}.
    rng, twin = np.random.default_rng(2024), np.random.default_rng(2024)
    ids = expect.call_pure(impl.sample_next_token, "sample_next_token", x, rng)
    u = twin.random(3)
    if rng.bit_generator.state == np.random.default_rng(2024).bit_generator.state:
        expect.fail("sample_next_token did not use `rng` (its state did not move): draw with "
                    "the generator you are given (rng.random()), not np.random.*, so that "
                    "a seed reproduces the text.")
    ids = _token_ids(ids, "sample_next_token((3, 10) logits, rng)", 3)
    cdf = np.cumsum(_softmax(x), axis=-1)
    expected = np.sum(cdf / cdf[:, -1:] <= u[:, None], axis=-1)
    draw = ("Draw one u = rng.random() per row (u = rng.random(B) for a (B, V) batch, rows in "
            "order) and return the first index whose cumulative probability exceeds u (the "
            "same as rng.choice(V, p=probs) row by row).")
    if ids.tolist() != expected.tolist():
        expect.fail(f"sample_next_token with np.random.default_rng(2024) gave {ids.tolist()}, "
                    f"expected {expected.tolist()}. {draw}")
    if rng.bit_generator.state != twin.bit_generator.state:
        expect.fail("sample_next_token drew more (or other) random numbers than one "
                    f"rng.random() per row. {draw}")
    # The (V,) path: one rng.random().
    rng, twin = np.random.default_rng(7), np.random.default_rng(7)
    one = _token_ids(expect.call_pure(impl.sample_next_token, "sample_next_token", x[1], rng),
                     "sample_next_token((V,) logits, rng)", None)
    want = int(np.sum(cdf[1] / cdf[1, -1] <= twin.random()))
    if one != want or rng.bit_generator.state != twin.bit_generator.state:
        expect.fail(f"sample_next_token of a (V,) row with np.random.default_rng(7) gave {one}, "
                    f"expected {want}. {draw}")
    # With filters, against the reference.
    _gate(impl, top_k_filter_values, top_p_filter_values, top_p_keeps_at_least_one_token)
    for j, (seed, temperature, top_k, top_p) in enumerate(f["settings"].tolist()):
        kwargs = {"temperature": temperature}
        if top_k > 0:
            kwargs["top_k"] = int(top_k)
        if top_p > 0:
            kwargs["top_p"] = top_p
        rng = np.random.default_rng(int(seed))
        got = _token_ids(impl.sample_next_token(x, rng, **kwargs), "sample_next_token", 3)
        want = f[f"sample.{j}"]
        if got.tolist() != want.tolist():
            expect.fail(f"sample_next_token(x, np.random.default_rng({int(seed)}), "
                        f"{', '.join(f'{k}={v}' for k, v in kwargs.items())}) gave "
                        f"{got.tolist()}, expected {want.tolist()}. Divide by the temperature, "
                        f"apply top-k then top-p, take the softmax, then draw. {draw}")


K_RANGES = ((1, 3), (3, 6), (6, 9))  # top_k.{j}.k is drawn from range(*K_RANGES[j])


P_RANGES = ((0.2, 0.45), (0.7, 0.85), (0.9, 0.97))  # top_p.{j}.p is drawn uniformly in these
