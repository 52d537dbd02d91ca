"""Mutation tests of 3.5 (Dropout): every check of the exercise fails on a plausible student
bug, and its message names the bug.  The harness and its conventions: `tests/mutation.py`.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)
from transformer_common import DO, F32

from grader.course import TRANSFORMER

PACKAGE = TRANSFORMER.package  # mutants edit files of reference/transformer/

DO_EVAL = "    if not train or p == 0:\n"
DO_P1 = ('    if p == 1:\n'
         '        return np.zeros_like(x), {"mask": np.zeros(x.shape, dtype=bool), "scale": 0.0}\n')
DO_MASK = "    mask = rng.random(x.shape) >= p  # True = keep, probability 1 - p\n"
DO_RET = '    return x * mask * scale, {"mask": mask, "scale": scale}\n'
DO_BWD = '    return dout * cache["mask"] * cache["scale"]\n'

# Code appended to dropout.py: each wraps or replaces one function.
DEFAULT_EVAL = """
_dropout = dropout
def dropout(x, p, rng, train=False):  # "safe" default: the layers never drop
    return _dropout(x, p, rng, train)
"""
NO_INPUT_CHECK = """
def _check_dropout_inputs(p, rng, train):  # the given check deleted
    pass
"""
BWD_IGNORES_DOUT = """
def dropout_backward(dout, cache):
    if cache["mask"] is None:
        return np.ones_like(dout)
    return cache["mask"] * cache["scale"]
"""
BWD_IN_PLACE = """
def dropout_backward(dout, cache):  # scales dout itself
    if cache["mask"] is not None:
        dout *= cache["mask"]
        dout *= cache["scale"]
    return dout
"""

MUTANTS = [
    Mutant("dropout_no_rescale", "3.5", DO, ((DO_RET, DO_RET.replace(" * scale,", ",")),),
           ("dropout_values",), "does not rescale",
           diagnosis="dropout does not rescale the kept units"),
    Mutant("dropout_mask_below_keep_prob", "3.5", DO,  # same law, another mask
           ((DO_MASK, "    mask = rng.random(x.shape) < 1 - p\n"),),
           ("dropout_values",), "rng.random(x.shape) >= p"),
    Mutant("dropout_mask_binomial", "3.5", DO,
           ((DO_MASK, "    mask = rng.binomial(1, 1 - p, size=x.shape).astype(bool)\n"),),
           ("dropout_values",), "rng.random(x.shape) >= p"),
    Mutant("dropout_in_eval", "3.5", DO, ((DO_EVAL, "    if p == 0:\n"),),
           ("dropout_values",), "Evaluation is the identity"),
    Mutant("dropout_p1_divides_by_zero", "3.5", DO, ((DO_P1, ""),),
           ("dropout_values",), "ZeroDivisionError", "error"),
    Mutant("dropout_bwd_fresh_mask", "3.5", DO,
           ((DO_RET, '    return x * mask * scale, {"mask": mask, "scale": scale, "rng": rng, '
                     '"p": p}\n'),
            (DO_BWD, '    return dout * (cache["rng"].random(dout.shape) >= cache["p"]) * '
                     'cache["scale"]\n')),
           ("dropout_backward_values",), "with the forward's mask"),
    Mutant("dropout_bwd_no_rescale", "3.5", DO,
           ((DO_BWD, '    return dout * cache["mask"]\n'),),
           ("dropout_backward_values",), "does not scale the kept gradients by 1 / (1 - p)",
           diagnosis="dropout_backward does not scale the kept gradients"),
    Mutant("dropout_scaled_mask_float64", "3.5", DO,  # a float64 mask promotes float32 x
           ((DO_MASK, "    mask = (rng.random(x.shape) >= p) / (1.0 - p)\n"),
            (DO_RET, '    return x * mask, {"mask": mask, "scale": 1.0}\n')),
           ("dropout_float32",), F32),
    # defaults, stated errors, upstream gradient, purity
    Mutant("dropout_default_eval", "3.5", DO, (), ("dropout_values",),
           "default is train=False", append=DEFAULT_EVAL,
           diagnosis="dropout's default is train=False"),
    Mutant("dropout_no_input_check", "3.5", DO, (), ("dropout_errors",),
           "p=1.5, rng): expected ValueError", append=NO_INPUT_CHECK),
    Mutant("dropout_bwd_ignores_dout", "3.5", DO, (), ("dropout_backward_values",),
           "ignores the upstream gradient dout", append=BWD_IGNORES_DOUT,
           diagnosis="dropout_backward ignores the upstream gradient dout"),
    Mutant("dropout_bwd_in_place", "3.5", DO, (), ("dropout_backward_values",),
           "modified one of its inputs in place", append=BWD_IN_PLACE),
]

GAPS: dict[str, str] = {}

# (mutant, check, phrase the message must contain, phrase it must not contain): bugs whose
# message must point at the right fix.
DIAGNOSED = [
    ("dropout_no_rescale", "dropout_values", "1 - p", ""),
]

DIAGNOSIS_GAPS: dict[str, str] = {}

# (mutant, check, message that would blame code the mutant left correct): a bug in one
# function must not be reported as a bug of another that is right.  The check may pass, or
# fail saying the other function is not right yet, but not claim the untouched code is wrong.
NOT_BLAMED = [
    ("dropout_no_rescale", "dropout_backward_values", "dropout_backward is wrong"),
    ("dropout_mask_below_keep_prob", "dropout_backward_values", "dropout_backward is wrong"),
]

BLAME_GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["3.5"], MUTANTS, gaps=GAPS, diagnosed=DIAGNOSED,
                                diagnosis_gaps=DIAGNOSIS_GAPS, not_blamed=NOT_BLAMED,
                                blame_gaps=BLAME_GAPS))
