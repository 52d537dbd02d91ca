"""Shared helpers of the project's tests."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # `import grader` also without the editable install

import sandbox_env  # noqa: E402  (a helper module next to this file)

from demos import implementation  # noqa: E402

# The demos imported by the tests run on the reference; a test that runs one on another
# target starts a new process (`python -m demos NAME --target ...`).
implementation.use("reference")


@pytest.fixture
def submission(tmp_path):
    """A copy of reference/ to break on purpose; returns its path."""
    target = tmp_path / "submission"
    shutil.copytree(REPO / "reference", target,
                    ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.fixture(scope="session")
def sandbox_user(tmp_path_factory):
    """(user, python): a throwaway unprivileged user and a Python it can run (root only; the
    user is removed afterwards).  Skips, saying why, where that cannot be done."""
    reason = sandbox_env.why_not_root()
    if reason:
        pytest.skip(reason)
    with contextlib.ExitStack() as stack:
        user = stack.enter_context(sandbox_env.throwaway_user())
        try:
            python = sandbox_python(tmp_path_factory, user)
        except RuntimeError as exc:
            pytest.skip(str(exc))
        if not sandbox_env.runs_as(user, str(python)):
            pytest.skip(f"{user} cannot run {python}")
        yield user, python


def sandbox_python(tmp_path_factory, user: str) -> Path:
    """The virtual environment the sandbox users run (`sandbox_env.make_python`), made once
    per test run for every worker process's user.  It lives in a folder of its own that
    every user may traverse (pytest's is the owner's only), removed when the run ends
    (the hook below)."""
    def build(folder: Path) -> None:
        root = Path(tempfile.mkdtemp(prefix="course-sandbox-python-"))
        (folder / "remove").write_text(str(root))
        sandbox_env.make_python(root, user)

    folder = shared_build(tmp_path_factory, "sandbox-python", build)
    return Path((folder / "remove").read_text()) / "venv" / "bin" / "python"


def pytest_sessionfinish(session):
    """Remove what `shared_build`s made outside pytest's folder (once every worker is done:
    in the process that started them, or the only one)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None:
        return
    for record in factory.getbasetemp().glob("shared-*/remove"):
        shutil.rmtree(record.read_text(), ignore_errors=True)


@pytest.fixture(scope="session")
def gradescope_env(request) -> dict[str, str]:
    """How `run_autograder` runs here: as root with a throwaway sandbox user, as Gradescope
    does; otherwise as a local test run (`AUTOGRADER_LOCAL_TEST=1`)."""
    if os.name == "posix" and os.geteuid() == 0:
        user, python = request.getfixturevalue("sandbox_user")
        return {"AUTOGRADER_SANDBOX_USER": user, "AUTOGRADER_PYTHON": str(python)}
    return {"AUTOGRADER_LOCAL_TEST": "1", "AUTOGRADER_PYTHON": sys.executable}


# -- what several test files build alike, built once per run -----------------------------------
def shared_build(tmp_path_factory, name: str, build: Callable[[Path], object]) -> Path:
    """`build(folder)` run once per test run, whichever file (and, with xdist, whichever worker
    process) asks first; the others wait for it and get the same folder.  The folder is the
    run's own (under pytest's temporary folder, removed as any other): treat it as read-only
    and copy what a test changes."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the folder every worker of this run shares
    folder = base / f"shared-{name}"
    with open(base / f"shared-{name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (folder / ".built").exists():
                shutil.rmtree(folder, ignore_errors=True)  # a build that failed half-way
                folder.mkdir()
                build(folder)
                (folder / ".built").touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return folder


@pytest.fixture(scope="session")
def module_1_course(tmp_path_factory) -> Path:
    """Module 1's nbgrader course, as `nbgrader_course.build(root, modules=MODULES[:1])` makes
    it (release generated, no submission yet): built once, read-only; `copy_course` gives a
    test a course of its own."""
    from grader import course
    from grader.distribute import nbgrader_course

    def build(folder: Path) -> None:
        nbgrader_course.build(folder / "course", modules=course.MODULES[:1], say=lambda _: None)

    return shared_build(tmp_path_factory, "nbgrader-module-1", build) / "course"


def copy_course(built: Path, root: Path, cell_timeout: int = 120) -> Path:
    """A course of its own at `root`, a copy of `built` with the settings that
    `nbgrader_course.build(root, cell_timeout, ...)` writes (its paths are relative to the
    course folder, so the copy works where it is)."""
    from grader.distribute import course_settings

    shutil.copytree(built, root, symlinks=True)
    course_settings.write(root, cell_timeout)
    return root


# -- the order of the files: the longest first --------------------------------------------------
# `make test` hands whole files to its worker processes (`--dist loadfile`) in the order they
# come here: the longest go first, so that the short ones fill in at the end and no worker is
# left running a long file alone.  (Measured with `--durations=0`; a file not named keeps its
# place after these.)
LONGEST_FIRST = (
    "test_distribution.py", "test_hostile_nbgrader.py", "test_site.py",
    "test_grade_class_nbgrader.py", "test_isolation.py", "test_nbgrader_rebuild.py",
    "test_grade_class.py", "test_hostile_gradescope.py", "test_gradescope.py", "test_where.py",
    "test_classroom.py", "test_demo_and_lectures.py", "test_demo_output.py",
    "test_confinement.py", "test_training_demos.py", "test_bpe_incremental.py",
    "test_course.py", "test_extrapolation.py",
)


def pytest_collection_modifyitems(config, items):
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank))
               if item.path.parent.name == "tests" else len(rank))
