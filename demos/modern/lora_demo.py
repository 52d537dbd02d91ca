"""The LoRA demo: low-rank adapters against full fine-tuning of the pretrained demo GPT (given).

Usage:
    python -m demos lora [--pretrained DIR] [--steps N] [--rank R] [--quick] [--seed N]
                         [--figures DIR]
    python -m demos lora --target reference     # the same, on the solutions

1. The base model is the pretraining demo's GPT (``runs/pretrain``, pretrained into first if
   missing, a few minutes), with the SFT demo's four special tokens; ``--quick`` pretrains a
   tiny one in memory instead. The task is the SFT demo's: short instructions on letter
   strings, the loss on the assistant's tokens only, held-out letter strings.
2. Two fine-tunings of that base with the same batches and steps: every weight (the SFT
   demo's run, ``sft_demo.fine_tune``), and LoRA (exercise 5.2): rank-``r`` adapters on the
   four Conv1D layers of every block (``attn.c_attn``, ``attn.c_proj``, ``mlp.c_fc``,
   ``mlp.c_proj``), ``alpha = 2 r``, plus the four new embedding rows; everything else
   frozen. LoRA gets its usual larger learning rate (the adapters start at zero and are few).
3. The LoRA model runs your ``lora_linear`` and ``lora_linear_backward`` inside GPT-2's block
   (``lora_gpt.py`` says why that route and not the GPT's own backward on merged weights);
   a check compares the two routes' gradients on one batch, and ``merge_lora`` folds the
   adapters into a plain GPT for the answers.

Both are measured the same way: trainable parameters (and the AdamW state they need), the
held-out loss on the assistant's tokens, the exact match of greedy answers, the wall time.
The figure ``lora.png`` (in ``--figures``, default ``runs/lora``) draws both held-out curves.
"""

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from implementation.llm.sft import END
from implementation.transformer.optim import AdamW, cosine_schedule
from implementation.transformer.training import format_duration, optimizer_step

from ..blas import blas_threads, rerun_with_one_blas_thread
from ..llm.sft_demo import FULL as SFT_FULL
from ..llm.sft_demo import QUICK as SFT_QUICK
from ..llm.sft_demo import (
    VARIANTS,
    assistant_loss,
    base_model,
    encode_all,
    exact_match,
    fine_tune,
    make_data,
    pad_batch,
)
from ..plotting import pyplot, write_png
from ..text import say
from ..training import train
from .cli import parse, training_demo_parser
from .lora_gpt import LAYERS, LoRAGPT, gradient_check

FIGURE_NAME = "lora.png"
METHODS = ("full fine-tuning", "LoRA")


@dataclass(frozen=True)
class LoRAConfig:
    """The adapters and LoRA's learning rate; the rest is the SFT demo's ``SFTConfig``."""

    rank: int = 8
    alpha_per_rank: float = 2.0  # alpha = 2 r: the scale alpha / r is 2 at any rank
    lr: float = 5e-3
    min_lr: float = 5e-4


def lora_model(base, lora, n_new, seed):
    """The ``LoRAGPT`` of ``base``: adapters of rank ``lora.rank`` and the ``n_new`` rows."""
    return LoRAGPT(base, lora.rank, lora.alpha_per_rank * lora.rank,
                   np.random.default_rng([seed, 30]), n_new_rows=n_new)


def fine_tune_lora(model, encoded, val_encoded, cfg, lora, seed, pad_id):
    """Train the ``LoRAGPT`` ``model`` with the batches of ``sft_demo.fine_tune``; returns
    the ``TrainingLog``."""
    optimizer = AdamW(lr=lora.lr, betas=(0.9, 0.95), weight_decay=cfg.weight_decay)

    def step(s):
        rng = np.random.default_rng([seed, 20, s])  # sft_demo.fine_tune's batches
        rows = [encoded[i] for i in rng.integers(len(encoded), size=cfg.batch_size)]
        x, y = pad_batch([(r[0], r[1]) for r in rows], pad_id)
        loss = float(model.loss(x, y))
        grads = model.backward()
        lr = cosine_schedule(s, lora.lr, lora.min_lr, cfg.warmup, cfg.steps)
        optimizer_step(optimizer, model.params, grads, lr, cfg.max_norm)
        return loss, x.size

    def evaluate():
        return {"loss": assistant_loss(model, val_encoded, pad_id)}

    return train(step, cfg.steps, evaluate=evaluate, eval_every=cfg.eval_every,
                 progress_every=cfg.progress_every)


def save_figure(logs, results, path, title):
    """The held-out assistant-token loss of both methods against the step."""
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    for k, method in enumerate(METHODS):
        r = results[method]
        steps, losses = zip(*[(s, m["loss"]) for s, m in logs[method].evals])
        ax.plot(steps, losses, "o-", color=f"C{k}", markersize=4,
                label=f"{method}: {r['trainable']:,} trainable, exact match "
                      f"{100 * r['exact_match']:.0f}%, CPU {format_duration(r['cpu_seconds'])}")
    ax.set_yscale("log")
    ax.set_xlabel("fine-tuning step")
    ax.set_ylabel("held-out loss on the assistant's tokens (nats)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return write_png(fig, path)


def run(pretrained="runs/pretrain", steps=None, rank=None, quick=False, seed=0,
        figures_dir=None, out="runs/lora"):
    """The demo: full fine-tuning and LoRA from the same base, batches and steps.

    Returns:
        dict: per method (``METHODS``) ``{"trainable", "exact_match", "per_task",
        "val_loss", "first_val_loss", "seconds", "cpu_seconds", "step_ms"}`` (``step_ms``:
        CPU time per update, evaluations included); ``"check"`` (the largest
        relative gradient difference of the two LoRA routes, and the logits difference of
        the merged GPT), ``"total"`` (the base's parameters), ``figure``, ``seconds``.
    """
    cfg = SFT_QUICK if quick else SFT_FULL
    if steps is not None:
        cfg = replace(cfg, steps=steps)
    lora = LoRAConfig() if rank is None else LoRAConfig(rank=rank)
    start = time.perf_counter()
    base, tokenizer, source, old_v = base_model(pretrained, quick, seed)
    n_new = base.config.vocab_size - old_v
    pad_id = tokenizer.special_ids[END]
    total = base.num_parameters()
    say(f"Base model: {source}, {total:,} parameters (n_layer={base.config.n_layer}, "
        f"n_embd={base.config.n_embd}); vocabulary {old_v} -> {base.config.vocab_size} with "
        f"the chat template's special tokens.")
    train_conv, val_conv = make_data(cfg, seed)
    encoded, val_encoded = encode_all(train_conv, tokenizer), encode_all(val_conv, tokenizer)
    say(f"Task: the SFT demo's, {len(train_conv)} training and {len(val_conv)} held-out "
        f"instructions, the loss on the assistant's tokens only; {cfg.steps} updates of "
        f"{cfg.batch_size} conversations per method, the same batches. Seed {seed}; BLAS "
        f"threads: {blas_threads()}.", flush=True)

    # 5.2 runs first, so that an unfinished exercise fails before the full fine-tuning
    adapted = lora_model(base, lora, n_new, seed)
    x, y = pad_batch([(e[0], e[1]) for e in encoded[:2]], pad_id)
    same = float(np.abs(adapted.forward(x) - base.forward(x)).max())
    adapted.loss(x, y)
    adapted.backward()
    say(f"LoRA with B = 0 computes the base model: logits within {same:.1e}.")

    results, logs = {}, {}
    for method in METHODS:
        tic, cpu = time.perf_counter(), time.process_time()
        if method == "LoRA":
            scale = lora.alpha_per_rank
            say(f"\n== LoRA: rank {lora.rank}, alpha {lora.alpha_per_rank * lora.rank:g} "
                f"(scale {scale:g}) on {', '.join(LAYERS)} of every block, and the "
                f"{n_new} new embedding rows; AdamW, peak lr {lora.lr:g} "
                f"(cosine to {lora.min_lr:g}) ==", flush=True)
            model = adapted
            log = fine_tune_lora(model, encoded, val_encoded, cfg, lora, seed, pad_id)
            trainable = model.num_parameters()
            answering = model.merged()  # merge_lora: a plain GPT, the frozen model's cost
        else:
            say(f"\n== Full fine-tuning: every weight; AdamW, peak lr {cfg.lr:g} (cosine to "
                f"{cfg.min_lr:g}) ==", flush=True)
            model, log = fine_tune(base, encoded, val_encoded, cfg, VARIANTS[0], seed, pad_id)
            trainable = model.num_parameters()
            answering = model
        seconds, cpu = time.perf_counter() - tic, time.process_time() - cpu
        acc, per_task = exact_match(answering, val_conv, tokenizer, cfg.max_new, pad_id)
        logs[method] = log
        results[method] = {"trainable": trainable, "exact_match": acc, "per_task": per_task,
                           "val_loss": log.evals[-1][1]["loss"],
                           "first_val_loss": log.evals[0][1]["loss"], "seconds": seconds,
                           "cpu_seconds": cpu, "step_ms": 1000 * cpu / log.steps}
        say(f"Held-out exact match {100 * acc:.1f}% ("
            + ", ".join(f"{t} {100 * a:.0f}%" for t, a in per_task.items())
            + f"); held-out loss {results[method]['val_loss']:.4f}; "
            f"{format_duration(seconds)} ({format_duration(cpu)} of CPU time).", flush=True)

    rows = [encoded[i] for i in np.random.default_rng([seed, 40]).integers(len(encoded),
                                                                           size=cfg.batch_size)]
    x, y = pad_batch([(r[0], r[1]) for r in rows], pad_id)
    worst, _ = gradient_check(adapted, x, y)
    merged_diff = float(np.abs(adapted.merged().forward(x) - adapted.forward(x)).max())
    say(f"\nCheck, on a training batch after fine-tuning: the adapters' gradients from "
        f"lora_linear_backward against s G B^T and s A^T G from the merged GPT's weight "
        f"gradients G (GPT.backward): largest relative difference {worst:.1e}; merge_lora's "
        f"GPT against the adapters: logits within {merged_diff:.1e}.")

    say(f"\nSummary (same base model, batches and steps; {total:,} parameters in all):")
    say(f"  {'method':<17}{'trainable':>10}{'AdamW state':>12}{'exact match':>12}"
        f"{'held-out loss':>14}{'wall':>6}{'CPU':>6}")
    for method in METHODS:
        r = results[method]
        state_mb = 2 * r["trainable"] * 4 / 1e6  # two float32 moments per trained scalar
        say(f"  {method:<17}{r['trainable']:>10,}{state_mb:>9.2f} MB"
            f"{100 * r['exact_match']:>11.1f}%{r['val_loss']:>14.4f}"
            f"{format_duration(r['seconds']):>6}{format_duration(r['cpu_seconds']):>6}")
    full, low = results["full fine-tuning"], results["LoRA"]
    say(f"LoRA trains {100 * low['trainable'] / total:.1f}% of the parameters and keeps "
        f"{full['trainable'] / low['trainable']:.0f}x less optimiser state. An update costs "
        f"{low['step_ms']:.0f} ms of CPU time against {full['step_ms']:.0f} ms (evaluations "
        f"included): no weight gradient of a frozen matrix, but every frozen product of the "
        f"forward and of dx still runs, and the adapters add their own.")
    path = save_figure(logs, results, Path(figures_dir or out) / FIGURE_NAME,
                       f"LoRA (rank {lora.rank}) vs full fine-tuning of the demo GPT, "
                       f"{cfg.steps} steps, seed {seed}")
    seconds = time.perf_counter() - start
    say(f"\nWrote {path}; {format_duration(seconds)} in all.")
    if quick:
        say("(--quick is a smoke test; the full run, without --quick, takes a few minutes.)")
    return {**results, "check": (worst, merged_diff), "total": total, "figure": str(path),
            "seconds": seconds}


def main(argv=None):
    parser = training_demo_parser("lora", "LoRA against full fine-tuning of the pretrained "
                                  "demo GPT on the SFT task (exercise 5.2's demo).",
                                  SFT_FULL.steps, SFT_QUICK.steps, FIGURE_NAME,
                                  steps_help="fine-tuning updates per method",
                                  quick_help="pretrain a tiny base model and fine-tune "
                                             "briefly (a smoke test)")
    parser.add_argument("--pretrained", metavar="DIR", default="runs/pretrain",
                        help="the pretraining demo's output (default runs/pretrain; pretrained "
                             "into first if it has no checkpoint)")
    parser.add_argument("--rank", type=int, help="the adapters' rank (default 8)")
    args = parse(parser, argv)
    code = rerun_with_one_blas_thread()
    if code is not None:
        return code
    run(pretrained=args.pretrained, steps=args.steps, rank=args.rank, quick=args.quick,
        seed=args.seed, figures_dir=args.figures, out=args.out)
    return 0
