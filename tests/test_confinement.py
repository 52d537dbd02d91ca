"""The limits of the process that runs student code, through `python -m grader`.

Memory, reply size, environment, terminal control characters and the package name: each
attack costs only the exercise it is in, and the report stays honest and readable.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO

from grader.sandbox.confine import landlock_abi


def submission(tmp_path: Path, name: str = "submission", **appends: str) -> Path:
    target = tmp_path / name
    shutil.copytree(REPO / "reference", target, ignore=shutil.ignore_patterns("__pycache__"))
    for file, code in appends.items():
        path = target / "self_attention" / f"{file}.py"
        path.write_text(path.read_text() + "\n\n" + textwrap.dedent(code).strip() + "\n")
    return target


def grade(target: Path, out: Path, *args: str, measure: bool = False):
    """`python -m grader` on `target`; with `measure`, the grader's own peak RSS (bytes)."""
    code = ("import resource, sys\nfrom grader.cli import main\ncode = main(sys.argv[1:])\n"
            "print('GRADER-PEAK-RSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
            "sys.exit(code)")
    command = [sys.executable, "-c", code] if measure else [sys.executable, "-m", "grader"]
    done = subprocess.run([*command, "--target", str(target), "--json", str(out), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    data = json.loads(out.read_text())
    tests = {t["number"]: t for t in data["tests"]}
    peak = None
    if measure:
        peak = int(done.stdout.rsplit("GRADER-PEAK-RSS", 1)[1].split()[0]) * 1024  # KiB
    return done, tests, peak


def test_a_huge_return_value_is_refused_and_the_grader_stays_small(tmp_path):
    target = submission(tmp_path, softmax='''
        _softmax = softmax


        def softmax(x, axis=-1):
            big = np.ones(400 * 2**20 // 8)  # 400 MiB
            return big
        ''')
    done, tests, peak = grade(target, tmp_path / "r.json", "-e", "1.1", "-e", "1.3",
                              measure=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert tests["1.1"]["score"] == 0 and "over the 64 MiB limit" in tests["1.1"]["output"]
    assert tests["1.3"]["score"] == tests["1.3"]["max_score"]
    assert peak < 300 * 2**20, f"the grader grew to {peak / 2**20:.0f} MiB"


def test_memory_beyond_the_limit_fails_the_allocation_only(tmp_path):
    target = submission(tmp_path, masks='''
        _causal_mask = causal_mask


        def causal_mask(t_q, t_k=None):
            np.ones(6 * 2**30 // 8)  # 6 GiB
            return _causal_mask(t_q, t_k)
        ''')
    done, tests, _ = grade(target, tmp_path / "r.json", "-e", "1.1", "-e", "1.3")
    assert done.returncode == 0
    assert tests["1.3"]["score"] < tests["1.3"]["max_score"]
    assert "MemoryError" in tests["1.3"]["output"]
    assert tests["1.1"]["score"] == tests["1.1"]["max_score"]
    # The limit is a setting: with 8 GiB the same allocation succeeds.
    _, tests, _ = grade(target, tmp_path / "r2.json", "-e", "1.3", "--memory-limit", "8")
    assert "MemoryError" not in tests["1.3"]["output"]


def test_control_characters_are_stripped_from_the_terminal_and_the_report(tmp_path):
    target = submission(tmp_path, masks='''
        print("\\x1b[2J\\x1b[1;1H\\x1b[32m[ok  ] all passed\\x1b[0m\\r\\x07\\u202e")


        def causal_mask(t_q, t_k=None):
            raise ValueError("\\x1b[31mred\\x1b[0m\\rforged")
        ''')
    done, tests, _ = grade(target, tmp_path / "r.json", "-e", "1.3")
    report = json.loads((tmp_path / "r.json").read_text())
    for text in (done.stdout, report["output"], *(t["output"] for t in tests.values())):
        for char in ("\x1b", "\r", "\x07", "\u202e"):
            assert char not in text, repr(char)
    assert "redforged" in tests["1.3"]["output"]


def test_the_worker_sees_a_minimal_environment(tmp_path):
    target = submission(tmp_path, softmax='''
        import os as _os
        print("ENV", sorted(_os.environ))
        ''')
    done = subprocess.run([sys.executable, "-m", "grader", "--target", str(target), "-e", "1.1",
                           "--json", str(tmp_path / "r.json")], cwd=REPO, capture_output=True,
                          text=True, env={"PATH": "/usr/bin:/bin", "HOME": "/root",
                                          "SECRET_OF_THE_GRADER": "hunter2"})
    text = (tmp_path / "r.json").read_text()
    assert "hunter2" not in text and "SECRET_OF_THE_GRADER" not in text, done.stderr
    assert "HOME" not in text.split("ENV", 1)[1].split("]", 1)[0]


@pytest.mark.parametrize("name", ["json", "numpy", "grader", "not-an-identifier"])
def test_a_submission_folder_may_have_any_name(tmp_path, name):
    target = submission(tmp_path, name=name)
    done, tests, _ = grade(target, tmp_path / "r.json", "-e", "1.1", "-e", "1.4")
    assert done.returncode == 0, done.stderr[-2000:]
    assert all(t["score"] == t["max_score"] for t in tests.values()), tests


@pytest.mark.skipif(landlock_abi() == 0, reason="needs Landlock (Linux 5.13+)")
def test_without_a_sandbox_user_landlock_keeps_student_code_in(tmp_path):
    secret = tmp_path / "outside.txt"
    secret.write_text("outside")
    target = submission(tmp_path, softmax=f'''
        import os as _os, socket as _socket
        _seen = []
        for _path in [{str(secret)!r}, {str(REPO / "grader" / "__init__.py")!r}]:
            try:
                open(_path).read()
                _seen.append("READ")
            except OSError:
                _seen.append("denied")
        try:
            open({str(tmp_path / "written.txt")!r}, "w").write("x")
            _seen.append("WROTE")
        except OSError:
            _seen.append("denied")
        try:
            _socket.create_connection(("127.0.0.1", 9), timeout=1)
        except OSError as _exc:
            _seen.append("tcp " + type(_exc).__name__)
        print("SEEN", _seen)
        ''')
    _, tests, _ = grade(target, tmp_path / "r.json", "-e", "1.1")
    out = tests["1.1"]["output"]
    assert "SEEN ['denied', 'denied', 'denied', 'tcp PermissionError']" in out, out
    assert tests["1.1"]["score"] == tests["1.1"]["max_score"]
    assert not (tmp_path / "written.txt").exists()


def test_no_temporary_path_reaches_the_report(tmp_path):
    target = submission(tmp_path, masks='''
        import os as _os
        print("working in", _os.getcwd(), "temp", _os.environ.get("TMPDIR"))


        def causal_mask(t_q, t_k=None):
            raise ValueError(f"I live in {__file__}")
        ''')
    _, tests, _ = grade(target, tmp_path / "r.json", "-e", "1.3")
    out = tests["1.3"]["output"]
    assert "I live in submission/self_attention/masks.py" in out
    assert "working in <scratch>/worker temp <scratch>/tmp" in out
    assert str(tmp_path) not in out and "course-grading-" not in out
