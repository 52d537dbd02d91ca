"""Exercise 5.5 reference vs TRL's GRPOTrainer (trl, pinned in the parity extra).

- ``grpo_loss`` / ``grpo_loss_backward``: the loss and its gradient w.r.t. the policy's
  log-probabilities against ``GRPOTrainer._compute_loss`` itself, the trainer's own method
  called on a minimal stand-in for the trainer (only the attributes the method reads: the
  loss type, beta, the clip range, a pass-through accelerator, a metrics dict) whose
  ``_get_per_token_logps_and_entropies`` returns our log-probabilities as a leaf tensor, so
  autograd gives TRL's gradient. ``normalize="sequence"`` is TRL's ``loss_type="grpo"``;
  ``normalize="token"`` is its ``"bnpo"``, and also its default ``"dapo"`` on one process
  without gradient accumulation (``num_items_in_batch`` = the batch's completion tokens).
- ``group_advantages``: against the lines of ``GRPOTrainer._generate_and_score_completions``
  that turn rewards into advantages (``scale_rewards="group"``), written with TRL's own
  ``nanstd`` (Bessel-corrected): that method also generates and scores completions, so it is
  not called whole.
"""

from collections import defaultdict
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from trl.trainer.grpo_trainer import GRPOTrainer
from trl.trainer.utils import nanstd

from reference.modern.grpo import group_advantages, grpo_loss, grpo_loss_backward

LOSS_TYPES = {"sequence": ("grpo",), "token": ("bnpo", "dapo")}


class _Accelerator:
    """One process: gathering and reducing return their input."""

    num_processes = 1
    sync_gradients = True

    def gather(self, x):
        return x

    gather_for_metrics = gather

    def reduce(self, x, reduction="sum"):
        return x


def _trainer(loss_type, beta, clip_eps, logp_new):
    """The attributes `GRPOTrainer._compute_loss` reads, as TRL's defaults set them."""
    return SimpleNamespace(
        loss_type=loss_type, beta=beta, epsilon_low=clip_eps, epsilon_high=clip_eps,
        top_entropy_quantile=1.0, off_policy_mask_threshold=None,
        importance_sampling_level="token", use_vllm=False, aux_loss_enabled=False,
        _entropy_bonus_enabled=False, current_gradient_accumulation_steps=1,
        model=SimpleNamespace(training=True), accelerator=_Accelerator(),
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
        args=SimpleNamespace(use_bias_correction_kl=False, delta=None, steps_per_generation=1),
        _get_per_token_logps_and_entropies=lambda *args, **kwargs: (
            logp_new, torch.zeros_like(logp_new), None),
    )


def trl_loss(new, old, ref, adv, mask, clip_eps, beta, loss_type):
    """TRL's loss and d loss / d logp_new (float64 tensors; old=None: on-policy)."""
    new_t = torch.tensor(new, requires_grad=True)
    B, T = new.shape
    inputs = {
        "prompt_ids": torch.zeros((B, 2), dtype=torch.long),
        "prompt_mask": torch.ones((B, 2), dtype=torch.long),
        "completion_ids": torch.zeros((B, T), dtype=torch.long),
        "completion_mask": torch.tensor(mask),
        "advantages": torch.tensor(adv),
        "ref_per_token_logps": torch.tensor(ref),
        "num_items_in_batch": torch.tensor(mask.sum()),
    }
    if old is not None:
        inputs["old_per_token_logps"] = torch.tensor(old)
    loss = GRPOTrainer._compute_loss(_trainer(loss_type, beta, clip_eps, new_t), None, inputs)
    loss.backward()
    return loss.item(), new_t.grad.numpy()


def _batch(seed, B=6, T=7, per_token_adv=False):
    rng = np.random.default_rng(seed)
    old = rng.normal(-2.0, 0.7, (B, T))
    new = old + 0.3 * rng.standard_normal((B, T))  # some ratios clipped, some not
    ref = new + 0.3 * rng.standard_normal((B, T))
    adv = rng.standard_normal((B, T) if per_token_adv else B)
    lengths = rng.integers(1, T + 1, B)
    lengths[0] = T
    mask = (np.arange(T) < lengths[:, None]).astype(np.float64)
    return new, old, ref, adv, mask


@pytest.mark.parametrize("normalize", ["sequence", "token"])
@pytest.mark.parametrize("per_token_adv", [False, True])
@pytest.mark.parametrize("clip_eps, beta", [(0.2, 0.04), (0.1, 0.5), (0.3, 0.0)])
def test_loss_and_gradient_match_trl(normalize, per_token_adv, clip_eps, beta):
    new, old, ref, adv, mask = _batch(5 + per_token_adv, per_token_adv=per_token_adv)
    loss, cache = grpo_loss(new, old, ref, adv, mask, clip_eps, beta, normalize=normalize)
    grad = grpo_loss_backward(1.0, cache)
    for loss_type in LOSS_TYPES[normalize]:
        want, want_grad = trl_loss(new, old, ref, adv, mask, clip_eps, beta, loss_type)
        np.testing.assert_allclose(loss, want, rtol=1e-12, atol=1e-14, err_msg=loss_type)
        np.testing.assert_allclose(grad, want_grad, rtol=1e-10, atol=1e-14, err_msg=loss_type)
    assert np.all(grad[mask == 0] == 0)


@pytest.mark.parametrize("normalize", ["sequence", "token"])
def test_on_policy_step_matches_trl(normalize):
    """TRL's first step (old log-probs = the current ones, detached): rho = 1, no clipping."""
    new, _, ref, adv, mask = _batch(9)
    loss, cache = grpo_loss(new, new, ref, adv, mask, 0.2, 0.04, normalize=normalize)
    grad = grpo_loss_backward(1.0, cache)
    want, want_grad = trl_loss(new, None, ref, adv, mask, 0.2, 0.04, LOSS_TYPES[normalize][0])
    np.testing.assert_allclose(loss, want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-10, atol=1e-14)


def trl_advantages(rewards, group_size):
    """GRPOTrainer's advantages for one reward function, scale_rewards="group"."""
    rewards = torch.tensor(rewards)
    mean = rewards.view(-1, group_size).nanmean(dim=1).repeat_interleave(group_size, dim=0)
    std = nanstd(rewards.view(-1, group_size), dim=1).repeat_interleave(group_size, dim=0)
    return ((rewards - mean) / (std + 1e-4)).numpy()


@pytest.fixture
def float64_by_default():
    """nanstd's Bessel factor count / (count - 1) divides integer tensors, which gives torch's
    default dtype: float32 would round it to 1e-8 relative, so float64 here."""
    saved = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(saved)


@pytest.mark.parametrize("group_size", [2, 4, 8])
def test_group_advantages_match_trl(group_size, float64_by_default):
    rng = np.random.default_rng(group_size)
    rewards = rng.standard_normal(3 * group_size)
    rewards[:group_size] = 0.5  # a group of equal rewards: TRL gives 0 too (0 / 1e-4)
    binary = (rng.random(3 * group_size) < 0.5).astype(np.float64)  # pass/fail verifier
    for r in (rewards, binary):
        np.testing.assert_allclose(group_advantages(r, group_size), trl_advantages(r, group_size),
                                   rtol=1e-12, atol=1e-12)
