"""Hostile notebooks against a real `nbgrader autograde`, `export` and `generate_feedback`.

Every notebook starts from the untouched release of Module 1 (all stubs: 0 points), with one
attack in a solution cell, or from the completed one (60), with the attack in a cell of its
own.  nbgrader's own autograding
runs test cells in the student's kernel, where one cell decides every later score; here the
score comes from the sandboxed grader, so no attack may raise it.  The feedback a student
gets shows hidden checks' results, never their code.

Student code runs confined: under Landlock where the kernel has it (here, as whoever runs the
tests); without it, these tests switch `require_confinement` off, since the attacks below
target the kernel, not the file system.
"""

from __future__ import annotations

import csv
import html
import inspect
import re
import textwrap
from pathlib import Path

import nbformat
import pytest
from conftest import copy_course

from grader import checks, course
from grader.distribute import nbgrader_course, sources
from grader.sandbox.confine import landlock_abi

ASSIGNMENT = "01_self_attention"
TOTAL = sum(ex.points for ex in course.EXERCISES if ex.module.number == 1)

ATTACKS = {
    # Replace what records a check's result, in the helpers the test cells use.
    "patch-the-helpers": '''
        import grader.local
        grader.local.CellGrade._run = (
            lambda self, fn, weight, description, timeout:
            self.results.append((description, weight, "")))
        grader.local.CellGrade.points = lambda self: float(self.exercise.points)
        ''',
    # Turn every later cell into `None`: a test cell that runs nothing raises nothing.
    "input-transformer": '''
        get_ipython().input_transformers_post.append(lambda lines: ["None\\n"])
        ''',
    # Redefine what the test cells call and display, from inside the namespace.
    "redefine-names": '''
        class CellGrade:
            def __init__(self, *args): pass
            def run_visible(self): return self
            def points(self): return 60.0
        display = print
        ''',
    # End the kernel (and whatever runs the notebook's code).
    "exit": '''
        import os
        os._exit(0)
        ''',
    # Reach the gradebook and the hidden checks on the instructor's disk.
    "read-and-write-the-course": '''
        import glob, os
        for path in glob.glob("{root}/**", recursive=True)[:50] + ["{root}/gradebook.db"]:
            try:
                with open(path, "ab") as f:
                    f.write(b"x")
                print("WROTE", path)
            except OSError as exc:
                print("denied", type(exc).__name__)
        ''',
}


@pytest.fixture(scope="module")
def course_dir(tmp_path_factory, module_1_course):
    root = copy_course(module_1_course, tmp_path_factory.mktemp("nbgrader") / "course",
                       cell_timeout=60)
    if landlock_abi() == 0:
        with open(root / "nbgrader_config.py", "a") as f:
            f.write("c.GradeInSandbox.require_confinement = False\n")
    return root


def release(course_dir: Path) -> nbformat.NotebookNode:
    return nbformat.read(course_dir / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)


def completed(course_dir: Path) -> nbformat.NotebookNode:
    nb = release(course_dir)
    source = nbformat.read(course_dir / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = "".join(line for line in answers[grade_id].splitlines(keepends=True)
                                  if line.strip() not in (sources.BEGIN, sources.END))
    return nb


def with_attack(nb: nbformat.NotebookNode, code: str, own_cell: bool = False):
    """The attack at the top of 1.1's solution cell, or in a cell of its own after it."""
    code = textwrap.dedent(code).strip() + "\n"
    for index, c in enumerate(nb.cells):
        if c.metadata.get("nbgrader", {}).get("grade_id") == "ex1_1":
            if own_cell:
                nb.cells.insert(index + 1, nbformat.v4.new_code_cell(code))
            else:
                c.source = code + "\n" + c.source
            return nb
    raise AssertionError("no solution cell of 1.1")


@pytest.fixture(scope="module")
def graded(course_dir):
    """Every attack, on the untouched release and on the completed notebook; autograded,
    exported and given feedback once.  Returns {student: score}."""
    students = {"untouched": release(course_dir), "complete": completed(course_dir)}
    for name, code in ATTACKS.items():
        code = code.replace("{root}", str(course_dir))
        students[f"stub-{name}"] = with_attack(release(course_dir), code)
        if name != "exit":
            students[f"full-{name}"] = with_attack(completed(course_dir), code, own_cell=True)
    for student, nb in students.items():
        folder = course_dir / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{ASSIGNMENT}.ipynb")
    for command in (["autograde", ASSIGNMENT], ["export"],
                    ["generate_feedback", ASSIGNMENT]):
        done = nbgrader_course.nbgrader(course_dir, *command)
        assert done.returncode == 0, done.stderr[-3000:]
    with open(course_dir / "grades.csv") as f:
        return {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_no_cell_raises_a_score_above_what_the_code_earns(graded, attack):
    assert graded["untouched"] == 0 and graded["complete"] == TOTAL
    assert graded[f"stub-{attack}"] == 0  # what the untouched stubs earn
    if attack != "exit":  # in a cell of its own, it costs nothing and gains nothing
        assert graded[f"full-{attack}"] == TOTAL


def test_student_code_reaches_nothing_of_the_course(course_dir, graded):
    nb = nbformat.read(course_dir / "autograded" / "stub-read-and-write-the-course" /
                       ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    text = "\n".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    if landlock_abi() == 0:
        pytest.skip("no Landlock here: as the same user, student code reaches the course")
    assert "WROTE" not in text and "denied" in text


def _hidden_code_lines() -> set[str]:
    lines = set()
    for chk in checks.REGISTRY:
        if chk.hidden and chk.exercise_id.startswith("1."):
            body = inspect.getsource(chk.fn).splitlines()[2:]  # past the decorator and def
            lines |= {line.strip() for line in body if len(line.strip()) > 25}
    return lines


def test_feedback_reports_hidden_checks_without_their_code(course_dir, graded):
    pages = list((course_dir / "feedback").rglob("*.html"))
    assert len(pages) == len(graded)
    hidden = [c for c in checks.REGISTRY if c.hidden and c.exercise_id.startswith("1.")]
    code = _hidden_code_lines()
    assert hidden and code
    for page in pages:
        # The words as a reader sees them: code highlighting splits lines into tags.
        text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
        for chk in hidden:
            assert f"def {chk.name}" not in text and chk.name not in text, (page, chk.name)
        leaked = [line for line in code if line in text]
        assert not leaked, (page, leaked[:3])
    complete = html.unescape(next(p for p in pages if "/complete/" in str(p)).read_text())
    assert "(hidden)" in complete and "graded outside your notebook" in complete
