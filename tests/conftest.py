"""Shared helpers of the project's tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
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
def sandbox_user():
    """(user, python): a throwaway unprivileged user and a Python it can run (root only; the
    user is removed afterwards).  Skips, saying why, where that cannot be done."""
    reason = sandbox_env.why_not_root()
    if reason:
        pytest.skip(reason)
    with contextlib.ExitStack() as stack:
        user = stack.enter_context(sandbox_env.throwaway_user())
        try:
            python = stack.enter_context(sandbox_env.python_for(user))
        except RuntimeError as exc:
            pytest.skip(str(exc))
        yield user, python


@pytest.fixture(scope="session")
def gradescope_env(request) -> dict[str, str]:
    """How `run_autograder` runs here: as root with a throwaway sandbox user, as Gradescope
    does; otherwise as a local test run (`AUTOGRADER_LOCAL_TEST=1`)."""
    if os.name == "posix" and os.geteuid() == 0:
        user, python = request.getfixturevalue("sandbox_user")
        return {"AUTOGRADER_SANDBOX_USER": user, "AUTOGRADER_PYTHON": str(python)}
    return {"AUTOGRADER_LOCAL_TEST": "1", "AUTOGRADER_PYTHON": sys.executable}
