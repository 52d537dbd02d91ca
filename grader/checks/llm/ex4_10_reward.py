"""Checks of exercise 4.10: the Bradley-Terry reward-model loss and its gradient.

Expected values are hand-computed (the worked example of lecture 4, §13) or come from
the formula itself, -log sigma(z) = log(1 + e^-z), evaluated in float64 in the check; the
gradients are compared with central finite differences of that formula (grader/gradcheck.py),
so a backward is graded on its own, not against the student's forward. Known wrong formulas
(chosen and rejected swapped, the sum instead of the mean, log of a sigmoid that rounded to
0) are recognised and named in the message.
"""

from __future__ import annotations

import numpy as np

from ... import expect
from ...gradcheck import numerical_gradient
from .. import check
from .common import call_unchanged

# z = r_chosen - r_rejected = [2, 0.5, -2]: distinct margins, one pair ranked wrong.
R_CHOSEN = np.array([2.0, 0.5, 1.0])


R_REJECTED = np.array([0.0, 0.0, 3.0])


def _bt(r_chosen: np.ndarray, r_rejected: np.ndarray) -> np.ndarray:
    """Per-pair -log sigma(r_chosen - r_rejected), float64, stable."""
    return np.logaddexp(0.0, -(r_chosen - r_rejected))


def _scalar(value, what: str) -> float:
    """A loss must be one finite real number (a NumPy scalar, a 0-d array or a float)."""
    if isinstance(value, tuple):
        expect.fail(f"{what} returned a tuple inside the pair: the loss should be one number.")
    arr = np.asarray(value)
    if arr.shape != () or arr.dtype.kind != "f":
        expect.fail(f"{what}: the loss should be one float (the mean over the pairs), got "
                    f"{type(value).__name__} of shape {arr.shape}.")
    if not np.isfinite(arr):
        expect.fail(f"{what} is {float(arr)}: use np.logaddexp(0, -z) for -log sigma(z); "
                    "log(sigmoid(z)) is log(0) = -inf once sigmoid(z) rounds to 0 "
                    "(z below about -710).")
    return float(arr)


def _loss(impl, r_chosen, r_rejected, what="bradley_terry_loss"):
    out, cache = expect.pair(expect.call_pure(impl.bradley_terry_loss, "bradley_terry_loss",
                                              r_chosen, r_rejected), "bradley_terry_loss")
    return _scalar(out, what), cache


def _grads(impl, dloss, cache, n: int, dtype=np.float64):
    result = call_unchanged(impl.bradley_terry_loss_backward, "bradley_terry_loss_backward",
                            dloss, cache)
    if not (isinstance(result, tuple) and len(result) == 2):
        expect.fail("bradley_terry_loss_backward should return a pair (dr_chosen, dr_rejected).")
    for grad, name in zip(result, ("dr_chosen", "dr_rejected")):
        expect.array(grad, f"4.10: {name}", shape=(n,), dtype=dtype)
    return result


@check("4.10", weight=2)
def bradley_terry_loss_values(impl):
    """the mean of -log sigma(r_chosen - r_rejected) over the pairs, hand-computed"""
    got, _ = _loss(impl, R_CHOSEN, R_REJECTED)
    per_pair = _bt(R_CHOSEN, R_REJECTED)  # [0.126928, 0.474077, 2.126928]
    want = float(per_pair.mean())  # 0.909311
    if np.isclose(got, want, **expect.F64):
        return
    if np.isclose(got, float(_bt(R_REJECTED, R_CHOSEN).mean()), **expect.F64):
        expect.fail(f"4.10: bradley_terry_loss(r_chosen={R_CHOSEN.tolist()}, r_rejected="
                    f"{R_REJECTED.tolist()}) = {got:.6f}, expected {want:.6f}, the loss with "
                    "the two swapped. The model of P(chosen preferred) is "
                    "sigma(r_chosen - r_rejected). "
                    + expect.cause("chosen and rejected are swapped"))
    if np.isclose(got, float(per_pair.sum()), **expect.F64):
        expect.fail(f"4.10: bradley_terry_loss = {got:.6f} is the SUM over the 3 pairs; expected "
                    f"the mean {want:.6f}. " + expect.cause("the loss sums over the pairs "
                                                             "instead of taking the mean"))
    expect.fail(f"4.10: bradley_terry_loss(r_chosen={R_CHOSEN.tolist()}, r_rejected="
                f"{R_REJECTED.tolist()}) = {got:.6f}, expected {want:.6f} = mean of "
                "-log sigma(z) = log(1 + exp(-z)) with z = r_chosen - r_rejected = [2, 0.5, -2].")


@check("4.10")
def bradley_terry_loss_large_rewards_stable(impl):
    """finite loss and gradient for margins of +-800 and rewards of +-1e4 (logaddexp)"""
    r_chosen = np.array([400.0, -400.0, 1e4, -1e4, 3.0])
    r_rejected = np.array([-400.0, 400.0, 9990.0, 1e4, 3.0])  # z = 800, -800, 10, -2e4, 0
    want = float(_bt(r_chosen, r_rejected).mean())  # (0 + 800 + 4.54e-5 + 2e4 + log 2) / 5
    # an overflow in exp is a bug here, not a warning (a harmless underflow to 0 is not)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        try:
            got, cache = _loss(impl, r_chosen, r_rejected)
            dr_chosen, _ = _grads(impl, 1.0, cache, 5)
        except FloatingPointError as exc:
            expect.fail(f"4.10: the Bradley-Terry loss raised a floating-point error on margins "
                        f"of +-800 ({exc}): exp(800) overflows. Use np.logaddexp(0, -z) for "
                        "-log sigma(z), and sigma(-z) = exp(-logaddexp(0, z)) in the backward.")
    if not np.isclose(got, want, **expect.F64):
        expect.fail(f"4.10: with margins z = [800, -800, 10, -20000, 0] the loss should be "
                    f"{want:.6f}, got {got:.6f}. -log sigma(z) is ~0 for z >> 0 and ~-z for "
                    "z << 0: np.logaddexp(0, -z) gets both right.")
    want_grad = -np.array([0.0, 1.0, 1 / (1 + np.exp(10.0)), 1.0, 0.5]) / 5
    expect.close(dr_chosen, want_grad, "4.10: dr_chosen at margins [800, -800, 10, -2e4, 0]",
                 hint="dr_chosen = -sigma(-z) / N: -1/N for a pair ranked very wrong, 0 for one "
                      "ranked very right.")


def _backward_case(impl):
    """Random rewards, dloss = 0.7 (not 1: the upstream gradient must multiply the result);
    the student's gradients and the finite differences of the check's own loss."""
    rng = np.random.default_rng(410)
    r_chosen, r_rejected = rng.normal(size=4) * 2, rng.normal(size=4) * 2
    dloss = 0.7
    _, cache = _loss(impl, r_chosen, r_rejected)
    grads = dict(zip(("dr_chosen", "dr_rejected"), _grads(impl, dloss, cache, 4)))
    nums = {"dr_chosen": numerical_gradient(
                lambda: dloss * _bt(r_chosen, r_rejected).mean(), r_chosen),
            "dr_rejected": numerical_gradient(
                lambda: dloss * _bt(r_chosen, r_rejected).mean(), r_rejected)}
    return grads, nums, dloss


def _expect_gradient(impl, name: str) -> None:
    """One returned gradient against finite differences; a slip that scales it by a known
    factor (the ratio to the right answer is the probe) is named."""
    grads, nums, dloss = _backward_case(impl)
    grad, num = grads[name], nums[name]
    if np.allclose(grad, num, **expect.GRAD):
        return
    slips = ((-num, "has the wrong sign: d(-log sigma(z))/dz = -sigma(-z) is negative "
                    "(raising the chosen reward lowers the loss)",
              f"{name} has the wrong sign"),
             (num * 4, "is 4 times too large: the loss is the mean over the N = 4 pairs, so "
                       "divide by N in the backward too", f"{name} is missing the 1/N of the mean"),
             (num / dloss, f"is the gradient for dloss = 1, but dloss = {dloss}: multiply by "
                           "the upstream gradient", f"{name} ignores the upstream gradient dloss"))
    for value, what, cause in slips:
        if np.allclose(grad, value, **expect.GRAD):
            expect.fail(f"4.10: {name} = {np.round(grad, 6).tolist()}, expected "
                        f"{np.round(num, 6).tolist()} (finite differences): it {what}. "
                        + expect.cause(cause))
    expect.close(grad, num, f"4.10: {name} (finite differences of the loss)",
                 hint="dr_chosen = -dloss * sigma(-z) / N and dr_rejected = -dr_chosen, "
                      "with z = r_chosen - r_rejected.", **expect.GRAD)


@check("4.10")
def bradley_terry_backward_dr_chosen(impl):
    """dr_chosen = -dloss sigma(-z) / N, against finite differences (dloss = 0.7)"""
    _expect_gradient(impl, "dr_chosen")


@check("4.10")
def bradley_terry_backward_dr_rejected(impl):
    """dr_rejected = dloss sigma(-z) / N = -dr_chosen, against finite differences"""
    _expect_gradient(impl, "dr_rejected")


@check("4.10")
def bradley_terry_keeps_float32(impl):
    """float32 rewards give a float32 loss and float32 gradients"""
    rng = np.random.default_rng(4100)
    r32 = (rng.normal(size=4).astype(np.float32), rng.normal(size=4).astype(np.float32))
    loss32, cache32 = expect.pair(impl.bradley_terry_loss(*r32), "bradley_terry_loss")
    if np.asarray(loss32).dtype != np.float32:
        expect.fail(f"4.10: bradley_terry_loss of float32 rewards returned "
                    f"{np.asarray(loss32).dtype}: keep the inputs' dtype.")
    expect.close(np.asarray(loss32), np.array(_bt(*(r.astype(np.float64) for r in r32)).mean()),
                 "4.10: bradley_terry_loss of float32 rewards", **expect.F32)
    _grads(impl, np.float32(1.0), cache32, 4, dtype=np.float32)


@check("4.10")
def bradley_terry_refuses_bad_input(impl):
    """ValueError for rewards that are not both (N,) with N >= 1; TypeError for non-numbers"""
    # the given code raises these errors: points only once the function itself runs (a stub
    # raises NotImplementedError here)
    impl.bradley_terry_loss(np.zeros(2), np.ones(2))
    for a, b, what in ((np.zeros(3), np.zeros(2), "shapes (3,) and (2,)"),
                       (np.zeros(3), np.zeros(1), "shapes (3,) and (1,) (which broadcast)"),
                       (np.zeros((2, 3)), np.zeros((2, 3)), "shapes (2, 3): not (N,)"),
                       (np.zeros(0), np.zeros(0), "N = 0 pairs")):
        expect.raises(impl.bradley_terry_loss, ValueError, f"4.10: bradley_terry_loss with {what}",
                      a, b)
    expect.raises(impl.bradley_terry_loss, TypeError, "4.10: bradley_terry_loss of complex "
                  "rewards (not real)", np.array([1.0 + 1j, 2.0]), np.array([0.5, 3.0 - 2j]))
