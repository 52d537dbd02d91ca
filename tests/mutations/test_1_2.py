"""Mutation tests of 1.2 (Softmax backward (JVP)): every check of the exercise fails on a
plausible student bug, and its message names the bug.  The harness and its conventions:
`tests/mutation.py`.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)
from self_attention_common import F32, S

from grader.course import SELF_ATTENTION

PACKAGE = SELF_ATTENTION.package  # mutants edit files of reference/self_attention/

SM_BWD = ("    dx = dout - np.sum(dout * out, axis=axis, keepdims=True)\n"
          "    dx *= out  # in place: dx is a new array\n"
          "    return dx\n")

JACOBIAN = (
    "    s, g = np.moveaxis(out, axis, -1), np.moveaxis(dout, axis, -1)\n"
    "    eye = np.eye(s.shape[-1], dtype=s.dtype)\n"
    "    jac = s[..., :, None] * eye - s[..., :, None] * s[..., None, :]  # (..., n, n)\n"
    "    return np.moveaxis(np.einsum('...ij,...j->...i', jac, g), -1, axis)\n")

MUTANTS = [
    Mutant("softmax_bwd_no_keepdims", "1.2", S, ((SM_BWD, SM_BWD.replace(", keepdims=True", "")),),
           ("softmax_backward_values", "softmax_backward_properties",
            "softmax_backward_no_jacobian"), "could not be broadcast", "error"),
    Mutant("softmax_bwd_axis_hardcoded", "1.2", S,
           ((SM_BWD, SM_BWD.replace("axis=axis", "axis=-1")),),
           ("softmax_backward_values",), "the sum runs over axis -1, not over `axis` = 0",
           diagnosis="the sum runs over axis -1"),
    Mutant("softmax_bwd_no_subtraction", "1.2", S, ((SM_BWD, "    return out * dout\n"),),
           ("softmax_backward_values", "softmax_backward_properties",
            "softmax_backward_no_jacobian"), "the -sum(dout * out) term is missing",
           diagnosis="the -sum(dout * out) term is missing"),
    Mutant("softmax_bwd_full_jacobian", "1.2", S, ((SM_BWD, JACOBIAN),),
           ("softmax_backward_no_jacobian",), "Jacobian"),
    Mutant("softmax_bwd_float64", "1.2", S,
           ((SM_BWD, SM_BWD.replace("dx = dout -", "dx = np.float64(1.0) * dout -")),),
           ("softmax_backward_properties",), F32),
    Mutant("softmax_bwd_default_axis_0", "1.2", S, (), ("softmax_backward_default_axis",),
           "the default must be the last axis", append="_backward = softmax_backward\n"
           "def softmax_backward(dout, out, axis=0):\n    return _backward(dout, out, axis)\n"),
    Mutant("softmax_bwd_args_swapped", "1.2", S, (), ("softmax_backward_values",),
           "dout and out are swapped", append="_backward = softmax_backward\n"
           "def softmax_backward(dout, out, axis=-1):\n    return _backward(out, dout, axis)\n",
           diagnosis="dout and out are swapped"),
    Mutant("softmax_bwd_no_outer_factor", "1.2", S, (), ("softmax_backward_values",),
           "the outer factor out is missing", append=(
               "def softmax_backward(dout, out, axis=-1):\n"
               "    return dout - np.sum(dout * out, axis=axis, keepdims=True)\n"),
           diagnosis="the outer factor out is missing"),
    Mutant("softmax_bwd_negated", "1.2", S, (), ("softmax_backward_values",),
           "the sign of dx is flipped", append="_backward = softmax_backward\n"
           "def softmax_backward(dout, out, axis=-1):\n    return -_backward(dout, out, axis)\n",
           diagnosis="the sign of dx is flipped"),
    # The upstream gradient ignored: the Jacobian's diagonal s * (1 - s) instead of the VJP.
    Mutant("softmax_bwd_ignores_dout", "1.2", S, (), ("softmax_backward_values",),
           "ignores dout", append="def softmax_backward(dout, out, axis=-1):\n"
                                  "    return out * (1 - out)\n",
           diagnosis="softmax_backward ignores dout"),
]


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["1.2"], MUTANTS))
