"""The MoE demo: a mixture of experts against a dense model of the same active size, and what
the load-balancing loss does to the routing (given).

Usage:
    python -m demos moe [--steps N] [--quick] [--seed N] [--figures DIR]
    python -m demos moe --target reference      # the same, on the solutions

1. The data are the pretraining demo's (``corpus.py``): the lecture notes, its 512-token BPE,
   the same 90% / 10% split.
2. Three Llama-style models (``moe_model.py``: your ``llama_block``, 5.1) that differ only in
   their MLPs: a dense SwiGLU of width ``k F``; and twice ``moe_layer`` (5.3) with E experts
   of width F, top-k routing, trained with and without Switch's load-balancing loss
   (``load_balancing_loss``, coefficient 0.01). Each token uses as many parameters in the
   MoE as in the dense model (plus the router's C x E), while the MoE holds E / k times the
   MLP parameters. All three start with the same embedding and attention weights; the two
   MoE models start identical.
3. The same updates on the same batches (``get_batch``, ``batch_rng``), AdamW under the
   pretraining demo's schedule; held-out loss during training, and at the end the
   perplexity over every held-out token and the share of held-out tokens each expert of
   each layer receives.

The figure ``moe.png`` (in ``--figures``, default ``runs/moe``) draws the held-out curves and
the experts' shares, with and without the load-balancing loss.
"""

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from implementation.llm.data import get_batch
from implementation.llm.pretrain import EVAL_STREAM, batch_rng, evaluate
from implementation.transformer.optim import AdamW, cosine_schedule
from implementation.transformer.training import format_duration, optimizer_step

from ..blas import blas_threads, rerun_with_one_blas_thread
from ..llm.pretrain_demo import FULL as PRETRAIN_FULL
from ..llm.pretrain_demo import QUICK as PRETRAIN_QUICK
from ..plotting import pyplot, write_png
from ..text import say
from ..training import train
from .cli import parse, training_demo_parser
from .corpus import corpus_split, held_out_perplexity
from .moe_model import MoEConfig, MoELlama

FIGURE_NAME = "moe.png"
RUNS = ("dense", "MoE, no balancing loss", "MoE, balancing loss")


@dataclass(frozen=True)
class DemoConfig:
    """The models' sizes and the training run."""

    n_layer: int = 4
    n_embd: int = 128
    n_head: int = 4
    n_kv_heads: int = 2
    n_experts: int = 8
    top_k: int = 2
    expert_width: int = 128  # the dense MLP is top_k times as wide
    aux_coef: float = 0.01  # Switch Transformer's alpha
    block_size: int = 64
    batch_size: int = 16
    steps: int = 400
    lr: float = 3e-3
    min_lr: float = 3e-4
    warmup: int = 50
    weight_decay: float = 0.1
    max_norm: float = 1.0
    eval_every: int = 100
    eval_batches: int = 20
    progress_every: float = 5.0
    max_chars: int | None = None  # encode only this many characters (--quick)


FULL = DemoConfig()
QUICK = replace(FULL, n_layer=1, n_embd=32, n_head=2, n_kv_heads=1, n_experts=4,
                expert_width=32, block_size=32, batch_size=8, steps=30, lr=1e-2, min_lr=1e-3,
                warmup=5, eval_every=10, eval_batches=2, progress_every=1.0,
                max_chars=100_000)


def model_config(cfg, vocab_size, run):
    """The ``MoEConfig`` of ``run`` (one of ``RUNS``)."""
    shared = {"vocab_size": vocab_size, "n_layer": cfg.n_layer, "n_embd": cfg.n_embd,
              "n_head": cfg.n_head, "n_kv_heads": cfg.n_kv_heads,
              "block_size": cfg.block_size}
    if run == "dense":
        return MoEConfig(**shared, mlp_width=cfg.top_k * cfg.expert_width)
    return MoEConfig(**shared, mlp_width=cfg.expert_width, n_experts=cfg.n_experts,
                     top_k=cfg.top_k, aux_coef=cfg.aux_coef if run == RUNS[2] else 0.0)


def pretrain(model, train_ids, val_ids, cfg, seed):
    """Train on ``batch_rng(seed, s)``'s batches, minimising the cross-entropy plus the
    model's aux loss; returns a ``TrainingLog`` of the cross-entropy."""
    optimizer = AdamW(lr=cfg.lr, betas=(0.9, 0.95), weight_decay=cfg.weight_decay)

    def step(s):
        x, y = get_batch(train_ids, cfg.batch_size, cfg.block_size, batch_rng(seed, s))
        loss = float(model.loss(x, y))  # the language-model loss; backward adds the aux's
        grads = model.backward()
        lr = cosine_schedule(s, cfg.lr, cfg.min_lr, cfg.warmup, cfg.steps)
        optimizer_step(optimizer, model.params, grads, lr, cfg.max_norm)
        return loss, x.size

    def held_out():
        return evaluate(model, val_ids, cfg.batch_size, cfg.block_size, cfg.eval_batches,
                        batch_rng(seed, EVAL_STREAM))

    return train(step, cfg.steps, evaluate=held_out, eval_every=cfg.eval_every,
                 progress_every=cfg.progress_every)


def measure(model, val_ids, block_size):
    """``(loss, perplexity, shares)`` over every held-out token; ``shares`` ``(n_layer, E)``:
    the fraction of held-out tokens routed to each expert (None for the dense model)."""
    routed = []

    def record(n_windows):
        if model.config.n_experts:
            routed.append((n_windows, model.routing()))

    loss, perplexity = held_out_perplexity(model, val_ids, block_size, each=record)
    if not routed:
        return loss, perplexity, None
    weights = np.array([n for n, _ in routed], dtype=np.float64)
    shares = np.tensordot(weights / weights.sum(), np.stack([r for _, r in routed]), axes=1)
    return loss, perplexity, shares


def balance(shares, top_k):
    """Switch's balance of ``shares``, as the load-balancing loss measures it with the
    shares as both f and P: ``E * sum_i f_i^2 / k``, 1 when every expert gets ``k / E`` of
    the tokens, ``E / k`` when the same k experts get them all (per layer)."""
    return shares.shape[1] * (shares * shares).sum(axis=1) / top_k / top_k


def save_figure(logs, results, cfg, path, title):
    """The held-out curves of the three runs, and the experts' shares of both MoE runs."""
    plt = pyplot()

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8), layout="constrained",
                             gridspec_kw={"width_ratios": [1.25, 1, 1]})
    ax = axes[0]
    for k, run in enumerate(RUNS):
        steps, losses = zip(*[(s, m["loss"]) for s, m in logs[run].evals])
        ax.plot(steps, losses, "o-", color=f"C{k}", markersize=4,
                label=f"{run}: perplexity {results[run]['perplexity']:.2f}")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("held-out cross-entropy (nats)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
    top = max(float(results[run]["shares"].max()) for run in RUNS[1:])
    for ax, run in zip(axes[1:], RUNS[1:]):
        shares = results[run]["shares"]
        image = ax.imshow(100 * shares, vmin=0, vmax=100 * top, cmap="viridis", aspect="auto")
        for (i, e), value in np.ndenumerate(shares):
            ax.text(e, i, f"{100 * value:.0f}", ha="center", va="center", fontsize=8,
                    color="white" if value < 0.6 * top else "black")
        ax.set_xticks(range(shares.shape[1]))
        ax.set_yticks(range(shares.shape[0]))
        ax.set_xlabel("expert")
        ax.set_ylabel("layer")
        ax.set_title(f"{run}: % of held-out tokens\nper expert (uniform "
                     f"{100 * cfg.top_k / cfg.n_experts:.0f}%), imbalance "
                     f"{results[run]['balance'].mean():.2f}", fontsize=10)
    fig.colorbar(image, ax=axes[1:].tolist(), shrink=0.9, label="% of tokens")
    fig.suptitle(title, fontsize=11)
    return write_png(fig, path)


def run(steps=None, quick=False, seed=0, figures_dir=None, out="runs/moe"):
    """The demo: the data, three models, three training runs, the figure.

    Returns:
        dict: per run (``RUNS``) ``{"parameters", "active", "loss", "perplexity", "shares",
        "balance", "seconds", "cpu_seconds", "step_ms"}`` (``step_ms``: CPU time per
        update); ``figure``, ``seconds``.
    """
    cfg = QUICK if quick else FULL
    if steps is not None:
        cfg = replace(cfg, steps=steps)
    start = time.perf_counter()
    tokenizer, train_ids, val_ids, summary = corpus_split(
        PRETRAIN_QUICK if quick else PRETRAIN_FULL, cfg.max_chars)
    say(summary)
    V = len(tokenizer.vocab)
    models = {run: MoELlama(model_config(cfg, V, run), seed) for run in RUNS}
    dense, moe = models["dense"], models[RUNS[1]]
    say(f"Models: Llama blocks (5.1), {cfg.n_layer} of width {cfg.n_embd}, {cfg.n_head} "
        f"query and {cfg.n_kv_heads} key/value heads, tied output layer.")
    say(f"  dense: a SwiGLU MLP of width {dense.config.mlp_width}: "
        f"{dense.num_parameters():,} parameters, all of them used by every token.")
    say(f"  MoE: {cfg.n_experts} SwiGLU experts of width {cfg.expert_width}, top-"
        f"{cfg.top_k} routing (5.3): {moe.num_parameters():,} parameters, "
        f"{moe.active_parameters():,} used by a token (the dense model's + the router's "
        f"{cfg.n_layer} x {cfg.n_embd} x {cfg.n_experts}); trained twice, without and with "
        f"the load-balancing loss (coefficient {cfg.aux_coef:g}).")
    x, y = get_batch(train_ids, 2, cfg.block_size, np.random.default_rng([seed, 1, 0]))
    initial = []
    for model in models.values():  # one pass each first: an unfinished exercise fails now
        initial.append(float(model.loss(x, y)))
        model.backward()
    say(f"Loss at initialisation: {', '.join(f'{v:.3f}' for v in initial)} (ln V = "
        f"{np.log(V):.3f}: all start near uniform predictions).")
    say(f"Training: {cfg.steps} updates of {cfg.batch_size} x {cfg.block_size} tokens, the "
        f"same batches for all three; AdamW (peak lr {cfg.lr:g}, cosine to {cfg.min_lr:g} "
        f"after {cfg.warmup} warmup updates, weight decay {cfg.weight_decay:g}), clipping at "
        f"{cfg.max_norm:g}; seed {seed}. BLAS threads: {blas_threads()}.", flush=True)

    logs, results = {}, {}
    for run_name, model in models.items():
        say(f"\n== {run_name} ==", flush=True)
        cpu = time.process_time()
        log = pretrain(model, train_ids, val_ids, cfg, seed)
        cpu = time.process_time() - cpu
        loss, perplexity, shares = measure(model, val_ids, cfg.block_size)
        logs[run_name] = log
        results[run_name] = {"parameters": model.num_parameters(),
                             "active": model.active_parameters(), "loss": loss,
                             "perplexity": perplexity, "shares": shares,
                             "balance": None if shares is None else balance(shares, cfg.top_k),
                             "seconds": log.seconds, "cpu_seconds": cpu,
                             "step_ms": 1000 * cpu / log.steps}
        line = (f"Every held-out token: loss {loss:.4f}, perplexity {perplexity:.2f}; training "
                f"took {format_duration(log.seconds)} ({format_duration(cpu)} of CPU time).")
        if shares is not None:
            line += (" Share of held-out tokens per expert (%), one row per layer (uniform: "
                     f"{100 * cfg.top_k / cfg.n_experts:.0f}):")
        say(line)
        if shares is not None:
            for i, row in enumerate(shares):
                say(f"  layer {i}: " + " ".join(f"{100 * v:3.0f}" for v in row)
                    + f"   imbalance {results[run_name]['balance'][i]:.2f}")

    say(f"\nSummary (same batches, {cfg.steps} updates; perplexity over all "
        f"{len(val_ids):,} held-out tokens; imbalance: 1 = uniform, "
        f"{cfg.n_experts / cfg.top_k:g} = all tokens to the same {cfg.top_k} experts, mean "
        f"over layers):")
    say(f"  {'run':<24}{'parameters':>11}{'active':>9}{'perplexity':>12}{'imbalance':>11}"
        f"{'CPU ms':>8}")
    for run_name in RUNS:
        r = results[run_name]
        imbalance = "" if r["balance"] is None else f"{r['balance'].mean():.2f}"
        say(f"  {run_name:<24}{r['parameters']:>11,}{r['active']:>9,}{r['perplexity']:>12.2f}"
            f"{imbalance:>11}{r['step_ms']:>8.0f}")
    say("(CPU ms: CPU time per update, evaluations included, which the machine's load does "
        "not change.)")
    path = save_figure(logs, results, cfg, Path(figures_dir or out) / FIGURE_NAME,
                       f"Mixture of experts ({cfg.n_experts} experts, top-{cfg.top_k}) vs "
                       f"dense, same active parameters, {cfg.steps} steps, seed {seed}")
    seconds = time.perf_counter() - start
    say(f"\nWrote {path}; {format_duration(seconds)} in all.")
    if quick:
        say("(--quick is a smoke test; the full run, without --quick, takes a few minutes.)")
    return {**results, "figure": str(path), "seconds": seconds}


def main(argv=None):
    parser = training_demo_parser("moe", "A mixture of experts against a dense model with the "
                                  "same active parameters, with and without the "
                                  "load-balancing loss (exercise 5.3's demo).", FULL.steps,
                                  QUICK.steps, FIGURE_NAME)
    args = parse(parser, argv)
    code = rerun_with_one_blas_thread()
    if code is not None:
        return code
    run(steps=args.steps, quick=args.quick, seed=args.seed, figures_dir=args.figures,
        out=args.out)
    return 0
