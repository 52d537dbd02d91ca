"""A Llama and a GPT-2 of the same size, pretrained side by side on the lecture notes (given).

Usage:
    python -m demos llama_vs_gpt [--steps N] [--quick] [--seed N] [--figures DIR]
    python -m demos llama_vs_gpt --target reference      # the same, on the solutions

1. The data are the pretraining demo's (``corpus.py``): the lecture notes, its 512-token BPE,
   the same 90% / 10% split.
2. Two models of the same depth and width: GPT-2 (exercise 3.11: LayerNorm, learned
   positions, GELU MLP, biases, 4 heads) and Llama (exercise 5.1: RMSNorm, RoPE, SwiGLU MLP,
   no biases, grouped-query attention with 4 query and 2 key/value heads). Both tie the
   output layer to the embedding, so the comparison is of the blocks. The Llama MLP's width
   is chosen so that the two parameter counts are as close as the sizes allow.
3. Both are trained for the same updates on the same batches (``get_batch`` with
   ``batch_rng(seed, step)``, 4.2 and 4.3), with the pretraining demo's AdamW, cosine
   schedule and clipping; both are evaluated on the same held-out windows during training,
   and at the end on every held-out token.

The figure ``llama_vs_gpt.png`` (in ``--figures``, default ``runs/llama_vs_gpt``) draws both
loss curves.
"""

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from implementation.llm.data import get_batch
from implementation.llm.pretrain import EVAL_STREAM, batch_rng, evaluate
from implementation.modern.llama import Llama, LlamaConfig
from implementation.transformer.gpt import GPT, GPTConfig
from implementation.transformer.optim import AdamW, cosine_schedule
from implementation.transformer.training import format_duration, optimizer_step

from ..blas import blas_threads, rerun_with_one_blas_thread
from ..llm.pretrain_demo import FULL as PRETRAIN_FULL
from ..llm.pretrain_demo import QUICK as PRETRAIN_QUICK
from ..plotting import pyplot, write_png
from ..text import say
from ..training import smooth, train
from .cli import parse, training_demo_parser
from .corpus import corpus_split, held_out_perplexity

FIGURE_NAME = "llama_vs_gpt.png"
NAMES = ("GPT-2", "Llama")


@dataclass(frozen=True)
class CompareConfig:
    """The two models' shared sizes and the training run (the pretraining demo's recipe)."""

    n_layer: int = 4
    n_embd: int = 128
    n_head: int = 4
    n_kv_heads: int = 2  # Llama's grouped-query attention: 2 query heads per key/value head
    block_size: int = 64
    batch_size: int = 16
    steps: int = 600
    lr: float = 3e-3
    min_lr: float = 3e-4
    warmup: int = 50
    weight_decay: float = 0.1
    max_norm: float = 1.0
    eval_every: int = 100
    eval_batches: int = 20
    progress_every: float = 5.0
    max_chars: int | None = None  # encode only this many characters (--quick)


FULL = CompareConfig()
QUICK = replace(FULL, n_layer=1, n_embd=32, n_head=2, n_kv_heads=1, block_size=32,
                batch_size=8, steps=30, lr=1e-2, min_lr=1e-3, warmup=5, eval_every=10,
                eval_batches=2, progress_every=1.0, max_chars=100_000)


def llama_parameters(vocab_size, n_layer, C, n_head, n_kv_heads, F):
    """The parameters of a tied Llama: the table, per block q, k, v, o, the three SwiGLU
    matrices and two RMSNorm weights, and the final RMSNorm."""
    D = C // n_head
    block = C * n_head * D + 2 * C * n_kv_heads * D + n_head * D * C + 3 * C * F + 2 * C
    return vocab_size * C + n_layer * block + C


def matching_llama(gpt_config, cfg):
    """The tied ``LlamaConfig`` of ``gpt_config``'s depth, width and context whose SwiGLU
    width F makes its parameter count closest to the GPT's."""
    target = GPT(gpt_config, np.random.default_rng(0)).num_parameters()
    args = (gpt_config.vocab_size, cfg.n_layer, cfg.n_embd, cfg.n_head, cfg.n_kv_heads)
    F = min(range(1, 16 * cfg.n_embd),
            key=lambda f: abs(llama_parameters(*args, f) - target))
    return LlamaConfig(vocab_size=gpt_config.vocab_size, hidden_size=cfg.n_embd,
                       intermediate_size=F, num_hidden_layers=cfg.n_layer,
                       num_attention_heads=cfg.n_head, num_key_value_heads=cfg.n_kv_heads,
                       max_position_embeddings=cfg.block_size, tie_word_embeddings=True)


def pretrain(model, train_ids, val_ids, cfg, seed):
    """Train ``model`` on ``batch_rng(seed, s)``'s batches; returns a ``TrainingLog``."""
    optimizer = AdamW(lr=cfg.lr, betas=(0.9, 0.95), weight_decay=cfg.weight_decay)

    def step(s):
        x, y = get_batch(train_ids, cfg.batch_size, cfg.block_size, batch_rng(seed, s))
        loss = float(model.loss(x, y))
        grads = model.backward()
        lr = cosine_schedule(s, cfg.lr, cfg.min_lr, cfg.warmup, cfg.steps)
        optimizer_step(optimizer, model.params, grads, lr, cfg.max_norm)
        return loss, x.size

    def held_out():  # the same windows at every evaluation, for both models
        return evaluate(model, val_ids, cfg.batch_size, cfg.block_size, cfg.eval_batches,
                        batch_rng(seed, EVAL_STREAM))

    return train(step, cfg.steps, evaluate=held_out, eval_every=cfg.eval_every,
                 progress_every=cfg.progress_every)


def save_figure(logs, results, path, title):
    """Both models' training loss (smoothed) and held-out loss against the step."""
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    for k, name in enumerate(NAMES):
        log, r = logs[name], results[name]
        steps = np.arange(1, log.steps + 1)
        ax.plot(steps, smooth(log.losses), color=f"C{k}", linewidth=1.6,
                label=f"{name} ({r['parameters']:,} parameters), training (smoothed)")
        held = [(s, m["loss"]) for s, m in log.evals]
        ax.plot(*zip(*held), "o--", color=f"C{k}", markersize=4,
                label=f"{name}, held-out: final perplexity {r['perplexity']:.1f}")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy per token (nats)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return write_png(fig, path)


def run(steps=None, quick=False, seed=0, figures_dir=None, out="runs/llama_vs_gpt"):
    """The demo: the data, the two models, two training runs, the figure.

    Returns:
        dict: per model (``NAMES``) ``{"parameters", "loss", "perplexity", "seconds",
        "cpu_seconds", "step_ms", "first_loss"}`` (``loss``, ``perplexity``: over every
        held-out token; ``step_ms``: CPU time per update); ``config`` (the Llama's
        ``LlamaConfig``), ``figure``, ``seconds``.
    """
    cfg = QUICK if quick else FULL
    if steps is not None:
        cfg = replace(cfg, steps=steps)
    start = time.perf_counter()
    data_cfg = PRETRAIN_QUICK if quick else PRETRAIN_FULL
    tokenizer, train_ids, val_ids, summary = corpus_split(data_cfg, cfg.max_chars)
    say(summary)
    V = len(tokenizer.vocab)
    gpt_config = GPTConfig(vocab_size=V, block_size=cfg.block_size, n_layer=cfg.n_layer,
                           n_head=cfg.n_head, n_embd=cfg.n_embd)
    llama_config = matching_llama(gpt_config, cfg)
    models = {"GPT-2": GPT(gpt_config, np.random.default_rng([seed, 0])),
              "Llama": Llama(llama_config, np.random.default_rng([seed, 0]))}
    counts = {name: model.num_parameters() for name, model in models.items()}
    blocks = f"{cfg.n_layer} block{'s' * (cfg.n_layer != 1)}"
    say(f"GPT-2: {blocks} of width {cfg.n_embd}, {cfg.n_head} heads, MLP "
        f"{4 * cfg.n_embd}, LayerNorm, learned positions, biases: {counts['GPT-2']:,} "
        f"parameters.")
    say(f"Llama: {blocks} of width {cfg.n_embd}, {cfg.n_head} query and "
        f"{cfg.n_kv_heads} key/value heads, SwiGLU {llama_config.intermediate_size} (chosen "
        f"to match), RMSNorm, RoPE, no biases: {counts['Llama']:,} parameters "
        f"({counts['Llama'] - counts['GPT-2']:+,}). Both tie the output layer.")
    x, y = get_batch(train_ids, 2, cfg.block_size, np.random.default_rng([seed, 1, 0]))
    initial = {}
    for name, model in models.items():  # one pass each first: an unfinished exercise fails now
        initial[name] = float(model.loss(x, y))
        model.backward()
    say(f"Loss at initialisation: GPT-2 {initial['GPT-2']:.3f}, Llama {initial['Llama']:.3f} "
        f"(ln V = {np.log(V):.3f}: both start near uniform predictions).")
    say(f"Training: {cfg.steps} updates of {cfg.batch_size} x {cfg.block_size} tokens, the "
        f"same batches for both; AdamW (peak lr {cfg.lr:g}, cosine to {cfg.min_lr:g} after "
        f"{cfg.warmup} warmup updates, weight decay {cfg.weight_decay:g}), clipping at "
        f"{cfg.max_norm:g}; seed {seed}. BLAS threads: {blas_threads()}.", flush=True)

    logs, results = {}, {}
    for name, model in models.items():
        say(f"\n== {name} ==", flush=True)
        cpu = time.process_time()
        log = pretrain(model, train_ids, val_ids, cfg, seed)
        cpu = time.process_time() - cpu
        loss, perplexity = held_out_perplexity(model, val_ids, cfg.block_size)
        logs[name] = log
        results[name] = {"parameters": counts[name], "loss": loss, "perplexity": perplexity,
                         "first_loss": log.evals[0][1]["loss"], "seconds": log.seconds,
                         "cpu_seconds": cpu, "step_ms": 1000 * cpu / log.steps}
        say(f"Every held-out token: loss {loss:.4f}, perplexity {perplexity:.2f}; training "
            f"took {format_duration(log.seconds)} ({format_duration(cpu)} of CPU time).",
            flush=True)

    say(f"\nSummary (same batches, {cfg.steps} updates; held-out perplexity over all "
        f"{len(val_ids):,} held-out tokens):")
    say(f"  {'model':<8}{'parameters':>12}{'held-out loss':>15}{'perplexity':>12}"
        f"{'CPU ms/step':>13}")
    for name in NAMES:
        r = results[name]
        say(f"  {name:<8}{r['parameters']:>12,}{r['loss']:>15.4f}{r['perplexity']:>12.2f}"
            f"{r['step_ms']:>13.0f}")
    say("(CPU time per update, evaluations included: the machine's load does not change it, "
        "as it changes the wall time.)")
    path = save_figure(logs, results, Path(figures_dir or out) / FIGURE_NAME,
                       f"Llama vs GPT-2 of the same size on the lecture notes, "
                       f"{cfg.steps} steps, seed {seed}")
    seconds = time.perf_counter() - start
    say(f"\nWrote {path}; {format_duration(seconds)} in all.")
    if quick:
        say("(--quick is a smoke test; the full run, without --quick, takes a few minutes.)")
    return {**results, "config": llama_config, "figure": str(path), "seconds": seconds}


def main(argv=None):
    parser = training_demo_parser("llama_vs_gpt", "Pretrain a Llama and a GPT-2 of the same "
                                  "size on the lecture notes, side by side (exercise 5.1's "
                                  "demo).", FULL.steps, QUICK.steps, FIGURE_NAME)
    args = parse(parser, argv)
    code = rerun_with_one_blas_thread()
    if code is not None:
        return code
    run(steps=args.steps, quick=args.quick, seed=args.seed, figures_dir=args.figures,
        out=args.out)
    return 0
