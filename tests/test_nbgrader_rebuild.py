"""Rebuilding the nbgrader course keeps the instructor's work: settings, gradebook, submissions.

An instructor creates the course, adds settings of their own, collects and grades two
students; then the course is rebuilt, as after any change to the repository.  Nothing of
theirs may be lost, and after a change of points the rebuild names the students whose
grades came from the old points.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
from pathlib import Path

import nbformat
import pytest
from conftest import copy_course

from grader import course
from grader.distribute import nbgrader_course, sources

ASSIGNMENT = "01_self_attention"
MINE = '''
c.Exchange.root = "/srv/nbgrader/exchange-of-this-course"
c.LateSubmissionPlugin.penalty_method = "zero"
'''


def completed(root: Path, student: str) -> nbformat.NotebookNode:
    nb = nbformat.read(root / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    if student == "untouched":
        return nb
    source = nbformat.read(root / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = "".join(line for line in answers[grade_id].splitlines(True)
                                  if line.strip() not in (sources.BEGIN, sources.END))
    return nb


def scores(root: Path) -> dict[str, float]:
    done = nbgrader_course.nbgrader(root, "export")
    assert done.returncode == 0, done.stderr[-2000:]
    with open(root / "grades.csv") as f:
        return {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}


def theirs(root: Path) -> dict[str, str]:
    """A fingerprint of everything the instructor and nbgrader own in the course folder."""
    owned = [root / "nbgrader_config.py", root / "gradebook.db",
             *sorted((root / "submitted").rglob("*")), *sorted((root / "autograded").rglob("*"))]
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in owned if p.is_file() and p.name != "gradebook.db"} | {
        "students": ",".join(sorted(scores(root)))}


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory, module_1_course):
    root = copy_course(module_1_course, tmp_path_factory.mktemp("course") / "nbgrader-course")
    with open(root / "nbgrader_config.py", "a") as f:
        f.write(MINE)
    for student in ("complete", "untouched"):
        folder = root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(completed(root, student), folder / f"{ASSIGNMENT}.ipynb")
    done = nbgrader_course.nbgrader(root, "autograde", ASSIGNMENT)
    assert done.returncode == 0, done.stderr[-2000:]
    return root


def test_a_rebuild_loses_nothing_of_the_instructor(graded_course):
    root = graded_course
    before, grades = theirs(root), scores(root)
    assert grades == {"complete": 60.0, "untouched": 0.0}
    said: list[str] = []
    nbgrader_course.build(root, modules=course.MODULES[:1], say=said.append)
    assert said == []  # nothing changed: nothing to re-grade
    assert theirs(root) == before and scores(root) == grades
    assert MINE in (root / "nbgrader_config.py").read_text()


def test_a_change_of_points_names_the_students_to_regrade(graded_course, monkeypatch):
    root = graded_course
    before = theirs(root)
    changed = [dataclasses.replace(ex, points=ex.points + 1) if ex.id == "1.3" else ex
               for ex in course.EXERCISES]
    monkeypatch.setattr(course, "EXERCISES", tuple(changed))
    monkeypatch.setattr(course, "BY_ID", {ex.id: ex for ex in changed})
    said: list[str] = []
    nbgrader_course.build(root, modules=course.MODULES[:1], say=said.append)
    assert len(said) == 1, said
    assert "1.3 worth 5 points (was 4)" in said[0]
    assert f"nbgrader autograde {ASSIGNMENT} --force" in said[0]
    assert "complete, untouched" in said[0]
    assert theirs(root) == before  # the grades stay until the instructor re-grades
