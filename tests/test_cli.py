"""`python -m grader` as students and Gradescope call it."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import REPO

from grader import course, screen
from grader.results import ExerciseResult
from grader.stubs import generate


def run_grader(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_table_and_gradescope_json(tmp_path):
    out = tmp_path / "results.json"
    done = run_grader("--target", "reference", "--exercise", "1.1", "-e", "1.3",
                      "--json", str(out), "--verbose")
    assert done.returncode == 0, done.stderr
    assert "1.1   Stable softmax" in done.stdout and "passed" in done.stdout
    assert "Total: 8/8 points" in done.stdout
    data = json.loads(out.read_text())
    assert set(data) >= {"score", "max_score", "execution_time", "tests"}
    assert data["score"] == 8 and data["max_score"] == 8
    assert [t["number"] for t in data["tests"]] == ["1.1", "1.3"]
    for test in data["tests"]:
        assert set(test) >= {"name", "number", "score", "max_score", "status", "output"}
        assert test["status"] == "passed" and test["score"] == test["max_score"]


def test_stubs_table_says_not_implemented(tmp_path):
    out = tmp_path / "r.json"
    done = run_grader("--exercise", "1", "--json", str(out), "--verbose")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("not implemented") >= 9
    assert "Total: 0/60 points" in done.stdout
    data = json.loads(out.read_text())
    assert data["score"] == 0 and all(t["status"] == "failed" for t in data["tests"])


def test_a_directory_target_and_fail_under(submission, tmp_path):
    done = run_grader("--target", str(submission), "-e", "1.6", "--json",
                      str(tmp_path / "r.json"), "--fail-under", "4")
    assert done.returncode == 1  # 3 points < 4
    assert "Total: 3/3 points" in done.stdout


def test_bad_arguments_are_named():
    done = run_grader("--exercise", "9.9")
    assert done.returncode == 2 and "unknown exercise '9.9'" in done.stderr
    done = run_grader("--target", "/no/such/dir")
    assert done.returncode == 2 and "no such directory" in done.stderr


def test_make_help_fits_80_columns_and_names_every_target():
    """`make help` is the first thing a newcomer runs: no wrapped lines, every target."""
    done = subprocess.run(["make", "--no-print-directory", "help"], cwd=REPO,
                          capture_output=True, text=True, check=True)
    lines = done.stdout.splitlines()
    assert [line for line in lines if len(line) > 80] == []
    targets = {line.split()[1] for line in lines if line.startswith("  make ")}
    makefile = (REPO / "Makefile").read_text()
    phony = next(line for line in makefile.splitlines() if line.startswith(".PHONY:"))
    assert set(phony.split()[1:]) <= targets


def test_a_syntax_error_is_reported_once_with_a_caret(submission, tmp_path):
    """One missing `)` in softmax.py fails every check of every exercise that imports the
    file: the report says so once, where the error is, and which exercises it stops."""
    path = submission / "self_attention" / "softmax.py"
    source = path.read_text()
    assert source.count("def softmax(x, axis=-1):") == 1
    path.write_text(source.replace("def softmax(x, axis=-1):", "def softmax(x, axis=-1:"))
    done = run_grader("--target", str(submission), "-e", "1", "--json",
                      str(tmp_path / "r.json"))
    assert done.returncode == 0, done.stderr
    details = done.stdout.split("Total:", 1)[1]
    assert details.count("SyntaxError") == 1, details
    assert "    def softmax(x, axis=-1:\n                          ^\n" in details
    assert "It stops 1.1, 1.2, 1.4, 1.5, 1.7, 1.8, 1.9: fix it first." in details
    assert "== 1.1" not in details  # nothing else to say about them
    assert len(done.stdout.splitlines()) <= 30, done.stdout  # Module 1's rows, and the error


def test_the_first_screen_fits_and_names_the_next_exercise(tmp_path):
    """A fresh clone's first `make grade`: progress per module, what to do next, in 40 lines
    of 80 columns."""
    stubs = tmp_path / "exercises"  # as a fresh clone has them, whatever this tree holds
    for rel, text in generate().items():
        (stubs / rel).parent.mkdir(parents=True, exist_ok=True)
        (stubs / rel).write_text(text)
    done = run_grader("--target", str(stubs), "--json", str(tmp_path / "r.json"))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()[1:-1]  # not the lines naming this test's folders
    assert len(lines) <= 40 and max(map(len, lines)) <= 80, done.stdout
    assert "Module 1  Self-attention" in done.stdout and "not started" in done.stdout
    assert "Next: 1.1 Stable softmax" in done.stdout
    assert "  edit   exercises/self_attention/softmax.py" in done.stdout
    assert "  grade  make grade EX=1.1" in done.stdout
    assert "\033[" not in done.stdout  # no colour when piped


def test_the_summary_shows_started_modules_and_the_next_failure(submission, tmp_path):
    path = submission / "self_attention" / "softmax.py"
    path.write_text(path.read_text() + "\n\n_right = softmax_backward\n\n\n"
                    "def softmax_backward(dout, out, axis=-1):\n"
                    "    return 2 * _right(dout, out, axis=axis)\n")
    done = run_grader("--target", str(submission), "-e", "1", "-e", "2",
                      "--json", str(tmp_path / "r.json"))
    lines = done.stdout.splitlines()[1:-1]  # not the lines naming this test's folders
    assert max(map(len, lines)) <= 80, done.stdout
    assert "  1.1  Stable softmax" in done.stdout and "Next: 1.2 Softmax backward" in done.stdout
    assert "fix 1.2 first" in done.stdout  # 1.5 and 1.8 build on it
    assert "== 1.2 Softmax backward (JVP)" in done.stdout and "== 1.5" not in done.stdout
    assert "make grade VERBOSE=1" in done.stdout


def test_the_next_block_fits_for_every_exercise():
    """A lecture link too wide for the screen becomes its file and its section's title."""
    for ex in course.EXERCISES:
        block = screen.next_block(ExerciseResult(ex), graded_all=True)
        assert max(map(len, block)) <= 80, block
        assert ex.lecture_link in "\n".join(block) or ex.section in block[3], block
