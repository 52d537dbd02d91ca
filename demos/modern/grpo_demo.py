"""The GRPO demo: reinforcement learning from an exact-answer reward makes a tiny GPT add better.

Usage:
    python -m demos grpo [--steps N] [--quick] [--seed N] [--figures DIR] [--shuffle-rewards]
    python -m demos grpo --target reference   # the same, on the solutions

A 2-layer GPT is taught the scratchpad format of the prompting demo (digit by digit, least
significant column first, then ``|`` and the sum) by a *short* supervised fine-tuning (SFT):
it writes the format but often gets a column wrong. GRPO (5.5) then trains it with no
demonstrations at all, only a verifier: for each prompt a group of G completions is sampled
at temperature 1, each scores 1 if its final sum is right and 0 otherwise, the rewards are
normalised within the group (``group_advantages``), and the clipped loss with the k3 KL to the
frozen SFT model (``grpo_loss``) is differentiated w.r.t. the log-probabilities of the sampled
tokens (``grpo_loss_backward``) and from there into the GPT through ``backward(dlogits)``::

    logp_t = logits_t[y_t] - logsumexp(logits_t)  =>  dlogp_t / dlogits_t = onehot(y_t) - p_t

Held-out accuracy (greedy and one sample at T = 1) is measured before and during GRPO. Its
noise: the binomial standard error sqrt(p (1 - p) / n) of n held-out problems, and the
one-sample accuracy of the same models under two more sampling seeds; the training's own
noise (where SFT stops, the batches, the samples) shows by running again with ``--seed``.
Two comparisons: ``--shuffle-rewards``, the control (the same rewards given to random
completions of the batch: as many right answers, no information about which), and as many
more SFT steps on *labelled* answers instead of GRPO (printed, and drawn as diamonds).

The figure ``grpo_accuracy.png`` (in ``--figures``, default ``runs/grpo``) draws the held-out
accuracies (with a band of one standard error) and the KL to the SFT model against the step.
"""

import time
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from implementation.llm.kv_cache import generate
from implementation.modern.grpo import group_advantages, grpo_loss, grpo_loss_backward
from implementation.transformer.gpt import GPT
from implementation.transformer.optim import AdamW
from implementation.transformer.training import format_duration, optimizer_step

from ..blas import blas_threads, rerun_with_one_blas_thread
from ..llm.prompting_demo import (
    accuracy,
    encode,
    gpt_config,
    held_out_problems,
    parse_sums,
    text_of,
    training_problems,
)
from ..plotting import pyplot, write_png
from ..text import say
from ..transformer.tasks import lm_batch
from .cli import parse, training_demo_parser

FIGURE_NAME = "grpo_accuracy.png"


@dataclass(frozen=True)
class DemoConfig:
    """The task, the model, the SFT that stops early, GRPO and the evaluations."""

    n_digits: int = 4
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    sft_target: float = 0.6  # SFT stops at this greedy accuracy: a model often wrong
    sft_max_steps: int = 1500
    sft_check_every: int = 25
    n_val: int = 200
    sft_batch: int = 32
    sft_lr: float = 3e-3
    grpo_steps: int = 300
    n_prompts: int = 16  # prompts per GRPO step
    group_size: int = 8  # completions per prompt
    grpo_lr: float = 3e-4
    clip_eps: float = 0.2
    beta: float = 0.04
    temperature: float = 1.0
    n_held_out: int = 1000
    eval_every: int = 25
    max_norm: float = 1.0
    shuffle_rewards: bool = False  # the control: the same rewards, given to random completions


FULL = DemoConfig()
QUICK = replace(FULL, n_digits=2, sft_max_steps=200, n_val=50, grpo_steps=6, n_prompts=8,
                group_size=4, n_held_out=60, eval_every=3)


def sft(cfg, model, held_codes, seed):
    """A short supervised fine-tuning on the scratchpad format, stopped as soon as greedy
    accuracy on ``n_val`` validation problems reaches ``sft_target`` (the step at which a
    tiny GPT "gets" addition varies from seed to seed: 200 to 300+ steps). Returns the steps
    and whether the target was reached (else ``sft_max_steps`` were made)."""
    batch_cfg = SimpleNamespace(n_digits=cfg.n_digits, batch_size=cfg.sft_batch)
    optimizer = AdamW(lr=cfg.sft_lr, betas=(0.9, 0.98), weight_decay=0.0)
    rng = np.random.default_rng([seed, 2])
    a, b = training_problems(SimpleNamespace(n_digits=cfg.n_digits, batch_size=cfg.n_val),
                             np.random.default_rng([seed, 8]), held_codes)
    val_prompts, val_answers = encode(a, b, cfg.n_digits, "scratchpad")
    val_truth = [int(x) for x in a + b]
    for step in range(cfg.sft_max_steps + 1):
        if (step % cfg.sft_check_every == 0 and step > 0) or step == cfg.sft_max_steps:
            ids = generate(model, val_prompts, val_answers.shape[1])
            sums = parse_sums(ids[:, val_prompts.shape[1]:], cfg.n_digits, "scratchpad")
            if accuracy(sums, val_truth) >= cfg.sft_target:
                return step, True
            if step == cfg.sft_max_steps:
                return step, False
        idx, targets = lm_batch(*encode(*training_problems(batch_cfg, rng, held_codes),
                                        cfg.n_digits, "scratchpad"))
        model.loss(idx, targets)
        lr = cfg.sft_lr * min(1.0, (step + 1) / 10)  # constant after a short warmup
        optimizer_step(optimizer, model.params, model.backward(), lr, cfg.max_norm)


def check_grpo(group_size):
    """Exercise 5.5 on one group with one right answer, before any training (an unfinished
    exercise fails now, not after the SFT); returns its advantages."""
    rewards = np.zeros(group_size)
    rewards[0] = 1.0
    advantages = group_advantages(rewards, group_size)
    logp = np.full((group_size, 3), np.log(0.5))
    _, cache = grpo_loss(logp, logp, logp, advantages, np.ones_like(logp))
    grpo_loss_backward(1.0, cache)
    return advantages


def token_logprobs(model, ids, n_prompt):
    """Log-probabilities ``(B, A)`` of the completion tokens ``ids[:, n_prompt:]``, and the
    softmax ``(B, A, V)`` of the logits that predicted them (for the backward)."""
    logits = model.forward(ids[:, :-1]).astype(np.float64)  # position t predicts token t + 1
    logits = logits[:, n_prompt - 1:]  # (B, A, V)
    logits -= logits.max(axis=-1, keepdims=True)
    logz = np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    logp_all = logits - logz
    tokens = ids[:, n_prompt:]
    logp = np.take_along_axis(logp_all, tokens[..., None], axis=-1)[..., 0]
    return logp, np.exp(logp_all)


def dlogits_of(dlogp, probs, ids, n_prompt, dtype):
    """Back from ``dL/dlogp`` ``(B, A)`` to ``dL/dlogits`` ``(B, T - 1, V)`` of the forward on
    ``ids[:, :-1]``: ``dlogp_t (onehot(y_t) - p_t)`` at the positions that predict answers."""
    B, T = ids.shape
    dlogits = np.zeros((B, T - 1, probs.shape[-1]))
    d = -dlogp[..., None] * probs
    tokens = ids[:, n_prompt:]
    np.put_along_axis(d, tokens[..., None],
                      np.take_along_axis(d, tokens[..., None], axis=-1) + dlogp[..., None],
                      axis=-1)
    dlogits[:, n_prompt - 1:] = d
    return dlogits.astype(dtype)


def more_sft(cfg, model, held_codes, seed):
    """The comparison: the SFT model trained on *labelled* answers instead, as many steps of
    as many problems (``n_prompts``) at GRPO's learning rate."""
    batch_cfg = SimpleNamespace(n_digits=cfg.n_digits, batch_size=cfg.n_prompts)
    optimizer = AdamW(lr=cfg.grpo_lr, betas=(0.9, 0.99), weight_decay=0.0)
    rng = np.random.default_rng([seed, 9])
    for _ in range(cfg.grpo_steps):
        idx, targets = lm_batch(*encode(*training_problems(batch_cfg, rng, held_codes),
                                        cfg.n_digits, "scratchpad"))
        model.loss(idx, targets)
        optimizer_step(optimizer, model.params, model.backward(), cfg.grpo_lr, cfg.max_norm)


def evaluate(model, prompts, truth, cfg, n_new, rng):
    """Greedy and one-sample (T = 1) exact match on the held-out problems."""
    greedy = generate(model, prompts, n_new)
    sampled = generate(model, prompts, n_new, temperature=cfg.temperature, rng=rng)
    n0 = prompts.shape[1]
    return (accuracy(parse_sums(greedy[:, n0:], cfg.n_digits, "scratchpad"), truth),
            accuracy(parse_sums(sampled[:, n0:], cfg.n_digits, "scratchpad"), truth))


def grpo(cfg, model, reference, held, seed):
    """GRPO with an exact-answer reward; returns the log of evaluations and statistics."""
    a_held, b_held = held
    held_codes = a_held * 10 ** cfg.n_digits + b_held
    held_prompts, held_answers = encode(a_held, b_held, cfg.n_digits, "scratchpad")
    truth = [int(x) for x in a_held + b_held]
    n_new = held_answers.shape[1]
    n0 = held_prompts.shape[1]
    optimizer = AdamW(lr=cfg.grpo_lr, betas=(0.9, 0.99), weight_decay=0.0)
    data_rng = np.random.default_rng([seed, 4])
    sample_rng = np.random.default_rng([seed, 5])
    eval_rng = np.random.default_rng([seed, 6])
    batch_cfg = SimpleNamespace(n_digits=cfg.n_digits, batch_size=cfg.n_prompts)
    log = {"step": [], "greedy": [], "sample": [], "kl": [], "reward": []}
    kl_running, kls = 0.0, []  # the mean k3 of the training batches since the last evaluation
    control = " CONTROL: each reward given to a random completion." if cfg.shuffle_rewards else ""
    say(f"GRPO: {cfg.n_prompts} prompts x G = {cfg.group_size} samples per step, AdamW lr "
        f"{cfg.grpo_lr:g}, clip {cfg.clip_eps:g}, beta {cfg.beta:g}.{control} Held-out exact "
        f"match on {len(truth)} problems every {cfg.eval_every} steps; KL to the SFT model "
        "(k3, nats per completion) and training reward: means since the row above.")
    say(f"{'step':>7}{'greedy':>9}{'one sample':>13}{'KL to SFT':>12}{'training reward':>18}",
        flush=True)
    for step in range(cfg.grpo_steps + 1):
        if step % cfg.eval_every == 0 or step == cfg.grpo_steps:
            kl_running, kls = (float(np.mean(kls)) if kls else 0.0), []
            greedy, sample = evaluate(model, held_prompts, truth, cfg, n_new, eval_rng)
            log["step"].append(step)
            log["greedy"].append(greedy)
            log["sample"].append(sample)
            log["kl"].append(kl_running)
            since = (f"{kl_running:12.3f}{np.mean(log['reward'][-cfg.eval_every:]):18.2f}"
                     if step else f"{'-':>12}{'-':>18}")
            say(f"{step:7d}{100 * greedy:8.1f}%{100 * sample:12.1f}%{since}", flush=True)
        if step == cfg.grpo_steps:
            break
        a, b = training_problems(batch_cfg, data_rng, held_codes)
        prompts, _ = encode(a, b, cfg.n_digits, "scratchpad")
        prompts = np.repeat(prompts, cfg.group_size, axis=0)  # each group in consecutive rows
        ids = generate(model, prompts, n_new, temperature=cfg.temperature, rng=sample_rng)
        sums = parse_sums(ids[:, n0:], cfg.n_digits, "scratchpad")
        truth_batch = np.repeat(a + b, cfg.group_size)
        rewards = np.array([s is not None and s == t for s, t in zip(sums, truth_batch)],
                           dtype=np.float64)
        if cfg.shuffle_rewards:  # keeps how many are right, loses which: no information
            rewards = sample_rng.permutation(rewards)
        advantages = group_advantages(rewards, cfg.group_size)
        logp_ref, _ = token_logprobs(reference, ids, n0)
        logp_new, probs = token_logprobs(model, ids, n0)  # the model's cache: this forward
        mask = np.ones_like(logp_new)
        # one update per batch: the sampling policy is the current one (ratio 1 at the step)
        loss, cache = grpo_loss(logp_new, logp_new.copy(), logp_ref, advantages, mask,
                                clip_eps=cfg.clip_eps, beta=cfg.beta)
        dlogp = grpo_loss_backward(1.0, cache)
        grads = model.backward(dlogits_of(dlogp, probs, ids, n0, model.config.dtype))
        optimizer_step(optimizer, model.params, grads, cfg.grpo_lr, cfg.max_norm)
        log_r = logp_ref - logp_new
        kls.append(float(np.mean(np.expm1(log_r) - log_r)) * n_new)  # k3 per completion
        log["reward"].append(float(rewards.mean()))
    return log


def save_figure(path, log, cfg, seed, se, supervised):
    """Held-out accuracy (with the s.e. band) and the KL to the SFT model against the step;
    ``supervised``: the accuracies after as many SFT steps on labelled answers instead."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    steps = np.array(log["step"])
    for key, name, colour in (("greedy", "greedy", "C0"), ("sample", "one sample, T = 1", "C1")):
        values = np.array(log[key])
        left.plot(steps, values, "o-", color=colour, markersize=4, label=name)
        left.fill_between(steps, values - se(values), values + se(values), color=colour,
                          alpha=0.2)
        left.plot([steps[-1]], [supervised[key]], "D", color=colour, markerfacecolor="none",
                  markersize=7)
    left.plot([], [], "D", color="grey", markerfacecolor="none", markersize=7,
              label=f"either, after {cfg.grpo_steps} more SFT steps\non labelled answers instead")
    left.set_xlabel("GRPO step")
    left.set_ylabel(f"held-out exact match ({cfg.n_held_out} problems, ±1 s.e.)")
    left.legend(loc="lower right", fontsize=9)
    left.set_title(f"{cfg.n_digits}-digit addition, reward = exact answer")
    right.plot(steps, log["kl"], "o-", color="C2", markersize=4)
    right.set_xlabel("GRPO step")
    right.set_ylabel("KL(policy || SFT) per completion (k3, nats)")
    right.set_title(f"beta = {cfg.beta:g}, G = {cfg.group_size}")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    control = " (control: shuffled rewards)" if cfg.shuffle_rewards else ""
    fig.suptitle(f"GRPO on a tiny GPT after a short SFT, seed {seed}{control}")
    fig.tight_layout()
    return write_png(fig, path)


def run(steps=None, quick=False, seed=0, figures_dir=None, out="runs/grpo",
        shuffle_rewards=False):
    """The demo: the task, the short SFT, GRPO with its evaluations, the noise, the comparison
    with more SFT, the figure.

    Returns:
        dict: ``"log"`` (``grpo``'s), ``"sft_steps"``, ``"more_sft"`` (its greedy and
        one-sample accuracy), ``"seconds"``, ``"figure"``, ``"config"``.
    """
    cfg = replace(QUICK if quick else FULL, shuffle_rewards=shuffle_rewards)
    if steps is not None:
        cfg = replace(cfg, grpo_steps=steps)
    start = time.perf_counter()
    held = held_out_problems(cfg, np.random.default_rng([seed, 1]))
    held_codes = held[0] * 10 ** cfg.n_digits + held[1]
    prompts, answers = encode(held[0][:1], held[1][:1], cfg.n_digits, "scratchpad")
    say(f"Task: add two {cfg.n_digits}-digit numbers, scratchpad format, e.g. "
        f"{text_of(prompts[0])}{text_of(answers[0])}; {cfg.n_held_out} problems held out; "
        f"seed {seed}; BLAS threads: {blas_threads()}.")
    advantages = check_grpo(cfg.group_size)
    say(f"Reward: 1 if the sum after | is right, else 0. A group of {cfg.group_size} with one "
        "right answer: advantages " + ", ".join(f"{a:.2f}" for a in advantages[:3])
        + ", ... (group_advantages).")
    model = GPT(gpt_config(cfg, "scratchpad"), np.random.default_rng([seed, 0]))
    say(f"SFT of a {cfg.n_layer}-layer GPT ({model.num_parameters():,} parameters) on the "
        "scratchpad ...", flush=True)
    sft_steps, reached = sft(cfg, model, held_codes, seed)
    reference = GPT(model.config, params={k: v.copy() for k, v in model.params.items()})
    took = format_duration(time.perf_counter() - start)
    stop = (f"stopped once greedy accuracy on {cfg.n_val} validation problems >= "
            f"{100 * cfg.sft_target:.0f}%" if reached else
            f"the most; {100 * cfg.sft_target:.0f}% greedy on {cfg.n_val} validation problems "
            "not reached")
    say(f"SFT: {sft_steps} steps of {cfg.sft_batch} labelled problems ({stop}); {took}.\n",
        flush=True)
    log = grpo(cfg, model, reference, held, seed)
    n = cfg.n_held_out

    def se(p):
        return np.sqrt(np.asarray(p) * (1 - np.asarray(p)) / n)

    for key in ("greedy", "sample"):
        p0, p1 = log[key][0], log[key][-1]
        margin = (p1 - p0) / np.sqrt(se(p0) ** 2 + se(p1) ** 2 + 1e-12)
        say(f"{key:>7}: {100 * p0:.1f}% -> {100 * p1:.1f}% (s.e. {100 * se(p0):.1f}, "
            f"{100 * se(p1):.1f} points): {margin:+.1f} standard errors")
    # run-to-run noise of the sampled accuracy: the same two models, two other sampling seeds
    say(f"Noise: s.e. = sqrt(p (1 - p) / n), n = {n} problems; the one-sample accuracy "
        "again with two more sampling seeds (the same models):")
    held_prompts, held_answers = encode(*held, cfg.n_digits, "scratchpad")
    truth = [int(x) for x in held[0] + held[1]]
    for name, m in (("SFT", reference), ("GRPO", model)):
        again = [evaluate(m, held_prompts, truth, cfg, held_answers.shape[1],
                          np.random.default_rng([seed, 7 + j]))[1] for j in range(2)]
        say(f"{name:>7} one sample: " + ", ".join(f"{100 * x:.1f}%" for x in again))
    say("The training's own noise (SFT stop, batches, samples): run again with --seed N.")
    # labels beat a verifier when there are labels: the same budget of steps spent on SFT
    supervised = GPT(reference.config, params={k: v.copy() for k, v in reference.params.items()})
    more_sft(cfg, supervised, held_codes, seed)
    greedy, sample = evaluate(supervised, held_prompts, truth, cfg, held_answers.shape[1],
                              np.random.default_rng([seed, 7]))
    ahead = (sample - log["sample"][-1]) / np.sqrt(se(sample) ** 2 + se(log["sample"][-1]) ** 2
                                                 + 1e-12)  # in standard errors
    verdict = ("more SFT does better" if ahead > 2 else "GRPO does better" if ahead < -2 else
               "the two are within 2 s.e.")
    say(f"For comparison, {cfg.grpo_steps} more SFT steps of {cfg.n_prompts} labelled problems "
        f"instead of GRPO: greedy {100 * greedy:.1f}%, one sample {100 * sample:.1f}%\n"
        f"(GRPO needs no labelled answers, only a verifier; here, where labels exist, "
        f"{verdict}: one sample {ahead:+.1f} s.e.)")
    path = save_figure(Path(figures_dir or out) / FIGURE_NAME, log, cfg, seed, se,
                       {"greedy": greedy, "sample": sample})
    seconds = time.perf_counter() - start
    say(f"\nWrote {path}; {format_duration(seconds)} in all.")
    if quick:
        say("(--quick is a smoke test; the full run, without --quick, takes about a minute.)")
    return {"log": log, "sft_steps": sft_steps, "more_sft": {"greedy": greedy, "sample": sample},
            "seconds": seconds, "figure": str(path), "config": cfg}


def main(argv=None):
    parser = training_demo_parser("grpo", "GRPO with an exact-answer reward on a tiny GPT that "
                                  "adds (exercise 5.5's demo).", FULL.grpo_steps,
                                  QUICK.grpo_steps, FIGURE_NAME, steps_help="GRPO updates",
                                  quick_help="2-digit addition, a few updates (a smoke test)")
    parser.add_argument("--shuffle-rewards", action="store_true",
                        help="the control: each reward given to a random completion of the batch")
    args = parse(parser, argv)
    code = rerun_with_one_blas_thread()
    if code is not None:
        return code
    run(steps=args.steps, quick=args.quick, seed=args.seed, figures_dir=args.figures,
        out=args.out, shuffle_rewards=args.shuffle_rewards)
    return 0
