"""Run checks in this process, on functions you hand over (nbgrader test cells, notebooks).

`python -m grader` isolates student code in a sandbox; a notebook already *is* the student's
process, so here the checks receive the notebook's own functions:

    from grader.local import check_exercise
    check_exercise("1.4", globals())          # raises CheckFailed listing every failure

nbgrader test cells use `CellGrade`, which gives partial credit the way nbgrader reads it
(the cell's last expression is the points earned), keeps student warnings off stderr (any
stderr output scores a cell 0) and stops a hanging check after its time limit.  This is
feedback while a student works, in a kernel the student's cells control: the grade that
counts is computed outside it (`grader.distribute.nbgrader_grading`).
"""

from __future__ import annotations

import contextlib
import io
import signal
import threading
import types
import warnings
from collections.abc import Callable, Mapping

from . import checks, course
from .expect import CheckFailed
from .results import MESSAGE_LIMIT
from .text import clean


class Namespace:
    """Module-like view of a dict such as `globals()`."""

    def __init__(self, names: Mapping):
        self._names = names

    def __getattr__(self, name: str):
        try:
            return self._names[name]
        except KeyError:
            raise AttributeError(f"{name} is not defined here — run the cell that defines "
                                 "it first") from None


def as_implementation(namespace):
    """A module, a mapping such as `globals()`, or any object with the functions as attributes."""
    if isinstance(namespace, Mapping):
        return Namespace(namespace)
    if isinstance(namespace, (Namespace, types.ModuleType)):
        return namespace
    return Namespace(vars(namespace))


def check_exercise(exercise_id: str, namespace, hidden: bool = True) -> float:
    """Run the checks of one exercise; raise `CheckFailed` listing every failure.

    `namespace` is a module or a mapping of names (e.g. `globals()`).  `hidden=False` skips
    the checks an instructor keeps hidden.  Returns the exercise's points when all pass.
    """
    exercise = course.BY_ID[exercise_id]
    impl = as_implementation(namespace)
    failures = []
    for chk in checks.checks_for(exercise_id):
        if chk.hidden and not hidden:
            continue
        try:
            chk.fn(impl)
        except CheckFailed as exc:
            failures.append(f"- {chk.description}: {exc}")
    if failures:
        raise CheckFailed(f"Exercise {exercise_id} ({exercise.title}):\n" + "\n".join(failures))
    return float(exercise.points)


class CheckTimeout(Exception):
    """A check ran past its time limit."""


class CellGrade:
    """The grade of one exercise inside a notebook, built check by check."""

    def __init__(self, exercise_id: str, namespace):
        self.exercise = course.BY_ID[exercise_id]
        self.impl = as_implementation(namespace)
        self.results: list[tuple[str, int, str]] = []  # (description, weight, "" or problem)
        self._timed_out = False

    def run_visible(self) -> CellGrade:
        for chk in checks.checks_for(self.exercise.id):
            if not chk.hidden:
                self._run(chk.fn, chk.weight, chk.description, chk.timeout)
        return self

    def _run(self, fn: Callable, weight: int, description: str, timeout: float) -> None:
        if self._timed_out:
            self.results.append((description, weight, "not run: an earlier check timed out"))
            return
        problem = ""
        stderr = io.StringIO()
        try:
            with warnings.catch_warnings(), contextlib.redirect_stderr(stderr), \
                    _time_limit(timeout):
                warnings.simplefilter("ignore")  # a warning on stderr would zero the cell
                fn(self.impl)
        except CheckFailed as exc:
            problem = str(exc)
        except NotImplementedError as exc:
            problem = f"not implemented yet ({exc})"
        except CheckTimeout:
            self._timed_out = True
            problem = f"your code did not finish within {timeout:g} s"
        except Exception as exc:  # noqa: BLE001 — the student's own error, reported as such
            problem = f"your code raised {type(exc).__name__}: {exc}"
        self.results.append((description, weight, clean(problem, MESSAGE_LIMIT)))

    def points(self) -> float:
        """Points earned; prints what failed, raises when nothing passed."""
        total = sum(w for _, w, _ in self.results) or 1
        earned = sum(w for _, w, problem in self.results if not problem)
        score = round(self.exercise.points * earned / total, 2)
        report = [f"[{'ok' if not p else 'FAIL'}] {d}" + (f"\n       {p}" if p else "")
                  for d, _, p in self.results]
        head = (f"Exercise {self.exercise.id} ({self.exercise.title}): "
                f"{score:g}/{self.exercise.points} points")
        if earned == 0:
            raise CheckFailed(head + "\n" + "\n".join(report))
        if earned < total:
            print(head + "\n" + "\n".join(report))
        return float(score)


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Interrupt pure-Python code after `seconds` (main thread with SIGALRM only)."""
    if not hasattr(signal, "SIGALRM") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise CheckTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
