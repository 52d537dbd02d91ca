"""The DPO demo (`python -m demos dpo`), on the reference: a quick run prints its progress,
evaluates on held-out prompts and draws its figure; the given `sequence_logprob_backward`
that carries DPO's gradient into the GPT agrees with finite differences."""

from __future__ import annotations

import io
import re

import numpy as np
from columns import long_lines
from implementation.llm.dpo import sequence_logprob

from demos.run import load
from grader.gradcheck import numerical_gradient

dpo_demo = load("dpo", "reference")


def test_quick_demo_runs_and_draws(tmp_path):
    out = io.StringIO()
    history = dpo_demo.run(quick=True, seed=0, figures_dir=tmp_path, out=out)
    text = out.getvalue()
    assert not long_lines(text)
    assert re.search(r"reference step +\d+/\d+: next-token loss \d\.\d+", text), text
    assert re.search(r"DPO step +\d+/\d+: loss \d\.\d+, held-out accuracy", text), text
    assert "held-out preference accuracy" in text
    assert (tmp_path / dpo_demo.FIGURE_NAME).stat().st_size > 10_000
    steps = [s for s, _ in history]
    assert steps[0] == 0 and steps[-1] == dpo_demo.QUICK.steps
    start, end = history[0][1], history[-1][1]
    assert start["kl"] == 0.0 and start["margin"] == 0.0  # the policy starts as the reference
    assert end["margin"] > 0 and end["accuracy"] > start["accuracy"]


def test_held_out_prompts_are_disjoint_and_pairs_well_formed():
    rng = np.random.default_rng(0)
    train = dpo_demo.make_prompts(300, rng)
    held = dpo_demo.make_prompts(50, rng, exclude={tuple(p) for p in train})
    assert not {tuple(p) for p in train} & {tuple(p) for p in held}
    chosen, rejected = dpo_demo.preference_pairs(held, rng)
    assert np.all(np.diff(chosen[:, 5:], axis=1) > 0)  # sorted, the digits are distinct
    assert not np.any(np.all(rejected == chosen, axis=1))
    assert np.array_equal(np.sort(rejected[:, 5:], axis=1), np.sort(held, axis=1))


def test_sequence_logprob_backward_matches_finite_differences():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(2, 3, 5)) * 2
    tokens = np.array([[1, 4, 2], [0, 3, 3]])
    mask = np.array([[0, 1, 1], [1, 1, 0]])
    dlogp = np.array([0.7, -1.3])
    analytic = dpo_demo.sequence_logprob_backward(dlogp, logits, tokens, mask)
    numeric = numerical_gradient(lambda: float(sequence_logprob(logits, tokens, mask) @ dlogp),
                                 logits)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)
