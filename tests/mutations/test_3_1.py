"""Mutation tests of 3.1 (Linear layer): every check of the exercise fails on a plausible
student bug, and its message names the bug.  The harness and its conventions:
`tests/mutation.py`.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)
from transformer_common import F32, FX, LI

from grader.course import TRANSFORMER

PACKAGE = TRANSFORMER.package  # mutants edit files of reference/transformer/

LIN_OUT = "    out = x @ W  # (..., in) @ (in, out) -> (..., out)\n"
LIN_BIAS = ("    if b is not None:\n"
            "        out += b  # (out,) broadcasts over every leading axis; in place: out is new\n")
LIN_DW = "    dW = x_rows.T @ dout_rows  # (in, N) @ (N, out): summed over the N rows\n"
LIN_DB = "    db = dout_rows.sum(axis=0) if cache[\"has_bias\"] else None  # (out,)\n"
LIN_DX = "    dx = dout @ W.T  # (..., out) @ (out, in) -> (..., in)\n"

LIN_B, LIN_T, LIN_OUT_SIZE = FX["linear.dout"].shape  # (B, T, out)

MUTANTS = [
    Mutant("lin_bias_always_added", "3.1", LI,  # crashes on b=None
           ((LIN_OUT + LIN_BIAS, "    out = x @ W + b\n"),),
           ("linear_values",), "TypeError", "error"),
    Mutant("lin_fwd_float64", "3.1", LI,
           ((LIN_OUT, "    out = x @ W.astype(float)\n"),),
           ("linear_values",), "linear of float32 inputs has dtype float64"),
    Mutant("lin_dw_per_example", "3.1", LI,  # summed over time, not over the batch
           ((LIN_DW, "    dW = np.swapaxes(x, -1, -2) @ dout  # (B, in, out)\n"),),
           ("linear_backward_values",), "dW has a batch axis"),
    Mutant("lin_db_first_axis_only", "3.1", LI,
           ((LIN_DB, '    db = dout.sum(axis=0) if cache["has_bias"] else None\n'),),
           ("linear_backward_values",),
           f"db has shape {(LIN_T, LIN_OUT_SIZE)}, expected ({LIN_OUT_SIZE},)"),
    Mutant("lin_db_mean", "3.1", LI,
           ((LIN_DB, '    db = dout_rows.mean(axis=0) if cache["has_bias"] else None\n'),),
           ("linear_backward_values", "linear_finite_differences"),
           "db sums dY over batch and time"),
    Mutant("lin_db_without_bias", "3.1", LI,
           ((LIN_DB, "    db = dout_rows.sum(axis=0)\n"),),
           ("linear_backward_values",), "db = None"),
    Mutant("lin_bwd_float64", "3.1", LI,  # a float64 accumulator promotes float32 grads
           ((LIN_DW, "    dW = np.zeros(W.shape)\n    dW += x_rows.T @ dout_rows\n"),),
           ("linear_backward_values",), F32),
    Mutant("lin_dx_transposed_wrong", "3.1", LI,  # dY W instead of dY Wᵀ: shapes do not fit
           ((LIN_DX, "    dx = dout @ W\n"),),
           ("linear_backward_values",), "ValueError", "error"),
]

GAPS: dict[str, str] = {}

# (mutant, check, phrase the message must contain, phrase it must not contain): bugs whose
# message must point at the right fix.
DIAGNOSED = [
    ("lin_dw_per_example", "linear_backward_values", "sum the per-example products", ""),
]

DIAGNOSIS_GAPS: dict[str, str] = {}

# (mutant, check, message that would blame code the mutant left correct): a bug in one
# function must not be reported as a bug of another that is right.  The check may pass, or
# fail saying the other function is not right yet, but not claim the untouched code is wrong.
NOT_BLAMED = [
    ("lin_bias_always_added", "linear_finite_differences", "(finite differences) is wrong"),
]

BLAME_GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["3.1"], MUTANTS, gaps=GAPS, diagnosed=DIAGNOSED,
                                diagnosis_gaps=DIAGNOSIS_GAPS, not_blamed=NOT_BLAMED,
                                blame_gaps=BLAME_GAPS))
