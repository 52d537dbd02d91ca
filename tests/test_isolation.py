"""Hostile submissions: each one costs only the exercises it touches, and a report is written.

Every submission is a copy of `reference/` (which scores full marks) with ONE file or
function made hostile, so whatever is not touched must still score full marks.  Student code
runs in the grader's sandboxed worker process (`grader/sandbox/`); these tests check that a
hang, an exit, a crash, a syntax error, a flood of output, a wrong or crafted return value,
patching NumPy or the grader, and forging the worker's replies are all contained.

Student code runs as the grader's own user here.  Landlock (Linux 6.12+ for signals) keeps it
from reading the grader, writing outside its scratch folder and signalling the grader, and
the `python -m grader` command adopts and ends what it leaves running.  Where the kernel has
no Landlock those two attacks still work, and the tests say so (`xfail(strict=True)`); at
stakes the Gradescope package runs student code as another user (tests/test_hostile_*.py).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from grader import checks as check_registry
from grader import course, fixtures
from grader.runner import grade
from grader.sandbox import Limits, WorkerPool
from grader.sandbox.confine import landlock_abi

REPO = Path(__file__).resolve().parents[1]
ALL_IDS = [ex.id for ex in course.EXERCISES]
MAX_SCORE = sum(ex.points for ex in course.EXERCISES)
# What a grader-side bug looks like in a check's message (the student's own errors are
# reported as "your code raised ...", which does not start with these).
GRADER_EXCEPTIONS = ("TypeError:", "AttributeError:", "IndexError:", "KeyError:",
                     "ValueError:", "WireError", "RuntimeError:")


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------
def submission(tmp_path: Path, *, base: str = "reference", prepend: dict | None = None,
               append: dict | None = None, name: str = "submission") -> Path:
    """A copy of `base` whose files get code put before (`prepend`) or after (`append`) them.

    Appending `def f(...)` redefines `f`: the later definition is the one imported.
    """
    dest = tmp_path / name
    shutil.copytree(REPO / base, dest, ignore=shutil.ignore_patterns("__pycache__"))
    package = dest / "self_attention"
    for file, code in (prepend or {}).items():
        path = package / file
        path.write_text(textwrap.dedent(code).strip() + "\n\n" + path.read_text())
    for file, code in (append or {}).items():
        path = package / file
        path.write_text(path.read_text() + "\n\n" + textwrap.dedent(code).strip() + "\n")
    return dest


def run(target: Path, ids: list[str]) -> dict:
    return {r.exercise.id: r for r in grade(target, ids)}


def assert_full(results: dict, *ids: str) -> None:
    for ex_id in ids:
        r = results[ex_id]
        assert (r.status, r.score) == ("passed", r.exercise.points), (ex_id, r.status, r.reason)


def check_named(result, name: str):
    """The verdict of one check (by function name: robust to checks being added)."""
    found = [c for c in result.checks if c.name == name]
    assert found, (name, [c.name for c in result.checks])
    return found[0]


def messages(result) -> str:
    return "\n".join(c.message for c in result.checks)


def assert_no_grader_exception(result) -> None:
    for c in result.checks:
        assert not c.message.startswith(GRADER_EXCEPTIONS), (result.exercise.id, c.message)


def cli(target: Path, out: Path, *ids: str, cwd: Path, timeout: float = 120):
    args = [sys.executable, "-m", "grader", "--target", str(target), "--json", str(out)]
    for ex_id in ids:
        args += ["--exercise", ex_id]
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def check_report(data: dict) -> None:
    """Gradescope's results format, with totals that add up."""
    assert set(data) >= {"score", "max_score", "execution_time", "output", "tests"}
    assert isinstance(data["score"], (int, float)) and isinstance(data["max_score"], int)
    assert isinstance(data["execution_time"], (int, float)) and data["execution_time"] >= 0
    for t in data["tests"]:
        assert set(t) >= {"name", "number", "score", "max_score", "status", "output"}, t
        assert isinstance(t["name"], str) and isinstance(t["number"], str)
        assert isinstance(t["output"], str)
        assert isinstance(t["score"], (int, float)) and isinstance(t["max_score"], int)
        assert 0 <= t["score"] <= t["max_score"]
        assert t["status"] in ("passed", "failed")
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]), abs=0.011)
    assert data["max_score"] == sum(t["max_score"] for t in data["tests"])


@pytest.fixture
def short_timeouts(monkeypatch):
    """Give the checks of some exercises a short time limit (the registry is restored after)."""

    def apply(seconds: float, *ids: str) -> None:
        registry = [dataclasses.replace(c, timeout=seconds) if c.exercise_id in ids else c
                    for c in check_registry.REGISTRY]
        monkeypatch.setattr(check_registry, "REGISTRY", registry)

    return apply


UNIMPLEMENTED_SOFTMAX = '''
def softmax(x, axis=-1):
    raise NotImplementedError("Exercise 1.1 (softmax) is not implemented yet")
'''


# ---------------------------------------------------------------------------------------
# 1. a hang
# ---------------------------------------------------------------------------------------
def test_hang_times_out_only_that_exercise_and_is_not_rerun(tmp_path, short_timeouts):
    target = submission(tmp_path, append={"softmax.py": '''
        def softmax_backward(dout, out, axis=-1):
            while True:
                pass
        '''})
    limit = 1.5
    short_timeouts(limit, "1.2")
    results = run(target, ["1.1", "1.2", "1.3"])
    r = results["1.2"]
    assert r.status == "timeout" and r.score == 0
    first, *later = r.checks
    assert len(later) >= 2
    assert first.status == "timeout" and "did not finish in time" in first.message
    for c in later:
        assert c.status == "timeout" and "not run" in c.message, c
    assert_full(results, "1.1", "1.3")
    # Each check waiting for its limit would take 3 x 1.5 s: only the first one waits.
    assert r.seconds < 2 * limit, r.seconds


def test_hang_at_import_time_costs_only_the_exercises_using_that_file(tmp_path,
                                                                        short_timeouts):
    target = submission(tmp_path, prepend={"masks.py": "while True:\n    pass"})
    short_timeouts(1.0, "1.3")
    results = run(target, ["1.2", "1.3", "1.4"])
    assert (results["1.3"].status, results["1.3"].score) == ("timeout", 0)
    assert_full(results, "1.2", "1.4")


# ---------------------------------------------------------------------------------------
# 2.-4. exits and crashes
# ---------------------------------------------------------------------------------------
def test_os_exit_is_an_error_of_that_exercise_only(tmp_path):
    target = submission(tmp_path, append={"masks.py": '''
        def causal_mask(t_q, t_k=None):
            import os
            os._exit(3)
        '''})
    results = run(target, ["1.2", "1.3", "1.4"])
    r = results["1.3"]
    assert r.status == "error"
    causal, padding = (check_named(r, n) for n in ("causal_mask_alignment",
                                                    "padding_mask_values"))
    assert causal.status == "error"
    assert "exited with code 3" in causal.message
    # The next check gets a fresh process: padding_mask still earns its point.
    assert padding.status == "passed"
    assert 0 < r.score < r.exercise.points
    assert_full(results, "1.2", "1.4")


def test_segfault_is_an_error_of_the_exercises_calling_it(tmp_path):
    target = submission(tmp_path, append={"heads.py": '''
        def split_heads(x, n_heads):
            import ctypes
            ctypes.string_at(0)
        '''})
    results = run(target, ["1.5", "1.6", "1.7", "1.9"])
    r = results["1.6"]
    assert r.status == "error"
    assert "SIGSEGV" in check_named(r, "split_heads_layout").message
    assert check_named(r, "merge_heads_inverse").status == "passed"  # merge_heads is untouched
    # multi_head_attention calls split_heads: it would crash there too, so it is not run.
    assert results["1.7"].score == 0 and results["1.7"].blocked == "crashes"
    assert results["1.7"].note.startswith("Not run: 1.7 builds on 1.6 (Split and merge heads), "
                                          "which crashes: fix 1.6 first")
    assert_full(results, "1.5", "1.9")


@pytest.mark.parametrize("where", ["function", "module"])
def test_sys_exit_is_reported_as_such(tmp_path, where):
    if where == "function":
        target = submission(tmp_path, append={"masks.py": '''
            def padding_mask(lengths, t):
                import sys
                sys.exit(0)
            '''})
        affected, others = "1.3", ["1.2", "1.4"]
    else:
        target = submission(tmp_path, append={"online_softmax.py": "import sys\nsys.exit(0)"})
        affected, others = "1.9", ["1.4", "1.6"]
    results = run(target, [affected, *others])
    r = results[affected]
    assert r.status == "error"
    assert "sys.exit(0)" in messages(r)
    if where == "function":
        assert check_named(r, "causal_mask_alignment").status == "passed"
        assert check_named(r, "padding_mask_values").status == "error"
    else:
        assert r.score == 0
    assert_full(results, *others)


# ---------------------------------------------------------------------------------------
# 5. files that do not import
# ---------------------------------------------------------------------------------------
def test_syntax_error_costs_only_the_exercises_importing_that_file(tmp_path):
    target = submission(tmp_path, append={"heads.py": "def broken(:\n    pass"})
    results = run(target, ALL_IDS)
    for ex_id in ("1.6", "1.7", "1.8"):  # multi_head.py imports heads.py
        r = results[ex_id]
        assert (r.status, r.score) == ("error", 0), (ex_id, r.status)
        assert all("SyntaxError" in c.message for c in r.checks), ex_id
    assert "heads.py" in messages(results["1.6"])
    assert_full(results, "1.1", "1.2", "1.3", "1.4", "1.5", "1.9")


def _importers_of(rel: str, through_checks: bool = False) -> set[str]:
    """Exercises whose file imports reference/<rel> when it is loaded, directly or through
    other files (imports inside functions, like rope's of rope_scaling, happen when called)."""
    import ast

    root = Path(__file__).resolve().parents[1] / "reference"
    graph: dict[Path, set[Path]] = {}
    for path in root.rglob("*.py"):
        deps = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ImportFrom) and node.level > 0 and node.module:
                base = path.parent if node.level == 1 else path.parents[node.level - 1]
                deps.add(base.joinpath(*node.module.split(".")).with_suffix(".py"))
        graph[path] = deps

    def reaches(path: Path, seen: set) -> bool:
        if path == root / rel:
            return True
        seen.add(path)
        return any(d not in seen and reaches(d, seen) for d in graph.get(path, ()))

    def files_used_by(ex) -> set[Path]:
        """The exercise's own file, and the files of every name its checks call (`impl.X`)."""
        import inspect
        import re

        files = course.names_to_files()
        used = {root / ex.path}
        for c in check_registry.checks_for(ex.id):
            for name in re.findall(r"impl\.(\w+)", inspect.getsource(c.fn)):
                if name in files:
                    used.add(root / (files[name].replace(".", "/") + ".py"))
        return used

    if not through_checks:
        return {ex.id for ex in course.EXERCISES if reaches(root / ex.path, set())}
    return {ex.id for ex in course.EXERCISES
            if any(reaches(path, set()) for path in files_used_by(ex))}


def test_import_error_costs_only_the_exercises_importing_that_file(tmp_path):
    target = submission(tmp_path, prepend={"masks.py": "import nonexistent_pkg_xyz"})
    results = run(target, ALL_IDS)
    importers = _importers_of("self_attention/masks.py")
    assert "1.3" in importers and "1.1" not in importers
    for ex_id in importers:
        r = results[ex_id]
        assert (r.status, r.score) == ("error", 0), ex_id
        assert any("nonexistent_pkg_xyz" in c.message for c in r.checks), ex_id
    # exercises whose own file is fine but some checks build another exercise's object
    # (4.6 sizes the cache of a 3.11 GPTConfig) lose those checks only
    check_users = _importers_of("self_attention/masks.py", through_checks=True) - importers
    for ex_id in check_users:
        r = results[ex_id]
        assert r.status == "error" and 0 < r.score < course.BY_ID[ex_id].points, ex_id
    assert_full(results, *[i for i in ALL_IDS if i not in importers | check_users])


# ---------------------------------------------------------------------------------------
# 6. a flood of output
# ---------------------------------------------------------------------------------------
FLOODS = {
    # 10 MB once, then a line to find at the end: still full marks.
    "10MB": ("_flooded = []\n\n\n", "if not _flooded:\n        _flooded.append(1)\n"
             "        print('x' * 10_000_000)"),
    # More than the worker's 64 MiB output limit: printing fails, only 1.1 pays for it.
    "past-the-limit": ("", "print('x' * 100_000_000)"),
}


@pytest.mark.parametrize("flood", sorted(FLOODS))
def test_a_flood_of_output_is_truncated_in_the_report(tmp_path, flood):
    setup, body = FLOODS[flood]
    target = submission(tmp_path, append={"softmax.py": (
        f"_softmax = softmax\n{setup}\n\ndef softmax(x, axis=-1):\n    {body}\n"
        "    print('END-OF-FLOOD')\n    return _softmax(x, axis=axis)")})
    out = tmp_path / "report" / "results.json"
    proc = cli(target, out, "1.1", "1.3", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(proc.stdout) < 20_000  # the table and details, not the flood
    assert out.stat().st_size < 20_000
    data = json.loads(out.read_text())
    check_report(data)
    tests = {t["number"]: t for t in data["tests"]}
    assert (tests["1.3"]["status"], tests["1.3"]["score"]) == ("passed", 4)
    assert len(tests["1.1"]["output"]) < 5_000  # only the tail of what was printed
    if flood == "10MB":
        assert (tests["1.1"]["status"], tests["1.1"]["score"]) == ("passed", 4)
        assert "END-OF-FLOOD" in tests["1.1"]["output"]
        assert "x" * 1000 in tests["1.1"]["output"]
    else:
        assert tests["1.1"]["score"] == 0
        assert "Status: error" in tests["1.1"]["output"]
        assert "File too large" in tests["1.1"]["output"]


# ---------------------------------------------------------------------------------------
# 7. wrong return values fail with a message, never with an exception of the grader
# ---------------------------------------------------------------------------------------
SOFTMAX_RETURNS = {
    "nan": ("np.full(x.shape, np.nan)", "contains nan"),
    "shape": ("_ok(x, axis).sum(axis=axis)", "has shape"),
    "dtype": ("_ok(x, axis).astype(np.float32)", "has dtype float32, expected float64"),
    "list": ("_ok(x, axis).tolist()", "should be a NumPy array, got list"),
    "none": ("None", "should be a NumPy array, got NoneType"),
    "pair": ("(_ok(x, axis), {'x': x})", "pair came back"),
    "scalar": ("np.float64(1.0)", "should be a NumPy array, got float64"),
}


@pytest.mark.parametrize("kind", sorted(SOFTMAX_RETURNS))
def test_wrong_softmax_return_fails_with_a_message(tmp_path, kind):
    value, expected = SOFTMAX_RETURNS[kind]
    target = submission(tmp_path, append={"softmax.py": f'''
        _ok = softmax


        def softmax(x, axis=-1):
            return {value}
        '''})
    results = run(target, ["1.1", "1.2"])
    r = results["1.1"]
    assert r.status == "failed", (r.status, messages(r))
    values = check_named(r, "softmax_values")
    assert values.status == "failed" and expected in values.message, values
    assert_no_grader_exception(r)
    assert r.score < r.exercise.points
    assert_full(results, "1.2")


# One wrong value per function, returned by every call: every check must fail cleanly.
WRONG_EVERYWHERE = {
    "causal_mask-none": ("masks.py", "def causal_mask(t_q, t_k=None):\n    return None", "1.3"),
    "padding_mask-list": ("masks.py", "def padding_mask(lengths, t):\n    return [[True]]",
                          "1.3"),
    "sdpa-single-array": ("attention.py",
                          "def scaled_dot_product_attention(q, k, v, mask=None):\n"
                          "    return q", "1.4"),
    "sdpa_backward-none": ("attention.py",
                           "def scaled_dot_product_attention_backward(dout, cache):\n"
                           "    return None", "1.5"),
    "split_heads-nan": ("heads.py",
                        "def split_heads(x, n_heads):\n"
                        "    import numpy as np\n"
                        "    B, T, C = x.shape\n"
                        "    return np.full((B, n_heads, T, C // n_heads), np.nan)", "1.6"),
    "online-pair": ("online_softmax.py",
                    "_ok = online_softmax_attention\n\n\n"
                    "def online_softmax_attention(q, k, v, mask=None, block_size=64, "
                    "causal=False):\n"
                    "    return _ok(q, k, v, mask=mask, block_size=block_size), {}", "1.9"),
}


@pytest.mark.parametrize("case", sorted(WRONG_EVERYWHERE))
def test_wrong_return_of_each_function_fails_cleanly(tmp_path, case):
    file, code, ex_id = WRONG_EVERYWHERE[case]
    target = submission(tmp_path, append={file: code})
    neighbour = "1.2" if ex_id != "1.2" else "1.1"
    results = run(target, [ex_id, neighbour])
    r = results[ex_id]
    assert r.status == "failed", (r.status, messages(r))
    assert_no_grader_exception(r)
    assert_full(results, neighbour)


def test_none_in_the_output_slot_of_a_pair_fails_cleanly(tmp_path):
    target = submission(tmp_path, append={"multi_head.py": '''
        _ok = multi_head_attention


        def multi_head_attention(x_q, x_kv, params, n_heads, mask=None):
            out, cache = _ok(x_q, x_kv, params, n_heads, mask=mask)
            return None, cache
        '''})
    results = run(target, ["1.6", "1.7"])
    r = results["1.7"]
    assert r.score == 0
    assert_full(results, "1.6")
    assert_no_grader_exception(r)
    assert r.status == "failed", (r.status, messages(r))


# ---------------------------------------------------------------------------------------
# 8. in-place mutation of an input
# ---------------------------------------------------------------------------------------
IN_PLACE_SOFTMAX = '''
def softmax(x, axis=-1):
    x_max = np.max(x, axis=axis, keepdims=True)
    x -= np.where(np.isneginf(x_max), 0, x_max)
    e = np.exp(x)
    total = np.sum(e, axis=axis, keepdims=True)
    return e / np.where(total == 0, 1, total)
'''


def test_in_place_mutation_loses_points_with_a_message(tmp_path):
    target = submission(tmp_path, append={"softmax.py": IN_PLACE_SOFTMAX})
    results = run(target, ["1.1", "1.2"])
    r = results["1.1"]
    assert r.status == "failed" and r.score < r.exercise.points
    assert "in place" in messages(r)
    assert_full(results, "1.2")


def test_in_place_mutation_cannot_be_hidden_by_patching_numpy(tmp_path):
    target = submission(tmp_path, prepend={"softmax.py": '''
        import numpy
        numpy.array_equal = lambda *a, **k: True
        '''}, append={"softmax.py": IN_PLACE_SOFTMAX})
    results = run(target, ["1.1", "1.2"])
    r = results["1.1"]
    assert "in place" in messages(r)
    assert r.score < r.exercise.points


# ---------------------------------------------------------------------------------------
# 9. patching NumPy, builtins or the grader at import time, and crafted return values
# ---------------------------------------------------------------------------------------
PATCHES = {
    "numpy.allclose": "import numpy\nnumpy.allclose = lambda *a, **k: True",
    "numpy.testing.assert_allclose":
        "import numpy.testing\nnumpy.testing.assert_allclose = lambda *a, **k: None",
    "numpy.array_equal": "import numpy\nnumpy.array_equal = lambda *a, **k: True",
    "numpy.isfinite": "import numpy\nnumpy.isfinite = lambda x: numpy.ones(numpy.shape(x), bool)",
    "numpy.ndarray": "import numpy\nnumpy.ndarray = type('ndarray', (), {})",
    "builtins.isinstance": "import builtins\nbuiltins.isinstance = lambda *a: True",
    "grader": '''
        import grader.expect
        import grader.plugin
        import grader.results
        grader.expect.close = lambda *a, **k: None
        grader.expect.fail = lambda *a, **k: None
        grader.expect.array = lambda value, *a, **k: value
        grader.plugin.classify = lambda *a, **k: ("passed", "")
        grader.results.ExerciseResult.score = property(lambda self: self.exercise.points)
        ''',
    "results-file": '''
        import json as _json
        import os as _os
        for _path in ("build/results.json", _os.path.expanduser("~/results.json")):
            try:
                _os.makedirs(_os.path.dirname(_path) or ".", exist_ok=True)
                with open(_path, "w") as _f:
                    _json.dump({"score": 60, "max_score": 60, "tests": []}, _f)
            except OSError as _exc:  # the sandbox lets student code write nowhere else
                print("could not write a fake report:", type(_exc).__name__)
        ''',
}


def _with_marker(code: str, name: str) -> str:
    """A line proving the hostile code ran (the patch may break printing), then the patch.
    (Importing the grader fails in the sandbox: student code cannot read it.)"""
    proof = f"import os as _os_m\n_os_m.write(1, b'PATCHED ' + {name!r}.encode() + b'\\n')"
    return proof + "\n" + textwrap.dedent(code).strip()


@pytest.mark.parametrize("patch", sorted(PATCHES))
def test_import_time_patches_do_not_raise_the_score(tmp_path, monkeypatch, patch):
    monkeypatch.chdir(tmp_path)  # where a relative fake report would land, were it allowed
    target = submission(tmp_path, prepend={"softmax.py": _with_marker(PATCHES[patch], patch)},
                        append={"softmax.py": UNIMPLEMENTED_SOFTMAX})
    results = run(target, ["1.1", "1.3"])
    r = results["1.1"]
    assert f"PATCHED {patch}" in r.output  # the hostile code did run
    assert r.score == 0, (r.status, messages(r))
    assert r.status in ("not implemented", "error"), r.status
    assert_full(results, "1.3")
    assert not (tmp_path / "build" / "results.json").exists()


def test_import_time_patches_on_the_real_stubs_score_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # (Patching the grader is left out: importing it already fails in the sandbox.)
    benign = [p for p in sorted(PATCHES)
              if p not in ("builtins.isinstance", "numpy.ndarray", "grader")]
    code = "\n".join(_with_marker(PATCHES[p], p) for p in benign)
    target = submission(tmp_path, base="exercises",
                        prepend={"softmax.py": code, "masks.py": code})
    results = run(target, ["1.1", "1.2", "1.3"])
    assert results["1.1"].output.count("PATCHED") >= len(benign)
    for r in results.values():
        assert (r.status, r.score) == ("not implemented", 0), (r.exercise.id, messages(r))


CRAFTED = {
    "eq-always-true": '''
        class _Anything:
            def __eq__(self, other):
                return True

            def __ne__(self, other):
                return False

            def __array__(self, dtype=None, copy=None):
                return _ok(self.x, self.axis)

        r = _Anything()
        r.x, r.axis = x, axis
        return r
        ''',
    "object-array-of-right-values": "return np.array(_ok(x, axis), dtype=object)",
    "array_ufunc-override": '''
        class _Liar(np.ndarray):
            def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
                return np.zeros(np.shape(inputs[0]), bool) if ufunc is np.greater else True

        return np.full(x.shape, 7.0).view(_Liar)
        ''',
    "sub-abs-le-overrides": '''
        class _Close(np.ndarray):
            def __sub__(self, other):
                return np.zeros(self.shape)

            __rsub__ = __sub__

            def __abs__(self):
                return np.zeros(self.shape)

            def __le__(self, other):
                return np.ones(self.shape, bool)

            def astype(self, *a, **k):
                return self

        return np.full(x.shape, 7.0).view(_Close)
        ''',
    "fully-masked-array": "return np.ma.array(np.full(x.shape, 7.0), mask=True)",
    "ndarray-subclass-with-right-shape-and-garbage":
        "return np.full(x.shape, 7.0).view(np.recarray)",
}


@pytest.mark.parametrize("kind", sorted(CRAFTED))
def test_crafted_return_values_do_not_pass(tmp_path, kind):
    body = textwrap.indent(textwrap.dedent(CRAFTED[kind]).strip(), "    ")
    target = submission(tmp_path, append={"softmax.py": (
        "_ok = softmax\n\n\ndef softmax(x, axis=-1):\n" + body)})
    results = run(target, ["1.1", "1.2"])
    r = results["1.1"]
    assert r.score == 0, (r.status, messages(r))
    assert r.status in ("failed", "error"), r.status
    assert_full(results, "1.2")


# ---------------------------------------------------------------------------------------
# 10. forging the worker's replies
# ---------------------------------------------------------------------------------------
FORGERIES = {
    "garbage": '''
        import os
        for fd in range(3, 21):
            try:
                os.write(fd, b"\\xff" * 64 + b"not a message")
            except OSError:
                pass
        ''',
    "well-formed": '''
        import os
        import sys
        wire = sys.modules["_grader_wire"]  # the worker's own codec
        guess = np.full(x.shape, 1.0 / x.shape[axis])
        forged = wire.encode({"value": guess, "sync": [], "peak": 0, "warnings": []})[0]
        for fd in range(3, 21):
            try:
                wire.send(fd, forged)
            except OSError:
                pass
        ''',
    "malformed-reply-shapes": '''
        import os
        import sys
        wire = sys.modules["_grader_wire"]
        for reply in (5, [1, 2], {"error": "x"}, {"value": 1, "sync": [[99, 1]]},
                      {"value": {"nested": [1, 2]}}):
            forged = wire.encode(reply)[0]
            for fd in range(3, 21):
                try:
                    wire.send(fd, forged)
                except OSError:
                    pass
        ''',
}


@pytest.mark.parametrize("kind", sorted(FORGERIES))
def test_forged_replies_gain_nothing(tmp_path, kind):
    body = textwrap.indent(textwrap.dedent(FORGERIES[kind]).strip(), "    ")
    target = submission(tmp_path, append={"softmax.py": (
        "def softmax(x, axis=-1):\n" + body + "\n"
        "    raise NotImplementedError('Exercise 1.1 (softmax) is not implemented yet')")})
    results = run(target, ["1.1", "1.2", "1.3"])
    r = results["1.1"]
    assert r.score == 0, (r.status, messages(r))
    assert r.status in ("failed", "error", "not implemented")
    assert_full(results, "1.2", "1.3")


# ---------------------------------------------------------------------------------------
# 11. the command line always writes a valid report
# ---------------------------------------------------------------------------------------
def test_cli_writes_the_report_despite_a_crash(tmp_path):
    target = submission(tmp_path, append={"masks.py": '''
        def causal_mask(t_q, t_k=None):
            import os
            os._exit(3)
        '''})
    out = tmp_path / "out" / "results.json"
    proc = cli(target, out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    check_report(data)
    assert data["max_score"] == MAX_SCORE
    tests = {t["number"]: t for t in data["tests"]}
    assert list(tests) == ALL_IDS
    crashed = tests["1.3"]
    assert crashed["status"] == "failed" and 0 < crashed["score"] < crashed["max_score"]
    assert "Status: error" in crashed["output"] and "exited with code 3" in crashed["output"]
    # The decoder layer (3.7), the encoder-decoder (3.9) and GPT (3.11) build their causal
    # masks with causal_mask: they crash too, as do the exercises graded on a GPT (4.3's
    # training loop, 4.5's cache, 5.4's speculative decoding) and the Llama (5.1), and nothing
    # else does.
    callers = {"1.3", "3.7", "3.9", "3.11", "4.3", "4.5", "5.1", "5.4"}
    for ex_id in ALL_IDS:
        if ex_id not in callers:
            assert tests[ex_id]["status"] == "passed", ex_id
            assert tests[ex_id]["score"] == tests[ex_id]["max_score"], ex_id
    lost = sum(tests[i]["max_score"] - tests[i]["score"] for i in callers)
    assert data["score"] == pytest.approx(MAX_SCORE - lost)


def test_cli_overwrites_a_fake_report_written_by_student_code(tmp_path):
    out = tmp_path / "build" / "results.json"
    fake = {"score": 60, "max_score": 60, "execution_time": 0, "output": "", "tests": []}
    target = submission(tmp_path, prepend={"masks.py": f'''
        import json as _json
        import os as _os
        _os.makedirs({str(out.parent)!r}, exist_ok=True)
        with open({str(out)!r}, "w") as _f:
            _json.dump({fake!r}, _f)
        '''}, append={"masks.py": '''
        def causal_mask(t_q, t_k=None):
            raise NotImplementedError("Exercise 1.3 (causal_mask) is not implemented yet")
        '''})
    proc = cli(target, out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    check_report(data)
    assert data["max_score"] == MAX_SCORE and data["score"] < MAX_SCORE
    assert {t["number"]: t["score"] for t in data["tests"]}["1.3"] < 4


# ---------------------------------------------------------------------------------------
# Measurements and trivial answers that must not earn points, output that must survive a
# crash, expected values that must not be rewritten; and (xfail) the same-user limits
# ---------------------------------------------------------------------------------------
JACOBIAN_BACKWARD = '''
def softmax_backward(dout, out, axis=-1):
    s, d = np.moveaxis(out, axis, -1), np.moveaxis(dout, axis, -1)
    eye = np.eye(s.shape[-1], dtype=s.dtype)
    jac = s[..., :, None] * eye - s[..., :, None] * s[..., None, :]  # (..., n, n)
    return np.moveaxis(np.einsum("...ij,...j->...i", jac, d), -1, axis)
'''


def test_building_the_jacobian_loses_the_memory_check(tmp_path):
    target = submission(tmp_path, append={"softmax.py": JACOBIAN_BACKWARD})
    r = run(target, ["1.2"])["1.2"]
    memory = check_named(r, "softmax_backward_no_jacobian")
    assert memory.status == "failed" and "Jacobian" in memory.message
    assert all(c.status == "passed" for c in r.checks if c is not memory)


def test_memory_check_cannot_be_fooled_by_patching_tracemalloc(tmp_path):
    target = submission(tmp_path, prepend={"softmax.py": '''
        import tracemalloc
        tracemalloc.get_traced_memory = lambda: (0, 0)
        '''}, append={"softmax.py": JACOBIAN_BACKWARD})
    r = run(target, ["1.2"])["1.2"]
    assert check_named(r, "softmax_backward_no_jacobian").status == "failed"


TRIVIAL = {
    "softmax_backward-zeros": ("softmax.py", '''
        def softmax_backward(dout, out, axis=-1):
            return np.zeros_like(out)
        ''', "1.2"),
    "online-zeros": ("online_softmax.py", '''
        def online_softmax_attention(q, k, v, mask=None, block_size=64, causal=False):
            return np.zeros(q.shape[:-1] + v.shape[-1:], dtype=q.dtype)
        ''', "1.9"),
    "multi_head-nan": ("multi_head.py", '''
        _ok = multi_head_attention


        def multi_head_attention(x_q, x_kv, params, n_heads, mask=None):
            out, cache = _ok(x_q, x_kv, params, n_heads, mask=mask)
            return np.full(out.shape, np.nan), cache
        ''', "1.7"),
}


@pytest.mark.parametrize("case", sorted(TRIVIAL))
def test_trivial_answers_earn_no_points(tmp_path, case):
    file, code, ex_id = TRIVIAL[case]
    target = submission(tmp_path, append={file: code})
    r = run(target, [ex_id])[ex_id]
    assert r.score == 0, [(c.name, c.status) for c in r.checks]


OUTPUT_THEN_STUCK = {
    "timeout": ("softmax.py", '''
        def softmax_backward(dout, out, axis=-1):
            print("PROGRESS-MARKER", flush=True)
            while True:
                pass
        ''', "1.2"),
    "crash": ("masks.py", '''
        def padding_mask(lengths, t):
            import os
            print("PROGRESS-MARKER", flush=True)
            os._exit(1)
        ''', "1.3"),
}


@pytest.mark.parametrize("how", sorted(OUTPUT_THEN_STUCK))
def test_output_printed_before_a_hang_or_crash_is_shown(tmp_path, short_timeouts, how):
    file, code, ex_id = OUTPUT_THEN_STUCK[how]
    short_timeouts(1.0, ex_id)
    target = submission(tmp_path, append={file: code})
    r = run(target, [ex_id])[ex_id]
    assert r.status == ("timeout" if how == "timeout" else "error")
    assert "PROGRESS-MARKER" in r.output


@pytest.fixture
def private_fixtures(tmp_path, monkeypatch):
    """The grader's fixtures from a copy, so a hostile submission may overwrite them."""
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(fixtures.DATA_DIR / "self_attention.npz", data)
    monkeypatch.setattr(fixtures, "DATA_DIR", data)
    fixtures.load.cache_clear()
    yield data / "self_attention.npz"
    fixtures.load.cache_clear()


def test_student_code_cannot_rewrite_the_expected_values(tmp_path, private_fixtures):
    # In a real run the path is Path(sys.argv[0]).resolve().parents[1] / "data" / ...
    target = submission(tmp_path, prepend={"masks.py": f'''
        import numpy as _np
        with _np.load({str(private_fixtures)!r}) as _f:
            _d = {{k: _f[k] for k in _f.files}}
        for _k in _d:
            if _k.startswith("1.3/masks."):
                _d[_k] = _np.zeros_like(_d[_k])
        _np.savez({str(private_fixtures)!r}, **_d)
        '''}, append={"masks.py": '''
        def causal_mask(t_q, t_k=None):
            return np.zeros((t_q, t_q if t_k is None else t_k), bool)


        def padding_mask(lengths, t):
            return np.zeros((len(lengths), t), bool)
        '''})
    r = run(target, ["1.3"])["1.3"]
    assert r.score == 0, [(c.name, c.status) for c in r.checks]


DAEMON = r'''
import json, os, sys, time
out = sys.argv[1]
deadline = time.time() + 15
while time.time() < deadline:
    try:
        with open(out) as f:
            data = json.load(f)
    except (OSError, ValueError):
        data = None
    if data and data.get("tests") and data["score"] < data["max_score"]:
        for t in data["tests"]:
            t["score"], t["status"] = t["max_score"], "passed"
        data["score"] = data["max_score"]
        with open(out + ".forged", "w") as f:
            json.dump(data, f)
        os.replace(out + ".forged", out)
        break
    time.sleep(0.02)
'''


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


LANDLOCK = landlock_abi()
SAME_USER_LIMIT = pytest.mark.xfail(
    LANDLOCK < 6, strict=True,
    reason="without Landlock 6+ (Linux 6.12+), code that runs as the grader's own user can signal "
           "it and write where it may; the Gradescope package runs it as another user instead "
           "(tests/test_hostile_gradescope.py)")


@SAME_USER_LIMIT
def test_no_student_process_outlives_the_grader_to_rewrite_the_report(tmp_path):
    out = tmp_path / "results.json"
    target = submission(tmp_path, prepend={"masks.py": f'''
        import subprocess as _sp
        import sys as _sys
        _daemon = _sp.Popen([_sys.executable, "-c", {DAEMON!r}, {str(out)!r}],
                            start_new_session=True, stdin=_sp.DEVNULL, stdout=_sp.DEVNULL,
                            stderr=_sp.DEVNULL)
        print("DAEMON", _daemon.pid)
        '''}, append={"masks.py": '''
        def causal_mask(t_q, t_k=None):
            raise NotImplementedError("Exercise 1.3 (causal_mask) is not implemented yet")
        '''})
    started: list[int] = []
    try:
        proc = cli(target, out, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]
        text = out.read_text()
        started = [int(pid) for pid in re.findall(r"DAEMON (\d+)", text)]
        assert started, "the hostile code did not run"
        time.sleep(1)  # what a survivor would need to rewrite the report
        assert not any(_alive(p) for p in started), "a process of the student survived"
        data = json.loads(out.read_text())
        check_report(data)
        assert data["score"] < MAX_SCORE
    finally:
        for pid in started:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


@SAME_USER_LIMIT
def test_student_code_cannot_kill_the_grader(tmp_path):
    # The worker's parent is the fork server; the grader is the server's parent.
    target = submission(tmp_path, append={"softmax.py": '''
        def softmax(x, axis=-1):
            import os
            import signal
            server = os.getppid()
            with open(f"/proc/{server}/status") as f:
                grader = int(next(l for l in f if l.startswith("PPid:")).split()[1])
            for pid in (grader, server):
                os.kill(pid, signal.SIGKILL)
        '''})
    out = tmp_path / "results.json"
    proc = cli(target, out, "1.1", "1.2", cwd=tmp_path)
    assert out.exists(), f"no report; the grader ended with {proc.returncode}"
    assert proc.returncode == 0


@pytest.mark.parametrize("landlock", [True, False])
def test_a_killed_fork_server_costs_only_the_exercise_that_killed_it(tmp_path, monkeypatch,
                                                                     landlock):
    """Workers are forked from a server (grader/sandbox/forkserver.py).  Landlock 6+ keeps
    student code from signalling it; without, a killed server is replaced and the other
    exercises are graded as usual."""
    target = submission(tmp_path, append={"softmax.py": '''
        def softmax(x, axis=-1):
            import os
            import signal
            os.kill(os.getppid(), signal.SIGKILL)
            return x
        '''})
    replaced = []
    original = WorkerPool._replace_server
    monkeypatch.setattr(WorkerPool, "_replace_server",
                        lambda pool: replaced.append(1) or original(pool))
    results = {r.exercise.id: r for r in grade(target, ["1.1", "1.2", "1.3", "1.6"],
                                               limits=Limits(landlock=landlock))}
    assert len(replaced) == (0 if landlock and LANDLOCK >= 6 else 1)
    assert results["1.1"].score < results["1.1"].exercise.points
    assert_full(results, "1.2", "1.3", "1.6")  # none of them calls softmax


def test_workers_started_as_new_interpreters_grade_the_same(tmp_path, monkeypatch):
    """Where the system cannot fork (or the fork server gave up), each worker is a new
    interpreter: the same verdicts, a crash still costs only its own check."""
    monkeypatch.setattr(WorkerPool, "FORK", False)
    target = submission(tmp_path, append={"masks.py": '''
        def causal_mask(t_q, t_k=None):
            import os
            os._exit(3)
        '''})
    results = run(target, ["1.1", "1.3", "1.6"])
    assert_full(results, "1.1", "1.6")
    causal = check_named(results["1.3"], "causal_mask_alignment")
    assert causal.status == "error" and "exited with code 3" in causal.message
    assert check_named(results["1.3"], "padding_mask_values").status == "passed"
