"""What tests need to run student code as another user, made and removed by the tests.

As root, `throwaway_user()` creates a fresh system user (never one the machine already has,
such as `course-sandbox`) and removes it, with any process it left, afterwards;
`python_for(user)` builds a virtual environment that user can run, with what grading needs.
Elsewhere these tests are skipped with the reason.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from grader.sandbox.launch import kill_processes_of

GRADING_PACKAGES = ("numpy", "pytest", "pytest-timeout", "safetensors")
SYSTEM_PYTHONS = ("/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3")


def why_not_root() -> str | None:
    """Why users cannot be made here, or None."""
    if os.name != "posix" or os.geteuid() != 0:
        return "needs root, as on Gradescope, to run student code as another user"
    if not (shutil.which("useradd") and shutil.which("userdel")):
        return "needs useradd and userdel"
    return None


@contextmanager
def throwaway_user() -> Iterator[str]:
    name = f"cs-test-{secrets.token_hex(3)}"
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    name], check=True, capture_output=True)
    try:
        yield name
    finally:
        uid = pwd.getpwnam(name).pw_uid
        for _ in range(100):  # userdel refuses while a process of the user is still exiting
            kill_processes_of(uid)
            if subprocess.run(["userdel", name], capture_output=True).returncode == 0:
                break
            time.sleep(0.05)


def runs_as(user: str, python: str) -> bool:
    """Whether `user` can run `python` (3.10+)."""
    try:
        done = subprocess.run([python, "-I", "-c",
                               "import sys; assert sys.version_info >= (3, 10)"],
                              user=user, capture_output=True, cwd="/")
    except OSError:  # not even executable for the user
        return False
    return done.returncode == 0


def make_python(root: Path, user: str) -> Path:
    """A virtual environment in `root` (a folder every user may traverse) with what grading
    needs, from a system Python `user` can run; returns its interpreter."""
    base = next((p for p in SYSTEM_PYTHONS if os.path.exists(p) and runs_as(user, p)), None)
    if base is None:
        raise RuntimeError(f"no Python 3.10+ that {user} can run among {SYSTEM_PYTHONS}")
    root.chmod(0o755)
    subprocess.run([base, "-m", "venv", str(root / "venv")], check=True, capture_output=True)
    python = root / "venv" / "bin" / "python"
    done = subprocess.run([str(python), "-m", "pip", "install", "-q",
                           "--disable-pip-version-check", *GRADING_PACKAGES],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"pip install failed: {done.stderr[-500:]}")
    subprocess.run(["chmod", "-R", "a+rX", str(root)], check=True)
    return python


@contextmanager
def python_for(user: str) -> Iterator[Path]:
    """A virtual environment `user` can run, removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="course-sandbox-python-"))
    try:
        yield make_python(root, user)
    finally:
        shutil.rmtree(root, ignore_errors=True)
