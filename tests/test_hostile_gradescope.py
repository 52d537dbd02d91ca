"""Hostile submissions against the Gradescope package, through its real entry point.

Each test unpacks Module 1's autograder zip in a folder laid out like /autograder and runs
`run_autograder` as root, as Gradescope does, with a throwaway sandbox user the tests create
and remove (tests/sandbox_env.py): the machine's own users, `course-sandbox` included, are
never used.  Not as root, these tests are skipped (the reason says so).

A submission starts from the reference (60/60) and makes some files hostile, so everything it
does not touch must still earn full marks; a wrong answer never earns more than the
untouched stub (0).
"""

from __future__ import annotations

import base64
import importlib
import io
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import autograder_run
import numpy as np
import pytest
from conftest import REPO
from sandbox_env import runs_as

from grader import checks, course
from grader.distribute import gradescope
from grader.sandbox.launch import processes_of

ASSIGNMENT = "01_self_attention"
TOTAL = sum(ex.points for ex in course.EXERCISES if ex.module.number == 1)
REFERENCE = {p.name: p.read_text() for p in (REPO / "reference" / "self_attention").glob("*.py")}
HIDDEN = [c.name for c in checks.REGISTRY if c.hidden]


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory, sandbox_user):
    out = tmp_path_factory.mktemp("gradescope")
    gradescope.build(out)
    return out / ASSIGNMENT / "autograder.zip"


@pytest.fixture(scope="module")
def env(sandbox_user) -> dict[str, str]:
    user, python = sandbox_user
    return {"AUTOGRADER_SANDBOX_USER": user, "AUTOGRADER_PYTHON": str(python),
            "GRADER_SECRET_TOKEN": "token-the-grader-never-passes-on"}


def grade(zip_path: Path, root: Path, env: dict, changes: dict[str, str | bytes | None]):
    """Run the autograder on the reference with `changes` (file -> text; None removes it)."""
    files = {f"exercises/self_attention/{name}": text for name, text in REFERENCE.items()}
    for name, text in changes.items():
        files.pop(f"exercises/self_attention/{name}")
        if text is not None:
            files[f"exercises/self_attention/{name}"] = text
    done, results = autograder_run.run(zip_path, root, files, env)
    assert results is not None, done.stdout[-2000:] + done.stderr[-2000:]
    return done, results


def scores(results: dict) -> dict[str, float]:
    """Points per exercise, visible and hidden tests together."""
    found: dict[str, float] = {}
    for t in results["tests"]:
        found[t["number"]] = found.get(t["number"], 0) + t["score"]
    return {k: round(v, 2) for k, v in found.items() if k != "total"}


def full(ex_id: str) -> float:
    return course.BY_ID[ex_id].points


def printed(results: dict, ex_id: str) -> str:
    return "\n".join(t["output"] for t in results["tests"] if t["number"] == ex_id)


# -- 1. what the sandbox user can read, write, start and see ---------------------------------
PROBE = '''
import os as _os
import resource as _resource
_root = {root!r}
_seen = []
for _path in [_root + "/source/grader/checks/self_attention/ex1_5_attention_backward.py",
              _root + "/source/grader/data/self_attention.npz", _root + "/source",
              _root + "/submission", _root + "/results", "/etc/shadow"]:
    try:
        (_os.listdir if _os.path.isdir(_path) else lambda p: open(p, "rb").read(64))(_path)
        _seen.append("READ " + _path)
    except OSError as _exc:
        _seen.append("denied " + type(_exc).__name__)
try:
    with open(_root + "/results/results.json", "w") as _f:
        _f.write("{{}}")
    _seen.append("WROTE results")
except OSError as _exc:
    _seen.append("denied write " + type(_exc).__name__)
print("PROBE", _seen)
print("ENV", sorted(_os.environ))
print("LIMITS", [_resource.getrlimit(getattr(_resource, "RLIMIT_" + _n))[1]
                 for _n in ("AS", "CORE", "NPROC", "CPU")])
print("\\x1b[2J\\x1b[31mred\\x1b[0m\\r[ok  ] forged line\\x07\\u202eevil")
'''

DAEMON = '''
import os as _os
import time as _time
if _os.fork() == 0:  # double fork + setsid: out of the worker's process group and session
    _os.setsid()
    if _os.fork() == 0:
        for _ in range(600):
            try:
                with open({results!r}, "w") as _f:
                    _f.write('{{"score": 60}}')
            except OSError:
                pass
            _time.sleep(0.1)
        _os._exit(0)
    _os._exit(0)
_os.wait()
print("DAEMON started")
'''


BOMB = '''
import os as _os
import time as _time
_children = 0
while _children < 1000:  # each child leaves the group and sleeps; the limit stops the loop
    try:
        _pid = _os.fork()
    except OSError:
        break
    if _pid == 0:
        _os.setsid()
        _time.sleep(120)
        _os._exit(0)
    _children += 1
print("FORKED", _children)
'''


@pytest.fixture(scope="module")
def probed(autograder_zip, env, tmp_path_factory):
    root = tmp_path_factory.mktemp("autograder")
    secret = root / "secret.txt"
    secret.write_text("TOPSECRET-root-only")
    secret.chmod(0o600)
    attention = REFERENCE["attention.py"] + PROBE.format(root=str(root))
    heads = REFERENCE["heads.py"] + DAEMON.format(results=str(root / "results" / "results.json"))
    (root / "submission" / "exercises" / "self_attention").mkdir(parents=True)
    os.symlink(secret, root / "submission" / "exercises" / "self_attention" / "masks.py")
    online = REFERENCE["online_softmax.py"] + BOMB
    done, results = grade(autograder_zip, root, env,
                          {"attention.py": attention, "heads.py": heads, "masks.py": None,
                           "online_softmax.py": online})
    return root, done, results


def test_student_code_reads_nothing_of_the_grader_and_writes_no_results(probed):
    root, done, results = probed
    assert done.returncode == 0, done.stderr[-2000:]
    out = printed(results, "1.4")
    seen = re.search(r"PROBE (\[.*\])", out).group(1)
    assert "READ" not in seen and "WROTE" not in seen, seen
    assert seen.count("denied") == 7


def test_a_symlink_to_a_root_only_file_is_not_followed(probed):
    root, _, results = probed
    text = json.dumps(results)
    assert "TOPSECRET" not in text
    assert "symbolic link" in results["output"]
    assert scores(results)["1.3"] == 0  # graded as the stub


def test_no_process_of_the_sandbox_user_survives(probed, sandbox_user):
    root, _, results = probed
    assert "DAEMON started" in printed(results, "1.6")
    forked = int(re.search(r"FORKED (\d+)", printed(results, "1.9")).group(1))
    assert 0 < forked < 64  # the process limit of the sandbox user
    assert processes_of(pwd.getpwnam(sandbox_user[0]).pw_uid) == []
    time.sleep(0.5)  # a survivor would rewrite the results now
    assert json.loads((root / "results" / "results.json").read_text()) == results


def test_the_worker_gets_a_minimal_environment_and_its_limits(probed):
    _, _, results = probed
    out = printed(results, "1.4")
    names = set(json.loads(re.search(r"ENV (\[.*\])", out).group(1).replace("'", '"')))
    assert names <= {"PATH", "LANG", "LC_ALL", "TMPDIR", "OPENBLAS_NUM_THREADS",
                     "OMP_NUM_THREADS", "MKL_NUM_THREADS", "LC_CTYPE"}, names
    assert "token-the-grader-never-passes-on" not in json.dumps(results)
    address_space, core, processes, cpu = json.loads(re.search(r"LIMITS (\[.*\])", out).group(1))
    assert address_space == 4 << 30 and core == 0 and processes == 64
    assert 0 < cpu <= 200  # the longest exercise's time limits, and a little more


def test_control_characters_never_reach_the_report(probed):
    _, _, results = probed
    text = json.dumps(results, ensure_ascii=False)
    for char in ("\x1b", "\r", "\x07", "\u202e"):
        assert char not in text
    assert "red[ok  ] forged line" in printed(results, "1.4")


def test_the_rest_of_the_submission_still_earns_its_points(probed):
    _, _, results = probed
    got = scores(results)
    for ex_id in ("1.1", "1.2", "1.4", "1.5", "1.6", "1.7", "1.8", "1.9"):
        assert got[ex_id] == full(ex_id), (ex_id, got)


# -- 2. the public fixtures, as a lookup table ---------------------------------------------------
LOOKUP = '''
import base64 as _b64
import io as _io

import numpy as np

_TABLE = np.load(_io.BytesIO(_b64.b64decode({table!r})))
_KEYS = {{}}
for _name in _TABLE.files:
    if _name.startswith("in."):
        _KEYS[_TABLE[_name].tobytes()] = _name[3:]


def softmax(x, axis=-1):
    """Wrong (uniform) unless the input is one of the grader's public fixtures."""
    x = np.asarray(x)
    for _path in ({data!r},):  # the autograder's own expected values, if readable
        try:
            np.load(_path)
        except OSError:
            pass
    key = _KEYS.get(x.tobytes())
    if key is not None and f"out.{{key}}.{{axis}}" in _TABLE.files:
        return _TABLE[f"out.{{key}}.{{axis}}"].astype(x.dtype)
    return np.full_like(x, 1.0 / x.shape[axis])
'''


def lookup_softmax(root: Path) -> str:
    """A softmax that is right only on the public fixtures (and their shifted, float32 and
    transposed variants the checks' source shows): a table of the reference's answers."""
    ref = importlib.import_module("reference.self_attention.softmax")

    public = np.load(REPO / "grader" / "data" / "self_attention.npz")
    table = {}
    for name in public.files:
        x = public[name]
        if x.dtype.kind != "f" or x.ndim == 0:
            continue
        for variant, value in (("", x), ("+50", x + 50.0), ("f32", x.astype(np.float32))):
            key = f"{name}{variant}"
            table[f"in.{key}"] = value
            for axis in range(-x.ndim, x.ndim):
                with np.errstate(all="ignore"):
                    table[f"out.{key}.{axis}"] = ref.softmax(value, axis=axis)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **table)
    data = str(root / "source" / "grader" / "data" / "self_attention.npz")
    return LOOKUP.format(table=base64.b64encode(buffer.getvalue()).decode(), data=data)


def test_a_lookup_table_of_the_public_fixtures_earns_nothing(autograder_zip, env, tmp_path):
    softmax = REFERENCE["softmax.py"] + lookup_softmax(tmp_path)
    # Against the public fixtures the attack works: that is what it takes to be an attack.
    local = tmp_path / "local" / "self_attention"
    local.mkdir(parents=True)
    for name, text in REFERENCE.items():
        (local / name).write_text(softmax if name == "softmax.py" else text)
    done = subprocess.run([sys.executable, "-m", "grader", "--target", str(local.parent),
                           "-e", "1.1", "--json", str(tmp_path / "local.json")], cwd=REPO,
                          capture_output=True, text=True)
    assert json.loads((tmp_path / "local.json").read_text())["score"] > 0, done.stdout[-1500:]
    # At Gradescope the expected values were drawn for the build: none of them is public.
    _, results = grade(autograder_zip, tmp_path / "gs", env, {"softmax.py": softmax})
    assert scores(results)["1.1"] == 0  # what the untouched stub earns


# -- 3. a submission that fails only hidden checks ---------------------------------------------
JACOBIAN_BACKWARD = '''

def softmax_backward(dout, out, axis=-1):
    if dout.shape == (8, 1024):  # only the hidden memory check passes this shape
        print("BACKWARD OF (8, 1024) CALLED")
    s, d = np.moveaxis(out, axis, -1), np.moveaxis(dout, axis, -1)
    eye = np.eye(s.shape[-1], dtype=s.dtype)
    jac = s[..., :, None] * eye - s[..., :, None] * s[..., None, :]  # (..., n, n)
    return np.moveaxis(np.einsum("...ij,...j->...i", jac, d), -1, axis)
'''


def test_before_the_due_date_nothing_shown_depends_on_a_hidden_check(autograder_zip, env,
                                                                     tmp_path):
    _, results = grade(autograder_zip, tmp_path, env,
                       {"softmax.py": REFERENCE["softmax.py"] + JACOBIAN_BACKWARD})
    shown = [t for t in results["tests"] if t.get("visibility", "visible") == "visible"]
    later = [t for t in results["tests"] if t not in shown]
    assert all(t["score"] == t["max_score"] and t["status"] == "passed" for t in shown)
    assert any(t["number"] == "1.2" and t["score"] < t["max_score"] for t in later)
    assert "score" not in results  # Gradescope adds up the tests, hiding the total for now
    assert "execution_time" not in results
    assert all(t["visibility"] == "after_due_date" for t in later)
    top = results["output"]
    assert "Visible checks" in top and "58" not in top and "8 of 9" not in top
    visible_text = json.dumps(shown)
    hidden_12_checks = [c.description for c in checks.checks_for("1.2") if c.hidden]
    assert hidden_12_checks and not any(d in visible_text for d in hidden_12_checks)
    assert "BACKWARD OF (8, 1024)" not in visible_text
    for name in HIDDEN:
        assert name not in json.dumps(results)  # a hidden check's code or name, never
    # What the code printed during the hidden check goes with the hidden test.
    hidden_12 = next(t for t in later if t["number"] == "1.2")
    assert "BACKWARD OF (8, 1024) CALLED" in hidden_12["output"]


# -- 4. when the sandbox cannot be set up, nothing is graded, and it says why -------------------
def test_a_missing_sandbox_user_stops_grading_with_a_clear_message(autograder_zip, env,
                                                                   tmp_path):
    done, results = autograder_run.run(
        autograder_zip, tmp_path, {"softmax.py": REFERENCE["softmax.py"]},
        {**env, "AUTOGRADER_SANDBOX_USER": "no-such-user-here"})
    assert done.returncode != 0
    assert "does not exist" in done.stderr
    assert results["tests"] == [] and "Not graded" in results["output"]


def test_an_interpreter_the_sandbox_user_cannot_run_stops_grading(autograder_zip, env,
                                                                  tmp_path, sandbox_user):
    if runs_as(sandbox_user[0], sys.executable):
        pytest.skip(f"{sys.executable} is runnable by every user here")
    done, results = autograder_run.run(autograder_zip, tmp_path, {}, {
        **env, "AUTOGRADER_PYTHON": sys.executable, "PYTHONPATH": str(REPO)})
    assert done.returncode != 0
    assert f"cannot start {sys.executable}" in done.stderr and "Not graded" in results["output"]


def test_a_readable_private_path_stops_grading(sandbox_user):
    user, python = sandbox_user
    world = Path(tempfile.mkdtemp(prefix="course-test-"))  # every user may look in here
    try:
        leaked = world / "readable"
        leaked.mkdir()
        (leaked / "answers.txt").write_text("x")
        (world / "sub").mkdir()
        subprocess.run(["chmod", "-R", "a+rX", str(world)], check=True)
        done = subprocess.run([str(python), "-m", "grader", "--target", str(world / "sub"),
                               "-e", "1.1", "--sandbox-user", user, "--private", str(leaked),
                               "--json", str(world / "r.json")], cwd=REPO, capture_output=True,
                              text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    finally:
        shutil.rmtree(world)
    assert done.returncode == 2, done.stdout[-1500:] + done.stderr[-1500:]
    assert f"can list {leaked}" in done.stderr and "answers.txt" in done.stderr
