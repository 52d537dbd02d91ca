"""What a training run records and prints, and one clipped optimiser step (given, not an
exercise): the pretraining loop of exercise 4.3 uses them, and so does the demos' loop
(``demos/training.py``).
"""

import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from .optim import clip_grad_norm


def format_duration(seconds):
    """``"42s"``, ``"3m05s"`` or ``"1h02m"``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def format_metrics(metrics):
    """``{"loss": 0.1234, "accuracy": 0.5}`` as ``"loss 0.1234  accuracy 50.0%"``."""
    parts = []
    for name, value in metrics.items():
        text = f"{100 * value:.1f}%" if name == "accuracy" else f"{value:.4f}"
        parts.append(f"{name} {text}")
    return "  ".join(parts)


@dataclass
class TrainingLog:
    """What a run did: the training loss of every step and the metrics of every evaluation."""

    losses: list = field(default_factory=list)  # training loss of step 1, 2, ...
    evals: list = field(default_factory=list)  # (step, {"loss": ..., "accuracy": ...})
    tokens: int = 0  # tokens processed in training
    seconds: float = 0.0  # wall time of the whole run, evaluations included

    @property
    def steps(self):
        return len(self.losses)

    def recent_loss(self, n=50):
        """Mean training loss of the last n steps."""
        return float(np.mean(self.losses[-n:])) if self.losses else math.nan


class Progress:
    """Prints ``step  loss  tokens/s  ETA`` lines, at most one every ``every`` seconds.

    The loss shown is the mean over the steps since the previous line; tokens/s is measured
    over the training steps only; the ETA adds the time the caller expects the remaining
    evaluations to take (``pending``).
    """

    def __init__(self, total_steps, every=2.0, out=None):
        self.total_steps = total_steps
        self.every = every
        self.out = out or sys.stdout
        self.train_seconds = 0.0
        self.tokens = 0
        self._losses = []
        self._last_print = -math.inf

    def update(self, step, loss, tokens, seconds, pending=0.0):
        """Record step ``step`` (1-based) that took ``seconds``; print if it is time.
        ``pending``: seconds of other work still to come (evaluations), added to the ETA."""
        self.train_seconds += seconds
        self.tokens += tokens
        self._losses.append(loss)
        now = time.perf_counter()
        if now - self._last_print >= self.every or step in (1, self.total_steps):
            self._last_print = now
            print(self.line(step, pending), file=self.out, flush=True)
            self._losses = []

    def line(self, step, pending=0.0):
        rate = step / self.train_seconds if self.train_seconds > 0 else math.inf
        tokens_per_second = self.tokens / self.train_seconds if self.train_seconds > 0 else 0
        eta = (self.total_steps - step) / rate + pending
        width = len(str(self.total_steps))
        return (f"step {step:>{width}}/{self.total_steps}  loss {np.mean(self._losses):.4f}  "
                f"{tokens_per_second:8,.0f} tokens/s  ETA {format_duration(eta):>6}")


def optimizer_step(optimizer, params, grads, lr, max_norm=None):
    """Clip the gradients' global norm to ``max_norm`` (if given), then ``optimizer.step``.

    A step whose gradient norm is not finite is skipped (``clip_grad_norm`` leaves such
    gradients alone so that the caller can). Returns the norm before clipping (NaN when not
    clipping).
    """
    norm = clip_grad_norm(grads, max_norm) if max_norm is not None else math.nan
    if max_norm is None or math.isfinite(norm):
        optimizer.step(params, grads, lr=lr)
    return norm
