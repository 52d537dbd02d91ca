"""The module demos run (on the reference, and on a folder holding a copy of it, as a
student's finished exercises would be) and name a missing exercise; the lecture's figures
and links exist."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
from columns import long_lines
from conftest import REPO

from grader import course


def test_demo_on_the_reference_writes_its_heatmap(tmp_path):
    out = tmp_path / "weights.png"
    done = subprocess.run([sys.executable, "-W", "error", "-m", "demos", "self_attention",
                           "--target", "reference", "--out", str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "online softmax" in done.stdout and out.stat().st_size > 10_000
    assert not long_lines(done.stdout + done.stderr)


def test_module_2_demo_runs_clean():
    done = subprocess.run([sys.executable, "-W", "error", "-m", "demos", "positional_encoding",
                           "--target", "reference"], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "[ok]" in done.stdout and "FAIL" not in done.stdout
    assert not long_lines(done.stdout + done.stderr)


@pytest.mark.parametrize("name", [m.package for m in course.MODULES])
def test_demo_on_the_stubs_names_the_missing_exercise(name):
    done = subprocess.run([sys.executable, "-m", "demos", name], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    assert re.search(r"exercise \d\.\d", done.stdout + done.stderr, re.IGNORECASE)
    assert "make grade EX=" in done.stdout + done.stderr
    assert not long_lines(done.stdout + done.stderr)


def test_demos_run_on_a_folder_holding_a_finished_implementation(tmp_path):
    """A student's completed exercises, anywhere on disk: a copy of the reference."""
    finished = tmp_path / "my_solutions"
    shutil.copytree(REPO / "reference", finished, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "weights.png"
    done = subprocess.run([sys.executable, "-W", "error", "-m", "demos", "self_attention",
                           "--target", str(finished), "--out", str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "[ok] online softmax" in done.stdout and out.stat().st_size > 10_000
    done = subprocess.run([sys.executable, "-W", "error", "-m", "demos", "transformer", "--gpt",
                           "--quick", "--target", str(finished), "--figures", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "held-out strings exactly right" in done.stdout
    assert not long_lines(done.stdout + done.stderr)
    assert (tmp_path / "gpt_loss.png").stat().st_size > 10_000


def test_every_demo_has_a_fast_test_on_the_reference():
    """Each name of `python -m demos` is run by some test of this folder."""
    from demos.run import DEMOS

    tests = "\n".join(p.read_text() for p in (REPO / "tests").rglob("test_*.py"))
    for name, demo in DEMOS.items():
        package, _, module = demo.module.rpartition(".")  # package "": demos/NAME.py
        imported = re.search(rf"from demos\.?{package} import .*\b{module}\b", tests)
        assert f'"{name}"' in tests or f"demos.{demo.module}" in tests or imported, name


def test_demos_list_and_a_missing_target_folder():
    done = subprocess.run([sys.executable, "-m", "demos"], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "bench_decode" in done.stdout
    assert max(map(len, done.stdout.splitlines())) <= 80
    done = subprocess.run([sys.executable, "-m", "demos", "transformer", "--target",
                           "no/such/folder"], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and "no such directory" in done.stderr
    assert not long_lines(done.stdout + done.stderr)


@pytest.mark.parametrize("name", ["self_attention", "positional_encoding"])
def test_figure_scripts_draw_every_lecture_figure(name, tmp_path):
    """`make figures`, into a scratch folder: the same file names as the lecture's figures."""
    # Module 1's demo also writes its heatmap (to --out): keep it out of the folder's count
    heatmap = ["--out", str(tmp_path / "weights.png")] if name == "self_attention" else []
    done = subprocess.run([sys.executable, "-W", "error", "-m", "demos", name, "--target",
                           "reference", "--figures", str(tmp_path), *heatmap], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lecture = REPO / next(m.lecture_dir for m in course.MODULES if m.package == name)
    expected = {p.name for p in (lecture / "figures").glob("*.png")} - {"extrapolation.png"}
    drawn = {p.name for p in tmp_path.glob("*.png")} - {"weights.png"}
    assert drawn == expected
    assert all((tmp_path / png).stat().st_size > 10_000 for png in drawn)


def test_lecture_figures_and_local_links_exist():
    for module in course.MODULES:
        lecture = REPO / module.lecture_dir
        for doc in ("theory.md", "README.md"):
            text = (lecture / doc).read_text()
            for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
                if target.startswith(("http://", "https://")):
                    continue
                assert (lecture / target).exists(), f"{module.lecture_dir}/{doc} -> {target}"
