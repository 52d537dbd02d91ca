"""Mutation tests of 3.8 (Cross-entropy with label smoothing): every check of the exercise
fails on a plausible student bug, and its message names the bug.  The harness and its
conventions: `tests/mutation.py`.
"""

from __future__ import annotations

from dataclasses import replace

from mutation import (
    Mutant,
    standard_tests,
)
from transformer_common import CE, F32

from grader.course import TRANSFORMER

PACKAGE = TRANSFORMER.package  # mutants edit files of reference/transformer/

CE_MAX = "    logp = z - z.max(axis=-1, keepdims=True)  # (N_all, K), max 0: exp cannot overflow\n"
CE_SMOOTH = "        per_position = (1.0 - eps) * per_position - eps * logp.mean(axis=-1)\n"
CE_MEAN = ("    loss = np.where(valid, per_position, 0).sum() / max(n, 1)"
           "  # all ignored -> 0, not 0/0\n")
CE_CAST = ("    loss = loss.astype(logits.dtype)"
           "  # NumPy 1.x promotes a float32 scalar divided by an int\n")
CE_Q = ("    if eps > 0:  # minus q: the uniform part (skipped at 0: a whole pass for nothing)"
        " ...\n"
        "        grad -= eps / k\n"
        "    grad[np.arange(t.size), t] -= 1.0 - eps  # ... and the one-hot part\n")
CE_SCALE = "    grad *= float(dloss) / max(n, 1)  # a Python float: float32 stays float32\n"
CE_ZERO = "    grad[~valid] = 0.0  # ignored positions contribute nothing\n"

MUTANTS = [
    Mutant("ce_smoothing_k_minus_1", "3.8", CE,
           ((CE_SMOOTH, "        per_position = (1.0 - eps) * per_position + eps * ("
                        "-logp.sum(axis=-1) - per_position) / (k - 1)\n"),),
           ("cross_entropy_values",), "K - 1 wrong classes"),
    Mutant("ce_ignored_in_mean", "3.8", CE,
           ((CE_MEAN, "    loss = np.where(valid, per_position, 0).sum() / t.size\n"),),
           ("cross_entropy_values",), "ignored targets"),
    Mutant("ce_no_log_sum_exp", "3.8", CE, ((CE_MAX, "    logp = z.copy()\n"),),
           ("cross_entropy_stable_and_all_ignored",), "log-sum-exp"),
    Mutant("ce_all_ignored_nan", "3.8", CE,
           ((CE_MEAN, "    loss = np.where(valid, per_position, 0).sum() / n\n"),),
           ("cross_entropy_stable_and_all_ignored",), "no NaN"),
    Mutant("ce_bwd_divides_by_all_positions", "3.8", CE,
           ((CE_SCALE, "    grad *= float(dloss) / t.size\n"),),
           ("cross_entropy_backward_values",), "number of non-ignored targets"),
    Mutant("ce_bwd_ignored_rows_kept", "3.8", CE, ((CE_ZERO, ""),),
           ("cross_entropy_backward_values",), "ignored rows get 0"),
    Mutant("ce_bwd_onehot_without_smoothing", "3.8", CE,
           ((CE_Q, "    grad[np.arange(t.size), t] -= 1.0\n"),),
           ("cross_entropy_backward_values",), "dlogits (smoothed case) is wrong"),
    Mutant("ce_fwd_onehot_float64", "3.8", CE,  # np.eye(k) target distribution, no cast back
           ((CE_SMOOTH, "        per_position = -(((1.0 - eps) * np.eye(k)[t] + eps / k) * logp)"
                        ".sum(axis=-1)\n"),
            (CE_CAST, "")),
           ("cross_entropy_backward_values",), "keep float32"),
    Mutant("ce_bwd_eye_float64", "3.8", CE,  # np.eye(k) is float64: float32 logits promote
           ((CE_Q, "    grad = grad - ((1.0 - eps) * np.eye(k)[t] + eps / k)\n"),),
           ("cross_entropy_backward_values",), F32),
]

# defaults and options, the upstream gradient, the stated errors (appended code)
CE_WRAP = ("_orig_cross_entropy = cross_entropy\n"
           "def cross_entropy(logits, targets, ignore_index=-100, label_smoothing=0.0):\n")
CE_CALL = "    return _orig_cross_entropy(logits, targets, ignore_index, label_smoothing)\n"
MUTANTS += [
    Mutant("ce_ignore_index_hardcoded", "3.8", CE, (), ("cross_entropy_ignore_index_option",),
           "the ignore_index argument is not used",
           append=CE_WRAP + CE_CALL.replace("targets, ignore_index,", "targets, -100,"),
           diagnosis="the ignore_index argument is not used"),
    Mutant("ce_smoothing_default_0.1", "3.8", CE, (), ("cross_entropy_values",),
           "cross_entropy (plain case) is",
           append=CE_WRAP.replace("label_smoothing=0.0", "label_smoothing=0.1") + CE_CALL),
    Mutant("ce_ignore_index_default_-1", "3.8", CE, (), ("cross_entropy_values",),
           "out of range", status="error",
           append=CE_WRAP.replace("ignore_index=-100", "ignore_index=-1") + CE_CALL),
    Mutant("ce_bwd_ignores_dloss", "3.8", CE, (), ("cross_entropy_backward_upstream",),
           "multiplying the upstream gradient by 2.5 did not change",
           append="_orig_backward = cross_entropy_backward\n"
                  "def cross_entropy_backward(dloss, cache):\n"
                  "    return _orig_backward(1.0, cache)\n",
           diagnosis="the backward ignores the upstream gradient"),
    Mutant("ce_bwd_no_mean", "3.8", CE, (), ("cross_entropy_backward_values",),
           "dlogits is exactly 14 times the right gradient",
           append="_orig_backward = cross_entropy_backward\n"
                  "def cross_entropy_backward(dloss, cache):  # forgets the mean's 1/N\n"
                  "    return _orig_backward(dloss * max(cache['n'], 1), cache)\n"),
    Mutant("ce_no_input_checks", "3.8", CE, (), ("cross_entropy_raises",), "expected TypeError",
           append="def _check_cross_entropy_inputs(*args):\n    return None\n"),
]

# The cause each mutant's messages state (a known bug's output, matched exactly,
# is stated with expect.cause).
DIAGNOSES = {
    "ce_smoothing_k_minus_1": "K - 1 wrong classes",
    "ce_ignored_in_mean": "cross_entropy averages over every position, ignored ones counted as 0",
    "ce_bwd_divides_by_all_positions": "dlogits is exactly 13/14 times the right gradient",
    "ce_bwd_no_mean": "dlogits is exactly 14 times the right gradient",
}
MUTANTS = [replace(m, diagnosis=DIAGNOSES.get(m.id, m.diagnosis)) for m in MUTANTS]

GAPS: dict[str, str] = {}

# (mutant, check, phrase the message must contain, phrase it must not contain): bugs whose
# message must point at the right fix.
DIAGNOSED = [
    ("ce_smoothing_k_minus_1", "cross_entropy_values", "eps/K over all K classes",
     "ignored targets"),
    ("ce_ignored_in_mean", "cross_entropy_values", "ignore_index", "K - 1"),
    ("ce_no_log_sum_exp", "cross_entropy_stable_and_all_ignored", "subtract the row max", ""),
    ("ce_bwd_onehot_without_smoothing", "cross_entropy_backward_values", "smoothing",
     "non-ignored targets"),
]

DIAGNOSIS_GAPS: dict[str, str] = {}

# (mutant, check, message that would blame code the mutant left correct): a bug in one
# function must not be reported as a bug of another that is right.  The check may pass, or
# fail saying the other function is not right yet, but not claim the untouched code is wrong.
NOT_BLAMED = [
    ("ce_smoothing_k_minus_1", "cross_entropy_backward_values", "dlogits (smoothed case)"),
    ("ce_ignored_in_mean", "cross_entropy_backward_values", "dlogits (ignored case)"),
]

BLAME_GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["3.8"], MUTANTS, gaps=GAPS, diagnosed=DIAGNOSED,
                                diagnosis_gaps=DIAGNOSIS_GAPS, not_blamed=NOT_BLAMED,
                                blame_gaps=BLAME_GAPS))
