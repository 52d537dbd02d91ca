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

MUTANTS = [
    Mutant("dropout_no_rescale", "3.5", DO, ((DO_RET, DO_RET.replace(" * scale,", ",")),),
           ("dropout_values",), "does not rescale"),
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
           ("dropout_backward_values",), "dx = dout * mask / (1 - p)"),
    Mutant("dropout_scaled_mask_float64", "3.5", DO,  # a float64 mask promotes float32 x
           ((DO_MASK, "    mask = (rng.random(x.shape) >= p) / (1.0 - p)\n"),
            (DO_RET, '    return x * mask, {"mask": mask, "scale": 1.0}\n')),
           ("dropout_backward_values",), F32),
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
