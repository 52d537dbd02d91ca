"""nbgrader, end to end, with the real commands (Gradescope's are in test_gradescope.py).

Four submissions of Module 1 go through it: the reference solutions (full marks), the
untouched release (zero), one whose `causal_mask` (exercise 1.3, 4 points) hangs (only 1.3
lost) and correct code that warns and writes to stderr (still full marks); every later
module's notebook, completed, earns full marks.  Attacks are in
tests/test_hostile_nbgrader.py.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import REPO
from course_notebooks import (
    ASSIGNMENT,
    HANG_POINTS,
    TOTAL,
    notebook_for,
    solved,
)

from grader import course
from grader.distribute import (
    helper_package,
    nbgrader_course,
    sources,
)
from grader.distribute import (
    notebook as notebook_builder,
)


@pytest.fixture(scope="module")
def course_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("nbgrader") / "course"
    assert nbgrader_course.build(root, cell_timeout=60) == [
        f"{m.number:02d}_{m.package}" for m in course.MODULES]
    return root


def test_release_holds_no_solution_and_no_hidden_test(course_dir):
    """No assignment holds a solution of its own module or a later one (earlier modules'
    solutions are given, solved, where a module builds on them), and no hidden test."""
    for module in course.MODULES:
        name = f"{module.number:02d}_{module.package}"
        later = {m.package for m in course.MODULES if m.number >= module.number}
        earlier = {m.package for m in course.MODULES if m.number < module.number}
        handed_out = sources.solution_lines(packages=earlier) if earlier else set()
        shipped = "\n".join(handed_out | _grader_lines())
        # a line that is (part of) a line shipped on purpose is no leak: a continuation such
        # as `mask)  # (B, H, T, D)` also ends a given line of an earlier module
        leaks = {line for line in sources.solution_lines(packages=later) if line not in shipped}
        _scan_release(course_dir / "release" / name, leaks)


def _grader_lines() -> set[str]:
    """Lines of the grader's own code, shipped on purpose: a solution line that happens to
    equal one (`n_in, n_out = w.shape`) is not a leak."""
    grader = Path(__import__("grader").__file__).parent
    return {line.strip() for path in grader.rglob("*.py") for line in path.read_text().splitlines()}


def _scan_release(release: Path, leaks: set[str]) -> None:
    hidden_names = [c.name for c in __import__("grader").checks.REGISTRY if c.hidden]
    assert leaks and hidden_names
    files = [p for p in release.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert any(p.suffix == ".ipynb" for p in files) and any(p.suffix == ".py" for p in files)
    for path in files:
        if path.suffix in (".npz", ".png", ".jpg", ".gif"):
            continue  # expected values and figures (data), no code
        text = path.read_text()
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS"):
            assert marker not in text, f"{path}: {marker}"
        for line in leaks:
            assert line not in text, f"{path} contains solution code: {line!r}"
        for name in hidden_names:
            assert f"def {name}(" not in text and f"'{name}'" not in text, f"{path}: {name}"


def test_hidden_checks_are_in_no_notebook_only_in_the_autograder(course_dir):
    hidden = [c.name for c in __import__("grader").checks.REGISTRY if c.hidden]
    for notebook in (course_dir / "source").rglob("*.ipynb"):
        text = notebook.read_text()
        assert "HIDDEN TESTS" not in text
        assert not [name for name in hidden if name in text], notebook
    checks_1_5 = "grader/checks/self_attention/ex1_5_attention_backward.py"
    helper = helper_package.visible_source((REPO / checks_1_5).read_text())
    assert "def attention_backward_finite_differences" not in helper
    assert "def attention_backward_dq" in helper
    private = (course_dir / "autograder" / checks_1_5).read_text()
    assert "def attention_backward_finite_differences" in private


@pytest.mark.parametrize("module", course.MODULES, ids=lambda m: m.package)
def test_test_cells_carry_the_grader_points(course_dir, module):
    name = f"{module.number:02d}_{module.package}"
    release = nbformat.read(course_dir / "release" / name / f"{name}.ipynb", 4)
    points = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
              for c in release.cells if c.metadata.get("nbgrader", {}).get("grade")}
    assert points == {f"ex{ex.id.replace('.', '_')}_tests": ex.points
                      for ex in course.EXERCISES if ex.module == module}


def test_release_helper_package_works_on_its_own(course_dir, tmp_path):
    """The shipped grader/ copy, not the repository's, grades from the release folder."""
    work = tmp_path / "student"
    shutil.copytree(course_dir / "release" / ASSIGNMENT, work)
    code = ("import grader, importlib; print(grader.__file__); "
            "from grader import course; from grader.local import check_exercise; "
            "file = lambda e: 'reference.' + course.BY_ID[e].path[:-3].replace('/', '.'); "
            "print(sum(check_exercise(e, importlib.import_module(file(e)), hidden=False) "
            "for e in ['1.1','1.2','1.3','1.4','1.5','1.6','1.7','1.8','1.9']))")
    env = dict(os.environ, PYTHONPATH=str(REPO / "_no_such_dir"))
    done = subprocess.run([sys.executable, "-c", code], cwd=work, capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    where, total = done.stdout.split()
    assert Path(where).resolve().is_relative_to(work.resolve())
    assert float(total) == TOTAL


def test_nbgrader_autograde_and_export(course_dir):
    for student in ("complete", "untouched", "hangs", "noisy"):
        folder = course_dir / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(notebook_for(course_dir, student), folder / f"{ASSIGNMENT}.ipynb")
    done = nbgrader_course.nbgrader(course_dir, "autograde", ASSIGNMENT)
    assert done.returncode == 0, done.stderr[-3000:]
    done = nbgrader_course.nbgrader(course_dir, "export")
    assert done.returncode == 0, done.stderr[-3000:]
    with open(course_dir / "grades.csv") as f:
        scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)
                  if row["assignment"] == ASSIGNMENT}
    assert scores == {"complete": TOTAL, "untouched": 0.0, "hangs": TOTAL - HANG_POINTS,
                      "noisy": TOTAL}


def test_nbgrader_full_marks_on_every_other_module(course_dir):
    """Each later module's notebook, completed with the reference, autogrades to full marks."""
    for module in course.MODULES[1:]:
        name = f"{module.number:02d}_{module.package}"
        folder = course_dir / "submitted" / "complete" / name
        folder.mkdir(parents=True)
        nbformat.write(notebook_for(course_dir, "complete", name), folder / f"{name}.ipynb")
        done = nbgrader_course.nbgrader(course_dir, "autograde", name)
        assert done.returncode == 0, done.stderr[-3000:]
    done = nbgrader_course.nbgrader(course_dir, "export")
    with open(course_dir / "grades.csv") as f:
        scores = {row["assignment"]: float(row["score"]) for row in csv.DictReader(f)
                  if row["student_id"] == "complete"}
    for module in course.MODULES[1:]:
        expected = sum(ex.points for ex in course.EXERCISES if ex.module == module)
        assert scores[f"{module.number:02d}_{module.package}"] == expected


@pytest.mark.parametrize("module", course.MODULES, ids=lambda m: m.package)
def test_a_solved_notebook_uses_no_name_it_does_not_define(module, tmp_path):
    """Every name the notebook's code reads is defined in some cell, e.g. the helpers of
    `transformer/hf_checkpoint.py` that `GPT.from_pretrained` calls (pyflakes' F821)."""
    nb = notebook_builder.build(module)
    code = "\n\n".join(solved(c.source) for c in nb.cells
                       if c.cell_type == "code" and not c.metadata["nbgrader"].get("grade"))
    (tmp_path / "notebook.py").write_text(code)
    ruff = Path(sys.executable).with_name("ruff")
    found = subprocess.run([str(ruff), "check", "--isolated", "--select", "F821",
                            "--output-format", "concise", str(tmp_path / "notebook.py")],
                           capture_output=True, text=True)
    assert found.returncode == 0, found.stdout


@pytest.mark.parametrize("module", course.MODULES, ids=lambda m: m.package)
def test_a_release_holds_its_own_module_and_lecture_only(course_dir, module):
    name = f"{module.number:02d}_{module.package}"
    release = course_dir / "release" / name
    checks = release / "grader" / "checks"
    shipped = {p.name for p in checks.iterdir() if p.is_dir() and p.name != "__pycache__"}
    data = {p.stem for p in (release / "grader" / "data").glob("*.npz")}
    assert shipped == set(helper_package.check_modules(module)) == {module.package}
    assert not list(checks.rglob("fixtures.py"))  # the recipe of the fixtures stays behind
    assert data <= shipped and data
    lecture = release / module.lecture_dir / "theory.md"
    assert lecture.is_file()
    text = (release / f"{name}.ipynb").read_text()
    for ex in course.EXERCISES:
        if ex.module == module:  # every exercise links to its section, which is shipped
            assert f"]({ex.lecture_link})" in text
    others = [m.lecture_dir for m in course.MODULES if m != module]
    assert not any((release / other).exists() for other in others)
