"""Checks of exercise 4.12: sequence log-probabilities and the DPO loss with its gradient.

Expected values come from the formulas, evaluated in float64 in the check (a stable
log-softmax; -log sigma(z) = log(1 + e^-z)) on small inputs with distinct dimensions
(B=2, T=3, V=5; N=3 pairs), and from the worked example of lecture 4, §15. Known wrong
variants (no mask, logits and tokens shifted by one, probabilities instead of
log-probabilities, the mean instead of the sum; chosen and rejected swapped, the reference
terms with the wrong sign or paired crosswise, beta outside the sigmoid or dividing) are
computed too, so a failure names the mistake. The gradients are compared with central finite
differences of the formula (grader/gradcheck.py), independently of the student's forward.
"""

from __future__ import annotations

import numpy as np

from ... import expect
from ...gradcheck import numerical_gradient
from .. import check
from .common import call_unchanged

# sequence_logprob: B=2 sequences, T=3 positions, V=5 tokens; the first position of row 0
# and the last of row 1 are masked out (prompt, padding).
TOKENS = np.array([[1, 4, 2], [0, 3, 3]])


MASK = np.array([[0, 1, 1], [1, 1, 0]])


# dpo_loss: N=3 pairs, worked out in lecture 4, §15.
PC = np.array([-5.0, -8.0, -12.0])  # policy, chosen


PR = np.array([-6.0, -7.0, -11.0])  # policy, rejected


RC = np.array([-5.5, -7.0, -14.0])  # reference, chosen


RR = np.array([-5.8, -7.5, -10.0])  # reference, rejected


BETA = 0.5


def _log_softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _picked(log_probs: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    return np.take_along_axis(log_probs, tokens[..., None], axis=-1)[..., 0]


def _logits() -> np.ndarray:
    """(2, 3, 5) logits whose rows differ a lot, so a shifted position gives another value."""
    return np.random.default_rng(412).normal(size=(2, 3, 5)) * 3.0


def _seq_logprob(impl, logits, tokens, mask) -> np.ndarray:
    out = expect.call_pure(impl.sequence_logprob, "sequence_logprob", logits, tokens, mask)
    if isinstance(out, tuple):
        expect.fail("4.12: sequence_logprob should return one (B,) array, not a tuple.")
    return expect.array(out, "4.12: sequence_logprob", shape=(logits.shape[0],),
                        dtype=logits.dtype)


def _dpo_z(pc, pr, rc, rr, beta):
    return beta * ((pc - rc) - (pr - rr))


def _dpo(pc, pr, rc, rr, beta) -> float:
    return float(np.logaddexp(0.0, -_dpo_z(pc, pr, rc, rr, beta)).mean())


def _scalar(value, what: str) -> float:
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


def _dpo_loss(impl, pc, pr, rc, rr, beta):
    out, cache = expect.pair(expect.call_pure(impl.dpo_loss, "dpo_loss", pc, pr, rc, rr, beta),
                             "dpo_loss")
    return _scalar(out, "4.12: dpo_loss"), cache


def _dpo_grads(impl, dloss, cache, n: int, dtype=np.float64):
    result = call_unchanged(impl.dpo_loss_backward, "dpo_loss_backward", dloss, cache)
    if not (isinstance(result, tuple) and len(result) == 2):
        expect.fail("4.12: dpo_loss_backward should return a pair (d_policy_chosen, "
                    "d_policy_rejected): the reference log-probabilities are constants.")
    for grad, name in zip(result, ("d_policy_chosen", "d_policy_rejected")):
        expect.array(grad, f"4.12: {name}", shape=(n,), dtype=dtype)
    return result


@check("4.12", weight=2)
def sequence_logprob_values(impl):
    """sum over masked positions of log softmax(logits[b, t])[tokens[b, t]], no shift"""
    logits = _logits()
    got = _seq_logprob(impl, logits, TOKENS, MASK)
    log_probs = _log_softmax(logits)
    per_token = _picked(log_probs, TOKENS)  # [B, T]
    want = (per_token * MASK).sum(axis=1)
    if np.allclose(got, want, **expect.F64):
        got_bool = _seq_logprob(impl, logits, TOKENS, MASK.astype(bool))
        expect.close(got_bool, want, "4.12: sequence_logprob with a bool mask",
                     hint="A bool mask means the same as 0/1: multiply by it, or index with it.")
        return
    shifted = (_picked(log_probs[:, :-1], TOKENS[:, 1:]) * MASK[:, 1:]).sum(axis=1)
    shifted_other = (_picked(log_probs[:, 1:], TOKENS[:, :-1]) * MASK[:, :-1]).sum(axis=1)
    # each known slip, computed here: the student's output matching one is the probe
    wrong = [
        ("the mask is ignored", "sum only the positions where mask == 1 (the completion)",
         per_token.sum(axis=1)),
        ("the logits and tokens are shifted by one", "the tokens are already the targets "
         "aligned with the logits (logits[b, t] scores tokens[b, t]); do not shift again",
         shifted),
        ("the logits and tokens are shifted by one (the other way)", "logits[b, t] scores "
         "tokens[b, t]; do not shift", shifted_other),
        ("these are sums of probabilities", "take the LOG-softmax, log p summed over tokens",
         (np.exp(per_token) * MASK).sum(axis=1)),
        ("this is a mean over the masked positions", "the log-probability of a sequence is the "
         "SUM of its tokens' log-probabilities", want / MASK.sum(axis=1)),
        ("the log-probabilities are not normalised", "subtract log sum exp of the row (log "
         "softmax), not just pick the raw logit", (_picked(logits, TOKENS) * MASK).sum(axis=1)),
    ]
    for cause, advice, value in wrong:
        if np.allclose(got, value, **expect.F64):
            expect.fail(f"4.12: sequence_logprob = {np.round(got, 6).tolist()}, expected "
                        f"{np.round(want, 6).tolist()}: {advice}. " + expect.cause(cause))
    expect.close(got, want, "4.12: sequence_logprob",
                 hint="out[b] = sum_t mask[b, t] * log softmax(logits[b, t])[tokens[b, t]].")


@check("4.12")
def sequence_logprob_large_logits_stable(impl):
    """finite, exact log-probabilities for logits of +-1000 (stable log-softmax); float32 kept"""
    logits = _logits()
    logits[0, 1] += 1000.0  # exp(1000) overflows: subtract the max first
    logits[1, 0] = [-1000.0, 0.0, 5.0, 1000.0, 990.0]  # token 0's probability underflows
    want = (_picked(_log_softmax(logits), TOKENS) * MASK).sum(axis=1)
    got = _seq_logprob(impl, logits, TOKENS, MASK)  # finite, else expect.array explains
    expect.close(got, want, "4.12: sequence_logprob with logits of +-1000",
                 hint="Compute log softmax as z - log(sum(exp(z))) with z = logits - max: "
                      "log(softmax) is log(0) = -inf where a probability underflows.")
    got32 = _seq_logprob(impl, logits.astype(np.float32), TOKENS, MASK)
    expect.close(got32, want, "4.12: sequence_logprob of float32 logits",
                 **expect.F32)


@check("4.12", weight=2)
def dpo_loss_values(impl):
    """mean -log sigma(beta [(pi_w - ref_w) - (pi_l - ref_l)]), worked example; log 2 at pi = ref"""
    got, _ = _dpo_loss(impl, PC, PR, RC, RR, BETA)
    want = _dpo(PC, PR, RC, RR, BETA)
    if not np.isclose(got, want, **expect.F64):
        margin = _dpo_z(PC, PR, RC, RR, 1.0)  # the unscaled margin [0.7, -1.5, 3]
        # (cause, advice, the loss with that slip): the student's loss matching one is the probe
        wrong = [
            ("the margin has the wrong sign", "chosen and rejected are swapped, or the policy "
             "and the reference are (the implicit reward is beta (log pi - log pi_ref))",
             _dpo(PR, PC, RR, RC, BETA)),
            # (pc + rc) - (pr + rr) = (pc - rr) - (pr - rc): both bugs give the same loss
            ("the reference log-probs are ADDED, or paired crosswise", "the implicit rewards "
             "are beta (policy_chosen - ref_chosen) and beta (policy_rejected - ref_rejected)",
             _dpo(PC, PR, -RC, -RR, BETA)),
            ("beta is outside the sigmoid", "the loss is -log sigma(beta * margin)",
             BETA * float(np.logaddexp(0.0, -margin).mean())),
            ("beta divides the margin", "multiply, -log sigma(beta * margin)",
             float(np.logaddexp(0.0, -margin / BETA).mean())),
            ("beta is missing", "-log sigma(beta * margin)",
             float(np.logaddexp(0.0, -margin).mean())),
            ("this is the SUM over the pairs", "take the mean", 3 * want),
            ("the reference model is ignored", "the margin is beta [(log pi(y_w) - log "
             "pi_ref(y_w)) - (log pi(y_l) - log pi_ref(y_l))]", _dpo(PC, PR, 0 * RC, 0 * RR,
                                                                      BETA)),
        ]
        for cause, advice, value in wrong:
            if np.isclose(got, value, **expect.F64):
                expect.fail(f"4.12: dpo_loss of the worked example (lecture 4, §15) = "
                            f"{got:.6f}, expected {want:.6f}: {advice}. " + expect.cause(cause))
        expect.fail(f"4.12: dpo_loss of the worked example (lecture 4, §15) = {got:.6f}, "
                    f"expected {want:.6f} = mean of log(1 + exp(-z)), z = beta [(pc - rc) - "
                    f"(pr - rr)] = {np.round(_dpo_z(PC, PR, RC, RR, BETA), 6).tolist()}.")
    for beta in (0.1, 2.0):  # policy == reference: every margin is 0, the loss is log 2
        same, _ = _dpo_loss(impl, RC, RR, RC, RR, beta)
        if not np.isclose(same, np.log(2.0), **expect.F64):
            expect.fail(f"4.12: with the policy equal to the reference (beta = {beta}) the DPO "
                        f"loss should be log 2 = 0.693147 for every beta, got {same:.6f}: the "
                        "margin must vanish, and beta belongs inside the sigmoid.")


@check("4.12")
def dpo_loss_large_margins_stable(impl):
    """finite loss and gradient when beta times the margin is +-800 (logaddexp)"""
    pc, pr = np.array([-10.0, -8010.0, -20.0]), np.array([-8010.0, -10.0, -20.0])
    rc, rr = np.full(3, -50.0), np.full(3, -50.0)  # z = [800, -800, 0] with beta = 0.1
    want = _dpo(pc, pr, rc, rr, 0.1)  # (0 + 800 + log 2) / 3
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow is harmless
        try:
            got, cache = _dpo_loss(impl, pc, pr, rc, rr, 0.1)
            d_chosen, _ = _dpo_grads(impl, 1.0, cache, 3)
        except FloatingPointError as exc:
            expect.fail(f"4.12: dpo_loss raised a floating-point error at margins of +-800 "
                        f"({exc}): use np.logaddexp(0, -z), and sigma(-z) = "
                        "exp(-logaddexp(0, z)) in the backward.")
    if not np.isclose(got, want, **expect.F64):
        expect.fail(f"4.12: with beta * margin = [800, -800, 0] the DPO loss should be "
                    f"{want:.6f}, got {got:.6f}: -log sigma(z) = np.logaddexp(0, -z).")
    expect.close(d_chosen, -0.1 * np.array([0.0, 1.0, 0.5]) / 3,
                 "4.12: d_policy_chosen at beta * margin = [800, -800, 0]",
                 hint="d_policy_chosen = -beta * sigma(-z) / N.")


def _expect_dpo_gradient(impl, name: str) -> None:
    """One returned gradient against finite differences of the check's own DPO loss (dloss =
    0.7, beta = 0.3); a slip that scales it by a known factor (the probe: the ratio to the
    right answer) is named."""
    rng = np.random.default_rng(4012)
    pc, pr, rc, rr = (rng.normal(size=4) * 3 - 20 for _ in range(4))
    beta, dloss = 0.3, 0.7  # dloss not 1: the upstream gradient must multiply the result
    _, cache = _dpo_loss(impl, pc, pr, rc, rr, beta)
    grads = dict(zip(("d_policy_chosen", "d_policy_rejected"), _dpo_grads(impl, dloss, cache,
                                                                         4)))
    grad = grads[name]
    num = numerical_gradient(lambda: dloss * _dpo(pc, pr, rc, rr, beta),
                             pc if name == "d_policy_chosen" else pr)
    if np.allclose(grad, num, **expect.GRAD):
        return
    slips = (
        (-num, "has the wrong sign", "raising log pi(y_w) lowers the loss, so "
         "d_policy_chosen = -beta sigma(-z) / N < 0 and d_policy_rejected = -d_policy_chosen"),
        (num / beta, "is missing the factor beta", "z = beta * (...), so dz/dlog pi = beta"),
        (num * beta, "has beta twice", "dz/dlog pi = beta, once"),
        (num * 4, "is missing the 1/N of the mean", "it is 4 times too large: the loss is the "
         "mean over the N = 4 pairs"),
        (num / dloss, "ignores the upstream gradient dloss", f"it is the gradient for dloss = "
         f"1: multiply by the upstream gradient (dloss = {dloss})"),
    )
    for value, cause, advice in slips:
        if np.allclose(grad, value, **expect.GRAD):
            expect.fail(f"4.12: {name} = {np.round(grad, 6).tolist()}, expected "
                        f"{np.round(num, 6).tolist()} (finite differences): {advice}. "
                        + expect.cause(f"{name} {cause}"))
    expect.close(grad, num, f"4.12: {name} (finite differences of the DPO loss)",
                 hint="d_policy_chosen = -dloss * beta * sigma(-z) / N, "
                      "d_policy_rejected = -d_policy_chosen.", **expect.GRAD)


@check("4.12")
def dpo_backward_d_policy_chosen(impl):
    """d_policy_chosen = -dloss beta sigma(-z) / N (finite differences, dloss = 0.7)"""
    _expect_dpo_gradient(impl, "d_policy_chosen")


@check("4.12")
def dpo_backward_d_policy_rejected(impl):
    """d_policy_rejected = dloss beta sigma(-z) / N = -d_policy_chosen (finite differences)"""
    _expect_dpo_gradient(impl, "d_policy_rejected")


@check("4.12")
def dpo_keeps_float32(impl):
    """float32 log-probs give a float32 loss and float32 gradients (a float beta keeps it)"""
    rng = np.random.default_rng(4013)
    f32 = [(rng.normal(size=4) * 3 - 20).astype(np.float32) for _ in range(4)]
    loss32, cache32 = expect.pair(impl.dpo_loss(*f32, 0.3), "dpo_loss")
    if np.asarray(loss32).dtype != np.float32:
        expect.fail(f"4.12: dpo_loss of float32 log-probs returned {np.asarray(loss32).dtype}: "
                    "keep the inputs' dtype (a Python float beta does not promote float32).")
    expect.close(np.asarray(loss32), np.array(_dpo(*(a.astype(np.float64) for a in f32), 0.3)),
                 "4.12: dpo_loss of float32 log-probs", **expect.F32)
    _dpo_grads(impl, np.float32(1.0), cache32, 4, dtype=np.float32)


@check("4.12")
def dpo_refuses_bad_input(impl):
    """ValueError: misfit shapes, ids outside [0, V), a mask not 0/1, beta <= 0"""
    logits = _logits()
    # the given code raises these errors: points only once the function itself runs (a stub
    # raises NotImplementedError here)
    impl.sequence_logprob(logits, TOKENS.copy(), MASK.copy())
    impl.dpo_loss(PC.copy(), PR.copy(), RC.copy(), RR.copy(), BETA)
    bad_seq = ((np.zeros((2, 4), np.int64), MASK, "tokens (2, 4) for logits (2, 3, 5)"),
               (np.array([[1, 5, 2], [0, 3, 3]]), MASK, "the id 5 with V = 5"),
               (np.array([[1, -1, 2], [0, 3, 3]]), MASK, "the id -1"),
               (TOKENS, np.array([[0, 2, 1], [1, 1, 0]]), "a mask holding 2"))
    # copies: a call that is not pure writes in-place changes back into the grader's arrays
    for tokens, mask, what in bad_seq:
        expect.raises(impl.sequence_logprob, ValueError, f"4.12: sequence_logprob with {what}",
                      logits, tokens.copy(), mask.copy())
    expect.raises(impl.dpo_loss, ValueError, "4.12: dpo_loss with arrays of 3 and 2 pairs",
                  PC.copy(), PR[:2].copy(), RC.copy(), RR.copy(), BETA)
    for beta in (0.0, -0.5):
        expect.raises(impl.dpo_loss, ValueError, f"4.12: dpo_loss with beta = {beta}",
                      PC.copy(), PR.copy(), RC.copy(), RR.copy(), beta)
