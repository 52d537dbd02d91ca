"""The Module 1 demo runs and draws; the lecture's figures and links exist."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import REPO

from grader import course


def test_demo_on_the_reference_writes_its_heatmap(tmp_path):
    out = tmp_path / "weights.png"
    done = subprocess.run([sys.executable, "-W", "error", "-m", "reference.self_attention",
                           "--out", str(out)], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "online softmax" in done.stdout and out.stat().st_size > 10_000


def test_module_2_demo_runs_clean():
    done = subprocess.run([sys.executable, "-W", "error", "-m", "reference.positional_encoding"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "[ok]" in done.stdout and "FAIL" not in done.stdout


@pytest.mark.parametrize("module", [m.package for m in course.MODULES
                                    if (REPO / "reference" / m.package / "__main__.py").exists()])
def test_demo_on_the_stubs_names_the_missing_exercise(module):
    done = subprocess.run([sys.executable, "-m", f"exercises.{module}"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    assert re.search(r"exercise \d\.\d", done.stdout + done.stderr, re.IGNORECASE)
    assert "make grade EX=" in done.stdout + done.stderr


def test_lecture_figures_and_local_links_exist():
    for module in course.MODULES:
        lecture = REPO / module.lecture_dir
        for doc in ("theory.md", "README.md"):
            text = (lecture / doc).read_text()
            for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
                if target.startswith(("http://", "https://")):
                    continue
                assert (lecture / target).exists(), f"{module.lecture_dir}/{doc} -> {target}"
