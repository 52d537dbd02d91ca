"""Synthetic character-level tasks for the training demos (given, not an exercise).

A task is a finite set of problems, each a *prompt* and its *answer*, both fixed-length
strings of tokens (integer ids in ``[0, vocab_size)``). Every problem has a number, its
*code*, in ``[0, n_problems)``; ``problems(codes)`` turns codes into token arrays, and
``groups(codes)`` names the problems that must fall on the same side of a held-out split
(e.g. the rearrangements of one string, which share their answer). Numbering the problems is
what makes a clean split cheap: ``Split`` draws the held-out problems once, and training
batches are drawn from the problems outside their groups only.

A decoder-only model (GPT) reads prompt and answer as one sequence and is scored on the
answer only (``lm_batch``); an encoder-decoder model would read the prompt as its source and
the answer as its target.
"""

from dataclasses import dataclass

import numpy as np

IGNORE = -100  # the cross-entropy's ignore_index: positions that are not part of the answer


def digits_of(values, n_digits, base=10):
    """Digits of non-negative integers, most significant first.

    Args:
        values: integer array ``(N,)``, each ``< base**n_digits``.
        n_digits: digits per number (leading zeros kept).
        base: the base (the number of distinct digits).

    Returns:
        ``(N, n_digits)`` int64.
    """
    powers = base ** np.arange(n_digits - 1, -1, -1, dtype=np.int64)
    return (np.asarray(values, dtype=np.int64)[:, None] // powers) % base


def number_of(digits, base=10):
    """The inverse of ``digits_of``: ``(N, n)`` digits, most significant first -> ``(N,)``."""
    digits = np.asarray(digits, dtype=np.int64)
    powers = base ** np.arange(digits.shape[-1] - 1, -1, -1, dtype=np.int64)
    return digits @ powers


@dataclass(frozen=True)
class DigitStrings:
    """The problems shared by the digit-string tasks: every ``n_digits``-long string over
    ``n_symbols`` digits is a prompt (its code is the number it spells in base ``n_symbols``),
    and the answer is a string of the same length. Subclasses say what the answer is
    (``answer_of``), how problems are grouped for the held-out split, and describe the task.
    """

    n_digits: int = 10
    n_symbols: int = 10  # the vocabulary: digits 0 .. n_symbols-1

    @property
    def vocab_size(self):
        return self.n_symbols

    @property
    def prompt_len(self):
        return self.n_digits

    @property
    def answer_len(self):
        return self.n_digits

    @property
    def n_problems(self):
        return self.n_symbols**self.n_digits

    def problems(self, codes):
        """``(prompts, answers)`` of the strings numbered ``codes``, ``(N, n_digits)`` each."""
        prompts = digits_of(codes, self.n_digits, self.n_symbols)
        return prompts, self.answer_of(prompts)

    def format(self, prompt, answer):
        """One problem as text, e.g. ``"7039318053 -> 0013335789"``."""
        return f"{''.join(map(str, prompt))} -> {''.join(map(str, answer))}"


@dataclass(frozen=True)
class SortDigits(DigitStrings):
    """Sort a string of digits, as minGPT's first demo (there: 6 digits out of 3)::

        prompt  7 0 3 9 3 1 8 0 5 3   answer  0 0 1 3 3 3 5 7 8 9

    A string's group is its sorted version, i.e. its answer: a held-out string is held out
    together with every rearrangement of it, so the model cannot have seen its answer in
    training.
    """

    @property
    def description(self):
        return f"sort strings of {self.n_digits} digits"

    def answer_of(self, prompts):
        return np.sort(prompts, axis=1)

    def groups(self, codes):
        """The code of each string's sorted version: equal for rearrangements of a string."""
        return number_of(self.problems(codes)[1], self.n_symbols)


@dataclass(frozen=True)
class ReverseDigits(DigitStrings):
    """Reverse a string of digits: the Annotated Transformer's copy task, read backwards::

        prompt  3 1 4 1 5 9 2 6   answer  6 2 9 5 1 4 1 3

    Copying lets output t read source position t; reversing sends it to the mirrored
    position, which the model must find from the positional encoding alone. Every string is
    its own group (no two strings share an answer).
    """

    n_digits: int = 8

    @property
    def description(self):
        return f"reverse strings of {self.n_digits} digits"

    def answer_of(self, prompts):
        return np.ascontiguousarray(prompts[:, ::-1])

    def groups(self, codes):
        """Each string is its own group."""
        return np.asarray(codes, dtype=np.int64)


class Split:
    """A held-out set of problems, and training batches drawn from outside their groups.

    Args:
        task: a task (``n_problems``, ``problems``, ``groups``).
        n_held_out: the number of held-out problems (distinct), drawn uniformly.
        rng: a ``np.random.Generator``; used once, to choose the held-out problems.
    """

    def __init__(self, task, n_held_out, rng):
        if not 0 < n_held_out <= task.n_problems // 2:
            raise ValueError(f"Split: n_held_out must be in [1, {task.n_problems // 2}], "
                             f"got {n_held_out}")
        self.task = task
        self.held_out_codes = rng.choice(task.n_problems, n_held_out, replace=False)
        self.held_out = task.problems(self.held_out_codes)  # (prompts, answers)
        self._groups = np.unique(task.groups(self.held_out_codes))  # sorted

    def is_held_out(self, codes):
        """Boolean array: which of ``codes`` belong to the group of a held-out problem."""
        groups = self.task.groups(codes)
        found = np.minimum(np.searchsorted(self._groups, groups), len(self._groups) - 1)
        return self._groups[found] == groups

    def training_codes(self, rng, n):
        """``n`` codes drawn uniformly (with replacement) from outside the held-out groups."""
        codes = rng.integers(0, self.task.n_problems, n)
        for _ in range(1000):  # redraw those that hit a held-out group
            clash = self.is_held_out(codes)
            if not clash.any():
                return codes
            codes[clash] = rng.integers(0, self.task.n_problems, int(clash.sum()))
        raise RuntimeError("Split: the held-out groups cover (almost) every problem")

    def training_batch(self, rng, n):
        """``(prompts, answers)`` of ``n`` random training problems."""
        return self.task.problems(self.training_codes(rng, n))


def lm_batch(prompts, answers):
    """A decoder-only model's input and targets: the loss counts the answer tokens only.

    The sequence is prompt + answer; the model reads all of it but the last token and
    predicts the token after each position. Targets that are prompt tokens are set to
    ``IGNORE`` (-100), as minGPT does: the prompt is random, so predicting it is noise, and
    only the answer is the task::

        sequence  p0 p1 p2 p3 | s0 s1 s2
        idx       p0 p1 p2 p3   s0 s1          (B, P + A - 1)
        targets   -  -  -  s0   s1 s2          (-: IGNORE)

    Args:
        prompts: ``(B, P)`` int; answers: ``(B, A)`` int.

    Returns:
        idx, targets: ``(B, P + A - 1)`` int64.
    """
    prompts, answers = np.asarray(prompts), np.asarray(answers)
    sequence = np.concatenate([prompts, answers], axis=1).astype(np.int64)
    idx = sequence[:, :-1]
    targets = sequence[:, 1:].copy()
    targets[:, : prompts.shape[1] - 1] = IGNORE
    return idx, targets
