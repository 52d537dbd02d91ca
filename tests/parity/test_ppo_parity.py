"""Exercise 4.11 reference vs PyTorch.

- ``ppo_clip_loss``: loss and gradient against PyTorch autograd on the textbook formula
  ``-mean(torch.min(rho A, torch.clamp(rho, 1 - eps, 1 + eps) A))`` (masked mean), and on
  the equivalent "max of the negated terms" form used by PPO libraries, on random float64
  tokens of several shapes, with padding masks, and at rho = 1 exactly (where the two
  terms tie: torch splits the gradient of a tie between them and the clamp passes it on,
  so the sum is the unclipped gradient, as ours).
- ``gae``: against a straightforward backward loop over torch tensors (the usual PPO
  implementation, ``nextnonterminal`` and ``lastgaelam``), and, for windows with no episode
  end, against the closed form ``A = M @ delta`` with ``M[t, t + l] = (gamma lam)^l``.
- ``kl_penalty``: against the torch formulas, and the sample means of k1 and k3 over tokens
  drawn from pi against ``torch.distributions.kl_divergence`` (both unbiased).
"""

import numpy as np
import pytest
import torch

from reference.llm.ppo import gae, kl_penalty, ppo_clip_loss


@pytest.fixture(autouse=True)
def float64_by_default():
    """torch's default dtype is float64 in this file only (other parity files expect float32)."""
    saved = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(saved)


def torch_ppo(new, old, adv, eps, mask, libstyle=False):
    new_t = torch.tensor(new, requires_grad=True)
    old_t, adv_t, mask_t = torch.tensor(old), torch.tensor(adv), torch.tensor(mask)
    ratio = torch.exp(new_t - old_t)
    if libstyle:  # loss per token = max(-A rho, -A clamp(rho))
        per_token = torch.max(-adv_t * ratio, -adv_t * torch.clamp(ratio, 1 - eps, 1 + eps))
    else:
        per_token = -torch.min(ratio * adv_t, torch.clamp(ratio, 1 - eps, 1 + eps) * adv_t)
    loss = (per_token * mask_t).sum() / mask_t.sum()
    loss.backward()
    return loss.item(), new_t.grad.numpy()


@pytest.mark.parametrize("shape", [(7,), (2, 5), (3, 4, 6)])
@pytest.mark.parametrize("eps", [0.1, 0.2, 0.3])
@pytest.mark.parametrize("libstyle", [False, True])
def test_ppo_clip_loss_matches_torch_autograd(shape, eps, libstyle):
    rng = np.random.default_rng(hash((shape, eps)) % 2**32)
    old = rng.normal(-2.0, 1.0, shape)
    new = old + rng.normal(0.0, 0.4, shape)  # rho from ~0.3 to ~3: every case of the clip
    adv = rng.standard_normal(shape)
    mask = (rng.random(shape) < 0.8).astype(np.float64)
    mask.flat[0] = 1.0
    for m in (None, mask):
        loss, grad = ppo_clip_loss(new, old, adv, eps, mask=m)
        want_loss, want_grad = torch_ppo(new, old, adv, eps,
                                         np.ones(shape) if m is None else m, libstyle)
        assert loss == pytest.approx(want_loss, rel=1e-12, abs=1e-14)
        np.testing.assert_allclose(grad, want_grad, rtol=1e-12, atol=1e-15)


def test_ppo_clip_loss_at_ratio_one_matches_torch():
    rng = np.random.default_rng(0)
    old = rng.normal(-1.0, 1.0, (2, 6))
    adv = rng.standard_normal((2, 6))
    loss, grad = ppo_clip_loss(old, old, adv, 0.2)
    want_loss, want_grad = torch_ppo(old, old, adv, 0.2, np.ones((2, 6)))
    assert loss == pytest.approx(want_loss, rel=1e-12)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grad, -adv / adv.size, rtol=1e-12)


def torch_gae(rewards, values, gamma, lam, dones, last_value):
    r, v, d = torch.tensor(rewards), torch.tensor(values), torch.tensor(dones)
    last = torch.tensor(last_value)
    T = r.shape[-1]
    adv = torch.zeros_like(r)
    lastgaelam = torch.zeros(r.shape[:-1])
    for t in reversed(range(T)):
        nextvalues = last if t == T - 1 else v[..., t + 1]
        nextnonterminal = 1.0 - d[..., t]
        delta = r[..., t] + gamma * nextvalues * nextnonterminal - v[..., t]
        lastgaelam = delta + gamma * lam * nextnonterminal * lastgaelam
        adv[..., t] = lastgaelam
    return adv.numpy(), (adv + v).numpy()


@pytest.mark.parametrize("gamma, lam", [(1.0, 0.95), (0.99, 0.95), (0.9, 0.0), (0.5, 1.0)])
def test_gae_matches_torch_loop(gamma, lam):
    rng = np.random.default_rng(int(100 * gamma + 10 * lam))
    B, T = 3, 9
    rewards, values = rng.standard_normal((B, T)), rng.standard_normal((B, T))
    dones = (rng.random((B, T)) < 0.25).astype(np.float64)
    last = rng.standard_normal(B)
    adv, ret = gae(rewards, values, gamma, lam, dones=dones, last_value=last)
    want_adv, want_ret = torch_gae(rewards, values, gamma, lam, dones, last)
    np.testing.assert_allclose(adv, want_adv, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(ret, want_ret, rtol=1e-12, atol=1e-13)
    # one row alone, (T,), gives the same as its row of the batch
    adv1, _ = gae(rewards[1], values[1], gamma, lam, dones=dones[1], last_value=last[1])
    np.testing.assert_allclose(adv1, adv[1], rtol=1e-13, atol=1e-14)


def test_gae_matches_closed_form_without_episode_ends():
    rng = np.random.default_rng(7)
    T, gamma, lam = 12, 0.97, 0.9
    rewards, values, last = rng.standard_normal(T), rng.standard_normal(T), 0.4
    v_next = torch.cat([torch.tensor(values[1:]), torch.tensor([last])])
    delta = torch.tensor(rewards) + gamma * v_next - torch.tensor(values)
    t = torch.arange(T)
    lag = (t[None, :] - t[:, None]).double()
    M = torch.where(lag >= 0, (gamma * lam) ** lag.clamp(min=0), torch.zeros(()))
    adv, _ = gae(rewards, values, gamma, lam, last_value=last)
    np.testing.assert_allclose(adv, (M @ delta).numpy(), rtol=1e-12, atol=1e-13)


def test_kl_penalty_matches_torch_formulas():
    rng = np.random.default_rng(3)
    logp, logp_ref = rng.normal(-2, 1, (4, 5)), rng.normal(-2, 1, (4, 5))
    lp, lr = torch.tensor(logp), torch.tensor(logp_ref)
    log_ratio = lr - lp
    want = {"k1": lp - lr, "k2": 0.5 * (lp - lr) ** 2,
            "k3": torch.exp(log_ratio) - 1 - log_ratio}
    for kind, expected in want.items():
        np.testing.assert_allclose(kl_penalty(logp, logp_ref, kind), expected.numpy(),
                                   rtol=1e-12, atol=1e-14)


def test_kl_estimators_are_unbiased_against_torch_kl_divergence():
    gen = torch.Generator().manual_seed(0)
    pi = torch.distributions.Categorical(logits=torch.randn(8, generator=gen))
    ref = torch.distributions.Categorical(logits=torch.randn(8, generator=gen))
    exact = torch.distributions.kl_divergence(pi, ref).item()
    tokens = torch.multinomial(pi.probs, 200_000, replacement=True, generator=gen)
    logp, logp_ref = pi.log_prob(tokens).numpy(), ref.log_prob(tokens).numpy()
    for kind in ("k1", "k3"):
        est = kl_penalty(logp, logp_ref, kind)
        stderr = est.std() / np.sqrt(est.size)
        assert abs(est.mean() - exact) < 5 * stderr, (kind, est.mean(), exact, stderr)
    # exactly, summing over the vocabulary instead of sampling
    all_tokens = torch.arange(8)
    p = pi.probs.numpy()
    for kind in ("k1", "k3"):
        k = kl_penalty(pi.log_prob(all_tokens).numpy(), ref.log_prob(all_tokens).numpy(), kind)
        assert float(np.sum(p * k)) == pytest.approx(exact, rel=1e-10)
