"""Show results: the terminal table, the details of failures, and Gradescope's results.json."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import textwrap
from pathlib import Path

from .results import NOT_IMPLEMENTED, PASSED, ExerciseResult, describe_checks, status_of

COLUMNS = "{id:<5} {title:<34} {points:>9}  {status:<16} {reason}"


def header() -> str:
    head = COLUMNS.format(id="id", title="exercise", points="points", status="status",
                          reason="reason")
    return head + "\n" + "-" * min(len(head) + 40, _width())


def row(result: ExerciseResult) -> str:
    points = f"{result.score:g}/{result.exercise.points}"
    line = COLUMNS.format(id=result.exercise.id, title=result.exercise.title[:34], points=points,
                          status=result.status, reason=result.reason)
    width = _width()
    return line if len(line) <= width else line[: width - 3] + "..."


def total_line(results: list[ExerciseResult]) -> str:
    earned = sum(r.score for r in results)
    possible = sum(r.exercise.points for r in results)
    passed = sum(r.status == PASSED for r in results)
    return (f"Total: {earned:g}/{possible} points — {passed} of {len(results)} exercises "
            "passed")


# A file that does not compile fails every check of every exercise that imports it, with the
# same message: it is shown once, above the exercises it stops.
FILE_ERROR = re.compile(r"your code raised (SyntaxError|IndentationError|TabError): ")


def details(results: list[ExerciseResult], only: set[str] | None = None) -> str:
    """Full messages for exercises that were attempted but lost points (those of `only`, if
    given); an error that stops a file from compiling once, naming the exercises it stops."""
    stopped: dict[str, tuple[str, list[str]]] = {}  # error -> (shortest message, exercises)
    errors = {}  # message -> its error
    for r in results:
        for c in r.checks:
            if c.status != PASSED and FILE_ERROR.match(c.message):
                error = _file_error(c.message)
                errors[c.message] = error
                shortest, ids = stopped.setdefault(error, (c.message, []))
                if len(c.message) < len(shortest):
                    stopped[error] = (c.message, ids)
                if r.exercise.id not in ids:
                    ids.append(r.exercise.id)
    blocks = []
    for message, ids in stopped.values():
        first, *where = message.removeprefix("your code raised ").strip().splitlines()
        stops = textwrap.fill(f"It stops {', '.join(ids)}: fix it first.", min(80, _width()))
        blocks.append("\n".join([f"== {first} ==", *where, stops]))
    for r in results:
        if r.status in (PASSED, NOT_IMPLEMENTED) or (only is not None
                                                     and r.exercise.id not in only):
            continue
        failing = [c for c in r.checks if c.status != PASSED]
        if failing and all(c.message in errors for c in failing):
            continue  # said once above
        ex = r.exercise
        shown = dataclasses.replace(r, checks=[
            dataclasses.replace(c, message="the error above, in a file it imports")
            if c.message in errors else c for c in r.checks])
        blocks.append(f"== {ex.id} {ex.title} — {r.status} ({r.score:g}/{ex.points}) ==\n"
                      f"{shown.details}\nRead: {ex.lecture_link}")
    return "\n\n".join(blocks)


def _file_error(message: str) -> str:
    """The error itself, whichever file imported the one that does not compile: the
    message's first line and where the error is (its last "file, line N" line)."""
    lines = message.strip().splitlines()
    where = [line for line in lines if re.fullmatch(r"\s+\S+\.py, line \d+", line)]
    return lines[0] + (where[-1] if where else "")


def gradescope(results: list[ExerciseResult], seconds: float, split_hidden: bool = False,
               preamble: str = "") -> dict:
    """Gradescope's autograder results format: one test per exercise.

    With `split_hidden`, an exercise's hidden checks become a second test, shown to the
    student only after the due date; the two tests' points add up to the exercise's.  Then
    nothing a student sees before the due date depends on a hidden check: each visible test
    and the top-level output are computed from visible checks only, what the student's code
    printed during hidden checks goes with them, and there is no top-level score (Gradescope
    adds up the tests, and hides the total while some are hidden) nor execution time (a
    hidden check's timeout would show in it).
    """
    tests = []
    for r in results:
        ex = r.exercise
        visible = [c for c in r.checks if not (split_hidden and c.hidden)]
        hidden = [c for c in r.checks if split_hidden and c.hidden]
        total = sum(c.weight for c in r.checks) or 1
        # Whole points or tenths for each part (they still add up to the exercise's).
        visible_max = round(ex.points * sum(c.weight for c in visible) / total, 1)
        parts = [("", visible, visible_max, "visible")]
        if hidden:
            parts.append((" (hidden checks)", hidden, round(ex.points - visible_max, 1),
                          "after_due_date"))
        for suffix, checks, max_score, visibility in parts:
            earned = sum(c.weight for c in checks if c.status == PASSED)
            weight = sum(c.weight for c in checks) or 1
            tests.append({
                "name": f"{ex.id} {ex.title}{suffix}",
                "number": ex.id,
                "score": round(max_score * earned / weight, 2),
                "max_score": int(max_score) if float(max_score).is_integer() else max_score,
                "status": "passed" if earned == weight else "failed",
                "output": (f"Status: {status_of(checks)}\n"
                           + (r.note + "\n" if r.note and not suffix else "")
                           + f"{describe_checks(checks)}\nLecture: {ex.lecture_link}"),
                "visibility": visibility,
            })
    head = preamble.strip() + "\n\n" if preamble.strip() else ""
    report = {
        "max_score": sum(r.exercise.points for r in results),
        "execution_time": round(seconds, 2),
        "visibility": "visible",
        "tests": tests,
    }
    if split_hidden and any(t["visibility"] != "visible" for t in tests):
        shown = [t for t in tests if t["visibility"] == "visible"]
        report["output"] = head + (
            f"Visible checks: {_points(sum(t['score'] for t in shown))}/"
            f"{_points(sum(t['max_score'] for t in shown))} points. Hidden checks are graded "
            "too; their results, and your total, appear after the due date.")
        tests.append({"name": "Total (hidden checks included)", "number": "total", "score": 0,
                      "max_score": 0, "status": "passed", "visibility": "after_due_date",
                      "output": f"{total_line(results)} ({seconds:.1f} s)"})
        del report["execution_time"]
    else:
        report["score"] = round(sum(t["score"] for t in tests), 2)
        report["output"] = head + total_line(results)
    return report


def _points(value: float) -> str:
    return f"{round(value, 2):g}"


def checks_json(results: list[ExerciseResult], student: str | None = None) -> dict:
    """Every check's verdict, as data (what a class report counts)."""
    return {"student": student, "exercises": [
        {"id": r.exercise.id, "title": r.exercise.title, "points": r.exercise.points,
         "score": r.score, "status": r.status,
         "checks": [{"name": c.name, "description": c.description, "weight": c.weight,
                     "hidden": c.hidden, "status": c.status, "message": c.message}
                    for c in r.checks]}
        for r in results]}


def not_graded(reason: str) -> dict:
    """Results when the sandbox could not be set up: nothing ran, and the output says why."""
    return {"score": 0.0, "max_score": 0, "execution_time": 0.0, "tests": [],
            "output": ("Not graded: the autograder could not confine student code, so it ran "
                       f"none (a set-up problem, not your code; your instructor can see it). "
                       f"{reason}")}


def internal_error(exc: Exception, seconds: float) -> dict:
    """Results when the grader itself failed: zero, with the reason, never a missing file."""
    return {"score": 0.0, "max_score": 0, "execution_time": round(seconds, 2),
            "output": f"The grader failed: {type(exc).__name__}: {exc}", "tests": []}


def write_json(data: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


def _width() -> int:
    return max(100, shutil.get_terminal_size((140, 20)).columns)
