"""The encoder-decoder demo: a small Transformer learns to reverse digit strings, from this
Module 3's functions only.

Usage:
    python -m demos transformer --seq2seq [--quick] [--figures DIR] [--seed N]   # your code
    python -m demos transformer --seq2seq --target reference                     # solutions

The task is ``tasks.ReverseDigits``: the source is a string of 8 digits, the target the same
digits in reverse order. The target vocabulary adds BOS and EOS to the ten digits; with
teacher forcing (lecture, §11.3) the decoder reads BOS and the answer, and learns to
predict the answer and EOS::

    source   3 1 4 1 5 9 2 6
    tgt      BOS 6 2 9 5 1 4 1 3          (decoder input)
    labels   6 2 9 5 1 4 1 3 EOS          (what each position must predict)

One thousand of the hundred million strings are held out before training and never drawn for
a batch. The model is the paper's post-norm encoder-decoder with one shared, tied table,
trained with ``Transformer.loss`` (cross-entropy with label smoothing 0.1, exercise 3.8),
``Transformer.backward``, ``clip_grad_norm`` and ``AdamW`` under the Noam schedule
(exercise 3.10), then scored by exact match of ``Transformer.greedy_decode``: all eight
digits and the EOS after them.

Everything comes from the implementation the demo runs on, so ``python -m demos transformer
--seq2seq`` trains *your* Transformer with *your* optimiser.
"""

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from implementation.transformer.optim import AdamW, noam_schedule
from implementation.transformer.seq2seq import Transformer, TransformerConfig
from implementation.transformer.training import format_duration, optimizer_step

from ..blas import blas_threads
from ..text import say
from ..training import save_loss_curve, train
from .tasks import ReverseDigits, Split

FIGURE_NAME = "seq2seq_loss.png"


@dataclass(frozen=True)
class DemoConfig:
    """The task, the model and the training run of the demo."""

    n_digits: int = 8  # the task: reverse n-digit strings
    n_layers: int = 2  # encoder layers, and as many decoder layers
    n_heads: int = 4
    d_model: int = 64  # C
    d_ff: int = 128
    norm_first: bool = False  # the paper's post-norm layers: what the warmup is for
    label_smoothing: float = 0.1
    batch_size: int = 64  # strings per step
    steps: int = 1500
    noam_factor: float = 0.5  # lr = factor * noam_schedule(step, d_model, warmup)
    warmup: int = 200
    max_norm: float = 1.0  # gradient clipping
    n_held_out: int = 1000  # strings never trained on
    eval_every: int = 100
    progress_every: float = 3.0  # seconds between progress lines

    def task(self):
        return ReverseDigits(self.n_digits)

    def model_config(self):
        task = self.task()
        vocab = task.vocab_size + 2  # the digits, then BOS and EOS
        return TransformerConfig(
            src_vocab_size=vocab, tgt_vocab_size=vocab, d_model=self.d_model,
            n_heads=self.n_heads, d_ff=self.d_ff, n_layers=self.n_layers,
            max_len=task.answer_len + 1, dropout=0.0, norm_first=self.norm_first,
            tie_head=True, share_embeddings=True)


FULL = DemoConfig()
QUICK = replace(FULL, steps=100, n_held_out=100, eval_every=50, progress_every=1.0)


def special_tokens(task):
    """``(BOS, EOS)``: the two ids after the task's own vocabulary."""
    return task.vocab_size, task.vocab_size + 1


def teacher_forcing(answers, bos, eos):
    """The decoder's input and labels for ``answers`` ``(B, A)``: ``tgt = BOS + answer``,
    ``labels = answer + EOS``, both ``(B, A + 1)`` int64."""
    n = answers.shape[0]
    tgt = np.concatenate([np.full((n, 1), bos), answers], axis=1).astype(np.int64)
    labels = np.concatenate([answers, np.full((n, 1), eos)], axis=1).astype(np.int64)
    return tgt, labels


def evaluate(model, prompts, answers, bos, eos):
    """Held-out loss (per token, no smoothing) and exact-match accuracy of greedy decoding."""
    tgt, labels = teacher_forcing(answers, bos, eos)
    loss = float(model.loss(prompts, tgt, labels))
    written = model.greedy_decode(prompts, labels.shape[1], bos, eos)
    padded = np.full(labels.shape, -1)  # greedy_decode may stop early: compare in full
    padded[:, :written.shape[1]] = written
    correct = (padded == labels).all(axis=1)
    return {"loss": loss, "accuracy": float(correct.mean())}, padded, correct


def train_seq2seq(cfg, seed=0, out=None):
    """Train a Transformer on ``cfg``'s task; returns ``(model, split, log)``.

    The seed fixes everything: the initial weights, the held-out strings, the batches.
    """
    task = cfg.task()
    bos, eos = special_tokens(task)
    model = Transformer(cfg.model_config(), np.random.default_rng([seed, 0]))
    split = Split(task, cfg.n_held_out, np.random.default_rng([seed, 1]))
    data_rng = np.random.default_rng([seed, 2])
    optimizer = AdamW(lr=0.0, betas=(0.9, 0.98), eps=1e-9, weight_decay=0.0)  # the paper's

    def step_fn(step):
        prompts, answers = split.training_batch(data_rng, cfg.batch_size)
        tgt, labels = teacher_forcing(answers, bos, eos)
        loss = model.loss(prompts, tgt, labels, label_smoothing=cfg.label_smoothing)
        grads = model.backward()
        lr = cfg.noam_factor * noam_schedule(step + 1, cfg.d_model, cfg.warmup)  # from step 1
        optimizer_step(optimizer, model.params, grads, lr, cfg.max_norm)
        return loss, prompts.size + tgt.size

    held_prompts, held_answers = split.held_out
    log = train(step_fn, cfg.steps,
                evaluate=lambda: evaluate(model, held_prompts, held_answers, bos, eos)[0],
                eval_every=cfg.eval_every, progress_every=cfg.progress_every, out=out)
    return model, split, log


def run(quick=False, seed=0, figures_dir=None):
    """The demo: train, evaluate on the held-out strings, print examples, draw the curve.

    Args:
        quick: a short run (a smoke test: expect a low accuracy).
        seed: seeds the weights, the held-out set and the batches.
        figures_dir: where ``seq2seq_loss.png`` goes (``build/figures`` when None).

    Returns:
        dict of the results: ``accuracy``, ``held_out_loss``, ``train_loss``, ``seconds``,
        ``steps``, ``parameters``, ``n_held_out``, ``figure``.
    """
    cfg = QUICK if quick else FULL
    task = cfg.task()
    bos, eos = special_tokens(task)
    model_cfg = cfg.model_config()
    n_params = Transformer(model_cfg, np.random.default_rng(0)).num_parameters()
    say(f"Task: {task.description}: {task.n_problems:,} strings, {cfg.n_held_out} held out.")
    say(f"Model: encoder-decoder Transformer, {model_cfg.n_layers} + {model_cfg.n_layers} "
          f"{'pre' if model_cfg.norm_first else 'post'}-norm layers, d_model="
          f"{model_cfg.d_model}, {model_cfg.n_heads} heads, d_ff={model_cfg.d_ff}, one shared "
          f"and tied table of {model_cfg.tgt_vocab_size} tokens: {n_params:,} parameters, "
          f"{model_cfg.dtype}.")
    say(f"Training: {cfg.steps} steps of {cfg.batch_size} strings, AdamW under the Noam "
          f"schedule (factor {cfg.noam_factor:g}, warmup {cfg.warmup}), label smoothing "
          f"{cfg.label_smoothing:g}, clipping at {cfg.max_norm:g}; seed {seed}"
          f"{' (--quick)' if quick else ''}.")
    say(f"BLAS threads: {blas_threads()}.", flush=True)
    start = time.perf_counter()
    model, split, log = train_seq2seq(cfg, seed)
    metrics, written, correct = evaluate(model, *split.held_out, bos, eos)
    seconds = time.perf_counter() - start

    prompts, answers = split.held_out
    say("\nHeld-out examples (greedy_decode):")
    shown = list(range(5)) + [int(i) for i in np.flatnonzero(~correct)[:3] if i >= 5]
    for i in shown:
        wrote = " ".join("BOS" if t == bos else "EOS" if t == eos else "-" if t < 0 else str(t)
                         for t in written[i])
        mark = "ok" if correct[i] else f"wrong, it wrote {wrote}"
        say(f"  {task.format(prompts[i], answers[i])}   {mark}")
    path = save_loss_curve(
        log, Path(figures_dir or "build/figures") / FIGURE_NAME,
        title=f"Encoder-decoder ({n_params:,} parameters) learning to {task.description}, "
              f"seed {seed}")
    n_right = int(correct.sum())
    say(f"\nFinal training loss {log.recent_loss():.4f} (mean of the last 50 steps, label "
          f"smoothing included), held-out loss {metrics['loss']:.4f}; wall time "
          f"{format_duration(seconds)} ({log.tokens / seconds:,.0f} tokens/s overall).")
    verdict = (f"Your Transformer learned to {task.description}" if metrics["accuracy"] >= 0.99
               else "Your Transformer")
    say(f"{verdict}: {100 * metrics['accuracy']:.1f}% of {len(correct)} held-out strings "
          f"exactly right ({n_right}/{len(correct)}).")
    if quick:
        say("(--quick is a smoke test; the full run, without --quick, reaches 99%.)")
    say(f"Wrote {path}")
    return {"accuracy": metrics["accuracy"], "held_out_loss": metrics["loss"],
            "train_loss": log.recent_loss(), "seconds": seconds, "steps": log.steps,
            "parameters": n_params, "n_held_out": len(correct), "figure": str(path)}
