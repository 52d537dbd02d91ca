"""What a class got wrong: per exercise and per check, who failed, and the commonest diagnosis.

    python -m grader.distribute.class_report CHECKS_DIR [--out build/report] [--top 5]

`CHECKS_DIR` holds one checks file per student (`python -m grader --checks-json`, written by
`grade_class` into `OUT/checks/`, by nbgrader autograde into `reports/checks/<assignment>/`).
Writes

    checks.csv      per check: students, how many failed (did not pass) and their share, the
                    most common diagnosis and how many students got it; most failed first
    exercises.csv   per exercise: students, mean score, shares passed / failed / not
                    implemented, the most common diagnosis among its failed checks
    failures.png    the most failed checks as horizontal bars

and prints the most failed checks.  A diagnosis is the first line of a check's failure
message with its numbers replaced by `#`, so the same mistake made on different inputs, rows
or values counts once.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..expect import CAUSE

PASSED, NOT_IMPLEMENTED = "passed", "not implemented"
# A number on its own (not inside a name such as float32 or d_k): 3, -1.5, 1e-05, .5, inf.
NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?(?!\w)")
OPENING_SPACE = re.compile(r"([\[(]) +")
DIAGNOSIS_LIMIT = 200  # characters of a diagnosis kept
FILES = ("checks.csv", "exercises.csv", "failures.png")


def diagnosis(message: str, status: str) -> str:
    """The cause the message states ("Likely cause: ..."), else its first line; numbers made
    `#`; the status if there is no message."""
    message = message or ""
    if CAUSE in message:
        message = CAUSE + message.split(CAUSE, 1)[1].split(". ")[0].split(".\n")[0]
    lines = [line for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return status
    text = " ".join(NUMBER.sub("#", lines[0]).split())
    text = OPENING_SPACE.sub(r"\1", text)  # NumPy pads "[ 1.5" but not "[-1.5"
    return text[:DIAGNOSIS_LIMIT]


@dataclass
class Tally:
    """How one check (or one exercise) went across the class."""

    exercise: str
    name: str
    description: str = ""
    hidden: bool = False
    students: int = 0
    failed: int = 0
    not_implemented: int = 0
    diagnoses: Counter = field(default_factory=Counter)

    @property
    def failed_share(self) -> float:
        return self.failed / self.students if self.students else 0.0

    def top_diagnosis(self) -> tuple[str, int]:
        return self.diagnoses.most_common(1)[0] if self.diagnoses else ("", 0)


@dataclass
class ExerciseTally(Tally):
    points: float = 0.0
    score_sum: float = 0.0
    passed: int = 0

    @property
    def mean_score(self) -> float:
        return self.score_sum / self.students if self.students else 0.0


def load(folder: Path) -> list[dict]:
    """Every student's checks file in `folder` (files that are not one are skipped)."""
    students = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("exercises"), list):
            data.setdefault("student", None)
            data["student"] = data["student"] or path.stem
            students.append(data)
    return students


def tally(students: list[dict]) -> tuple[list[ExerciseTally], list[Tally]]:
    """Per exercise and per check, in the course's order (the order of first appearance)."""
    exercises: dict[str, ExerciseTally] = {}
    checks: dict[tuple[str, str], Tally] = {}
    for student in students:
        for ex in student["exercises"]:
            row = exercises.setdefault(ex["id"], ExerciseTally(
                ex["id"], ex.get("title", ""), points=ex.get("points", 0)))
            row.students += 1
            row.score_sum += ex.get("score", 0.0)
            row.passed += ex.get("status") == PASSED
            row.failed += ex.get("status") != PASSED
            row.not_implemented += ex.get("status") == NOT_IMPLEMENTED
            for chk in ex.get("checks", []):
                key = (ex["id"], chk["name"])
                tally_ = checks.setdefault(key, Tally(ex["id"], chk["name"],
                                                      chk.get("description", ""),
                                                      bool(chk.get("hidden"))))
                tally_.students += 1
                if chk["status"] != PASSED:
                    found = diagnosis(chk.get("message", ""), chk["status"])
                    tally_.failed += 1
                    tally_.not_implemented += chk["status"] == NOT_IMPLEMENTED
                    tally_.diagnoses[found] += 1
                    if chk["status"] != NOT_IMPLEMENTED:  # a mistake, not a missing answer
                        row.diagnoses[found] += 1
    return list(exercises.values()), list(checks.values())


def most_failed(checks: list[Tally]) -> list[Tally]:
    """Most failed first; ties in the course's order."""
    order = {id(t): i for i, t in enumerate(checks)}
    return sorted(checks, key=lambda t: (-t.failed_share, order[id(t)]))


def write_csv(exercises: list[ExerciseTally], checks: list[Tally], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "checks.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["exercise", "check", "description", "hidden", "students", "failed",
                         "failed_share", "not_implemented", "top_diagnosis",
                         "top_diagnosis_students"])
        for t in most_failed(checks):
            top, count = t.top_diagnosis()
            writer.writerow([t.exercise, t.name, t.description, t.hidden, t.students, t.failed,
                             f"{t.failed_share:.3f}", t.not_implemented, top, count])
    with open(out / "exercises.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["exercise", "title", "points", "students", "mean_score",
                         "passed_share", "failed_share", "not_implemented_share",
                         "top_diagnosis", "top_diagnosis_students"])
        for e in exercises:
            top, count = e.top_diagnosis()
            shares = [f"{n / e.students:.3f}" if e.students else ""
                      for n in (e.passed, e.failed, e.not_implemented)]
            writer.writerow([e.exercise, e.name, e.points, e.students, f"{e.mean_score:.2f}",
                             *shares, top, count])


def summary_lines(checks: list[Tally], students: int, top: int = 5,
                  width: int = 80) -> list[str]:
    """The most failed checks, one line each and a diagnosis under it, within `width`."""
    lines = [f"Most failed checks ({students} students):"]
    failing = [t for t in most_failed(checks) if t.failed][:top]
    if not failing:
        return lines + ["  none: every check passed for every student"]
    for t in failing:
        head = f"{100 * t.failed_share:5.1f}%  {t.exercise:<5} {t.name}"
        lines.append(_fit(head, width))
        diag, count = t.top_diagnosis()
        lines.append(_fit(f"        {count}x: {diag}", width))
    return lines


def write(folder_or_students: Path | list[dict], out: Path, top: int = 5) -> list[str]:
    """The CSV files and the figure in `out`; returns the lines to print."""
    students = (load(folder_or_students) if isinstance(folder_or_students, Path)
                else folder_or_students)
    exercises, checks = tally(students)
    write_csv(exercises, checks, out)
    lines = summary_lines(checks, len(students), top)
    try:
        from .class_figure import plot_failures
    except ImportError:  # matplotlib: a student dependency, not the grader's
        return lines + ["(no failures.png: matplotlib is not installed)"]
    plot_failures(most_failed(checks), len(students), out / "failures.png")
    return lines


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.distribute.class_report",
                                     description="A class report from a folder of checks "
                                                 "files: CSV files, a figure, the top failures.")
    parser.add_argument("checks_dir", type=Path, metavar="CHECKS_DIR")
    parser.add_argument("--out", type=Path, default=Path("build/report"))
    parser.add_argument("--top", type=int, default=5, help="checks to print (default: 5)")
    args = parser.parse_args(argv)
    if not args.checks_dir.is_dir():
        print(f"error: {args.checks_dir}: no such folder", file=sys.stderr)
        return 2
    students = load(args.checks_dir)
    if not students:
        print(f"error: no checks files in {args.checks_dir}", file=sys.stderr)
        return 2
    for line in write(students, args.out, args.top):
        print(line)
    written = [p.name for p in (args.out / name for name in FILES) if p.exists()]
    print(f"Report: {args.out}/ ({', '.join(written)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
