"""The demos' training loop and loss-curve figure.

The loop knows nothing about the model. The caller passes ``step_fn(step)``, which does one
update (forward, loss, backward, clipping, optimiser step) and returns ``(loss, n_tokens)``,
and optionally ``evaluate()``, which returns held-out metrics such as ``{"loss": ...,
"accuracy": ...}``. ``train`` calls them, prints a progress line every few seconds (step, loss,
tokens/s, ETA) and returns a ``TrainingLog`` that ``save_loss_curve`` draws. The log and the
progress lines are the implementation's own given helpers (``transformer/training.py``).
"""

import math
import sys
import time

import numpy as np
from implementation.transformer.training import Progress, TrainingLog, format_metrics

from .plotting import pyplot, write_png
from .text import say


def train(step_fn, total_steps, evaluate=None, eval_every=None, progress_every=2.0, out=None):
    """Run ``step_fn`` for ``total_steps`` steps, evaluating now and then.

    Args:
        step_fn: ``step_fn(step) -> (loss, n_tokens)`` for ``step = 0 .. total_steps-1``: one
            update; ``loss`` is the training loss before it (a float), ``n_tokens`` the number
            of tokens in the batch.
        total_steps: the number of updates.
        evaluate: ``evaluate() -> dict`` of held-out metrics, or None. Called before the
            first step, every ``eval_every`` steps and after the last.
        eval_every: steps between evaluations (None: only at the start and the end).
        progress_every: seconds between progress lines.
        out: where to print (``sys.stdout``).

    Returns:
        a ``TrainingLog``.
    """
    out = out or sys.stdout
    log = TrainingLog()
    progress = Progress(total_steps, every=progress_every, out=out)
    start = time.perf_counter()
    eval_steps = {total_steps} | set(range(eval_every or total_steps, total_steps, eval_every or
                                           total_steps))
    eval_seconds = []

    def run_eval(step):
        began = time.perf_counter()
        metrics = {name: float(value) for name, value in evaluate().items()}
        eval_seconds.append(time.perf_counter() - began)
        log.evals.append((step, metrics))
        say(f"  held-out at step {step}: {format_metrics(metrics)}", file=out, flush=True)

    if evaluate is not None:
        run_eval(0)
    for step in range(total_steps):
        began = time.perf_counter()
        loss, n_tokens = step_fn(step)
        loss = float(loss)
        if not math.isfinite(loss):
            raise FloatingPointError(f"the training loss is {loss} at step {step + 1}")
        log.losses.append(loss)
        log.tokens += int(n_tokens)
        done = step + 1
        pending = (sum(s > step for s in eval_steps) * float(np.mean(eval_seconds))
                   if eval_seconds else 0.0)
        progress.update(done, loss, int(n_tokens), time.perf_counter() - began, pending)
        if evaluate is not None and done in eval_steps:
            run_eval(done)
    log.seconds = time.perf_counter() - start
    return log


def smooth(values, weight=None):
    """Exponential moving average with bias correction (TensorBoard's smoothing).

    ``weight`` None: ``1 - 100 / len(values)`` (at least 0), an average over about 1% of the
    run, so that the curve lags by about as much whatever the number of steps.
    """
    if weight is None:
        weight = max(0.0, 1.0 - 100.0 / max(len(values), 1))
    out, average = [], 0.0
    for i, value in enumerate(values, start=1):
        average = weight * average + (1 - weight) * value
        out.append(average / (1 - weight**i))
    return np.array(out)


def save_loss_curve(log, path, title="", ylabel="cross-entropy per answer token (nats)"):
    """Draw a ``TrainingLog``: the training loss per step (raw and smoothed) with the held-out
    loss at each evaluation, and every other held-out metric (e.g. accuracy) beside it;
    ``ylabel`` names the loss axis. A perplexity is drawn on a log scale.

    Returns the path written (a PNG; its directory is created).
    """
    plt = pyplot()

    others = [name for _, metrics in log.evals[:1] for name in metrics if name != "loss"]
    fig, axes = plt.subplots(1, 1 + len(others), figsize=(6.5 + 4.5 * len(others), 4.2),
                             squeeze=False)
    axes = axes[0]
    steps = np.arange(1, log.steps + 1)
    ax = axes[0]
    ax.plot(steps, log.losses, color="C0", alpha=0.25, linewidth=0.8, label="training (per step)")
    ax.plot(steps, smooth(log.losses), color="C0", linewidth=1.8, label="training (smoothed)")
    held = [(s, m["loss"]) for s, m in log.evals if "loss" in m]
    if held:
        ax.plot(*zip(*held), "o-", color="C3", markersize=4, label="held-out")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.legend()
    for ax, name in zip(axes[1:], others):
        points = [(s, m[name]) for s, m in log.evals if name in m]
        ax.plot(*zip(*points), "o-", color="C3", markersize=4)
        ax.set_xlabel("step")
        ax.set_ylabel(f"held-out {name}")
        if name == "perplexity":
            ax.set_yscale("log")
        if name == "accuracy":
            ax.set_ylim(-0.02, 1.02)
            ax.axhline(0.99, color="0.6", linestyle="--", linewidth=1, label="99%")
            ax.legend(loc="lower right")
    for ax in axes:
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return write_png(fig, path)

