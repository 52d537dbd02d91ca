"""`grade_class` on an nbgrader course: `nbgrader autograde` in parallel shards.

A Module-1-only course with five submitted notebooks (the completed one, the untouched
release, and the completed one with a planted bug: a top-left causal mask in two, a softmax
without the maximum subtracted in one), autograded in 2 shards that share the sqlite
gradebook.  `nbgrader export` must then list every student with the score of their code,
and the class report the planted bugs.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import nbformat
import pytest
from class_submissions import PLANTED, TOTAL, expected_score
from conftest import REPO, copy_course

from grader.distribute import nbgrader_course, sources
from grader.sandbox.confine import landlock_abi

ASSIGNMENT = "01_self_attention"
STUDENTS = {"complete": None, "untouched": "untouched", "mask-a": "causal_top_left",
            "mask-b": "causal_top_left", "softmax": "softmax_no_max"}


def notebook(course_dir, bug: str | None) -> nbformat.NotebookNode:
    """The release, filled in with the solutions (unless untouched), with `bug` planted."""
    nb = nbformat.read(course_dir / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    if bug == "untouched":
        return nb
    source = nbformat.read(course_dir / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    planted = 0
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = "".join(line for line in answers[grade_id].splitlines(keepends=True)
                                  if line.strip() not in (sources.BEGIN, sources.END))
            if bug and PLANTED[bug].old in cell.source:
                cell.source = cell.source.replace(PLANTED[bug].old, PLANTED[bug].new)
                planted += 1
    assert planted == (1 if bug else 0), bug
    return nb


@pytest.fixture(scope="module")
def autograded(tmp_path_factory, module_1_course):
    root = copy_course(module_1_course, tmp_path_factory.mktemp("nbgrader-class") / "course",
                       cell_timeout=60)
    if landlock_abi() == 0:
        with open(root / "nbgrader_config.py", "a") as f:
            f.write("c.GradeInSandbox.require_confinement = False\n")
    for student, bug in STUDENTS.items():
        folder = root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(notebook(root, bug), folder / f"{ASSIGNMENT}.ipynb")
    done = subprocess.run([sys.executable, "-m", "grader.distribute.grade_class",
                           "--course", str(root), "--assignment", ASSIGNMENT, "--jobs", "2"],
                          cwd=REPO, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-3000:]
    return root, done


def test_the_gradebook_gets_every_students_score(autograded):
    root, _ = autograded
    done = nbgrader_course.nbgrader(root, "export")
    assert done.returncode == 0, done.stderr[-2000:]
    with open(root / "grades.csv") as f:
        scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    expected = {s: 0.0 if bug == "untouched" else expected_score(bug)
                for s, bug in STUDENTS.items()}
    assert scores == pytest.approx(expected, abs=0.011)  # nbgrader adds rounded cell scores
    assert scores["complete"] == TOTAL
    with open(root / "reports" / "class" / ASSIGNMENT / "scores.csv") as f:
        ours = {row["student"]: float(row["score"]) for row in csv.DictReader(f)}
    assert ours == pytest.approx(scores, abs=0.011)


def test_shards_split_the_class_and_nothing_was_locked(autograded):
    root, done = autograded
    logs = sorted((root / "reports" / "class" / ASSIGNMENT / "logs").glob("*.txt"))
    assert [p.name for p in logs] == ["shard-1.txt", "shard-2.txt"]  # no retry was needed
    for log in logs:
        text = log.read_text()
        assert "locked" not in text and "Traceback" not in text, text[-2000:]
    assert "Autograding 5 students' 01_self_attention in 2 shards" in done.stderr
    assert "5/5 graded" in done.stderr


def test_the_class_report_lists_the_planted_bugs(autograded):
    root, done = autograded
    report = root / "reports" / "class" / ASSIGNMENT / "report"
    with open(report / "checks.csv") as f:
        rows = list(csv.DictReader(f))
    mask, softmax = (PLANTED[b].check.split() for b in ("causal_top_left", "softmax_no_max"))
    by_check = {(r["exercise"], r["check"]): r for r in rows}
    # The untouched notebook fails every check; the planted bugs come next.
    assert by_check[tuple(mask)]["failed"] == "3" and by_check[tuple(softmax)]["failed"] == "2"
    assert all(int(r["failed"]) >= 1 for r in rows)
    lines = done.stdout.strip().splitlines()
    assert lines[-3].startswith("Graded 5/5 students in ")
    assert "gradebook" in lines[-2] and (report / "failures.png").is_file()
    assert lines[-1] == f"Report: {report}/"
