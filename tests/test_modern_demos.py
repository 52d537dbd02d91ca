"""Module 5's demos (`python -m demos modern`, which runs "llama_vs_gpt", "lora", "moe",
"speculative" and "grpo"), on the reference: one quick run of all five prints progress and
summaries and draws the figures, and a quick run of "speculative" alone decodes the same tokens
as plain greedy decoding; the demos' own models are checked against the course's (the LoRA GPT
against GPT, its adapters' gradients against the merged GPT's, every gradient of the MoE model
by finite differences in float64, and GRPO's chain from the GPT's parameters to ``grpo_loss``
likewise; the speculative demo's distillation gradient likewise); the GRPO demo names an
unfinished 5.5 before it trains."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from columns import long_lines
from conftest import REPO
from implementation.modern.grpo import group_advantages, grpo_loss, grpo_loss_backward
from implementation.transformer.gpt import GPT, GPTConfig

from demos.modern.corpus import held_out_perplexity
from demos.modern.grpo_demo import dlogits_of, token_logprobs
from demos.modern.llama_vs_gpt import FULL, llama_parameters, matching_llama
from demos.modern.lora_gpt import LoRAGPT, gradient_check
from demos.modern.moe_demo import balance
from demos.modern.moe_model import MoEConfig, MoELlama


def test_quick_run_of_the_five_demos_prints_and_draws(tmp_path):
    done = subprocess.run([sys.executable, "-W", "error", "-m", "demos", "modern", "--quick",
                           "--target", "reference", "--figures", str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert not long_lines(text + done.stderr)
    assert "OPENBLAS_NUM_THREADS=1" in text  # re-ran itself with one BLAS thread
    assert re.search(r"step +\d+/\d+ +loss \d+\.\d+ +[\d,]+ tokens/s +ETA", text), text
    for name in ("llama_vs_gpt", "lora", "moe", "speculative", "grpo"):
        assert f"python -m demos {name} --seed 0 --quick" in text
    # llama_vs_gpt: both models, parameter counts within 1%, held-out perplexity below uniform
    found = re.findall(r"\n  (GPT-2|Llama) +([\d,]+) +\d+\.\d+ +(\d+\.\d+)", text)
    rows = {name: (int(n.replace(",", "")), float(p)) for name, n, p in found}
    assert set(rows) == {"GPT-2", "Llama"}, text
    assert abs(rows["Llama"][0] - rows["GPT-2"][0]) < 0.01 * rows["GPT-2"][0]
    assert all(perplexity < 300 for _, perplexity in rows.values())
    # lora: both methods, the adapters train fewer parameters, the two routes agree
    for method in ("full fine-tuning", "LoRA"):
        assert re.search(rf"\n  {method} +[\d,]+ +\d+\.\d+ MB +\d+\.\d%", text), text
    difference = float(re.search(r"largest relative difference (\S+);", text)[1])
    assert difference < 1e-4, text
    # moe: three runs, a row of expert shares per layer
    for run in ("dense", "MoE, no balancing loss", "MoE, balancing loss"):
        assert re.search(rf"\n  {run} +[\d,]+ +[\d,]+ +\d+\.\d+", text), text
    assert re.search(r"\n  layer 0: +(\d+ +){4}imbalance \d\.\d\d", text), text
    # grpo: a row per evaluation, before -> after with its standard errors, the noise, the
    # comparison with more SFT
    assert re.search(r"\n +0 +\d+\.\d% +\d+\.\d% +- +-\n", text), text
    assert re.search(r"\n +6 +\d+\.\d% +\d+\.\d% +\d+\.\d{3} +\d\.\d\d\n", text), text
    for key in ("greedy", "sample"):
        assert re.search(rf"{key}: \d+\.\d% -> \d+\.\d% \(s\.e\. \d+\.\d, \d+\.\d points\): "
                         r"[+-]\d+\.\d standard errors", text), text
    assert re.search(r"GRPO one sample: \d+\.\d%, \d+\.\d%", text), text
    assert "--seed N" in text and "more SFT steps of 8 labelled problems" in text
    for figure in ("llama_vs_gpt.png", "lora.png", "moe.png", "speculative.png",
                   "grpo_accuracy.png"):
        assert (tmp_path / figure).stat().st_size > 10_000, figure


def test_quick_speculative_demo_decodes_the_plain_greedy_tokens(tmp_path):
    done = subprocess.run([sys.executable, "-W", "error", "-m", "demos", "speculative",
                           "--quick", "--target", "reference", "--figures", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert not long_lines(text + done.stderr)
    assert re.search(r"step +\d+/\d+ +loss \d+\.\d+ +[\d,]+ tokens/s +ETA", text), text
    assert re.search(r"One decoding step: target \d+\.\d\d ms, a draft \d+\.\d\d ms", text), text
    assert re.search(r"The target continued 32 training prompts", text), text
    rows = re.findall(r"\n  (text|distilled) +(\d) +(\d+\.\d)% +(\d+\.\d\d) +\d+ +(\d+\.\d\d)x"
                      r" +(\d+\.\d\d)x +(\w+)", text)
    assert [(draft, int(k)) for draft, k, *_ in rows] == [
        (draft, k) for draft in ("text", "distilled") for k in (2, 4, 6)], text
    for _, k, acceptance, per_forward, speedup, predicted, identical in rows:
        assert identical == "True", text  # greedy: the target's own tokens, every k
        assert 0 <= float(acceptance) <= 100 and float(speedup) > 0 and float(predicted) > 0
        assert 1 <= float(per_forward) <= int(k) + 1  # 1 to k + 1 tokens per round
    assert (tmp_path / "speculative.png").stat().st_size > 10_000


def test_the_distillation_gradient_is_the_kl_divergences():
    from demos.modern.speculative_demo import distillation_loss

    rng = np.random.default_rng(0)
    logits, teacher = rng.normal(size=(2, 3, 5)), 2 * rng.normal(size=(2, 3, 5))
    loss, dlogits = distillation_loss(logits, teacher)
    p = np.exp(teacher) / np.exp(teacher).sum(-1, keepdims=True)
    q = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    assert np.isclose(loss, np.sum(p * np.log(p / q)) / 6, rtol=1e-12)  # KL(p || q), mean
    assert distillation_loss(teacher, teacher)[0] == pytest.approx(0, abs=1e-15)
    h = 1e-6
    for index in [(0, 0, 0), (1, 2, 4), (0, 1, 3)]:
        step = np.zeros_like(logits)
        step[index] = h
        numeric = (distillation_loss(logits + step, teacher)[0]
                   - distillation_loss(logits - step, teacher)[0]) / (2 * h)
        assert numeric == pytest.approx(dlogits[index], rel=1e-6, abs=1e-10)


def test_the_llama_matches_the_gpts_parameter_count():
    gpt_config = GPTConfig(vocab_size=512, block_size=FULL.block_size, n_layer=FULL.n_layer,
                           n_head=FULL.n_head, n_embd=FULL.n_embd)
    config = matching_llama(gpt_config, FULL)
    from implementation.modern.llama import Llama

    llama = Llama(config, np.random.default_rng(0))
    target = GPT(gpt_config, np.random.default_rng(0)).num_parameters()
    assert llama.num_parameters() == llama_parameters(512, FULL.n_layer, FULL.n_embd,
                                                      FULL.n_head, FULL.n_kv_heads,
                                                      config.intermediate_size)
    assert abs(llama.num_parameters() - target) <= 3 * FULL.n_layer * FULL.n_embd / 2


def _tiny_gpt():
    config = GPTConfig(vocab_size=40, block_size=16, n_layer=2, n_head=2, n_embd=8,
                       dtype="float64")
    return GPT(config, np.random.default_rng(0))


def test_lora_gpt_starts_as_the_gpt_and_its_gradients_match_the_merged_gpt():
    base = _tiny_gpt()
    model = LoRAGPT(base, r=4, alpha=8, rng=np.random.default_rng(1), n_new_rows=3)
    idx = np.random.default_rng(2).integers(0, 40, (3, 7))
    targets = np.random.default_rng(3).integers(0, 40, (3, 7))
    targets[0, :3] = -100
    np.testing.assert_allclose(model.forward(idx), base.forward(idx), rtol=0, atol=1e-14)
    for name, value in model.params.items():  # adapters away from their zero start
        value += 0.3 * np.random.default_rng(len(name)).standard_normal(value.shape)
    frozen = {name: value.copy() for name, value in base.params.items()}
    worst, loss_difference = gradient_check(model, idx, targets)
    assert worst < 1e-10 and loss_difference < 1e-12
    np.testing.assert_allclose(model.merged().forward(idx), model.forward(idx), atol=1e-12)
    assert all(np.array_equal(base.params[n], frozen[n]) for n in frozen)  # base untouched


def _finite_differences(model, idx, targets, rng, per_param=2, eps=1e-5):
    """The entries (a few random ones of every parameter) where ``model.backward()`` and
    central differences of ``loss + aux_loss`` disagree beyond rtol 1e-5, atol 1e-8."""
    def total():
        return float(model.loss(idx, targets)) + model.aux_loss()

    total()
    grads = model.backward()
    wrong = []
    for name, p in model.params.items():
        for _ in range(per_param):
            j = tuple(int(rng.integers(s)) for s in p.shape)
            old = p[j]
            p[j] = old + eps
            up = total()
            p[j] = old - eps
            down = total()
            p[j] = old
            numeric = (up - down) / (2 * eps)
            if not np.isclose(grads[name][j], numeric, rtol=1e-5, atol=1e-8):
                wrong.append((name, j, grads[name][j], numeric))
    return wrong


@pytest.mark.parametrize("n_experts, aux_coef", [(0, 0.0), (4, 0.0), (4, 0.5)])
def test_moe_model_gradients_by_finite_differences(n_experts, aux_coef):
    config = MoEConfig(vocab_size=30, n_layer=2, n_embd=8, n_head=2, n_kv_heads=1,
                       mlp_width=6, n_experts=n_experts, top_k=2, aux_coef=aux_coef,
                       dtype="float64")
    model = MoELlama(config, seed=0)
    for name, value in model.params.items():  # larger weights: every path matters
        value += 0.3 * np.random.default_rng(len(name)).standard_normal(value.shape)
    idx = np.random.default_rng(2).integers(0, 30, (2, 5))
    targets = np.random.default_rng(3).integers(0, 30, (2, 5))
    assert _finite_differences(model, idx, targets, np.random.default_rng(4)) == []
    if n_experts:
        shares = model.routing()
        assert shares.shape == (2, 4)
        np.testing.assert_allclose(shares.sum(axis=1), 2.0)  # top-2: two slots per token
        assert aux_coef == 0 or model.aux_loss() > 0


def test_models_differing_in_their_mlps_start_alike():
    dense = MoELlama(MoEConfig(vocab_size=30, n_layer=2, n_embd=8, n_head=2, mlp_width=12), 0)
    moe = MoELlama(MoEConfig(vocab_size=30, n_layer=2, n_embd=8, n_head=2, mlp_width=6,
                             n_experts=4, top_k=2), 0)
    shared = [name for name in dense.params if name in moe.params]
    assert "model.layers.1.self_attn.q_proj.weight" in shared
    assert all(np.array_equal(dense.params[n], moe.params[n]) for n in shared)
    assert moe.active_parameters() - dense.active_parameters() == 2 * 8 * 4  # the routers


def test_balance_and_held_out_perplexity():
    assert balance(np.array([[0.5, 0.5, 0.5, 0.5]]), 2)[0] == pytest.approx(1.0)
    assert balance(np.array([[1.0, 1.0, 0.0, 0.0]]), 2)[0] == pytest.approx(2.0)

    class Counter:  # loss 1 per window: the mean is 1 whatever the batching
        seen = 0

        def loss(self, x, y):
            assert np.array_equal(x[:, 1:], y[:, :-1])
            self.seen += x.size
            return 1.0

    model = Counter()
    loss, perplexity = held_out_perplexity(model, np.arange(101), block_size=10, batch_size=4)
    assert model.seen == 100 and loss == 1.0 and perplexity == pytest.approx(np.e)


def test_grpo_gradient_into_the_gpt_by_finite_differences():
    """token_logprobs -> grpo_loss -> grpo_loss_backward -> dlogits_of -> GPT.backward."""
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


def test_grpo_demo_names_an_unfinished_5_5_before_it_trains(tmp_path):
    """Modules 1-4 and 5.1-5.4 done, 5.5 a stub: the demo says so before the SFT."""
    finished = tmp_path / "solutions"
    shutil.copytree(REPO / "reference", finished, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "exercises" / "modern" / "grpo.py", finished / "modern" / "grpo.py")
    done = subprocess.run([sys.executable, "-m", "demos", "grpo", "--quick", "--target",
                           str(finished), "--figures", str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "(exercise 5.5) is not implemented yet" in done.stderr
    assert "make grade EX=5.5" in done.stderr and "Traceback" not in done.stderr
    assert "SFT:" not in done.stdout
    assert not long_lines(done.stdout + done.stderr)
