"""Checks of exercise 4.11: GAE, PPO's clipped objective and the KL penalty.

Everything is computed from the definitions (float64, small hand cases whose numbers are in
the comments):

- GAE: ``delta_t = r_t + gamma V_{t+1} (1 - done_t) - V_t`` with ``V_T = last_value``;
  ``A_t = delta_t + gamma lam (1 - done_t) A_{t+1}``; ``returns = A + V``. ``done_t = 1``:
  the episode ends after step t.
- PPO: ``rho = exp(logp_new - logp_old)``; ``loss = -mean_mask min(rho A, clip(rho, 1-eps,
  1+eps) A)``; the gradient w.r.t. ``logp_new`` is ``-mask rho A / N`` where the min picks
  the unclipped term and 0 where it picks the clipped one.
- KL: ``log r = logp_ref - logp``; k1 = -log r, k2 = (log r)^2 / 2, k3 = (r - 1) - log r.

When an answer is wrong the checks compare it with the answers of known mistakes (forward
GAE, gamma and lam swapped, max instead of min, ...) to name the likely one.
"""

from __future__ import annotations

import numpy as np

from ... import expect
from .. import check

EX = "4.11"


def _fmt(a) -> str:
    return np.array2string(np.asarray(a, dtype=np.float64).ravel(), precision=6,
                           separator=", ")


def _gae_1d(r, v, gamma, lam, dones=None, last=0.0, *, forward=False, delta_gamma=None,
            rec_gamma=None, cut_delta=True, cut_rec=True, shift_done=False):
    """GAE of one (T,) episode by the plain loop, with switches for known mistakes."""
    T = len(r)
    d = np.zeros(T) if dones is None else np.asarray(dones, dtype=np.float64)
    if shift_done:  # done read one step late: "done_t = 1 means s_t starts a new episode"
        d = np.concatenate([d[1:], [0.0]])
    dg = gamma if delta_gamma is None else delta_gamma
    rg = gamma if rec_gamma is None else rec_gamma
    v_next = np.append(v[1:], last)
    delta = r + dg * v_next * ((1 - d) if cut_delta else 1.0) - v
    adv = np.zeros(T)
    running = 0.0
    order = range(T) if forward else reversed(range(T))
    for t in order:
        running = delta[t] + rg * lam * ((1 - d[t]) if cut_rec else 1.0) * running
        adv[t] = running
    return adv


def _call_gae(impl, r, v, gamma, lam, dones=None, last=0.0):
    call = (f"gae(rewards {np.shape(r)}, values {np.shape(v)}, gamma={gamma}, lam={lam}"
            f"{'' if dones is None else ', dones=' + str(np.asarray(dones).tolist())}, "
            f"last_value={last if np.ndim(last) == 0 else np.shape(last)})")
    result = expect.call_pure(impl.gae, "gae", r, v, gamma, lam, dones=dones, last_value=last)
    if not (isinstance(result, tuple) and len(result) == 2):
        expect.fail(f"{call} should return a pair (advantages, returns), got "
                    f"{type(result).__name__}.")
    adv, ret = result
    expect.array(adv, f"advantages of {call}", shape=np.shape(r))
    expect.array(ret, f"returns of {call}", shape=np.shape(r))
    return adv, ret, call


def _diagnose_gae(adv, want, r, v, gamma, lam, dones, last, call):
    """Fail naming the mistake whose advantages match `adv`."""
    if np.allclose(adv, want, **expect.F64):
        return
    # (cause, advice, switches of _gae_1d that make the slip): the student's advantages
    # matching the slip's, and not the right ones, is the probe
    mistakes = [
        ("the recursion runs forwards in time", "A_t needs A_{t+1}, so loop t = T-1 down to "
         "0 (for t in reversed(range(T)))", dict(forward=True)),
        ("gamma and lam are swapped", "the TD residual discounts V_{t+1} by gamma, the "
         "recursion multiplies A_{t+1} by gamma * lam", dict(delta_gamma=lam)),
        ("the TD residual is missing gamma", "delta_t = r_t + gamma V_{t+1} (1 - done_t) - "
         "V_t", dict(delta_gamma=1.0)),
        ("the recursion is missing gamma", "A_t = delta_t + gamma * lam * (1 - done_t) * "
         "A_{t+1}", dict(rec_gamma=1.0)),
        ("last_value was ignored", "the value after the last step, V_T = last_value, "
         "bootstraps delta_{T-1} when the last step is not done", dict(last=0.0)),
        ("both the TD residual and the recursion run across an episode end", "where "
         "done_t = 1 the next state is terminal, so delta_t = r_t - V_t and A_t = delta_t "
         "(multiply by (1 - done_t) in both the TD residual and the recursion)",
         dict(cut_delta=False, cut_rec=False)),
        ("the recursion runs across an episode end", "the TD residual stops at the episode "
         "end, but the recursion still adds A_{t+1} from the next episode: A_t = delta_t + "
         "gamma lam (1 - done_t) A_{t+1}", dict(cut_rec=False)),
        ("the TD residual runs across an episode end", "the recursion stops at the episode "
         "end, but the TD residual still bootstraps V_{t+1} from the next episode: delta_t = "
         "r_t + gamma V_{t+1} (1 - done_t) - V_t", dict(cut_delta=False)),
        ("done_t is read one step late", "done_t = 1 means the episode ends AFTER step t, so "
         "step t itself does not bootstrap (use (1 - done_t), not (1 - done_{t+1}))",
         dict(shift_done=True)),
    ]
    for cause, advice, switches in mistakes:
        kwargs = dict(dones=dones, last=last)
        kwargs.update(switches)
        wrong = _gae_1d(r, v, gamma, lam, **kwargs)
        if not np.allclose(wrong, want) and np.allclose(adv, wrong, **expect.F64):
            expect.fail(f"advantages of {call} = {_fmt(adv)}, expected {_fmt(want)}: {advice}. "
                        + expect.cause(cause))
    expect.close(adv, want, f"advantages of {call}",
                 "A_t = delta_t + gamma lam (1 - done_t) A_{t+1}, computed backwards, with "
                 "delta_t = r_t + gamma V_{t+1} (1 - done_t) - V_t and V_T = last_value.")


def _expect_returns(ret, adv, v, call):
    if np.allclose(ret, adv, **expect.F64) and not np.allclose(v, 0):
        expect.fail(f"returns of {call} equal the advantages: the value targets are returns "
                    "= A + V (the advantage measures the return relative to V). "
                    + expect.cause("the returns are the advantages, without + V"))
    expect.close(ret, adv + v, f"returns of {call}", "returns = advantages + values.")


@check(EX, weight=2)
def gae_hand_computed(impl):
    """GAE by hand on one episode: backwards recursion, gamma in the TD residual, A + V"""
    r = np.array([1.0, 0.0, 2.0])
    v = np.array([0.5, 1.0, -0.5])
    gamma, lam, last = 0.9, 0.8, 0.25
    # delta = [1 + 0.9*1.0 - 0.5, 0 + 0.9*(-0.5) - 1.0, 2 + 0.9*0.25 + 0.5]
    #       = [1.4, -1.45, 2.725];  gamma*lam = 0.72
    # A_2 = 2.725; A_1 = -1.45 + 0.72*2.725 = 0.512; A_0 = 1.4 + 0.72*0.512 = 1.76864
    want = np.array([1.76864, 0.512, 2.725])
    assert np.allclose(want, _gae_1d(r, v, gamma, lam, last=last))
    adv, ret, call = _call_gae(impl, r, v, gamma, lam, None, last)
    _diagnose_gae(adv, want, r, v, gamma, lam, None, last, call)
    _expect_returns(ret, adv, v, call)  # returns = [2.26864, 1.512, 2.225]
    # The docstring's example: one RLHF-like episode that ends at its last token.
    adv, ret, call = _call_gae(impl, np.array([0.0, 0.0, 1.0]), np.full(3, 0.5), 1.0, 0.5,
                               np.array([0.0, 0.0, 1.0]), 0.0)
    _diagnose_gae(adv, [0.125, 0.25, 0.5], np.array([0.0, 0.0, 1.0]), np.full(3, 0.5), 1.0,
                  0.5, np.array([0.0, 0.0, 1.0]), 0.0, call)
    _expect_returns(ret, adv, np.full(3, 0.5), call)


@check(EX, weight=2)
def gae_respects_episode_ends(impl):
    """done_t = 1 ends the episode after step t: no bootstrapping or advantage across it"""
    r = np.array([1.0, 2.0, 0.0, 1.0, 1.0])
    v = np.array([0.5, 0.5, 1.0, -1.0, 0.5])
    gamma, lam = 0.9, 0.8
    dones = np.array([0.0, 1.0, 0.0, 0.0, 1.0])  # two episodes: steps 0-1 and 2-4
    # delta = [1 + 0.45 - 0.5, 2 - 0.5, 0 - 0.9 - 1, 1 + 0.45 + 1, 1 - 0.5]
    #       = [0.95, 1.5, -1.9, 2.45, 0.5]   (last_value = 3 is ignored: the last step is done)
    # A = [0.95 + 0.72*1.5, 1.5, -1.9 + 0.72*2.81, 2.45 + 0.72*0.5, 0.5]
    #   = [2.03, 1.5, 0.1232, 2.81, 0.5]
    want = np.array([2.03, 1.5, 0.1232, 2.81, 0.5])
    assert np.allclose(want, _gae_1d(r, v, gamma, lam, dones, 3.0))
    adv, ret, call = _call_gae(impl, r, v, gamma, lam, dones, 3.0)
    _diagnose_gae(adv, want, r, v, gamma, lam, dones, 3.0, call)
    _expect_returns(ret, adv, v, call)
    # A window cut mid-episode: the last step is not done, so V_T = last_value = 3 bootstraps
    # it: delta_4 = 1 + 0.9*3 - 0.5 = 3.2, A_4 = 3.2, A_3 = 2.45 + 0.72*3.2 = 4.754, ...
    dones = np.array([0.0, 1.0, 0.0, 0.0, 0.0])
    want = _gae_1d(r, v, gamma, lam, dones, 3.0)
    adv, ret, call = _call_gae(impl, r, v, gamma, lam, dones, 3.0)
    _diagnose_gae(adv, want, r, v, gamma, lam, dones, 3.0, call)
    # Booleans work as dones too.
    adv_bool, _, call = _call_gae(impl, r, v, gamma, lam, dones.astype(bool), 3.0)
    expect.close(adv_bool, want, f"advantages of {call} (boolean dones)",
                 "Convert dones to float (1 - done) before using them.")


@check(EX)
def gae_batched_and_limits(impl):
    """(B, T) rows are independent episodes; lam=0 gives delta, lam=1 the return minus V"""
    rng = np.random.default_rng(411)
    B, T = 2, 4
    r, v = rng.standard_normal((B, T)), rng.standard_normal((B, T))
    dones = np.array([[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    last = np.array([0.7, -1.3])  # one bootstrap value per row
    want = np.stack([_gae_1d(r[b], v[b], 0.95, 0.9, dones[b], last[b]) for b in range(B)])
    adv, ret, call = _call_gae(impl, r, v, 0.95, 0.9, dones, last)
    for b in range(B):
        if not np.allclose(adv[b], want[b], **expect.F64):
            _diagnose_gae(adv[b], want[b], r[b], v[b], 0.95, 0.9, dones[b], last[b],
                          f"{call}, row {b}")
    expect.close(adv, want, f"advantages of {call}",
                 "Each row is its own episode with its own last_value[b]; the time axis is "
                 "the last axis.")
    _expect_returns(ret, adv, v, call)
    # lam = 0: A_t = delta_t (one-step TD); lam = 1, gamma = 1: A_t = (sum of the rest of the
    # episode's rewards) - V_t (Monte Carlo), here with no end and last_value 0.
    adv0, _, call0 = _call_gae(impl, r, v, 0.95, 0.0, None, 0.0)
    delta = r + 0.95 * np.concatenate([v[:, 1:], np.zeros((B, 1))], axis=1) - v
    expect.close(adv0, delta, f"advantages of {call0}",
                 "With lam = 0 GAE is the TD residual delta_t = r_t + gamma V_{t+1} - V_t.")
    adv1, _, call1 = _call_gae(impl, r, v, 1.0, 1.0, None, 0.0)
    mc = np.cumsum(r[:, ::-1], axis=1)[:, ::-1] - v
    expect.close(adv1, mc, f"advantages of {call1}",
                 "With gamma = lam = 1 the deltas telescope: A_t = r_t + ... + r_{T-1} - V_t.")
    # float32 in, float32 out
    adv32, ret32, call32 = _call_gae(impl, r.astype(np.float32), v.astype(np.float32), 0.95,
                                     0.9, dones, last)
    for name, out in (("advantages", adv32), ("returns", ret32)):
        if out.dtype != np.float32:
            expect.fail(f"{name} of {call32} with float32 inputs have dtype {out.dtype}: keep "
                        "the inputs' dtype (e.g. np.zeros_like(rewards), not np.zeros(T)).")


def _call_ppo(impl, logp_new, logp_old, adv, eps, mask=None):
    call = (f"ppo_clip_loss(logp_new {logp_new.shape}, logp_old, advantages, clip_eps={eps}"
            f"{'' if mask is None else ', mask'})")
    result = expect.call_pure(impl.ppo_clip_loss, "ppo_clip_loss", logp_new, logp_old, adv,
                              eps, mask=mask)
    if not (isinstance(result, tuple) and len(result) == 2):
        expect.fail(f"{call} should return a pair (loss, dlogp_new), got "
                    f"{type(result).__name__}.")
    loss, grad = result
    if isinstance(loss, np.ndarray) and loss.size == 1:
        loss = loss.item()
    if not isinstance(loss, (float, np.floating)):
        expect.fail(f"the loss of {call} should be a float (the mean over tokens), got "
                    f"{type(loss).__name__}{getattr(loss, 'shape', '')}.")
    expect.array(grad, f"dlogp_new of {call}", shape=logp_new.shape)
    return float(loss), grad, call


def _ppo_terms(ratio, adv, eps):
    return ratio * adv, np.clip(ratio, 1 - eps, 1 + eps) * adv


# Five tokens covering every case of the clip, eps = 0.2:
#   t  rho   A    rho*A  clip(rho)*A  min    which     d loss / d logp_new = -rho A / 5
#   0  1.5   2    3.0    2.4          2.4    clipped   0
#   1  0.5   1    0.5    0.8          0.5    unclipped -0.1
#   2  0.5  -3   -1.5   -2.4         -2.4    clipped   0
#   3  1.5  -1   -1.5   -1.2         -1.5    unclipped 0.3
#   4  1.1   3    3.3    3.3          3.3    inside    -0.66
# loss = -(2.4 + 0.5 - 2.4 - 1.5 + 3.3) / 5 = -0.46
HAND_RATIO = np.array([1.5, 0.5, 0.5, 1.5, 1.1])


HAND_ADV = np.array([2.0, 1.0, -3.0, -1.0, 3.0])


HAND_OLD = np.array([-1.0, -2.0, -0.5, -1.5, -3.0])


HAND_LOSS = -0.46


HAND_GRAD = np.array([0.0, -0.1, 0.0, 0.3, -0.66])


@check(EX, weight=2)
def ppo_clip_loss_hand_computed(impl):
    """the clipped surrogate by hand: exp of the log-ratio, min of the two terms, the mean"""
    eps = 0.2
    new = HAND_OLD + np.log(HAND_RATIO)
    loss, _, call = _call_ppo(impl, new, HAND_OLD, HAND_ADV, eps)
    if abs(loss - HAND_LOSS) <= 1e-9:
        return
    un, cl = _ppo_terms(HAND_RATIO, HAND_ADV, eps)
    n = len(HAND_ADV)
    logr = np.log(HAND_RATIO)
    # (cause, advice, the loss with that slip): matching one of them is the probe
    mistakes = [
        ("the sign of the loss is flipped", "the loss is MINUS the surrogate (gradient descent "
         "on the loss is ascent on the objective)", np.mean(np.minimum(un, cl))),
        ("np.maximum instead of np.minimum", "the objective is pessimistic, min(rho A, "
         "clip(rho) A), so a clipped term can only lower it", -np.mean(np.maximum(un, cl))),
        ("only the clipped term clip(rho) A is used, without the min", "the objective is "
         "pessimistic, and for a negative advantage with rho > 1 + eps (or a positive one "
         "with rho < 1 - eps) the min keeps the unclipped, lower term", -np.mean(cl)),
        ("only the unclipped term rho A is used", "clip the ratio to [1 - eps, 1 + eps] and "
         "take the min", -np.mean(un)),
        ("the product rho * A is clipped instead of the ratio", "min(rho A, clip(rho, "
         "1 - eps, 1 + eps) A)", -np.mean(np.minimum(un, np.clip(un, 1 - eps, 1 + eps)))),
        ("the ratio is missing its exp", "rho = exp(logp_new - logp_old), a ratio of "
         "probabilities, not a difference of log-probabilities",
         -np.mean(np.minimum(logr * HAND_ADV, np.clip(logr, 1 - eps, 1 + eps) * HAND_ADV))),
        ("the ratio is inverted", "rho = pi_new / pi_old = exp(logp_new - logp_old)",
         -np.mean(np.minimum(HAND_ADV / HAND_RATIO,
                             np.clip(1 / HAND_RATIO, 1 - eps, 1 + eps) * HAND_ADV))),
        ("the loss sums over the tokens", "the loss is the MEAN over (unmasked) tokens",
         -np.sum(np.minimum(un, cl))),
    ]
    for cause, advice, wrong in mistakes:
        if abs(loss - wrong) <= 1e-9:
            expect.fail(f"{call} = {loss:.6g}, expected {HAND_LOSS} on the five tokens rho = "
                        f"{HAND_RATIO.tolist()}, A = {HAND_ADV.tolist()}: {advice}. "
                        + expect.cause(cause))
    expect.fail(f"{call} = {loss:.6g}, expected {HAND_LOSS} on rho = {HAND_RATIO.tolist()}, "
                f"A = {HAND_ADV.tolist()} (n = {n}): loss = -mean(min(rho A, clip(rho, 0.8, "
                "1.2) A)) with rho = exp(logp_new - logp_old).")


@check(EX, weight=2)
def ppo_clip_loss_gradient(impl):
    """dloss/dlogp_new = -rho A / N where unclipped, exactly 0 where clipped; finite differences"""
    eps = 0.2
    new = HAND_OLD + np.log(HAND_RATIO)
    loss, grad, call = _call_ppo(impl, new, HAND_OLD, HAND_ADV, eps)
    expect.require_correct(np.array(loss), np.array(HAND_LOSS), "the loss", EX)
    if not np.allclose(grad, HAND_GRAD, **expect.F64):
        clipped = np.array([True, False, True, False, False])
        n = len(HAND_ADV)
        if np.all(grad[clipped] != 0) and np.allclose(grad[~clipped], HAND_GRAD[~clipped]):
            expect.fail(f"dlogp_new of {call} = {_fmt(grad)}, expected {_fmt(HAND_GRAD)}: the "
                        "gradient must be exactly 0 where the min picks the clipped term "
                        "(tokens 0 and 2: clip(rho) A does not depend on logp_new there). "
                        + expect.cause("the gradient flows through the clipped tokens"))
        if np.allclose(grad, -HAND_GRAD):
            expect.fail(f"dlogp_new of {call} = {_fmt(grad)}, expected {_fmt(HAND_GRAD)}: the "
                        "loss is -min(...), so dloss = -rho A / N. "
                        + expect.cause("the sign of the gradient is flipped"))
        if np.allclose(grad, np.where(clipped, 0.0, -HAND_ADV / n)):
            expect.fail(f"dlogp_new of {call} = {_fmt(grad)}, expected {_fmt(HAND_GRAD)}: "
                        "d rho / d logp_new = rho (rho = exp(logp_new - logp_old)). "
                        + expect.cause("the factor rho of the gradient is missing"))
        if np.allclose(grad, HAND_GRAD * n):
            expect.fail(f"dlogp_new of {call} = {_fmt(grad)}, expected {_fmt(HAND_GRAD)}: "
                        "divide by N, the number of tokens the loss averages over. "
                        + expect.cause("the gradient is not divided by N"))
        expect.close(grad, HAND_GRAD, f"dlogp_new of {call}",
                     "dloss/dlogp_new_t = -rho_t A_t / N where unclipped, 0 where clipped.")
    # Central finite differences of the student's own loss on random tokens, away from kinks.
    rng = np.random.default_rng(4110)
    old = rng.normal(-2.0, 0.5, (2, 3))
    logr = np.array([[0.4, -0.05, -0.5], [0.1, 0.3, -0.35]])  # rho away from 0.8 and 1.2
    adv = np.array([[1.3, -0.7, -2.1], [0.4, -1.6, 0.9]])
    new = old + logr
    _, grad, call = _call_ppo(impl, new, old, adv, eps)
    h = 1e-6
    fd = np.zeros_like(new)
    for i in np.ndindex(new.shape):
        plus, minus = new.copy(), new.copy()
        plus[i] += h
        minus[i] -= h
        fd[i] = (_call_ppo(impl, plus, old, adv, eps)[0]
                 - _call_ppo(impl, minus, old, adv, eps)[0]) / (2 * h)
    expect.close(grad, fd, f"dlogp_new of {call}",
                 "The returned gradient disagrees with central finite differences of your "
                 "loss: -rho A / N where unclipped, 0 where clipped.", **expect.GRAD)


@check(EX)
def ppo_clip_loss_mask(impl):
    """padding tokens (mask 0) do not count: the mean is over the N unmasked tokens"""
    eps = 0.2
    rng = np.random.default_rng(4111)
    old = rng.normal(-2.0, 0.5, (2, 4))
    new = old + rng.uniform(-0.5, 0.5, (2, 4))
    adv = rng.standard_normal((2, 4))
    mask = np.array([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    new[mask == 0] = 5.0  # padding holds garbage: it must not reach the loss
    adv[mask == 0] = -100.0  # with rho = e^7 unclipped: a gradient if the mask is missed
    keep = mask == 1
    un, cl = _ppo_terms(np.exp(new - old)[keep], adv[keep], eps)
    want = -np.mean(np.minimum(un, cl))
    loss, grad, call = _call_ppo(impl, new, old, adv, eps, mask)
    if abs(loss - want) > 1e-9:
        terms = np.minimum(*_ppo_terms(np.exp(new - old), adv, eps))
        if abs(loss - (-np.sum(mask * terms) / mask.size)) <= 1e-9:
            expect.fail(f"{call} = {loss:.6g}, expected {want:.6g}, the sum divided by all "
                        f"{mask.size} positions; the mean is over the N = {int(mask.sum())} "
                        "unmasked tokens (divide by mask.sum()). "
                        + expect.cause("the mean runs over all positions, padding included"))
        expect.fail(f"{call} = {loss:.6g}, expected {want:.6g} (the mean over the 5 tokens "
                    "with mask 1): multiply each token's term by its mask and divide by "
                    "mask.sum(); padding must not count.")
    if np.any(grad[~keep] != 0):
        expect.fail(f"dlogp_new of {call} is nonzero on padding ({_fmt(grad[~keep])}): "
                    "multiply the gradient by the mask. "
                    + expect.cause("the gradient is not masked"))
    # At the start of each PPO epoch logp_new == logp_old: rho = 1, nothing is clipped, and
    # the loss is -mean(A) with gradient -A / N: the plain policy gradient.
    loss, grad, call = _call_ppo(impl, old, old, adv, eps, mask)
    expect.close(np.array(loss), np.array(-adv[keep].mean()), f"{call} with logp_new = "
                 "logp_old", "With rho = 1 the loss is -mean(A) over the unmasked tokens.")
    expect.close(grad, -mask * adv / mask.sum(), f"dlogp_new of {call} with logp_new = "
                 "logp_old", "With rho = 1 the gradient is -mask * A / N.")


def _call_kl(impl, logp, logp_ref, kind):
    call = f"kl_penalty(logp {logp.shape}, logp_ref, kind={kind!r})"
    out = expect.call_pure(impl.kl_penalty, "kl_penalty", logp, logp_ref, kind=kind)
    return expect.array(out, call, shape=logp.shape), call


@check(EX)
def kl_penalty_hand_computed(impl):
    """k1 = logp - logp_ref, k2 = (log r)^2 / 2, k3 = (r - 1) - log r with r = pi_ref / pi"""
    logp = np.array([[-1.0, -2.0, -0.5], [-0.25, -3.0, -1.0]])
    logp_ref = np.array([[-1.5, -1.0, -0.5], [-0.75, -2.0, -1.5]])
    log_ratio = logp_ref - logp  # [[-0.5, 1, 0], [-0.5, 1, -0.5]]
    # k1 = [[0.5, -1, 0], ...]; k2 = [[0.125, 0.5, 0], ...];
    # k3 = [[e^-0.5 - 1 + 0.5, e - 1 - 1, 0], ...] = [[0.106531, 0.718282, 0], ...]
    want = {"k1": -log_ratio, "k2": 0.5 * log_ratio ** 2, "k3": np.exp(log_ratio) - 1 - log_ratio}
    for kind, expected in want.items():
        got, call = _call_kl(impl, logp, logp_ref, kind)
        if np.allclose(expected, 0):
            continue
        if kind == "k1" and np.allclose(got, log_ratio):
            expect.fail(f"{call} = {_fmt(got)}, expected {_fmt(expected)}: k1 = log pi - "
                        "log pi_ref = logp - logp_ref (positive where the policy likes a token "
                        "more than the reference does). "
                        + expect.cause("the sign of k1 is flipped"))
        if kind == "k2" and np.allclose(got, log_ratio ** 2):
            expect.fail(f"{call} = {_fmt(got)}, expected {_fmt(expected)}: k2 = (log r)^2 / 2 "
                        "(the half is part of it). " + expect.cause("k2 is missing the half"))
        if kind == "k3" and np.allclose(got, np.exp(-log_ratio) - 1 + log_ratio):
            expect.fail(f"{call} = {_fmt(got)}, expected {_fmt(expected)}: with tokens "
                        "sampled from pi, k3 uses r = pi_ref / pi = exp(logp_ref - logp): "
                        "k3 = (r - 1) - log r. "
                        + expect.cause("k3 uses the inverted ratio pi / pi_ref"))
        expect.close(got, expected, call, {
            "k1": "k1 = logp - logp_ref.", "k2": "k2 = (logp_ref - logp)^2 / 2.",
            "k3": "k3 = (r - 1) - log r with r = exp(logp_ref - logp)."}[kind])


@check(EX)
def kl_estimators_are_unbiased(impl):
    """over a ~ pi, E[k1] = E[k3] = KL(pi || pi_ref) exactly; k2, k3 >= 0 per token"""
    pi = np.array([0.5, 0.25, 0.15, 0.1])
    ref = np.array([0.2, 0.3, 0.1, 0.4])
    kl = float(np.sum(pi * np.log(pi / ref)))  # KL(pi || pi_ref) = 0.3348 (lecture §14.6)
    logp, logp_ref = np.log(pi), np.log(ref)  # every token's estimate, weighted by pi below
    for kind in ("k1", "k3"):
        got, call = _call_kl(impl, logp, logp_ref, kind)
        mean = float(np.sum(pi * got))
        if abs(mean - kl) > 1e-9:
            reverse = float(np.sum(ref * np.log(ref / pi)))
            hint = (" (the negative of the KL: check the sign)" if abs(mean + kl) < 1e-9 else
                    " (your estimator is not unbiased for KL(pi || pi_ref) under a ~ pi: "
                    f"KL(pi_ref || pi) would be {reverse:.6g})")
            expect.fail(f"{call}: the expectation over a ~ pi of your estimate is {mean:.6g}, "
                        f"expected KL(pi || pi_ref) = {kl:.6g}{hint}. With r = pi_ref / pi, "
                        "k1 = -log r and k3 = (r - 1) - log r are both unbiased.")
    rng = np.random.default_rng(4112)
    a, b = rng.normal(-2, 1.5, (2, 3)), rng.normal(-2, 1.5, (2, 3))
    for kind in ("k2", "k3"):
        got, call = _call_kl(impl, a, b, kind)
        if np.any(got < -1e-12):
            expect.fail(f"{call} has negative entries {_fmt(got)}: {kind} is >= 0 for every "
                        "token (for k3, r - 1 >= log r).")


def _skipped_until(check_name: str, what: str) -> None:
    expect.fail(f"4.11: {what}: skipped until {check_name} passes (this check only compares "
                "against a right answer).")


@check(EX)
def kl_k3_accurate_near_r_1(impl):
    """k3 keeps its digits where r is near 1 (log r ~ 1e-9): (r - 1) via np.expm1"""
    # k3 = x^2/2 + x^3/6 + x^4/24 + ... with x = log r; the series is exact to 1e-20 here
    x = np.array([1e-9, -1e-9, 3e-8, -2e-7, 1e-6, -1e-5])
    logp, logp_ref = np.zeros_like(x), x.copy()  # logp_ref - logp is exactly x
    want = x ** 2 / 2 + x ** 3 / 6 + x ** 4 / 24
    got, call = _call_kl(impl, logp, logp_ref, "k3")
    if np.allclose(got, want, rtol=1e-5, atol=0):
        return
    if not np.allclose(got, want, rtol=1e-5, atol=1e-12):  # wrong, not just imprecise
        _skipped_until("kl_penalty_hand_computed", f"{call} at log r ~ 1e-9")
    naive = (np.exp(x) - 1) - x
    message = (f"4.11: {call} at log r = {_fmt(x)} gave {_fmt(got)}, expected {_fmt(want)} (k3 ~ "
               "(log r)^2 / 2, to a relative 1e-5): exp(log r) - 1 subtracts two numbers near "
               "1 and keeps only ~16 - 9 digits of r - 1, then - log r cancels what is left. "
               "np.expm1(log r) computes r - 1 to full precision.")
    if np.allclose(got, naive, rtol=1e-9, atol=0):
        message += " " + expect.cause("r - 1 is computed as np.exp(log r) - 1, not np.expm1")
    expect.fail(message)


@check(EX)
def kl_penalty_default_is_k1(impl):
    """kl_penalty(logp, logp_ref) without kind is k1 = logp - logp_ref"""
    logp = np.array([[-1.0, -2.0, -0.5], [-0.25, -3.0, -1.0]])
    logp_ref = np.array([[-1.5, -1.0, -0.5], [-0.75, -2.0, -1.5]])
    want = logp - logp_ref
    explicit, _ = _call_kl(impl, logp, logp_ref, "k1")
    if not np.allclose(explicit, want, **expect.F64):
        _skipped_until("kl_penalty_hand_computed", "the default kind")
    call = "kl_penalty(logp (2, 3), logp_ref), called without kind"
    got = expect.array(expect.call_pure(impl.kl_penalty, "kl_penalty", logp, logp_ref), call,
                       shape=logp.shape)
    log_r = logp_ref - logp
    for kind, other in (("k2", 0.5 * log_r ** 2), ("k3", np.expm1(log_r) - log_r)):
        if np.allclose(got, other, **expect.F64):
            expect.fail(f"{call} gave {kind}: the default kind is \"k1\" (InstructGPT's "
                        "per-token penalty). " + expect.cause(f"the default kind is {kind}"))
    expect.close(got, want, call, "The default kind is \"k1\": logp - logp_ref.")


@check(EX)
def gae_default_arguments(impl):
    """gae(rewards, values, gamma, lam) without dones and last_value: no end, V_T = 0"""
    r, v = np.array([1.0, 0.0, 2.0]), np.array([0.5, 1.0, -0.5])
    want = _gae_1d(r, v, 0.9, 0.8)  # no episode end inside, V_T = 0
    adv, _, _ = _call_gae(impl, r, v, 0.9, 0.8, None, 0.0)
    if not np.allclose(adv, want, **expect.F64):
        _skipped_until("gae_hand_computed", "gae's defaults")
    call = "gae(rewards (3,), values (3,), gamma=0.9, lam=0.8), called without dones and " \
           "last_value"
    result = expect.call_pure(impl.gae, "gae", r, v, 0.9, 0.8)
    if not (isinstance(result, tuple) and len(result) == 2):
        expect.fail(f"{call} should return a pair (advantages, returns).")
    adv = expect.array(result[0], f"advantages of {call}", shape=r.shape)
    if np.allclose(adv, _gae_1d(r, v, 0.9, 0.8, last=v[-1]), **expect.F64):
        expect.fail(f"advantages of {call} = {_fmt(adv)}, expected {_fmt(want)}: the default "
                    "last_value is 0 (the episode ended). "
                    + expect.cause("the default last_value is values[..., -1], not 0"))
    expect.close(adv, want, f"advantages of {call}", "Without dones there is no episode end "
                 "inside the window; without last_value, V_T = 0.")


def _hand_loss(eps):
    un, cl = _ppo_terms(HAND_RATIO, HAND_ADV, eps)
    return float(-np.mean(np.minimum(un, cl)))


@check(EX)
def ppo_clip_loss_default_arguments(impl):
    """ppo_clip_loss(logp_new, logp_old, advantages): clip_eps = 0.2, every token counts"""
    new = HAND_OLD + np.log(HAND_RATIO)
    loss, _, _ = _call_ppo(impl, new, HAND_OLD, HAND_ADV, 0.2)
    if abs(loss - HAND_LOSS) > 1e-9:
        _skipped_until("ppo_clip_loss_hand_computed", "ppo_clip_loss's defaults")
    call = "ppo_clip_loss(logp_new, logp_old, advantages), called without clip_eps and mask"
    result = expect.call_pure(impl.ppo_clip_loss, "ppo_clip_loss", new, HAND_OLD, HAND_ADV)
    if not (isinstance(result, tuple) and len(result) == 2):
        expect.fail(f"{call} should return a pair (loss, dlogp_new).")
    got = float(np.asarray(result[0]))
    if abs(got - HAND_LOSS) <= 1e-9:
        return
    for eps in (0.1, 0.3, 0.25, 0.15):
        if abs(got - _hand_loss(eps)) <= 1e-9:
            expect.fail(f"{call} = {got:.6g}, expected {HAND_LOSS}: the default clip_eps is 0.2 "
                        "(PPO's). " + expect.cause(f"the default clip_eps is {eps}"))
    expect.fail(f"{call} = {got:.6g}, expected {HAND_LOSS} (as with clip_eps=0.2 and every "
                "token counted): check the defaults, clip_eps=0.2 and mask=None (all tokens).")


@check(EX)
def ppo_clip_loss_other_clip_eps(impl):
    """clip_eps = 0.15 and 0.6 clip at 1 -+ eps: the loss and where the gradient is 0 move"""
    new = HAND_OLD + np.log(HAND_RATIO)
    loss, _, _ = _call_ppo(impl, new, HAND_OLD, HAND_ADV, 0.2)
    if abs(loss - HAND_LOSS) > 1e-9:
        _skipped_until("ppo_clip_loss_hand_computed", "other values of clip_eps")
    for eps in (0.15, 0.6):
        # eps = 0.15: token 2 (rho 0.5, A < 0) is clipped at 0.85, not 0.8, and no ratio sits
        # on an edge (no kink); eps = 0.6: nothing is clipped
        un, cl = _ppo_terms(HAND_RATIO, HAND_ADV, eps)
        want = float(-np.mean(np.minimum(un, cl)))
        want_grad = -np.where(un <= cl, un, 0.0) / len(HAND_ADV)
        loss, grad, call = _call_ppo(impl, new, HAND_OLD, HAND_ADV, eps)
        if abs(loss - want) > 1e-9:
            hint = (" That is the loss with clip_eps = 0.2: pass clip_eps on to the clip "
                    "(np.clip(rho, 1 - clip_eps, 1 + clip_eps))." if abs(loss - HAND_LOSS)
                    <= 1e-9 else "")
            expect.fail(f"{call} = {loss:.6g}, expected {want:.6g} (the ratio clipped to "
                        f"[{1 - eps:g}, {1 + eps:g}]).{hint}")
        expect.close(grad, want_grad, f"dlogp_new of {call}",
                     "-rho A / N where the min picks the unclipped term, 0 where it picks the "
                     "clipped one, with the clip at 1 -+ clip_eps.")


@check(EX)
def ppo_refuses_bad_input(impl):
    """ValueError: misfit shapes, gamma or lam outside [0, 1], clip_eps <= 0, an empty mask,
    an unknown kind"""
    r, v = np.zeros(3), np.zeros(3)
    # the given code raises these errors: points only once the function itself runs (a stub
    # raises NotImplementedError here)
    impl.gae(r, v, 0.9, 0.8)
    impl.ppo_clip_loss(np.zeros(3), np.zeros(3), np.ones(3))
    impl.kl_penalty(np.zeros(3), np.ones(3))
    for args, what in (((r, np.zeros(4), 0.9, 0.8), "rewards (3,) and values (4,)"),
                       ((np.zeros(0), np.zeros(0), 0.9, 0.8), "T = 0 steps"),
                       ((r, v, 1.5, 0.8), "gamma = 1.5"), ((r, v, 0.9, -0.1), "lam = -0.1")):
        expect.raises(impl.gae, ValueError, f"4.11: gae with {what}", *args)
    a = np.zeros((2, 3))
    expect.raises(impl.ppo_clip_loss, ValueError, "4.11: ppo_clip_loss with logp_new (2, 3) and "
                  "logp_old (3,)", a, np.zeros(3), a)
    expect.raises(impl.ppo_clip_loss, ValueError, "4.11: ppo_clip_loss with clip_eps = 0",
                  a, a, a, 0.0)
    expect.raises(impl.ppo_clip_loss, ValueError, "4.11: ppo_clip_loss with a mask of zeros",
                  a, a, np.ones((2, 3)), 0.2, np.zeros((2, 3)))
    expect.raises(impl.kl_penalty, ValueError, "4.11: kl_penalty with kind='k4'", a, a,
                  kind="k4")
    expect.raises(impl.kl_penalty, ValueError, "4.11: kl_penalty with logp (2, 3) and logp_ref "
                  "(3,)", a, np.zeros(3))
