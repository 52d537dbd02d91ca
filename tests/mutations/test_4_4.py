"""Mutation tests of 4.4 (Greedy, temperature, top-k and top-p sampling): every check of the
exercise fails on a plausible student bug, and its message names the bug.  The harness and
its conventions: `tests/mutation.py`.
"""

from __future__ import annotations

import pytest
from mutation import (
    Mutant,
    by_id,
    standard_tests,
    verdicts,
)

from grader.course import LLM_FUNDAMENTALS

PACKAGE = LLM_FUNDAMENTALS.package  # mutants edit files of reference/llm/

EXERCISE = "4.4"
SAMPLING = "sampling.py"

ARGMAX = "    ids = np.argmax(logits, axis=-1)  # [..., V] -> [...]\n"
TOP_K_COPY = "    V = logits.shape[-1]\n    out = logits.copy()\n"
TOP_K_ALL = "    if k >= V:\n        return out\n"
TOP_K_MASK = ("    kth = np.partition(logits, V - k, axis=-1)[..., V - k, None]  # k-th largest, "
              "[..., 1]\n"
              "    out[logits < kth] = -np.inf  # strictly below: ties with the k-th value stay\n")
TOP_P_COPY = "    out = logits.copy()\n    if p == 1:\n"
TOP_P_EXP = ("    e = np.exp(z - z[..., -1:])  # the max is last; subtracting it keeps exp from "
             "overflowing\n")
TOP_P_REMOVE = ("    remove = c <= 1 - p  # a prefix of the ascending order: the tail of mass "
                "<= 1 - p\n")
TOP_P_GUARD = "    remove[..., -1] = False  # the most probable token always stays\n"
TOP_P_BODY = (
    "    z = np.sort(logits, axis=-1)  # ascending, [..., V]\n"
    + TOP_P_EXP
    + "    probs = e / e.sum(axis=-1, keepdims=True)\n"
    "    c = np.cumsum(probs, axis=-1)\n"
    + TOP_P_REMOVE + TOP_P_GUARD
    + "    n_removed = remove.sum(axis=-1, keepdims=True)\n"
    "    smallest_kept = np.take_along_axis(z, n_removed, axis=-1)  # [..., 1]\n"
    "    out[logits < smallest_kept] = -np.inf  # ties with the smallest kept logit stay\n")

def descending_top_p(keep: str, scatter: bool = True) -> str:
    """A top-p written the other way round: sort descending, keep where `keep` holds."""
    back = ("    keep = np.zeros(logits.shape, dtype=bool)\n"
            f"    np.put_along_axis(keep, order, {keep}, axis=-1)\n") if scatter else \
        f"    keep = {keep}\n"
    return ("    order = np.argsort(-logits, axis=-1, kind='stable')\n"
            "    z = np.take_along_axis(logits, order, axis=-1)  # descending\n"
            "    probs = np.exp(z - z[..., :1])\n"
            "    probs = probs / probs.sum(axis=-1, keepdims=True)\n"
            "    before = np.cumsum(probs, axis=-1) - probs  # mass of the more probable ones\n"
            + back + "    out[~keep] = -np.inf\n")

TEMPERATURE = ("    logits = logits / temperature  # a new array: the caller's logits are "
               "untouched\n")
TOP_K_CALL = "        logits = top_k_filter(logits, top_k)\n"
TOP_P_CALL = "        logits = top_p_filter(logits, top_p)\n"
SOFTMAX = ("    e = np.exp(logits - logits.max(axis=-1, keepdims=True))  # stable softmax "
           "(unnormalised)\n")
DRAW_U = "    u = rng.random(logits.shape[:-1])  # one uniform per row, [...]\n"
DRAW = (DRAW_U
        + "    ids = np.sum(cdf <= u[..., None], axis=-1)  # first index with cdf > u, [...]\n")
GREEDY_T0 = "    if temperature == 0:\n        return greedy(logits)\n"

GREEDY_CHECK = "greedy_argmax_over_vocabulary"
TOP_K_VALUES, TOP_K_TIES = "top_k_filter_values", "top_k_keeps_ties"
TOP_P_VALUES, TOP_P_ONE, TOP_P_TIES = ("top_p_filter_values", "top_p_keeps_at_least_one_token",
                                       "top_p_keeps_ties")
OVERFLOW = "large_logits_do_not_overflow"
DISTRIBUTION = "sample_follows_filtered_distribution"
ORDER = "sample_temperature_before_filters"
EXACT = "sample_draw_is_reproducible"


MUTANTS = [
    # greedy
    Mutant("greedy_axis_0", EXERCISE, SAMPLING,
           ((ARGMAX, "    ids = np.argmax(logits, axis=0)\n"),),
           (GREEDY_CHECK,), "over the last axis"),
    Mutant("greedy_ties_to_highest", EXERCISE, SAMPLING,
           ((ARGMAX, "    ids = logits.shape[-1] - 1 - np.argmax(logits[..., ::-1], axis=-1)\n"),),
           (GREEDY_CHECK,), "ties go to the lowest token id"),
    # top-k
    Mutant("top_k_removes_kth", EXERCISE, SAMPLING,
           ((TOP_K_MASK, TOP_K_MASK.replace("logits < kth", "logits <= kth")),),
           (TOP_K_VALUES, TOP_K_TIES), "strictly below the k-th largest"),
    Mutant("top_k_exactly_k", EXERCISE, SAMPLING,
           ((TOP_K_MASK, "    order = np.argsort(-logits, axis=-1, kind='stable')\n"
                         "    np.put_along_axis(out, order[..., k:], -np.inf, axis=-1)\n"),),
           (TOP_K_TIES,), "top-k broke a tie", diagnosis="top-k broke a tie"),
    Mutant("top_k_kth_smallest", EXERCISE, SAMPLING,
           ((TOP_K_MASK, TOP_K_MASK.replace("V - k, axis=-1)[..., V - k,", "k - 1, axis=-1)"
                                                                          "[..., k - 1,")),),
           (TOP_K_VALUES,), "Keep the k largest logits"),
    Mutant("top_k_in_place", EXERCISE, SAMPLING,
           ((TOP_K_COPY, "    V = logits.shape[-1]\n    out = logits\n"),),
           (TOP_K_VALUES, TOP_K_TIES), "in place"),
    Mutant("top_k_large_k", EXERCISE, SAMPLING, ((TOP_K_ALL, ""),),
           (TOP_K_VALUES,), "k >= V keeps every token"),
    # top-p
    Mutant("top_p_descending_ties_broken", EXERCISE, SAMPLING,
           ((TOP_P_BODY, descending_top_p("before < p")),),
           (TOP_P_TIES,), "top-p broke a tie at the boundary",
           diagnosis="top-p broke a tie at the boundary"),
    Mutant("top_p_descending_drops_crossing", EXERCISE, SAMPLING,
           ((TOP_P_BODY, descending_top_p("np.cumsum(probs, axis=-1) < p")),),
           (TOP_P_VALUES, TOP_P_ONE), "top-p dropped the token that crosses p",
           diagnosis="top-p dropped the token that crosses p"),
    Mutant("top_p_not_mapped_back", EXERCISE, SAMPLING,
           ((TOP_P_BODY, descending_top_p("before < p", scatter=False)),),
           (TOP_P_VALUES,), "mapped back to the original token positions"),
    Mutant("top_p_ascending_drops_crossing", EXERCISE, SAMPLING,
           ((TOP_P_REMOVE, "    remove = c - probs < 1 - p\n"),),
           (TOP_P_VALUES, TOP_P_ONE), "top-p dropped the token that crosses p",
           diagnosis="top-p dropped the token that crosses p"),
    Mutant("top_p_one_too_many", EXERCISE, SAMPLING,
           ((TOP_P_REMOVE, "    remove = c < 1 - p - probs\n"),),
           (TOP_P_VALUES,), "kept too many tokens", diagnosis="top-p kept too many tokens"),
    Mutant("top_p_no_guard", EXERCISE, SAMPLING, ((TOP_P_GUARD, ""),),
           (TOP_P_ONE,), "", status="error"),
    Mutant("top_p_probabilities_are_logits", EXERCISE, SAMPLING,
           ((TOP_P_BODY, TOP_P_BODY.replace("    probs = e / e.sum(axis=-1, keepdims=True)\n",
                                            "    probs = np.exp(z)\n")),),
           (TOP_P_VALUES,), "softmax"),
    Mutant("top_p_exp_overflows", EXERCISE, SAMPLING,
           ((TOP_P_EXP, "    e = np.exp(z)\n"),),
           (OVERFLOW,), "subtract the row's max before exp",
           diagnosis="exp overflowed on large logits"),
    Mutant("top_p_in_place", EXERCISE, SAMPLING,
           ((TOP_P_COPY, "    out = logits\n    if p == 1:\n"),),
           (TOP_P_VALUES, TOP_P_ONE, TOP_P_TIES), "in place"),
    # sampling
    Mutant("temperature_after_filters", EXERCISE, SAMPLING,
           ((TEMPERATURE, ""), (TOP_P_CALL, TOP_P_CALL + "    logits = logits / temperature\n")),
           (ORDER, EXACT), "temperature applied after filtering",
           diagnosis="temperature applied after filtering"),
    Mutant("temperature_multiplies", EXERCISE, SAMPLING,
           ((TEMPERATURE, "    logits = logits * temperature\n"),),
           (DISTRIBUTION, ORDER), "Divide the logits by the temperature"),
    Mutant("temperature_in_place", EXERCISE, SAMPLING,
           ((TEMPERATURE, "    logits /= temperature\n"),),
           (DISTRIBUTION, ORDER), "in place"),
    Mutant("samples_unfiltered_top_k", EXERCISE, SAMPLING,
           ((TOP_K_CALL, "        filtered = top_k_filter(logits, top_k)\n"),),
           (DISTRIBUTION, EXACT), "sampled from the unfiltered distribution",
           diagnosis="it sampled from the unfiltered distribution"),
    Mutant("samples_unfiltered_top_p", EXERCISE, SAMPLING,
           ((TOP_P_CALL, "        filtered = top_p_filter(logits, top_p)\n"),),
           (DISTRIBUTION, ORDER), "sampled from the unfiltered distribution",
           diagnosis="it sampled from the unfiltered distribution"),
    Mutant("sample_softmax_overflows", EXERCISE, SAMPLING,
           ((SOFTMAX, "    e = np.exp(logits)\n"),),
           (OVERFLOW,), "subtract the row's max before exp",
           diagnosis="exp overflowed on large logits"),
    Mutant("global_rng", EXERCISE, SAMPLING,
           ((DRAW_U, "    u = np.random.random(logits.shape[:-1])\n"),),
           (EXACT,), "did not use `rng`"),
    Mutant("one_u_for_all_rows", EXERCISE, SAMPLING,
           ((DRAW_U, "    u = np.full(logits.shape[:-1], rng.random())\n"),),
           (DISTRIBUTION, EXACT), "token frequencies"),
    Mutant("gumbel_max_draw", EXERCISE, SAMPLING,
           ((DRAW, "    ids = np.argmax(logits + rng.gumbel(size=logits.shape), axis=-1)\n"),),
           (EXACT,), "one u = rng.random() per row"),
    Mutant("temperature_zero_samples", EXERCISE, SAMPLING,
           ((GREEDY_T0, "    if temperature == 0:\n        temperature = 1e-6\n"),),
           (ORDER,), "sample_next_token(temperature=0)"),
    # a wrong default, and a float32 row promoted to float64
    Mutant("default_temperature_not_1", EXERCISE, SAMPLING, (), (DISTRIBUTION,),
           "With no filter and temperature 1", append="""
_sample_next_token = sample_next_token
def sample_next_token(logits, rng, temperature=0.7, top_k=None, top_p=None):
    return _sample_next_token(logits, rng, temperature, top_k, top_p)
"""),
    Mutant("top_k_promotes_float32", EXERCISE, SAMPLING, (), (TOP_K_VALUES,),
           "expected float32", append="""
_top_k_filter = top_k_filter
def top_k_filter(logits, k):
    return _top_k_filter(np.asarray(logits, dtype=np.float64), k)
"""),
]

GAPS: dict[str, str] = {}

DIAGNOSED = [
    ("top_p_descending_drops_crossing", TOP_P_ONE, "skipped until top_p_filter_values passes",
     "too many"),
    ("top_k_removes_kth", TOP_K_TIES, "skipped until top_k_filter_values passes", "broke a tie"),
    ("temperature_after_filters", ORDER, "FIRST", "unfiltered distribution"),
]

DIAGNOSIS_GAPS: dict[str, str] = {}

# Mutants that are right in every other respect fail exactly these checks.
ONLY = {
    "top_p_descending_ties_broken": {TOP_P_TIES},
    "gumbel_max_draw": {EXACT},
    "global_rng": {EXACT},
    "greedy_ties_to_highest": {GREEDY_CHECK, ORDER},  # temperature 0 is greedy, ties too
}


BY_ID = by_id(MUTANTS)


@pytest.mark.parametrize("mutant_id", sorted(ONLY))
def test_other_checks_pass(mutant_id, graded):
    failed = {name for name, v in verdicts(graded(BY_ID[mutant_id])).items()
              if v.status != "passed"}
    assert failed == ONLY[mutant_id]


# A top-p that drops the crossing token made the overflow and temperature-order
# checks blame code that was right; they now wait for the filter checks (or a probe).
NOT_BLAMED = [
    ("top_p_descending_drops_crossing", OVERFLOW, "subtract the row's max"),
    ("top_p_descending_drops_crossing", ORDER, "FIRST"),
    ("top_p_ascending_drops_crossing", OVERFLOW, "subtract the row's max"),
    ("top_p_ascending_drops_crossing", ORDER, "FIRST"),
    ("temperature_multiplies", OVERFLOW, "Likely cause"),
    ("one_u_for_all_rows", OVERFLOW, "Likely cause"),
]

# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["4.4"], MUTANTS, gaps=GAPS, diagnosed=DIAGNOSED,
                                diagnosis_gaps=DIAGNOSIS_GAPS, not_blamed=NOT_BLAMED))
