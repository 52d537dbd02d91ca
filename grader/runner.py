"""Grade a folder laid out like `exercises/`: pytest runs the checks, the sandbox the code."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from . import course, fixtures
from .plugin import GradingPlugin
from .results import ERROR, CheckResult, ExerciseResult
from .sandbox import WorkerPool

GRADER_DIR = Path(__file__).resolve().parent
REPO_ROOT = GRADER_DIR.parent


def resolve_target(target: str | os.PathLike) -> Path:
    """`exercises` / `reference` name the course's folders; anything else is a directory path."""
    if str(target) in ("exercises", "reference"):
        return REPO_ROOT / str(target)
    path = Path(target).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"--target {target}: no such directory (expected a folder laid "
                                "out like exercises/, e.g. exercises or reference)")
    return path.resolve()


def package_name(target: Path) -> str:
    return target.name if target.name.isidentifier() else "submission"


def grade(target: str | os.PathLike, exercise_ids: list[str] | None = None,
          on_exercise_done: Callable[[ExerciseResult], None] | None = None,
          sandbox_user: str | None = None) -> list[ExerciseResult]:
    """Run every check of the selected exercises against `target`; one result per exercise.

    `sandbox_user` runs the student's code as that (unprivileged) user; needs root.
    """
    exercises = course.select(exercise_ids)
    root = resolve_target(target)
    # Read every expected value before any student code runs: code that rewrites the
    # fixture files cannot change what it is compared against.
    for name in fixtures.available():
        fixtures.load(name)
    pool = WorkerPool(root, package_name(root), course.names_to_files(), sandbox_user)
    plugin = GradingPlugin(exercises, pool, on_exercise_done)
    args = [
        str(GRADER_DIR / "suite.py"), "-c", str(GRADER_DIR / "pytest.ini"),
        "--rootdir", str(GRADER_DIR), "-p", "no:cacheprovider", "-p", "no:terminal",
        "-p", "pytest_timeout", "-s",
    ]
    saved = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # only our plugins, whatever is installed
    try:
        code = pytest.main(args, plugins=[plugin])
    finally:
        pool.close()
        if saved is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = saved
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        raise RuntimeError(f"the grader's own test run failed (pytest exit code {code})")
    results = [plugin.results[ex.id] for ex in exercises]
    for result in results:
        if not result.checks:  # never reached: say so rather than silently scoring 0
            result.checks.append(CheckResult(result.exercise.id, "graded", "graded", 1, ERROR,
                                             "the grader stopped before this exercise"))
    return results
