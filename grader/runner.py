"""Grade a folder laid out like `exercises/`: pytest runs the checks, the sandbox the code."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from . import checks, course, fixtures
from .plugin import GradingPlugin
from .results import ERROR, CheckResult, ExerciseResult
from .sandbox import Limits, WorkerPool
from .sandbox.launch import preflight

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


# Built-in pytest plugins a grading run does without (no doctests, reports, logs, fixtures
# such as tmp_path: the checks get `check` and `impl` only).
UNUSED_PLUGINS = ("doctest", "junitxml", "pastebin", "legacypath", "tmpdir", "monkeypatch",
                  "recwarn", "setuponly", "setupplan", "stepwise", "logging", "faulthandler",
                  "unraisableexception", "threadexception", "debugging", "unittest", "subtests")

_PROVEN: set[Limits] = set()  # confinements a probe has proved in this process


def grade(target: str | os.PathLike, exercise_ids: list[str] | None = None,
          on_exercise_done: Callable[[ExerciseResult], None] | None = None,
          limits: Limits | None = None,
          known: dict[str, str | None] | None = None) -> list[ExerciseResult]:
    """Run every check of the selected exercises against `target`; one result per exercise.

    `limits` says how student code is confined (default: a worker of this user, confined by
    Landlock where the kernel has it).  At stakes (a sandbox user, or private paths) a probe
    first proves the confinement holds, or `SandboxUnavailable` is raised: grading never goes
    on without it.  `known` says how exercises graded earlier and not now are broken
    (`ExerciseResult.broken`), so the reports of those built on them still say so.
    """
    exercises = course.select(exercise_ids)
    root = resolve_target(target)
    # Read every expected value before any student code runs: code that rewrites the
    # fixture files cannot change what it is compared against.
    for name in fixtures.available():
        fixtures.load(name)
    limits = limits or Limits()
    budget = max(sum(c.timeout for c in checks.checks_for(ex.id)) for ex in exercises)
    limits = dataclasses.replace(limits, cpu_seconds=min(limits.cpu_seconds, int(budget) + 10))
    pool = WorkerPool(root, course.names_to_files(), limits)  # may raise SandboxUnavailable
    try:
        if limits.at_stakes and limits not in _PROVEN:
            preflight(pool.scratch, pool.target, pool.names)
            _PROVEN.add(limits)  # once per process (nbgrader grades many notebooks in one)
    except BaseException:
        pool.close()
        raise
    plugin = GradingPlugin(exercises, pool, on_exercise_done, known)
    args = [
        str(GRADER_DIR / "suite.py"), "-c", str(GRADER_DIR / "pytest.ini"),
        "--rootdir", str(GRADER_DIR), "-p", "no:cacheprovider", "-p", "no:terminal",
        "-p", "pytest_timeout", "-s",
        # pytest's plugins that a grading run does not use: each costs start-up time on every
        # run (the unraisable-exception one collects garbage several times per run).
        *(arg for name in UNUSED_PLUGINS for arg in ("-p", f"no:{name}")),
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
