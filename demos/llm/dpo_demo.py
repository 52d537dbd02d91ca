"""The DPO demo: teach a small GPT a preference with ``dpo_loss`` (given, uses exercise 4.12).

Usage:
    python -m demos dpo [--quick] [--seed N] [--ref-steps N] [--steps N]
                                     [--beta B] [--figures DIR]
    python -m demos dpo --target reference      # the same, on the solutions

The set-up, small enough for a CPU in a minute or two:

1. The language. A sequence is ``p1 p2 p3 p4 | c1 c2 c3 c4``: a prompt of 4 distinct digits,
   a separator, and a completion that is a permutation of the prompt's digits (11 tokens:
   the digits 0-9 and ``|``).
2. The reference model: Module 3's GPT (2 layers, width 64), trained with the ordinary
   next-token loss on completions that are RANDOM permutations. It learns "a permutation of
   the prompt", and every one of the 24 orders is about equally likely under it.
3. Preference pairs: the chosen completion is the prompt's digits in ASCENDING order, the
   rejected one a random other order. Under the reference the policy prefers the chosen one
   in about half of the pairs (chance).
4. DPO: the policy starts as a copy of the reference and is trained with ``dpo_loss`` (4.12)
   on ``sequence_logprob`` (4.12) of the completions; the gradient flows back through
   ``sequence_logprob`` (``sequence_logprob_backward`` below, given) into ``GPT.backward``.
5. On held-out prompts (never trained on) it reports: the preference accuracy (the share of
   pairs with log pi(chosen) > log pi(rejected)), the mean implicit reward margin
   beta [(log pi - log pi_ref)(chosen) - (log pi - log pi_ref)(rejected)], the KL divergence
   KL(pi || pi_ref) of whole completions (Monte Carlo: completions sampled from the policy,
   KL = E[log pi(y) - log pi_ref(y)]), and the shares of those samples that are sorted and
   that are permutations of the prompt at all.

It prints progress lines and draws ``dpo_accuracy.png`` (accuracy and KL against the step)
into ``--figures`` (default ``lectures/04_llm_fundamentals/figures``).
"""

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from implementation.llm.dpo import dpo_loss, dpo_loss_backward, sequence_logprob
from implementation.llm.sampling import sample_next_token
from implementation.transformer.gpt import GPT, GPTConfig
from implementation.transformer.optim import AdamW, clip_grad_norm
from implementation.transformer.training import format_duration

from ..blas import rerun_with_one_blas_thread
from ..plotting import pyplot, write_png
from ..run import parser as demo_parser
from ..text import say

REPO_ROOT = Path(__file__).resolve().parents[2]
FIGURES_DIR = REPO_ROOT / "lectures" / "04_llm_fundamentals" / "figures"
FIGURE_NAME = "dpo_accuracy.png"
SEP = 10  # the separator token; 0-9 are the digits
N_DIGITS = 4  # prompt and completion length
VOCAB = 11


@dataclass(frozen=True)
class DemoConfig:
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    ref_steps: int = 1000  # next-token training of the reference
    ref_lr: float = 3e-3
    ref_batch: int = 64
    steps: int = 60  # DPO updates: enough for 90%+, before the policy drifts far
    lr: float = 1e-4
    batch_pairs: int = 32
    beta: float = 0.1
    max_norm: float = 1.0
    n_train_prompts: int = 2000
    n_eval_prompts: int = 256
    eval_every: int = 5


QUICK = DemoConfig(ref_steps=60, steps=12, n_train_prompts=200, n_eval_prompts=64, eval_every=4)


# ---------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------
def make_prompts(n, rng, exclude=()):
    """n distinct prompts of 4 distinct digits, none in ``exclude`` (a set of tuples)."""
    seen, out = set(exclude), []
    while len(out) < n:
        p = tuple(int(d) for d in rng.choice(10, N_DIGITS, replace=False))
        if p not in seen:
            seen.add(p)
            out.append(p)
    return np.array(out, dtype=np.int64)  # (n, 4)


def random_orders(prompts, rng, avoid_sorted=False):
    """A random permutation of each prompt's digits (not the sorted one if asked)."""
    out = np.array([rng.permutation(p) for p in prompts])
    if avoid_sorted:
        sorted_ = np.sort(prompts, axis=1)
        while np.any(same := np.all(out == sorted_, axis=1)):
            out[same] = [rng.permutation(p) for p in prompts[same]]
    return out


def sequences(prompts, completions):
    """``p | c`` as (B, 9) token ids."""
    sep = np.full((len(prompts), 1), SEP, dtype=np.int64)
    return np.concatenate([prompts, sep, completions], axis=1)


def completion_mask(batch):
    """(B, 8): 1 where the target (the next token) is a completion token."""
    mask = np.zeros((batch, 2 * N_DIGITS), dtype=np.int64)
    mask[:, N_DIGITS:] = 1  # targets s[5:9] are the 4 completion digits
    return mask


def preference_pairs(prompts, rng):
    """(chosen, rejected) sequences: sorted completion vs a random other order."""
    return (sequences(prompts, np.sort(prompts, axis=1)),
            sequences(prompts, random_orders(prompts, rng, avoid_sorted=True)))


# ---------------------------------------------------------------------------------------
# the model side
# ---------------------------------------------------------------------------------------
def completion_logps(model, seqs):
    """log pi(completion | prompt) of each sequence (B,), through the student's 4.12."""
    logits = model.forward(seqs[:, :-1])  # (B, 8, V): logits[:, t] predicts seqs[:, t + 1]
    return sequence_logprob(logits, seqs[:, 1:], completion_mask(len(seqs))), logits


def sequence_logprob_backward(dlogp, logits, tokens, mask):
    """dL/dlogits (B, T, V) from dL/dlogp (B,) for ``sequence_logprob`` (given).

    d log softmax(z)[k] / dz = onehot(k) - softmax(z), for every counted position.
    """
    z = logits - logits.max(axis=-1, keepdims=True)
    probs = np.exp(z)
    probs /= probs.sum(axis=-1, keepdims=True)
    onehot = np.zeros_like(probs)
    np.put_along_axis(onehot, tokens[..., None], 1.0, axis=-1)
    weight = (dlogp[:, None] * mask)[..., None]  # (B, T, 1)
    return (weight * (onehot - probs)).astype(logits.dtype)


def copy_model(model):
    twin = GPT(model.config, rng=np.random.default_rng(0))
    twin.params = {k: v.copy() for k, v in model.params.items()}
    return twin


def train_reference(cfg, prompts, rng, log):
    """Next-token training on random-order completions: the reference model."""
    config = GPTConfig(vocab_size=VOCAB, block_size=2 * N_DIGITS, n_layer=cfg.n_layer,
                       n_head=cfg.n_head, n_embd=cfg.n_embd)
    model = GPT(config, rng=rng)
    opt = AdamW(lr=cfg.ref_lr, weight_decay=0.0)
    for step in range(1, cfg.ref_steps + 1):
        batch = prompts[rng.integers(0, len(prompts), cfg.ref_batch)]
        seqs = sequences(batch, random_orders(batch, rng))
        targets = np.where(completion_mask(len(seqs)) == 1, seqs[:, 1:], -100)
        loss = model.loss(seqs[:, :-1], targets)
        grads = model.backward()
        clip_grad_norm(grads, cfg.max_norm)
        opt.step(model.params, grads)
        if step % max(1, cfg.ref_steps // 6) == 0 or step == cfg.ref_steps:
            log(f"reference step {step:4d}/{cfg.ref_steps}: next-token loss {float(loss):.3f} "
                f"(uniform permutation {np.log(24) / 4:.3f}/token)")
    return model


def sample_completions(model, prompts, rng):
    """Completions sampled token by token from the model (temperature 1, exercise 4.4),
    (B, 4)."""
    seqs = np.concatenate([prompts, np.full((len(prompts), 1), SEP)], axis=1)
    for _ in range(N_DIGITS):
        logits = model.forward(seqs)[:, -1].astype(np.float64)  # (B, V)
        nxt = sample_next_token(logits, rng)  # (B,)
        seqs = np.concatenate([seqs, nxt[:, None]], axis=1)
    return seqs[:, N_DIGITS + 1:]


def evaluate(policy, reference, eval_pairs, eval_prompts, beta, rng):
    chosen, rejected = eval_pairs
    pc, _ = completion_logps(policy, chosen)
    pr, _ = completion_logps(policy, rejected)
    rc, _ = completion_logps(reference, chosen)
    rr, _ = completion_logps(reference, rejected)
    samples = sample_completions(policy, eval_prompts, rng)
    seqs = sequences(eval_prompts, samples)
    kl = np.mean(completion_logps(policy, seqs)[0].astype(np.float64)
                 - completion_logps(reference, seqs)[0])
    return {"accuracy": float(np.mean(pc > pr)),
            "margin": float(np.mean(beta * ((pc - rc) - (pr - rr)))),
            "kl": float(kl),
            "sorted": float(np.mean(np.all(samples == np.sort(eval_prompts, axis=1), axis=1))),
            "valid": float(np.mean(np.all(np.sort(samples, axis=1)
                                          == np.sort(eval_prompts, axis=1), axis=1)))}


def dpo_step(policy, reference, opt, chosen, rejected, cfg):
    """One DPO update on a batch of pairs; returns the loss."""
    both = np.concatenate([chosen, rejected])  # one forward for the 2N sequences
    logp, logits = completion_logps(policy, both)
    ref_logp, _ = completion_logps(reference, both)  # constants: no backward
    n = len(chosen)
    loss, cache = dpo_loss(logp[:n], logp[n:], ref_logp[:n], ref_logp[n:], cfg.beta)
    d_chosen, d_rejected = dpo_loss_backward(1.0, cache)
    dlogp = np.concatenate([d_chosen, d_rejected])
    dlogits = sequence_logprob_backward(dlogp, logits, both[:, 1:], completion_mask(2 * n))
    grads = policy.backward(dlogits)
    clip_grad_norm(grads, cfg.max_norm)
    opt.step(policy.params, grads)
    return float(loss)


def save_figure(history, path, beta):
    plt = pyplot()

    steps = [s for s, _ in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax1.plot(steps, [m["accuracy"] for _, m in history], "o-", color="C0", markersize=3,
             label="preference accuracy")
    ax1.plot(steps, [m["sorted"] for _, m in history], "s-", color="C2", markersize=3,
             label="samples sorted")
    ax1.plot(steps, [m["valid"] for _, m in history], "d-", color="C4", markersize=3,
             label="samples that are permutations")
    ax1.axhline(0.5, color="0.6", linestyle=":", linewidth=1, label="chance")
    ax1.axhline(0.9, color="0.6", linestyle="--", linewidth=1, label="90%")
    ax1.set_ylim(-0.02, 1.02)
    ax1.set_xlabel("DPO step")
    ax1.set_ylabel("held-out prompts")
    ax1.legend(loc="center right", fontsize=8)
    ax2.plot(steps, [m["kl"] for _, m in history], "o-", color="C3", markersize=3,
             label="KL(pi || pi_ref) (nats / completion)")
    ax2.plot(steps, [m["margin"] for _, m in history], "^-", color="C1", markersize=3,
             label=f"implicit reward margin (beta = {beta:g})")
    ax2.set_xlabel("DPO step")
    ax2.legend(loc="upper left", fontsize=8)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.suptitle("DPO on 'sort the digits' preferences (held-out prompts)")
    fig.tight_layout()
    return write_png(fig, path)


def run(quick=False, seed=0, ref_steps=None, steps=None, beta=None, figures_dir=None,
        out=None):
    """Train the reference, then the policy with DPO; returns the evaluation history."""
    out = out or sys.stdout
    cfg = QUICK if quick else DemoConfig()
    overrides = {k: v for k, v in (("ref_steps", ref_steps), ("steps", steps), ("beta", beta))
                 if v is not None}
    cfg = DemoConfig(**{**cfg.__dict__, **overrides})

    def log(line):
        say(line, file=out, flush=True)

    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    train_prompts = make_prompts(cfg.n_train_prompts, rng)
    eval_prompts = make_prompts(cfg.n_eval_prompts, rng, exclude={tuple(p) for p in
                                                                   train_prompts})
    eval_pairs = preference_pairs(eval_prompts, rng)
    log(f"DPO demo: {len(train_prompts)} training prompts, {len(eval_prompts)} held-out; "
        f"beta = {cfg.beta}, seed = {seed}")
    reference = train_reference(cfg, train_prompts, rng, log)
    policy = copy_model(reference)
    opt = AdamW(lr=cfg.lr, weight_decay=0.0)
    eval_rng = np.random.default_rng(seed + 1)
    history = []

    def report(step, loss=None):
        metrics = evaluate(policy, reference, eval_pairs, eval_prompts, cfg.beta, eval_rng)
        history.append((step, metrics))
        loss_text = "" if loss is None else f"loss {loss:.3f}, "
        log(f"DPO step {step:4d}/{cfg.steps}: {loss_text}held-out accuracy "
            f"{metrics['accuracy']:.1%}, margin {metrics['margin']:+.3f},\n"
            f"      KL {metrics['kl']:.3f} nats, samples sorted {metrics['sorted']:.1%} / "
            f"permutations {metrics['valid']:.1%} "
            f"({format_duration(time.perf_counter() - start)})")

    report(0)
    for step in range(1, cfg.steps + 1):
        batch = train_prompts[rng.integers(0, len(train_prompts), cfg.batch_pairs)]
        chosen, rejected = preference_pairs(batch, rng)
        loss = dpo_step(policy, reference, opt, chosen, rejected, cfg)
        if step % cfg.eval_every == 0 or step == cfg.steps:
            report(step, loss)
    first, last = history[0][1], history[-1][1]
    log(f"held-out preference accuracy {first['accuracy']:.1%} -> {last['accuracy']:.1%}; "
        f"implicit reward margin {last['margin']:+.3f}\n"
        f"KL to the reference {last['kl']:.3f} nats per completion\n"
        f"samples sorted {first['sorted']:.1%} -> {last['sorted']:.1%}, "
        f"permutations {first['valid']:.1%} -> {last['valid']:.1%}")
    path = save_figure(history, Path(figures_dir or FIGURES_DIR) / FIGURE_NAME, cfg.beta)
    log(f"figure: {path}")
    return history


def main(argv=None):
    parser = demo_parser("dpo", "DPO on synthetic preference pairs (sorted digits preferred).")
    parser.add_argument("--quick", action="store_true", help="a smoke test of a few seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ref-steps", type=int, help="next-token steps of the reference "
                                                      "(default 1000; 60 with --quick)")
    parser.add_argument("--steps", type=int, help="DPO steps (default 60; 12 with --quick)")
    parser.add_argument("--beta", type=float, help="DPO's beta (default 0.1)")
    parser.add_argument("--figures", metavar="DIR",
                        help=f"where {FIGURE_NAME} goes (default lectures/04_llm_fundamentals/"
                             "figures)")
    args = parser.parse_args(argv)
    code = rerun_with_one_blas_thread()
    if code is not None:
        return code
    run(quick=args.quick, seed=args.seed, ref_steps=args.ref_steps, steps=args.steps,
        beta=args.beta, figures_dir=args.figures)
    return 0
