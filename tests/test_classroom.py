"""The GitHub Classroom workflow (`make classroom`): its shape, and its commands, run.

The commands are taken from the generated file and run as the workflow runs them: by the
shell, from the root of a fresh copy of the repository (its tracked files), with only `PATH`
and `HOME` set (what `autograding-command-grader` passes on).  Only `--target exercises`
changes, to `--target reference`, for the run that must earn full points.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from grader import course
from grader.distribute import classroom
from grader.runner import grade

MODULE_1 = [ex for ex in course.EXERCISES if ex.module.number == 1]
STUB_TARGET = "--target exercises"
REFERENCE_TARGET = "--target reference"

try:
    import yaml  # PyYAML: not a student dependency; nbgrader (the test extra) brings it
except ImportError:  # pragma: no cover - then the data the file is written from stands in
    yaml = None


def load(exercises, all_or_nothing=False) -> dict:
    """The generated workflow as a YAML reader sees it (as data, without PyYAML: the
    round-trip test shows the two agree wherever PyYAML is installed)."""
    if yaml is None:
        return classroom.plain(classroom.workflow(exercises, all_or_nothing))
    return yaml.safe_load(classroom.render(exercises, all_or_nothing))


def graded_steps(workflow: dict) -> list[dict]:
    steps = workflow["jobs"]["run-autograding-tests"]["steps"]
    return [s for s in steps if s.get("id", "").startswith("exercise_")]


def commands(workflow: dict) -> dict[str, str]:
    """Exercise id -> the command its step runs (the action's input, or the runner's)."""
    out = {}
    for step in graded_steps(workflow):
        ex_id = step["id"].removeprefix("exercise_").replace("_", ".")
        out[ex_id] = (step["with"]["command"] if "uses" in step
                      else step["env"]["GRADING_COMMAND"])
    return out


@pytest.mark.parametrize("all_or_nothing", [False, True])
@pytest.mark.parametrize("modules", [None, [1], [2, 4]])
def test_the_file_is_yaml_that_reads_back_as_written(modules, all_or_nothing):
    yaml_ = pytest.importorskip("yaml", reason="PyYAML reads the file back")
    exercises = classroom.select(modules)
    text = classroom.render(exercises, all_or_nothing)
    data = yaml_.safe_load(text)
    assert data == classroom.plain(classroom.workflow(exercises, all_or_nothing))
    assert "on" in data and True not in data  # quoted: YAML 1.1 reads a bare `on` as true
    assert data["on"][:2] == ["push", "workflow_dispatch"]
    header = text.split("\nname:")[0]
    scoring = "ALL OR NOTHING" if all_or_nothing else "PARTIAL CREDIT"
    assert scoring in header and "--fail-under" in header


@pytest.mark.parametrize("all_or_nothing", [False, True])
def test_one_graded_step_per_exercise_worth_its_points(all_or_nothing):
    workflow = load(course.EXERCISES, all_or_nothing)
    job = workflow["jobs"]["run-autograding-tests"]
    steps = job["steps"]
    graded = graded_steps(workflow)
    assert [s["id"] for s in graded] == [classroom.step_id(ex) for ex in course.EXERCISES]
    for step, ex in zip(graded, course.EXERCISES):
        assert step["if"] == "${{ !cancelled() }}"  # runs after an earlier failure too
        if all_or_nothing:
            assert step["uses"].startswith("classroom-resources/autograding-command-grader@")
            assert step["with"]["max-score"] == ex.points
            assert step["with"]["test-name"] == f"{ex.id} {ex.title}"
            assert step["with"]["command"] == classroom.command(ex)
        else:
            assert step["run"] == "python -m grader.distribute.classroom_runner"
            assert step["env"]["GRADING_MAX_SCORE"] == str(ex.points)
            assert step["env"]["GRADING_TEST_NAME"] == f"{ex.id} {ex.title}"
            assert step["env"]["GRADING_COMMAND"] == classroom.command(ex)
            assert step["env"]["GRADING_RESULTS"] in step["env"]["GRADING_COMMAND"]
        assert f"--exercise {ex.id} " in classroom.command(ex)
        assert classroom.command(ex).endswith(f"--fail-under {ex.points}")
    # The reporter comes last, runs whatever failed, and is given every step's result.
    reporter = steps[-1]
    assert reporter["uses"].startswith("classroom-resources/autograding-grading-reporter@")
    assert reporter["if"] == "${{ !cancelled() }}"
    assert reporter["with"]["runners"].split(",") == [s["id"] for s in graded]
    assert reporter["env"] == {f"{s['id'].upper()}_RESULTS": f"${{{{ steps.{s['id']}.outputs"
                               ".result }}" for s in graded}
    # Set-up: the submission, a Python the course supports, the student dependencies.
    uses = [s["uses"] for s in steps if "uses" in s]
    assert all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", u) for u in uses)  # pinned
    assert uses[0].startswith("actions/checkout@")
    python = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python@"))
    assert python["with"]["python-version"] in ("3.10", "3.11", "3.12", "3.13")
    assert any(re.search(r"pip install .*-e \.$", s.get("run", "")) for s in steps)
    assert sum(ex.points for ex in course.EXERCISES) == sum(
        int(s["env"]["GRADING_MAX_SCORE"]) if "env" in s and "run" in s
        else s["with"]["max-score"] for s in graded)


def test_a_module_selection_grades_that_module_only(tmp_path):
    assert classroom.main(["--out", str(tmp_path), "--module", "1"]) == 0
    path = tmp_path / ".github" / "workflows" / "classroom.yml"
    text = path.read_text()
    assert text == classroom.render(MODULE_1)
    assert [s["id"] for s in graded_steps(load(MODULE_1))] == [
        f"exercise_1_{n}" for n in range(1, 10)]
    assert "module 1: 9 exercises, 60 points" in text
    two = classroom.select([4, 2])
    assert [ex.id for ex in two] == [ex.id for ex in course.EXERCISES
                                     if ex.module.number in (2, 4)]
    assert classroom.main(["--out", str(tmp_path), "--module", "9"]) == 2


# --- the commands, run as the workflow runs them ----------------------------------------------

@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory) -> Path:
    """The repository's tracked files, as `actions/checkout` lays them out."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout: no tracked files to copy")
    root = tmp_path_factory.mktemp("clone")
    for name in listed.stdout.decode().split("\0"):
        if name and (REPO / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / name)
    return root


def workflow_env(**extra) -> dict[str, str]:
    """What the command grader passes on: PATH (with this Python as `python`) and HOME."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {"PATH": path, "HOME": os.environ.get("HOME", "/tmp"), "FORCE_COLOR": "true",
            **extra}


def run_shell(command: str, cwd: Path, **env) -> subprocess.CompletedProcess:
    return subprocess.run(command, shell=True, cwd=cwd, env=workflow_env(**env),
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_module_1_commands_pass_on_the_reference_and_fail_on_the_stubs(fresh_clone):
    extracted = commands(load(MODULE_1))
    assert extracted == commands(load(MODULE_1, all_or_nothing=True))  # both modes alike
    assert list(extracted) == [ex.id for ex in MODULE_1]
    for ex in MODULE_1:
        command = extracted[ex.id]
        assert command.count(STUB_TARGET) == 1, command
        on_reference = run_shell(command.replace(STUB_TARGET, REFERENCE_TARGET), fresh_clone)
        assert on_reference.returncode == 0, on_reference.stdout + on_reference.stderr
        assert f"Total: {ex.points}/{ex.points} points" in on_reference.stdout
        on_stubs = run_shell(command, fresh_clone)
        assert on_stubs.returncode == 1, on_stubs.stdout + on_stubs.stderr  # --fail-under
        assert f"Total: 0/{ex.points} points" in on_stubs.stdout
        assert (fresh_clone / classroom.results_path(ex)).is_file()


def run_step(step: dict, cwd: Path, tmp_path: Path, target: str | None = None) -> dict:
    """Run a partial-credit step as Actions would; returns the result the reporter reads."""
    env = dict(step["env"])
    if target:
        env["GRADING_COMMAND"] = env["GRADING_COMMAND"].replace(STUB_TARGET, f"--target {target}")
    output = tmp_path / "github_output"
    output.write_text("")
    done = run_shell(step["run"], cwd, GITHUB_OUTPUT=str(output), **env)
    assert done.returncode == 0, done.stdout + done.stderr  # the step never fails itself
    (line,) = output.read_text().splitlines()
    name, _, value = line.partition("=")
    assert name == "result"
    return json.loads(base64.b64decode(value))


@pytest.mark.slow
def test_the_partial_credit_steps_report_the_graders_points(fresh_clone, tmp_path, submission):
    steps = {s["id"]: s for s in graded_steps(load(MODULE_1))}
    full = run_step(steps["exercise_1_1"], fresh_clone, tmp_path, target="reference")
    assert full["status"] == "pass" and full["max_score"] == 4
    assert [t["score"] for t in full["tests"]] == [4]
    zero = run_step(steps["exercise_1_1"], fresh_clone, tmp_path)
    assert zero["status"] == "fail" and [t["score"] for t in zero["tests"]] == [0]
    # 1.6 (3 points): split_heads right (weight 2), merge_heads not written (weight 1).
    heads = submission / "self_attention" / "heads.py"
    source = heads.read_text()
    start = source.index("def merge_heads")
    heads.write_text(source[:start] + "def merge_heads(x):\n    raise NotImplementedError\n")
    partial = run_step(steps["exercise_1_6"], fresh_clone, tmp_path, target=str(submission))
    assert partial["status"] == "fail" and partial["max_score"] == 3
    (test,) = partial["tests"]
    [graded] = grade(submission, ["1.6"])  # the grader's own partial credit
    assert 0 < graded.score < 3 and test["score"] == graded.score
    assert test["name"] == f"1.6 Split and merge heads: {graded.score:g}/3 points"
    assert test["test_code"].endswith("--exercise 1.6 --json build/autograding/1.6.json "
                                      "--fail-under 3")


@pytest.mark.parametrize("command, timeout, message", [
    ("exit 2", "1", "failed with exit code 2"),  # the grader could not grade
    ("exit 1", "1", "failed with exit code 1"),  # e.g. a crash before any results file
    ("sleep 30", "0.01", "Command timed out"),
])
def test_the_runner_reports_an_error_worth_nothing_when_nothing_was_graded(
        tmp_path, command, timeout, message):
    output = tmp_path / "out"
    env = {"GRADING_TEST_NAME": "1.1 Stable softmax", "GRADING_MAX_SCORE": "4",
           "GRADING_TIMEOUT": timeout, "GRADING_RESULTS": str(tmp_path / "none.json"),
           "GRADING_COMMAND": command, "GITHUB_OUTPUT": str(output)}
    runner = f"{sys.executable} -m grader.distribute.classroom_runner"
    done = run_shell(runner, REPO, **env)
    assert done.returncode == 0, done.stderr
    result = json.loads(base64.b64decode(output.read_text().strip().partition("=")[2]))
    assert result["status"] == "error" and result["max_score"] == 4  # the points still count
    assert result["tests"][0]["score"] == 0 and result["tests"][0]["message"] == message
