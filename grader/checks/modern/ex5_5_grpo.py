"""Checks of exercise 5.5: GRPO's group advantages, its clipped loss with the k3 KL, the gradient.

Expected values come from the grader's own float64 formulas below, written from the
definitions, and from hand-computed cases whose numbers are in the comments:

- advantages: ``A_i = (r_i - m) / (s + eps)`` per group of ``group_size`` consecutive
  rewards, ``s`` the sample standard deviation (``ddof=1``, as TRL's GRPOTrainer);
- loss: ``l_t = -min(rho A, clip(rho, 1 - eps, 1 + eps) A) + beta k3`` with ``rho =
  exp(new - old)`` and ``k3 = exp(ref - new) - (ref - new) - 1``, averaged per completion
  then over the completions (``normalize="sequence"``) or over all tokens (``"token"``);
- gradient: central finite differences of that formula (grader/gradcheck.py), on inputs
  whose ratios stay away from the clip edges, so no step crosses a kink.

The answers of typical slips (population std, one batch-wide group, groups of the wrong size,
max for min, the KL reversed or subtracted, the wrong normalisation, padding counted, ...)
are computed the same way; a message names a slip only when the student's answer is exactly
that slip's answer and not the right one.
"""

from __future__ import annotations

import numpy as np

from ... import expect
from ...gradcheck import numerical_gradient
from .. import check

EX = "5.5"
DLOSS = 0.7  # not 1: the upstream gradient must multiply the result
EPS = 0.2
BETA = 0.1


# --- the grader's formulas -------------------------------------------------------------------


def _advantages(r, group_size, eps=1e-4, bug=None):
    """Group-normalised advantages, or those of a known slip (`bug`)."""
    r = np.asarray(r, dtype=np.float64)
    if bug == "swapped":  # group_size groups of N / group_size consecutive rewards
        groups = r.reshape(group_size, -1)
    elif bug == "batch":
        groups = r.reshape(1, -1)
    else:
        groups = r.reshape(-1, group_size)
    centred = groups - groups.mean(axis=1, keepdims=True)
    ddof = 0 if bug == "population" else 1
    std = groups.std(axis=1, ddof=ddof, keepdims=True)
    if bug == "no_std":
        out = centred
    elif bug == "no_eps":
        with np.errstate(all="ignore"):
            out = centred / std
    elif bug == "eps_in_sqrt":
        out = centred / np.sqrt(std ** 2 + eps)
    else:
        out = centred / (std + eps)
    out = np.where(np.ptp(groups, axis=1, keepdims=True) == 0, 0.0, out)
    return out.reshape(-1)


def _per_token(new, old, ref, adv, eps, beta, bug=None):
    """The per-token loss l_t (B, T), or a slip's."""
    adv = adv[:, None] if adv.ndim == 1 else adv
    ratio = np.exp(new - old)
    if bug == "inverted_ratio":
        ratio = 1.0 / ratio
    unclipped = ratio * adv
    clipped = np.clip(ratio, 1 - eps, 1 + eps) * adv
    surrogate = np.maximum(unclipped, clipped) if bug == "max" else np.minimum(unclipped, clipped)
    if bug == "no_clip":
        surrogate = unclipped
    log_r = ref - new
    if bug == "k3_reversed":
        log_r = -log_r
    k3 = np.expm1(log_r) - log_r
    if bug == "k1":
        k3 = new - ref
    if bug == "no_kl":
        k3 = np.zeros_like(k3)
    sign = -1.0 if bug == "kl_subtracted" else 1.0
    if bug == "surrogate_sign":
        return surrogate + beta * k3
    return -surrogate + sign * beta * k3


def _loss(new, old, ref, adv, mask, eps=EPS, beta=BETA, normalize="sequence", bug=None):
    """GRPO's loss by the definitions, or a slip's (`bug`)."""
    per_token = _per_token(new, old, ref, adv, eps, beta, bug)
    mask = np.ones_like(new) if bug == "no_mask" else np.asarray(mask, dtype=np.float64)
    if bug == "other_normalization":
        normalize = "token" if normalize == "sequence" else "sequence"
    if bug == "per_max_length":  # Dr. GRPO's constant: sum / (B T)
        return float(np.sum(mask * per_token) / mask.size)
    if normalize == "token":
        return float(np.sum(mask * per_token) / mask.sum())
    lengths = np.maximum(mask.sum(axis=1), 1.0)
    return float(np.mean(np.sum(mask * per_token, axis=1) / lengths))


# (bug, cause, advice): the loss slips the probes look for
LOSS_SLIPS = (
    ("other_normalization", "the other normalisation is used",
     "normalize=\"sequence\" averages each completion over its own tokens, then the B "
     "completions; normalize=\"token\" averages over all the batch's tokens at once"),
    ("no_mask", "the mask is ignored (padding tokens are counted)",
     "multiply the per-token loss by the mask and count only the masked tokens"),
    ("per_max_length", "each completion's sum is divided by T, not by its own length",
     "the mean of completion b is over its n_b = sum_t mask_bt tokens"),
    ("max", "np.maximum instead of np.minimum",
     "the surrogate is pessimistic: min(rho A, clip(rho, 1 - eps, 1 + eps) A)"),
    ("no_clip", "the ratio is not clipped (only rho A is used)",
     "take min(rho A, clip(rho, 1 - clip_eps, 1 + clip_eps) A)"),
    ("surrogate_sign", "the sign of the surrogate is flipped",
     "the loss is MINUS the surrogate plus beta times the KL (descent on the loss is ascent "
     "on the objective)"),
    ("inverted_ratio", "the ratio is inverted",
     "rho = pi_new / pi_old = exp(logp_new - logp_old)"),
    ("kl_subtracted", "the KL term is subtracted",
     "the KL to the reference is a penalty: + beta * k3"),
    ("k3_reversed", "k3 uses logp_new - logp_ref instead of logp_ref - logp_new",
     "k3 = exp(logp_ref - logp_new) - (logp_ref - logp_new) - 1, an estimate of "
     "KL(pi_new || pi_ref) from tokens sampled from pi"),
    ("k1", "the KL term is k1 = logp_new - logp_ref, not k3",
     "GRPO uses k3 = exp(logp_ref - logp_new) - (logp_ref - logp_new) - 1, which is >= 0"),
    ("no_kl", "beta * k3 is missing", "add beta * k3 at every token"),
)


def _gradient(new, old, ref, adv, mask, eps=EPS, beta=BETA, normalize="sequence"):
    """Finite differences of `_loss` w.r.t. `new` (float64; no kink is crossed)."""
    new = new.copy()
    return numerical_gradient(
        lambda: _loss(new, old, ref, adv, mask, eps, beta, normalize), new)


def _slip_gradient(new, old, ref, adv, mask, normalize, slip):
    """The analytic gradient of a known backward slip."""
    adv2 = adv[:, None] if adv.ndim == 1 else adv
    ratio = np.exp(new - old)
    unclipped = ratio * adv2
    active = unclipped <= np.clip(ratio, 1 - EPS, 1 + EPS) * adv2
    if slip == "through_clip":
        active = np.ones_like(active)
    dsur = -(active * unclipped)
    if slip == "no_rho":
        dsur = -(active * adv2)
    dkl = -np.expm1(ref - new)
    if slip == "kl_sign":
        dkl = -dkl
    if slip == "no_kl":
        dkl = np.zeros_like(dkl)
    mask = np.asarray(mask, dtype=np.float64)
    if normalize == "sequence":
        weights = mask / (np.maximum(mask.sum(axis=1, keepdims=True), 1.0) * mask.shape[0])
    else:
        weights = mask / mask.sum()
    dloss = 1.0 if slip == "no_dloss" else DLOSS
    return dloss * weights * (dsur + BETA * dkl)


GRAD_SLIPS = (
    ("no_dloss", "the upstream gradient dloss is not multiplied in",
     "multiply the whole gradient by dloss"),
    ("through_clip", "the gradient flows through the clipped tokens",
     "where the min picks clip(rho) A the surrogate does not depend on logp_new: its "
     "gradient is exactly 0 there"),
    ("no_rho", "the factor rho of the surrogate's gradient is missing",
     "d(rho A)/d logp_new = rho A (rho = exp(logp_new - logp_old))"),
    ("kl_sign", "the sign of the KL gradient is flipped",
     "d k3 / d logp_new = 1 - exp(logp_ref - logp_new)"),
    ("no_kl", "the KL term's gradient is missing",
     "add beta * (1 - exp(logp_ref - logp_new)) per token, weighted as the loss"),
)


# --- the cases -------------------------------------------------------------------------------

# Hand case, B = 2 completions of T = 3 tokens, the second one 2 tokens long:
#   row 0, A = +1: rho = [1.5, 1.1, 0.5] -> min terms [1.2 (clipped), 1.1, 0.5]
#                  r = pi_ref/pi = [1, 2, 1/2] -> k3 = [0, 1 - ln 2, ln 2 - 1/2]
#                  l = [-1.2, -1.1 + 0.1 (1 - ln 2), -0.5 + 0.1 (ln 2 - 0.5)], sum = -2.75
#   row 1, A = -1: rho = [1.5, 0.5, (pad)] -> min terms [-1.5, -0.8 (clipped)]
#                  r = [2, 1] -> k3 = [1 - ln 2, 0]
#                  l = [1.5 + 0.1 (1 - ln 2), 0.8], sum = 2.3 + 0.1 (1 - ln 2)
#   "sequence": (-2.75 / 3 + (2.3 + 0.1 (1 - ln 2)) / 2) / 2 = 0.12433799...
#   "token":    (-2.75 + 2.3 + 0.1 (1 - ln 2)) / 5           = -0.08386294...
HAND_OLD = np.array([[-1.0, -2.0, -0.5], [-1.5, -3.0, -0.7]])
HAND_NEW = HAND_OLD + np.log([[1.5, 1.1, 0.5], [1.5, 0.5, 1.1]])
HAND_REF = HAND_NEW + np.log([[1.0, 2.0, 0.5], [2.0, 1.0, 3.0]])
HAND_ADV = np.array([1.0, -1.0])
HAND_MASK = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
HAND_SEQUENCE = (-2.75 / 3 + (2.3 + 0.1 * (1 - np.log(2))) / 2) / 2
HAND_TOKEN = (-2.75 + 2.3 + 0.1 * (1 - np.log(2))) / 5


def _case(seed=55, B=4, T=5, per_token_adv=False):
    """Random (new, old, ref, adv, mask) with |log rho| in [0.05, 0.1] or [0.3, 0.5]: every
    ratio is 0.05 or more from the clip edges 0.8 and 1.2."""
    rng = np.random.default_rng(seed)
    old = rng.normal(-2.0, 0.5, (B, T))
    size = np.where(rng.random((B, T)) < 0.5, rng.uniform(0.05, 0.1, (B, T)),
                    rng.uniform(0.3, 0.5, (B, T)))
    new = old + size * rng.choice([-1.0, 1.0], (B, T))
    ref = new + 0.4 * rng.standard_normal((B, T))
    adv = rng.standard_normal((B, T) if per_token_adv else B)
    lengths = rng.integers(1, T + 1, B)
    lengths[0] = T
    mask = (np.arange(T) < lengths[:, None]).astype(np.float64)
    return new, old, ref, adv, mask


# --- calling the student's code ----------------------------------------------------------


def _call_adv(impl, rewards, group_size, **kwargs):
    call = (f"group_advantages({np.asarray(rewards).tolist()}, group_size={group_size}"
            + "".join(f", {k}={v}" for k, v in kwargs.items()) + ")")
    out = expect.call_pure(impl.group_advantages, "group_advantages", rewards, group_size,
                           **kwargs)
    expect.array(out, f"{EX}: {call}", shape=np.shape(rewards), finite=False)
    return out, call


def _call_loss(impl, new, old, ref, adv, mask, normalize="sequence", eps=EPS, beta=BETA):
    call = (f"grpo_loss(logp_new {new.shape}, logp_old, logp_ref, advantages {adv.shape}, "
            f"mask, clip_eps={eps}, beta={beta}, normalize={normalize!r})")
    result = expect.pair(expect.call_pure(impl.grpo_loss, "grpo_loss", new, old, ref, adv,
                                          mask, eps, beta, normalize=normalize), "grpo_loss")
    loss, cache = result
    if isinstance(loss, np.ndarray) and loss.size == 1:
        loss = loss.item()
    if not isinstance(loss, (float, np.floating)):
        expect.fail(f"{EX}: the loss of {call} should be a float, got "
                    f"{type(loss).__name__}{getattr(loss, 'shape', '')}.")
    return float(loss), cache, f"{EX}: {call}"


def _diagnose_loss(loss, want, args, normalize, call, hint):
    if abs(loss - want) <= 1e-9 + 1e-7 * abs(want):
        return
    for bug, cause, advice in LOSS_SLIPS:
        wrong = _loss(*args, normalize=normalize, bug=bug)
        if abs(wrong - want) > 1e-6 and abs(loss - wrong) <= 1e-9 + 1e-7 * abs(wrong):
            expect.fail(f"{call} = {loss:.8g}, expected {want:.8g}: {advice}. "
                        + expect.cause(cause))
    expect.fail(f"{call} = {loss:.8g}, expected {want:.8g}. {hint}")


# --- group_advantages ----------------------------------------------------------------------


@check(EX, weight=2)
def group_advantages_values(impl):
    """(r - group mean) / (group sample std + eps) per group of consecutive rewards"""
    # group 1: m = 1/4, s = sqrt(0.75 / 3) = 0.5 -> A = [0.75, -0.25, -0.25, -0.25] / 0.5001
    # group 2: m = 5/8, s = sqrt(0.6875 / 3);   group 3: all equal -> A = 0
    rewards = np.array([1.0, 0.0, 0.0, 0.0, 0.5, 1.0, 1.0, 0.0, 2.0, 2.0, 2.0, 2.0])
    want = _advantages(rewards, 4)
    assert np.allclose(want[:4], np.array([0.75, -0.25, -0.25, -0.25]) / 0.5001)
    out, call = _call_adv(impl, rewards, 4)
    if not np.allclose(out, want, **expect.F64):
        slips = (
            ("population", "the population std (ddof=0) is used", "GRPO (as TRL's "
             "GRPOTrainer) divides by the sample standard deviation, ddof=1"),
            ("batch", "the whole batch is one group", "each prompt's group_size consecutive "
             "rewards form a group: reshape to (N / group_size, group_size)"),
            ("swapped", "the reshape makes group_size groups of N / group_size rewards",
             "group g is r[g * group_size:(g + 1) * group_size]: reshape(-1, group_size), "
             "not reshape(group_size, -1)"),
            ("no_std", "the advantages are not divided by the std", "A = (r - m) / (s + eps)"),
            ("no_eps", "eps is missing from the denominator", "A = (r - m) / (s + eps)"),
            ("eps_in_sqrt", "eps is added to the variance, not to the std",
             "A = (r - m) / (s + eps)"),
        )
        for bug, cause, advice in slips:
            wrong = _advantages(rewards, 4, bug=bug)
            if (not np.allclose(wrong, want, **expect.F64) and np.all(np.isfinite(wrong))
                    and np.allclose(out, wrong, **expect.F64)):
                expect.fail(f"{EX}: {call} = {np.round(out, 6).tolist()}: {advice}. "
                            + expect.cause(cause))
        expect.close(out, want, f"{EX}: {call}", "A_i = (r_i - mean of its group) / (sample "
                     "std of its group + eps), groups of group_size consecutive rewards.")
    # eps is a keyword: eps = 0.5 changes group 1 to [0.75, -0.25, ...] / 1.0
    out, call = _call_adv(impl, rewards, 4, eps=0.5)
    expect.close(out, _advantages(rewards, 4, eps=0.5), f"{EX}: {call}",
                 "Use the eps that is passed, not a constant.")
    # two groups of 2 (the smallest group): A = +-(1 / sqrt(2)) / (1 / sqrt(2) + eps)
    out, call = _call_adv(impl, np.array([3.0, 2.0, -1.0, 0.0]), 2)
    expect.close(out, _advantages(np.array([3.0, 2.0, -1.0, 0.0]), 2), f"{EX}: {call}")


@check(EX)
def group_advantages_equal_rewards_give_zero(impl):
    """a group whose rewards are all equal gets A = 0 (finite), the others are unaffected"""
    rewards = np.array([0.1, 0.1, 0.1, 1.0, 0.0, 1.0, 7.0, 7.0, 7.0])
    out, call = _call_adv(impl, rewards, 3)
    if not np.all(np.isfinite(out)):
        expect.fail(f"{EX}: {call} = {out.tolist()}: groups 1 and 3 have equal rewards, so "
                    "their std is 0: eps in the denominator keeps (r - m) / (s + eps) finite "
                    "(and it is 0).")
    expect.close(out, _advantages(rewards, 3), f"{EX}: {call}",
                 "Equal rewards in a group: r - m = 0, so A = 0 there; each group is "
                 "normalised on its own.")


# --- grpo_loss -----------------------------------------------------------------------------


@check(EX, weight=2)
def grpo_loss_hand_computed(impl):
    """clipped surrogate + beta k3 per token, each completion's mean, then the batch mean"""
    args = (HAND_NEW, HAND_OLD, HAND_REF, HAND_ADV, HAND_MASK)
    assert abs(_loss(*args) - HAND_SEQUENCE) < 1e-12
    loss, _, call = _call_loss(impl, *args)
    _diagnose_loss(loss, HAND_SEQUENCE, args, "sequence", call,
                   "l_t = -min(rho A, clip(rho, 0.8, 1.2) A) + 0.1 * k3, with rho = exp(new - "
                   "old) and k3 = exp(ref - new) - (ref - new) - 1; loss = mean over the "
                   "completions of each one's mean over its masked tokens.")


@check(EX)
def grpo_loss_token_normalization(impl):
    """normalize="token": one mean over all the batch's masked tokens (TRL's bnpo)"""
    args = (HAND_NEW, HAND_OLD, HAND_REF, HAND_ADV, HAND_MASK)
    assert abs(_loss(*args, normalize="token") - HAND_TOKEN) < 1e-12
    loss, _, call = _call_loss(impl, *args, normalize="token")
    _diagnose_loss(loss, HAND_TOKEN, args, "token", call,
                   "loss = sum of mask * l_t over the batch / number of masked tokens.")


@check(EX)
def grpo_loss_random_batches(impl):
    """random batches: (B,) and (B, T) advantages, both normalisations, beta = 0"""
    for per_token in (False, True):
        new, old, ref, adv, mask = _case(seed=5 + per_token, per_token_adv=per_token)
        for normalize in ("sequence", "token"):
            want = _loss(new, old, ref, adv, mask, normalize=normalize)
            loss, _, call = _call_loss(impl, new, old, ref, adv, mask, normalize)
            _diagnose_loss(loss, want, (new, old, ref, adv, mask), normalize, call,
                           "Advantages (B,) hold one value per completion, used at each of "
                           "its tokens; (B, T) hold one per token.")
    # (B,) advantages are the same as each one repeated over the completion's tokens
    new, old, ref, adv, mask = _case(seed=7)
    loss_b, _, call = _call_loss(impl, new, old, ref, adv, mask)
    loss_bt, _, _ = _call_loss(impl, new, old, ref, np.repeat(adv[:, None], 5, 1), mask)
    if abs(loss_b - loss_bt) > 1e-9:
        expect.fail(f"{call} = {loss_b:.8g} with advantages (B,), but {loss_bt:.8g} with the "
                    "same advantages repeated to (B, T): a completion's advantage applies to "
                    "every one of its tokens (advantages[:, None]).")
    # beta = 0: PPO's surrogate alone
    want = _loss(new, old, ref, adv, mask, beta=0.0)
    loss, _, call = _call_loss(impl, new, old, ref, adv, mask, beta=0.0)
    expect.close(np.array(loss), np.array(want), call, "With beta = 0 the KL term vanishes.")


# --- grpo_loss_backward --------------------------------------------------------------------


def _backward(impl, new, old, ref, adv, mask, normalize):
    loss, cache, call = _call_loss(impl, new, old, ref, adv, mask, normalize)
    if abs(loss - _loss(new, old, ref, adv, mask, normalize=normalize)) > 1e-9:
        expect.fail(f"{EX}: grpo_loss_backward: skipped until grpo_loss is right ({call} = "
                    f"{loss:.8g} is not): the gradient is that of the right loss.")
    grad = expect.call_pure(impl.grpo_loss_backward, "grpo_loss_backward", DLOSS, cache)
    return expect.array(grad, f"{EX}: grpo_loss_backward(dloss={DLOSS}, cache) after {call}",
                        shape=new.shape, dtype=new.dtype)


def _diagnose_gradient(grad, want, args, normalize, what):
    if np.allclose(grad, want, **expect.GRAD):
        return
    for slip, cause, advice in GRAD_SLIPS:
        wrong = _slip_gradient(*args, normalize, slip)
        if not np.allclose(wrong, want, **expect.GRAD) and np.allclose(grad, wrong,
                                                                        **expect.GRAD):
            expect.fail(f"{what} does not match the finite differences: {advice}. "
                        + expect.cause(cause))
    expect.close(grad, want, f"{what} (finite differences)",
                 "d loss / d logp_new_t = dloss * w_t * (-rho_t A_t [unclipped term chosen] "
                 "+ beta (1 - exp(logp_ref_t - logp_new_t))), w_t the token's weight in the "
                 "mean (0 on padding).", **expect.GRAD)


@check(EX, weight=2)
def grpo_loss_backward_hand_case(impl):
    """dlogp_new by finite differences on the hand case: 0 on clipped tokens and padding"""
    args = (HAND_NEW, HAND_OLD, HAND_REF, HAND_ADV, HAND_MASK)
    for normalize in ("sequence", "token"):
        grad = _backward(impl, *args, normalize)
        want = DLOSS * _gradient(*args, normalize=normalize)
        _diagnose_gradient(grad, want, args, normalize,
                           f"{EX}: grpo_loss_backward (normalize={normalize!r}, hand case)")


@check(EX)
def grpo_loss_backward_random(impl):
    """dlogp_new by finite differences on random batches, (B,) and (B, T) advantages"""
    for per_token in (False, True):
        args = _case(seed=11 + per_token, per_token_adv=per_token)
        for normalize in ("sequence", "token"):
            grad = _backward(impl, *args, normalize)
            want = DLOSS * _gradient(*args, normalize=normalize)
            _diagnose_gradient(grad, want, args, normalize,
                               f"{EX}: grpo_loss_backward (normalize={normalize!r}, "
                               f"advantages {args[3].shape})")


# --- dtype and errors ----------------------------------------------------------------------


@check(EX)
def grpo_keeps_float32(impl):
    """float32 in, float32 out: the advantages and the gradient"""
    rewards = np.array([1.0, 0.0, 0.0, 1.0, 2.0, 2.0], dtype=np.float32)
    out, call = _call_adv(impl, rewards, 3)
    if out.dtype != np.float32:
        expect.fail(f"{EX}: {call} with float32 rewards returned {out.dtype}: keep the "
                    "rewards' dtype.")
    expect.close(out, _advantages(rewards, 3), f"{EX}: {call} (float32)", **expect.F32)
    new, old, ref, adv, mask = (a.astype(np.float32) for a in _case())
    loss, cache, call = _call_loss(impl, new, old, ref, adv, mask)
    expect.close(np.array(loss), np.array(_loss(*_case())), f"{call} (float32)", **expect.F32)
    grad = impl.grpo_loss_backward(np.float32(1.0), cache)
    expect.array(grad, f"{EX}: grpo_loss_backward after {call} (float32 inputs)",
                 shape=new.shape, dtype=np.float32)


@check(EX)
def grpo_refuses_bad_input(impl):
    """ValueError for groups that do not fit, mismatched shapes, bad clip_eps, beta, normalize"""
    new, old, ref, adv, mask = _case()
    # the given code raises these errors: points only once the functions run (a stub raises
    # NotImplementedError here)
    impl.group_advantages(np.zeros(4), 2)
    impl.grpo_loss(new, old, ref, adv, mask)
    r6 = np.arange(6.0)
    for args, why in (((r6, 4), "group_size=4 for 6 rewards"), ((r6, 1), "group_size=1"),
                      ((r6.reshape(2, 3), 3), "2-D rewards")):
        expect.raises(impl.group_advantages, ValueError, f"{EX}: group_advantages with {why}",
                      *args)
    bad = (((new, old[:, :-1], ref, adv, mask), {}, "logp_old of another shape"),
           ((new, old, ref, adv[:-1], mask), {}, "advantages of shape (B - 1,)"),
           ((new, old, ref, adv, mask, 0.0), {}, "clip_eps=0"),
           ((new, old, ref, adv, mask, 0.2, -0.1), {}, "beta=-0.1"),
           ((new, old, ref, adv, mask), {"normalize": "batch"}, "normalize='batch'"),
           ((new, old, ref, adv, np.zeros_like(mask)), {}, "a mask of zeros"))
    for args, kwargs, why in bad:
        expect.raises(impl.grpo_loss, ValueError, f"{EX}: grpo_loss with {why}", *args,
                      **kwargs)


@check(EX)
def grpo_loss_defaults_and_options(impl):
    """defaults clip_eps=0.2, beta=0.04, normalize="sequence"; other values are used"""
    new, old, ref, adv, mask = _case(seed=13)
    call = "grpo_loss(logp_new, logp_old, logp_ref, advantages, mask)"
    loss = expect.call_pure(impl.grpo_loss, "grpo_loss", new, old, ref, adv, mask)
    loss = float(expect.pair(loss, "grpo_loss")[0])
    want = _loss(new, old, ref, adv, mask, eps=0.2, beta=0.04)
    expect.close(np.array(loss), np.array(want), f"{EX}: {call}",
                 "The defaults are clip_eps=0.2, beta=0.04 (DeepSeekMath) and "
                 "normalize=\"sequence\".")
    for eps, beta in ((0.3, 0.04), (0.2, 0.5), (0.1, 0.0)):
        want = _loss(new, old, ref, adv, mask, eps=eps, beta=beta)
        loss, _, call = _call_loss(impl, new, old, ref, adv, mask, eps=eps, beta=beta)
        expect.close(np.array(loss), np.array(want), call,
                     "Use the clip_eps and beta that are passed, not constants.")
