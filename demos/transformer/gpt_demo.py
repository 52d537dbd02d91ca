"""The GPT demo: a small GPT learns to sort, from Module 3's functions only.

Usage:
    python -m demos transformer --gpt [--quick] [--figures DIR] [--seed N]   # your code
    python -m demos transformer --gpt --target reference                     # the solutions

The task is minGPT's sorting demo, larger (``tasks.SortDigits``): the prompt is a string of
10 digits, the answer the same digits in ascending order::

    7039318053:  model input  7 0 3 9 3 1 8 0 5 3 | 0 0 1 3 3 3 5 7 8
                 targets      - - - - - - - - - 0   0 1 3 3 3 5 7 8 9     (-: ignored, -100)

One thousand strings are held out before training, and with them every rearrangement of
them (the strings with the same answer): no batch ever contains one. The model is trained
with ``GPT.loss`` (the cross-entropy of exercise 3.8 with ``ignore_index=-100``: only the
answer counts), ``GPT.backward``, ``clip_grad_norm`` and ``AdamW`` under ``cosine_schedule``
(exercise 3.10). It is then scored by exact match: the answer it writes greedily
(``greedy_generate``: run the model on the prompt, append the argmax of the last position,
repeat) must equal the sorted string in all ten digits.

Everything comes from the implementation the demo runs on (``from implementation.transformer
.gpt import GPT``), so ``python -m demos transformer --gpt`` trains *your* GPT with *your*
optimiser.

While designing the demo we also tried minGPT's other task, adding two 3-digit numbers (sum
written least significant digit first). It reaches 100% too, but only after a plateau near
0.6 nats per answer token (about 10% exact match: the carries are not learned yet) whose
length varies from seed to seed: with 2000 steps of 128 sums, one seed in six was still at
84%. Sorting improves steadily and ended at 100% for every seed we ran (lecture, 13.6).
"""

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from implementation.transformer.cross_entropy import cross_entropy
from implementation.transformer.gpt import GPT, GPTConfig, gpt_param_shapes
from implementation.transformer.optim import AdamW, cosine_schedule
from implementation.transformer.training import format_duration, optimizer_step

from ..blas import blas_threads
from ..text import say
from ..training import save_loss_curve, train
from .tasks import IGNORE, SortDigits, Split, lm_batch

FIGURE_NAME = "gpt_loss.png"


@dataclass(frozen=True)
class DemoConfig:
    """The task, the model and the training run of the demo."""

    n_digits: int = 10  # the task: sort strings of n_digits digits ...
    n_symbols: int = 10  # ... out of n_symbols (the vocabulary)
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64  # C (head width C / n_head)
    batch_size: int = 64  # problems per step
    steps: int = 1500
    lr: float = 3e-3  # peak of the cosine schedule
    min_lr: float = 3e-4
    warmup: int = 100
    weight_decay: float = 0.0
    max_norm: float = 1.0  # gradient clipping
    n_held_out: int = 1000  # problems never trained on
    eval_every: int = 100
    progress_every: float = 3.0  # seconds between progress lines

    def task(self):
        return SortDigits(self.n_digits, self.n_symbols)

    def gpt_config(self):
        task = self.task()
        return GPTConfig(vocab_size=task.vocab_size,
                         block_size=task.prompt_len + task.answer_len - 1,
                         n_layer=self.n_layer, n_head=self.n_head, n_embd=self.n_embd)


FULL = DemoConfig()
QUICK = replace(FULL, steps=150, batch_size=32, n_held_out=100, eval_every=50,
                progress_every=1.0)


def greedy_generate(model, prompts, n_new):
    """Append ``n_new`` tokens to every prompt, each the argmax of the last position's logits.

    There is no KV cache (Module 4): every step runs the model on the whole sequence so far.

    Args:
        model: a ``GPT``.
        prompts: ``(B, P)`` int.
        n_new: the number of tokens to generate.

    Returns:
        ``(B, n_new)`` int64: the generated tokens.
    """
    sequence = np.asarray(prompts, dtype=np.int64)
    for _ in range(n_new):
        logits = model.forward(sequence)  # (B, T, V)
        next_token = logits[:, -1].argmax(axis=-1)  # (B,)
        sequence = np.concatenate([sequence, next_token[:, None]], axis=1)
    return sequence[:, -n_new:]


def evaluate(model, prompts, answers):
    """Held-out loss per answer token and exact match, both from one forward pass.

    The exact match is *teacher-forced*: an answer counts as right when, at every one of its
    positions, the argmax of the logits given the true prefix is the true token. That is the
    same as being right under greedy decoding: if every argmax is right, greedy decoding
    appends exactly the true tokens, so it sees the true prefixes at every step; and if one
    is wrong, greedy decoding writes a wrong token there at the latest. One forward instead
    of one per answer token makes frequent evaluations cheap; ``run`` also decodes greedily
    at the end, and the two must agree (unless the model can see the future: then only the
    teacher-forced score is high).

    Returns:
        ``{"loss": float, "accuracy": float}``.
    """
    idx, targets = lm_batch(prompts, answers)
    logits = model.forward(idx)  # (B, T, V)
    loss, _ = cross_entropy(logits, targets, ignore_index=IGNORE)
    right = (logits.argmax(axis=-1) == targets) | (targets == IGNORE)
    return {"loss": float(loss), "accuracy": float(right.all(axis=1).mean())}


def greedy_accuracy(model, prompts, answers):
    """Exact match of greedy decoding: ``(accuracy, written answers, right per problem)``."""
    written = greedy_generate(model, prompts, answers.shape[1])
    right = (written == answers).all(axis=1)
    return float(right.mean()), written, right


def train_gpt(cfg, seed=0, out=None):
    """Train a GPT on ``cfg``'s task; returns ``(model, split, log)``.

    The seed fixes everything: the initial weights, the held-out problems, the batches.
    """
    task = cfg.task()
    model = GPT(cfg.gpt_config(), np.random.default_rng([seed, 0]))
    split = Split(task, cfg.n_held_out, np.random.default_rng([seed, 1]))
    data_rng = np.random.default_rng([seed, 2])
    optimizer = AdamW(lr=cfg.lr, betas=(0.9, 0.98), weight_decay=cfg.weight_decay)
    held_prompts, held_answers = split.held_out

    def step_fn(step):
        idx, targets = lm_batch(*split.training_batch(data_rng, cfg.batch_size))
        loss = model.loss(idx, targets)
        grads = model.backward()
        lr = cosine_schedule(step, cfg.lr, cfg.min_lr, cfg.warmup, cfg.steps)
        optimizer_step(optimizer, model.params, grads, lr, cfg.max_norm)
        return loss, idx.size

    log = train(step_fn, cfg.steps, evaluate=lambda: evaluate(model, held_prompts, held_answers),
                eval_every=cfg.eval_every, progress_every=cfg.progress_every, out=out)
    return model, split, log


def run(quick=False, seed=0, figures_dir=None):
    """The demo: train, evaluate on the held-out problems, print examples, draw the curve.

    Args:
        quick: a short run (a smoke test: expect a low accuracy).
        seed: seeds the weights, the held-out set and the batches.
        figures_dir: where ``gpt_loss.png`` goes (``build/figures`` when None).

    Returns:
        dict of the results: ``accuracy`` (greedy decoding), ``teacher_forced_accuracy``,
        ``held_out_loss``, ``train_loss``, ``seconds``, ``steps``, ``parameters``,
        ``n_held_out``, ``figure``.
    """
    cfg = QUICK if quick else FULL
    task = cfg.task()
    gpt_cfg = cfg.gpt_config()
    n_params = sum(int(np.prod(shape)) for shape in gpt_param_shapes(gpt_cfg).values())
    say(f"Task: {task.description} (as minGPT's sorting demo); {cfg.n_held_out} strings "
          "are held out, with every rearrangement of them.")
    say(f"Model: GPT with n_layer={gpt_cfg.n_layer}, n_head={gpt_cfg.n_head}, "
          f"n_embd={gpt_cfg.n_embd}, context {gpt_cfg.block_size}, vocabulary "
          f"{gpt_cfg.vocab_size}: {n_params:,} parameters, {gpt_cfg.dtype}.")
    say(f"Training: {cfg.steps} steps of {cfg.batch_size} problems, AdamW (peak lr "
          f"{cfg.lr:g}, cosine to {cfg.min_lr:g} after {cfg.warmup} warmup steps), clipping at "
          f"{cfg.max_norm:g}; seed {seed}{' (--quick)' if quick else ''}.")
    say(f"BLAS threads: {blas_threads()}.", flush=True)
    start = time.perf_counter()
    model, split, log = train_gpt(cfg, seed)
    metrics = log.evals[-1][1]  # teacher-forced, after the last step
    accuracy, written, correct = greedy_accuracy(model, *split.held_out)
    seconds = time.perf_counter() - start

    prompts, answers = split.held_out
    say("\nHeld-out examples (the model's answer, greedy):")
    shown = list(range(5)) + [int(i) for i in np.flatnonzero(~correct)[:3] if i >= 5]
    for i in shown:
        mark = "ok" if correct[i] else f"wrong, it wrote {''.join(map(str, written[i]))}"
        say(f"  {task.format(prompts[i], answers[i])}   {mark}")
    path = save_loss_curve(
        log, Path(figures_dir or "build/figures") / FIGURE_NAME,
        title=f"GPT ({n_params:,} parameters) learning to {task.description}, seed {seed}")
    n_right, n = int(correct.sum()), len(correct)
    say(f"\nFinal training loss {log.recent_loss():.4f} (mean of the last 50 steps), held-out "
          f"loss {metrics['loss']:.4f}; wall time {format_duration(seconds)} "
          f"({log.tokens / seconds:,.0f} training tokens/s overall).")
    say(f"Greedy decoding: {n_right}/{n} held-out answers exactly right; teacher-forced "
          f"(the curve's measure): {100 * metrics['accuracy']:.1f}%.")
    if metrics["accuracy"] - accuracy > 0.01:
        say("WARNING: the teacher-forced exact match is much higher than greedy decoding's: "
              "can the model see the tokens it should predict? Check the causal mask.")
    verdict = (f"Your GPT learned to {task.description}" if accuracy >= 0.99 else "Your GPT")
    say(f"{verdict}: {100 * accuracy:.1f}% of {n} held-out strings exactly right.")
    if quick:
        say("(--quick is a smoke test; the full run, without --quick, reaches 99%.)")
    say(f"Wrote {path}")
    return {"accuracy": accuracy, "teacher_forced_accuracy": metrics["accuracy"],
            "held_out_loss": metrics["loss"], "train_loss": log.recent_loss(),
            "seconds": seconds, "steps": log.steps, "parameters": n_params, "n_held_out": n,
            "figure": str(path)}

