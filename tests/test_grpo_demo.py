"""The GRPO demo (`python -m demos grpo`), on the reference: a quick run prints and draws;
the chain from the GPT's parameters to GRPO's loss (log-probabilities of the sampled tokens,
``grpo_loss``, back through ``backward(dlogits)``) is checked by finite differences in
float64."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
from columns import long_lines
from conftest import REPO
from implementation.modern.grpo import group_advantages, grpo_loss, grpo_loss_backward
from implementation.transformer.gpt import GPT, GPTConfig

from demos.modern.grpo_demo import dlogits_of, token_logprobs


def test_quick_run_prints_and_draws(tmp_path):
    done = subprocess.run([sys.executable, "-W", "error", "-m", "demos", "grpo", "--quick",
                           "--target", "reference", "--figures", str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert not long_lines(text + done.stderr)
    assert "OPENBLAS_NUM_THREADS=1" in text
    assert re.search(r"step +0: held-out greedy +\d+\.\d%", text), text
    assert re.search(r"sample: \d+\.\d% -> \d+\.\d% \(s\.e\.", text), text
    assert (tmp_path / "grpo_accuracy.png").stat().st_size > 10_000


def test_grpo_gradient_into_the_gpt_by_finite_differences():
    config = GPTConfig(vocab_size=13, block_size=12, n_layer=1, n_head=2, n_embd=8,
                       dtype="float64")
    model = GPT(config, np.random.default_rng(0))
    reference = GPT(config, np.random.default_rng(1))
    rng = np.random.default_rng(2)
    ids, n_prompt = rng.integers(0, 13, (4, 10)), 4
    logp_old = token_logprobs(model, ids, n_prompt)[0] + rng.normal(0, 0.1, (4, 6))
    logp_ref = token_logprobs(reference, ids, n_prompt)[0]
    advantages = group_advantages(np.array([1.0, 0.0, 0.0, 1.0]), 2)
    mask = np.ones_like(logp_old)

    def loss():
        logp = token_logprobs(model, ids, n_prompt)[0]
        return grpo_loss(logp, logp_old, logp_ref, advantages, mask)[0]

    logp, probs = token_logprobs(model, ids, n_prompt)
    cache = grpo_loss(logp, logp_old, logp_ref, advantages, mask)[1]
    grads = model.backward(dlogits_of(grpo_loss_backward(1.0, cache), probs, ids, n_prompt,
                                      np.float64))
    for name, param in model.params.items():
        for _ in range(3):
            i = tuple(rng.integers(0, s) for s in param.shape)
            eps, saved = 1e-6, param[i]
            param[i] = saved + eps
            up = loss()
            param[i] = saved - eps
            down = loss()
            param[i] = saved
            numeric = (up - down) / (2 * eps)
            assert abs(numeric - grads[name][i]) <= 1e-6 * max(1.0, abs(numeric)), name
