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

IGNORES_DOUT = "ignores the upstream gradient dout"

# Code appended to linear.py: each wraps or replaces one function.
NO_SHAPE_CHECK = """
def _check_linear_inputs(x, W, b):  # the given check deleted
    pass
"""
BWD_IGNORES_DOUT = """
_linear_backward = linear_backward
def linear_backward(dout, cache):
    return _linear_backward(np.ones_like(dout), cache)
"""
DW_TRANSPOSED = """
_linear_backward = linear_backward
def linear_backward(dout, cache):  # dYᵀ x instead of xᵀ dY
    dx, _, db = _linear_backward(dout, cache)
    W = cache["W"]
    return dx, dout.reshape(-1, W.shape[1]).T @ cache["x"].reshape(-1, W.shape[0]), db
"""
FWD_DOUBLE_BIAS_DB_MEAN = """
_linear, _linear_backward = linear, linear_backward
def linear(x, W, b=None):  # a forward bug that leaves the cache right
    out, cache = _linear(x, W, b)
    return (out + b if b is not None else out), cache
def linear_backward(dout, cache):
    dx, dW, db = _linear_backward(dout, cache)
    return dx, dW, (None if db is None else db / (dout.size // dout.shape[-1]))
"""

MUTANTS = [
    Mutant("lin_bias_always_added", "3.1", LI,  # crashes on b=None
           ((LIN_OUT + LIN_BIAS, "    out = x @ W + b\n"),),
           ("linear_values",), "TypeError", "error"),
    Mutant("lin_fwd_float64", "3.1", LI,
           ((LIN_OUT, "    out = x @ W.astype(float)\n"),),
           ("linear_values",), "linear of float32 inputs has dtype float64"),
    Mutant("lin_dw_per_example", "3.1", LI,  # summed over time, not over the batch
           ((LIN_DW, "    dW = np.swapaxes(x, -1, -2) @ dout  # (B, in, out)\n"),),
           ("linear_backward_dW",), "dW has a batch axis"),
    Mutant("lin_db_first_axis_only", "3.1", LI,
           ((LIN_DB, '    db = dout.sum(axis=0) if cache["has_bias"] else None\n'),),
           ("linear_backward_db",),
           f"db has shape {(LIN_T, LIN_OUT_SIZE)}, expected ({LIN_OUT_SIZE},)"),
    Mutant("lin_db_mean", "3.1", LI,
           ((LIN_DB, '    db = dout_rows.mean(axis=0) if cache["has_bias"] else None\n'),),
           ("linear_backward_db", "linear_finite_differences"),
           "db averages dout over the rows", diagnosis="db averages dout over the rows"),
    Mutant("lin_db_without_bias", "3.1", LI,
           ((LIN_DB, "    db = dout_rows.sum(axis=0)\n"),),
           ("linear_backward_db",), "db = None"),
    Mutant("lin_bwd_float64", "3.1", LI,  # a float64 accumulator promotes float32 grads
           ((LIN_DW, "    dW = np.zeros(W.shape)\n    dW += x_rows.T @ dout_rows\n"),),
           ("linear_backward_float32",), F32),
    Mutant("lin_dx_transposed_wrong", "3.1", LI,  # dY W instead of dY Wᵀ: shapes do not fit
           ((LIN_DX, "    dx = dout @ W\n"),),
           ("linear_backward_dx",), "ValueError", "error"),
    # stated errors, upstream gradient, named backward slips
    Mutant("lin_no_shape_check", "3.1", LI, (), ("linear_shape_errors",),
           "b of shape (1,): expected ValueError", append=NO_SHAPE_CHECK),
    Mutant("lin_bwd_ignores_dout", "3.1", LI, (),
           ("linear_backward_dx", "linear_backward_dW", "linear_backward_db"), IGNORES_DOUT,
           append=BWD_IGNORES_DOUT, diagnosis=IGNORES_DOUT),
    Mutant("lin_dW_transposed", "3.1", LI, (), ("linear_backward_dW",),
           "dW is transposed", append=DW_TRANSPOSED, diagnosis="dW is transposed"),
    Mutant("lin_fwd_double_bias_and_db_mean", "3.1", LI, (),
           ("linear_backward_db", "linear_values"), "db averages dout over the rows",
           append=FWD_DOUBLE_BIAS_DB_MEAN, diagnosis="db averages dout over the rows"),
]

GAPS: dict[str, str] = {}

# (mutant, check, phrase the message must contain, phrase it must not contain): bugs whose
# message must point at the right fix.
DIAGNOSED = [
    ("lin_dw_per_example", "linear_backward_dW", "sum the per-example products", ""),
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
