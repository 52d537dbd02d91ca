"""What `make grade` shows a student: progress per module, the exercises started, what next.

    Module 1  Self-attention               [######--------------]  20/60
      1.1  Stable softmax                     4/4  passed
      1.2  Softmax backward (JVP)             0/6  failed   softmax_backward is wrong at…
    Module 2  Positional encoding          [--------------------]   0/32  not started
    ...
    Course                                 [#-------------------]  20/261

    Next: 1.2 Softmax backward (JVP)
      edit   exercises/self_attention/softmax.py
      read   lectures/01_self_attention/theory.md#2-softmax-and-its-jacobian
      grade  make grade EX=1.2

A module none of whose exercises is started takes one line.  Every line fits `WIDTH`
columns (cut with "…").  Colour (the status words and bars) only on a terminal, and never
with `NO_COLOR`.
"""

from __future__ import annotations

import os
import sys
import textwrap
from typing import TextIO

from . import course, report
from .results import FAILED, NOT_IMPLEMENTED, PASSED, ExerciseResult

WIDTH = 80
BAR = 16
COLOURS = {PASSED: "32", FAILED: "31", "error": "31", "timeout": "31", NOT_IMPLEMENTED: "2"}


def use_colour(stream: TextIO = sys.stdout) -> bool:
    return stream.isatty() and not os.environ.get("NO_COLOR") and \
        os.environ.get("TERM") != "dumb"


def fit(line: str, width: int = WIDTH) -> str:
    """`line`, cut with "…" to `width` columns."""
    return line if len(line) <= width else line[: width - 1] + "…"


def bar(earned: float, possible: float) -> str:
    filled = round(BAR * earned / possible) if possible else 0
    return "[" + "#" * filled + "-" * (BAR - filled) + "]"


def _paint(text: str, code: str, colour: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if colour and code else text


def _points(earned: float, possible: int) -> str:
    return f"{earned:g}/{possible}"


def exercise_line(result: ExerciseResult, colour: bool = False) -> str:
    ex = result.exercise
    title = fit(ex.title, 30)
    head = f"  {ex.id:<5}{title:<30} {_points(result.score, ex.points):>7}  "
    status = result.status
    # The details below the table are the next exercise's; a row only says what comes first.
    first = result.fix_first
    reason = f"fix {first} first" if first and status != PASSED else ""
    line = fit(f"{head}{status:<15} {reason}".rstrip())
    if not colour:
        return line
    return line.replace(f"{head}{status}", f"{head}{_paint(status, COLOURS.get(status, ''), True)}",
                        1)


def module_line(module: course.Module, results: list[ExerciseResult], colour: bool = False,
                started: bool = True) -> str:
    earned = sum(r.score for r in results)
    possible = sum(r.exercise.points for r in results)
    label = fit(f"Module {module.number}  {module.title}", 38)
    tail = "" if started else "  not started"
    drawn = _paint(bar(earned, possible), "32" if earned == possible else "", colour)
    return f"{label:<38} {drawn} {_points(earned, possible):>7}{tail}"


def next_exercise(results: list[ExerciseResult]) -> ExerciseResult | None:
    """The first exercise, in id order, that is not passed."""
    return next((r for r in sorted(results, key=lambda r: r.exercise.sort_key)
                 if r.status != PASSED), None)


def next_block(result: ExerciseResult | None, graded_all: bool) -> list[str]:
    if result is None:
        return ["Every exercise graded here passes." + (" Well done!" if graded_all else "")]
    ex = result.exercise
    return [fit(f"Next: {ex.id} {ex.title}"),
            fit(f"  edit   exercises/{ex.path}"),
            *lecture_lines(ex, "  read   "),
            fit(f"  grade  make grade EX={ex.id}")]


def lecture_lines(ex: course.Exercise, prefix: str) -> list[str]:
    """`prefix` and the link to the exercise's lecture section; when that is wider than the
    screen, the lecture's file and, below it, the section's title (a cut link is no link)."""
    if len(prefix + ex.lecture_link) <= WIDTH:
        return [prefix + ex.lecture_link]
    return [fit(f"{prefix}{ex.module.lecture_dir}/theory.md"),
            fit(" " * len(prefix) + f"section {ex.section}")]


def wrap(text: str, width: int = WIDTH) -> str:
    """Each line of `text` wrapped to `width` columns, continued at its own indentation."""
    out = []
    for line in text.splitlines():
        indent = line[: len(line) - len(line.lstrip())]
        out.append(textwrap.fill(line, width, subsequent_indent=indent + "  ",
                                 break_on_hyphens=False) if len(line) > width else line)
    return "\n".join(out)


def summary(results: list[ExerciseResult], colour: bool = False) -> str:
    """The first screen: modules with bars, the exercises of started modules, what next."""
    lines = []
    by_module: dict[course.Module, list[ExerciseResult]] = {}
    for r in results:
        by_module.setdefault(r.exercise.module, []).append(r)
    for module, rows in by_module.items():
        started = any(r.status != NOT_IMPLEMENTED for r in rows)
        lines.append(module_line(module, rows, colour, started))
        if started:
            lines.extend(exercise_line(r, colour) for r in rows)
    if len(by_module) > 1:
        earned = sum(r.score for r in results)
        possible = sum(r.exercise.points for r in results)
        lines.append(f"{'Course':<38} {bar(earned, possible)} {_points(earned, possible):>7}")
    lines.append("")
    lines.extend(next_block(next_exercise(results), len(results) == len(course.EXERCISES)))
    return "\n".join(lines)


def first_screen(results: list[ExerciseResult], seconds: float, colour: bool = False,
                 focus: ExerciseResult | None = None) -> str:
    """What `make grade` prints after grading: the summary, the total, and the messages of one
    exercise (`focus`, by default the next one), then how many more lose points."""
    following = focus or next_exercise(results)
    parts = [summary(results, colour), report.total_line(results) + f" ({seconds:.1f} s)"]
    details = report.details(results, only={following.exercise.id} if following else set())
    failing = [r for r in results if r.status not in (PASSED, NOT_IMPLEMENTED)
               and r is not following]
    if failing:
        details += ("\n\n" if details else "") + fit(
            f"{len(failing)} more exercise(s) lose points; every message: "
            "make grade VERBOSE=1")
    if details:
        parts.append(wrap(details))
    return "\n\n".join(parts)
