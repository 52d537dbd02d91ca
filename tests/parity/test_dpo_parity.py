"""Exercises 4.10 and 4.12 reference vs PyTorch autograd.

- ``bradley_terry_loss`` / ``_backward`` vs ``-F.logsigmoid(r_w - r_l).mean()`` and its
  autograd gradients (as the reward-model loss of TRL's ``RewardTrainer``);
- ``sequence_logprob`` vs ``torch.log_softmax(logits, -1).gather(-1, tokens)`` summed under the
  mask (as the log-probs of TRL's ``DPOTrainer``), float64 and float32, huge logits included;
- ``dpo_loss`` / ``_backward`` vs ``-F.logsigmoid(beta * ((pi_w - ref_w) - (pi_l - ref_l)))
  .mean()`` (the sigmoid loss of Rafailov et al. and TRL) with autograd gradients, the
  reference log-probs detached; margins up to +-1e4 included.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reference.llm.dpo import dpo_loss, dpo_loss_backward, sequence_logprob
from reference.llm.reward import bradley_terry_loss, bradley_terry_loss_backward

SCALES = [1.0, 30.0, 1e4]  # ordinary margins, saturated ones, the limit of the contract


@pytest.mark.parametrize("scale", SCALES)
def test_bradley_terry_matches_logsigmoid(scale):
    rng = np.random.default_rng(0)
    r_w, r_l = rng.normal(size=16) * scale, rng.normal(size=16) * scale
    loss, cache = bradley_terry_loss(r_w, r_l)
    dr_w, dr_l = bradley_terry_loss_backward(0.7, cache)
    tw, tl = torch.tensor(r_w, requires_grad=True), torch.tensor(r_l, requires_grad=True)
    t_loss = -F.logsigmoid(tw - tl).mean()
    (0.7 * t_loss).backward()
    np.testing.assert_allclose(loss, t_loss.item(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dr_w, tw.grad.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dr_l, tl.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("scale", [1.0, 1e3])
def test_sequence_logprob_matches_log_softmax_gather(dtype, scale):
    rng = np.random.default_rng(1)
    B, T, V = 3, 7, 11
    logits = (rng.normal(size=(B, T, V)) * scale).astype(dtype)
    tokens = rng.integers(0, V, size=(B, T))
    mask = (rng.random((B, T)) < 0.6).astype(np.int64)
    mask[0] = 0  # an empty completion: log-prob 0
    got = sequence_logprob(logits, tokens, mask)
    lp = torch.log_softmax(torch.tensor(logits), dim=-1)
    per_token = lp.gather(-1, torch.tensor(tokens)[..., None]).squeeze(-1)
    want = (per_token * torch.tensor(mask, dtype=per_token.dtype)).sum(-1).numpy()
    assert got.dtype == dtype
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(got, want, **tol)


@pytest.mark.parametrize("beta", [0.1, 0.5, 2.0])
@pytest.mark.parametrize("scale", [1.0, 1e4])
def test_dpo_loss_matches_torch(beta, scale):
    rng = np.random.default_rng(2)
    pc, pr, rc, rr = (rng.normal(size=8) * scale - 50 for _ in range(4))
    loss, cache = dpo_loss(pc, pr, rc, rr, beta)
    d_pc, d_pr = dpo_loss_backward(1.3, cache)
    t_pc, t_pr = torch.tensor(pc, requires_grad=True), torch.tensor(pr, requires_grad=True)
    t_rc, t_rr = torch.tensor(rc), torch.tensor(rr)  # the frozen reference: constants
    logits = beta * ((t_pc - t_rc) - (t_pr - t_rr))
    t_loss = -F.logsigmoid(logits).mean()
    (1.3 * t_loss).backward()
    np.testing.assert_allclose(loss, t_loss.item(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(d_pc, t_pc.grad.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(d_pr, t_pr.grad.numpy(), rtol=1e-12, atol=1e-15)
