"""With `--sandbox-user` (how the Gradescope package runs), student code can neither kill the
grader nor rewrite its results, even from a process that outlives the grading.

Needs root and a system Python 3.10+ that the unprivileged user can run; the test builds a
world-readable virtual environment and copy of the grader for it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO

SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/usr/local/bin")
USER = "nobody"

pytestmark = pytest.mark.skipif(
    os.name != "posix" or os.geteuid() != 0 or SYSTEM_PYTHON is None,
    reason="needs root and a system python3")

HOSTILE = '''

import os as _os, signal as _signal, subprocess as _sp
_sp.Popen(["sh", "-c", "sleep 2; echo forged > {results}"], start_new_session=True)
try:
    _os.kill(_os.getppid(), _signal.SIGKILL)
except OSError as _exc:
    print("could not signal the grader:", _exc)
'''


def _open_up(path: Path) -> None:
    subprocess.run(["chmod", "-R", "a+rX", str(path)], check=True)
    for parent in path.parents:  # every folder on the way must be traversable
        if parent == Path("/"):
            break
        parent.chmod(parent.stat().st_mode | 0o005)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("sandbox_user")
    venv = root / "venv"
    subprocess.run([SYSTEM_PYTHON, "-m", "venv", str(venv)], check=True)
    done = subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "-q",
                           "numpy", "pytest", "pytest-timeout"], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"could not build a venv for {USER}: {done.stderr[-300:]}")
    shutil.copytree(REPO / "grader", root / "app" / "grader",
                    ignore=shutil.ignore_patterns("__pycache__"))
    submission = root / "submission"
    shutil.copytree(REPO / "reference", submission, ignore=shutil.ignore_patterns("__pycache__"))
    _open_up(root)
    return root


def test_student_code_cannot_kill_the_grader_or_forge_results(world):
    results = world / "results.json"
    softmax = world / "submission" / "self_attention" / "softmax.py"
    softmax.write_text(softmax.read_text() + HOSTILE.format(results=results))
    _open_up(softmax)
    done = subprocess.run([str(world / "venv/bin/python"), "-m", "grader", "--target",
                           str(world / "submission"), "-e", "1.1", "-e", "1.3",
                           "--sandbox-user", USER, "--json", str(results)],
                          cwd=world / "app", capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    time.sleep(3)  # let the escaped process try its write
    data = json.loads(results.read_text())
    assert data["score"] == 8 and data["max_score"] == 8
    assert "could not signal the grader" in json.dumps(data)


def test_sandbox_user_must_exist():
    done = subprocess.run([sys.executable, "-m", "grader", "--sandbox-user", "no-such-user"],
                          cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 2 and "no such user" in done.stderr
