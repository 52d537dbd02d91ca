"""After a class was graded: each student's score, `scores.csv`, and the summary line."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from .progress import clock


@dataclass(frozen=True)
class Score:
    student: str
    score: float = 0.0
    max_score: float = 0.0
    not_graded: str = ""  # why, when the student has no checks file


def score_of(student: str, checks_file: Path, why_not: str) -> Score:
    """From the student's checks file (hidden checks included), or `why_not` without one."""
    try:
        exercises = json.loads(checks_file.read_text())["exercises"]
    except (OSError, ValueError, KeyError, TypeError):
        return Score(student, not_graded=why_not or "not graded")
    return Score(student, round(sum(e["score"] for e in exercises), 2),
                 sum(e["points"] for e in exercises))


def write_scores(scores: list[Score], path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "score", "max_score", "not_graded"])
        for s in scores:
            writer.writerow([s.student, s.score, s.max_score, s.not_graded])


def summary(scores: list[Score], seconds: float, jobs: int, noun: str) -> list[str]:
    """Who was not graded (if anyone), then one line: how many, how long, how well."""
    lines = []
    missing = [s.student for s in scores if s.not_graded]
    if missing:
        more = f" and {len(missing) - 8} more" if len(missing) > 8 else ""
        lines.append(f"Not graded ({len(missing)}): {', '.join(missing[:8])}{more}")
    graded = [s for s in scores if not s.not_graded]
    line = (f"Graded {len(graded)}/{len(scores)} {noun} in {clock(seconds)} "
            f"({jobs} job{'s' if jobs != 1 else ''})")
    if graded:
        possible = max(s.max_score for s in graded)
        mean = sum(s.score for s in graded) / len(graded)
        full = sum(s.score == s.max_score for s in graded)
        line += f": mean {mean:.1f}/{possible:g}, {full} full marks"
    return [*lines, line + "."]
