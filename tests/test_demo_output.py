"""Every line a demo prints fits 80 columns. Most demos are checked where their own tests
already run them (`long_lines` in test_*_demo.py, test_extrapolation.py, test_bench_decode.py,
test_quantization_report.py, test_demo_and_lectures.py); here are the runs no other test does."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest
from columns import long_lines
from conftest import REPO

HAS_TORCH = importlib.util.find_spec("torch") is not None


def run(*args, cwd=REPO):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "demos", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args", [
    ("transformer", "--target", "reference"),  # the tour, its usage lines and its results
    ("transformer", "--help"),
    ("no_such_demo",),
    ("run_gpt2", "--target", "reference", "no/such/folder"),
    ("bench_quantization", "--help"),
])
def test_output_fits_80_columns(args):
    done = run(*args)
    assert done.stdout + done.stderr
    assert not long_lines(done.stdout + done.stderr)


@pytest.mark.skipif(not HAS_TORCH, reason="the benchmarks compare against PyTorch")
@pytest.mark.parametrize("args", [
    ("bench", "--quick", "--config", "tiny"),
    ("bench_decode", "--config", "tiny", "--quick", "--threads", "1", "--figure", "d.png"),
])
def test_benchmarks_against_torch_fit_80_columns(args, tmp_path):
    done = run(*args, cwd=tmp_path)  # the figure goes to tmp_path
    assert done.returncode == 0, done.stderr
    assert not long_lines(done.stdout + done.stderr)


def test_wrap_folds_long_lines_with_a_hanging_indent():
    from demos.text import wrap

    short = "Model: GPT with 2 layers"
    assert wrap(short) == short
    lines = wrap("Training: " + "step " * 30).split("\n")
    assert len(lines) > 1 and all(len(line) <= 80 for line in lines)
    assert all(line.startswith("    step") for line in lines[1:])
    ok = wrap("[ok] " + "checked " * 12).split("\n")
    assert ok[1].startswith("     checked")  # under the text, past "[ok] "
    assert wrap("# " + "word " * 20).split("\n")[1].startswith("#   word")  # still a comment
    assert wrap("text " * 20, indent=0).split("\n")[1].startswith("text")
    path = "/" + "d" * 90
    assert wrap(f"Wrote {path}") == f"Wrote\n    {path}"  # a path is never cut
