"""`make watch`: a save re-grades what it affects; the screen shows it; Ctrl-C leaves cleanly."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import REPO

from grader import course, dependencies, watch
from grader.stubs import generate

EXERCISES = REPO / "exercises"


def _ids(changed: list[str], root: Path = EXERCISES) -> list[str]:
    return [ex.id for ex in watch.affected([root / rel for rel in changed], root)]


def test_a_save_affects_its_exercises_those_importing_it_and_those_built_on_them():
    softmax = _ids(["self_attention/softmax.py"])
    # attention.py imports softmax.py; multi_head.py imports attention.py; 1.3 and 1.6 do not
    assert softmax[:7] == ["1.1", "1.2", "1.4", "1.5", "1.7", "1.8", "1.9"], softmax
    assert "1.3" not in softmax and "1.6" not in softmax
    assert {"3.6", "3.11", "4.5"} <= set(softmax)  # later modules import it, or build on it
    assert _ids(["self_attention/masks.py"])[0] == "1.3"
    # a given helper is no exercise, but the exercise importing it is re-graded
    assert "3.11" in _ids(["transformer/hf_checkpoint.py"])
    assert _ids(["llm/prompting.py"]) == ["4.13"]
    assert _ids(["notes.txt", "../elsewhere.py"]) == []


def test_every_exercise_built_on_a_saved_one_is_regraded():
    for ex in course.EXERCISES:
        ids = set(_ids([f"{ex.module.package}/{ex.file}"]))
        users = {other.id for other in course.EXERCISES if ex.id in dependencies.below(other.id)}
        assert ex.id in ids and users <= ids, (ex.id, users - ids)


def test_imports_are_found_in_every_spelling(tmp_path):
    package = tmp_path / "self_attention"
    package.mkdir()
    (package / "softmax.py").write_text("")
    spellings = ["from .softmax import softmax", "from . import softmax",
                 "import exercises.self_attention.softmax",
                 "from exercises.self_attention.softmax import softmax",
                 "from ..self_attention.softmax import softmax"]
    for line in spellings:  # 1.6 (heads.py) builds on no exercise: only the import counts
        (package / "heads.py").write_text(line + "\n")
        assert "1.6" in _ids(["self_attention/softmax.py"], tmp_path), line
    (package / "heads.py").write_text("import numpy\n")
    assert "1.6" not in _ids(["self_attention/softmax.py"], tmp_path)


class Watcher:
    """`python -m grader.watch` in its own session, its output read line by line."""

    def __init__(self, target: Path, *args: str):
        env = {**os.environ, "NO_COLOR": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "grader.watch", "--target", str(target), *args],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
            start_new_session=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def screen(self, timeout: float = 60) -> list[str]:
        """The lines up to the next "Watching ..." (one screen)."""
        out, end = [], time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=max(0.1, end - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            out.append(line)
            if line.startswith("Watching "):
                return out
        raise AssertionError("no screen came:\n" + "\n".join(out))

    def rest(self, timeout: float = 30) -> list[str]:
        out = []
        while (line := self.lines.get(timeout=timeout)) is not None:
            out.append(line)
        return out


@pytest.fixture
def stubs(tmp_path):
    """Fresh stubs (as a clone has them, whatever this tree's exercises/ holds)."""
    root = tmp_path / "exercises"
    for rel, text in generate().items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def _save(path: Path, text: str) -> None:
    """As an editor saves: a new file moved over the old one."""
    tmp = path.with_suffix(".py.swp")
    tmp.write_text(text)
    os.replace(tmp, path)


def test_watch_regrades_a_saved_file_and_stops_cleanly_on_ctrl_c(stubs, tmp_path):
    w = Watcher(stubs, "-e", "1.1", "-e", "1.2", "-e", "1.3", "--json", str(tmp_path / "r.json"))
    try:
        first = "\n".join(w.screen())
        assert "Next: 1.1 Stable softmax" in first and "not started" in first
        softmax = stubs / "self_attention" / "softmax.py"
        solved = (REPO / "reference" / "self_attention" / "softmax.py").read_text()
        _save(softmax, solved)
        second = w.screen()
        text = "\n".join(second)
        assert "Saved softmax.py" in text and "graded 1.1, 1.2" in text  # not 1.3
        assert any(line.split()[:2] == ["1.1", "Stable"] and "4/4  passed" in line
                   for line in second), text
        assert "Next: 1.3 Causal and padding masks" in text
        assert max(map(len, second)) <= 80, text
        _save(softmax, solved.replace("def softmax(x, axis=-1):", "def softmax(x, axis=-1)"))
        third = "\n".join(w.screen())
        assert "== SyntaxError" in third and third.count("SyntaxError") == 1, third
        assert "It stops 1.1, 1.2" in third
        os.killpg(w.proc.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's group
        tail = w.rest()
        assert w.proc.wait(timeout=30) == 0
        assert "Stopped watching" in "\n".join(tail)
        assert "Traceback" not in "\n".join(tail)
    finally:
        if w.proc.poll() is None:
            os.killpg(w.proc.pid, signal.SIGKILL)
            w.proc.wait()
    time.sleep(0.5)
    try:  # nothing of the session is left running
        os.killpg(w.proc.pid, 0)
        pytest.fail("processes of the watch session outlived it")
    except ProcessLookupError:
        pass
