"""Gradescope, end to end, with the real `run_autograder` (nbgrader's are in
test_distribution.py).

Three submissions of Module 1 go through it: the reference solutions (full marks), the
untouched release (zero) and one whose `causal_mask` (exercise 1.3, 4 points) hangs (only 1.3
lost); a notebook handed in scores what its code scores as files.  Attacks are in
tests/test_hostile_gradescope.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import autograder_run
import nbformat
import pytest
from conftest import REPO
from course_notebooks import ASSIGNMENT, HANG_POINTS, HANGING_CAUSAL_MASK, TOTAL, notebook_for

from grader import course
from grader.distribute import collect, gradescope


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory):
    """Module 1's autograder (each module gets its own; autograder.zip grades them all)."""
    out = tmp_path_factory.mktemp("gradescope")
    zips = gradescope.build(out)
    assert zips[0] == out / "autograder.zip"
    assert {z.parent.name for z in zips[1:]} == {f"{m.number:02d}_{m.package}"
                                                 for m in course.MODULES}
    return out / ASSIGNMENT / "autograder.zip"


def run_gradescope(zip_path: Path, root: Path, files: dict[str, str], env: dict) -> dict:
    done, results = autograder_run.run(zip_path, root, files, env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return results


def reference_files(prefix: str) -> dict[str, str]:
    return {f"{prefix}{p.name}": p.read_text()
            for p in (REPO / "reference" / "self_attention").glob("*.py")}


def test_gradescope_package_layout(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as zf:
        names = set(zf.namelist())
        assert {"setup.sh", "run_autograder", "requirements.txt", "grader/__main__.py",
                "exercises/self_attention/attention.py"} <= names
        assert not any(n.startswith("reference/") for n in names)
        assert (zf.getinfo("run_autograder").external_attr >> 16) & 0o111
        requirements = zf.read("requirements.txt").decode()
    assert "numpy" in requirements and "pytest-timeout" in requirements
    assert "matplotlib" not in requirements
    assert all("==" in line for line in requirements.splitlines())  # pinned
    for script in ("setup.sh", "run_autograder"):
        with zipfile.ZipFile(autograder_zip) as zf:
            text = zf.read(script).decode()
        assert subprocess.run(["bash", "-n"], input=text, text=True).returncode == 0


def score(results: dict) -> float:
    """What Gradescope adds up (there is no top-level score while checks are hidden)."""
    return round(sum(t["score"] for t in results["tests"]), 2)


def test_gradescope_full_marks_for_the_reference(autograder_zip, tmp_path, gradescope_env):
    results = run_gradescope(autograder_zip, tmp_path,
                             reference_files("exercises/self_attention/"), gradescope_env)
    assert score(results) == TOTAL and results["max_score"] == TOTAL
    hidden = [t for t in results["tests"] if t["visibility"] == "after_due_date"]
    assert hidden and all(t["score"] == t["max_score"] for t in hidden)
    assert sum(t["max_score"] for t in results["tests"]) == pytest.approx(TOTAL)


def test_gradescope_zero_for_an_empty_submission(autograder_zip, tmp_path, gradescope_env):
    results = run_gradescope(autograder_zip, tmp_path, {}, gradescope_env)
    assert score(results) == 0 and results["max_score"] == TOTAL
    assert "was not in your submission" in results["output"]


def test_gradescope_hang_costs_only_its_exercise(autograder_zip, tmp_path, gradescope_env):
    files = reference_files("")  # loose files, as some students upload them
    masks = files["masks.py"]
    start = masks.index("def causal_mask")
    end = masks.index("def padding_mask")
    files["masks.py"] = masks[:start] + HANGING_CAUSAL_MASK + "\n\n" + masks[end:]
    results = run_gradescope(autograder_zip, tmp_path, files, gradescope_env)
    assert score(results) == TOTAL - HANG_POINTS
    text = json.dumps(results)  # what students read names no temporary folder
    assert "/tmp" not in text and str(tmp_path) not in text and "course-grading-" not in text
    lost = {t["number"] for t in results["tests"] if t["score"] < t["max_score"]}
    assert lost == {"1.3"}


def test_uploaded_exercise_files_get_the_given_helpers_from_the_stubs(tmp_path):
    """An upload holds exercise files; what they import (`transformer/hf_checkpoint.py`,
    `transformer/training.py`) comes from the stubs, even when the upload has its own."""
    upload = tmp_path / "upload"
    for ex in course.EXERCISES:
        (upload / ex.module.package).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / "reference" / ex.path, upload / ex.path)
    (upload / "transformer" / "hf_checkpoint.py").write_text("raise SystemExit('tampered')\n")
    laid_out = tmp_path / "laid_out"
    assert collect.collect(upload, laid_out, exercise_ids=["3.11", "4.3"]) == []
    stubs = REPO / "exercises"
    assert {p.relative_to(stubs) for p in stubs.rglob("*.py")} == \
        {p.relative_to(laid_out) for p in laid_out.rglob("*.py")}
    for helper in ("transformer/hf_checkpoint.py", "transformer/training.py"):
        assert (laid_out / helper).read_bytes() == (stubs / helper).read_bytes()
    results = tmp_path / "results.json"
    subprocess.run([sys.executable, "-m", "grader", "--target", str(laid_out), "-e", "3.11",
                    "-e", "4.3", "--json", str(results)], cwd=REPO, capture_output=True,
                   check=False)
    tests = json.loads(results.read_text())["tests"]
    assert [(t["number"], t["score"]) for t in tests] == [
        (ex_id, course.BY_ID[ex_id].points) for ex_id in ("3.11", "4.3")]


# -- one deliverable on every route ----------------------------------------------------------
TOP_LEFT = ("return j <= i + (t_k - t_q)", "return j <= i  # a top-left mask: a planted bug")


def test_a_notebook_on_gradescope_scores_what_its_code_scores_as_files(
        module_1_course, autograder_zip, tmp_path, gradescope_env):
    scores_of = {}
    for route in ("notebook", "files"):
        if route == "notebook":
            nb = notebook_for(module_1_course, "complete")
            for cell in nb.cells:
                cell.source = cell.source.replace(*TOP_LEFT)
            files = {"work/01_self_attention.ipynb": nbformat.writes(nb)}
        else:
            files = reference_files("exercises/self_attention/")
            path = "exercises/self_attention/masks.py"
            files[path] = files[path].replace(*TOP_LEFT)
        results = run_gradescope(autograder_zip, tmp_path / route, files, gradescope_env)
        if route == "notebook":
            assert "Graded your notebook work/01_self_attention.ipynb" in results["output"]
        scores_of[route] = {}
        for t in results["tests"]:
            scores_of[route][t["name"]] = t["score"]
    assert scores_of["notebook"] == scores_of["files"]
    assert sum(scores_of["files"].values()) < TOTAL  # the planted bug costs points
