"""The stub generator: regions become NotImplementedError, edits are never lost."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from grader import stubs

REFERENCE = '''"""Doc."""

import numpy as np


def softmax(x, axis=-1):
    """Docstring stays."""
    x = np.asarray(x)
    ### BEGIN SOLUTION
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)
    ### END SOLUTION
'''


def test_region_becomes_raise_naming_the_exercise():
    out = stubs.stub_source(REFERENCE, "x.py")
    assert "np.exp" not in out and "BEGIN SOLUTION" not in out
    assert '"""Docstring stays."""' in out and "x = np.asarray(x)" in out
    assert 'raise NotImplementedError(\n        "Exercise 1.1 (softmax)' in out
    assert "theory.md#2-softmax-and-its-jacobian" in out
    compile(out, "stub", "exec")


@pytest.mark.parametrize("source, problem", [
    ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n", "inside a function"),
    ("def softmax():\n    ### BEGIN SOLUTION\n    return 1\n", "without ### END"),
    ("def softmax():\n    return 1\n    ### END SOLUTION\n", "without ### BEGIN"),
    ("def unknown():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n",
     "belongs to no exercise"),
])
def test_bad_markers_are_named(source, problem):
    with pytest.raises(stubs.MarkerError, match=problem):
        stubs.stub_source(source, "x.py")


def test_write_keeps_student_edits_and_force_backs_them_up(tmp_path):
    first = {"m/a.py": "A1\n", "m/b.py": "B1\n"}
    report = stubs.write(tmp_path, first)
    assert sorted(report["written"]) == ["m/a.py", "m/b.py"]

    (tmp_path / "m/a.py").write_text("my solution\n")  # the student worked on a.py
    second = {"m/a.py": "A2\n", "m/b.py": "B2\n"}
    report = stubs.write(tmp_path, second)
    assert report["skipped"] == ["m/a.py"]
    assert (tmp_path / "m/a.py").read_text() == "my solution\n"
    assert (tmp_path / "m/b.py").read_text() == "B2\n"  # untouched stub: updated

    report = stubs.write(tmp_path, second)  # still the student's: still skipped
    assert report["skipped"] == ["m/a.py"]

    report = stubs.write(tmp_path, second, force=True)
    assert (tmp_path / "m/a.py").read_text() == "A2\n"
    backups = list((tmp_path / "m").glob("a.py.orig-*"))
    assert len(backups) == 1 and backups[0].read_text() == "my solution\n"


def test_a_stub_whose_reference_file_is_gone_goes_unless_the_student_edited_it(tmp_path):
    stubs.write(tmp_path, {"m/a.py": "A\n", "m/b.py": "B\n", "m/c.py": "C\n"})
    (tmp_path / "m/b.py").write_text("my work\n")
    report = stubs.write(tmp_path, {"m/a.py": "A\n"})  # b.py and c.py left the reference
    assert report["removed"] == ["m/c.py"] and not (tmp_path / "m/c.py").exists()
    assert report["skipped"] == ["m/b.py"]
    assert (tmp_path / "m/b.py").read_text() == "my work\n"  # never lost
    manifest = json.loads((tmp_path / stubs.MANIFEST).read_text())
    assert sorted(manifest) == ["m/a.py"]


def test_make_stubs_check_passes_on_the_repository():
    done = subprocess.run([sys.executable, "-m", "grader.stubs", "--check"], cwd=REPO,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def _relative_imports(path: Path, root: Path) -> set[Path]:
    """The files of `root` that `path` imports relatively (`from ..transformer.gpt import`)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = path.parent
            for _ in range(node.level - 1):
                base = base.parent
            target = base.joinpath(*(node.module or "").split("."))
            found |= {f for f in (target.with_suffix(".py"), target / "__init__.py")
                      if f.is_file()}
    return found


def test_the_reference_holds_only_exercises_and_the_helpers_they_import():
    """Demos, experiments and benchmarks live in demos/: every file of reference/ holds a
    solution region, or one that does needs it (package __init__ files aside)."""
    root = REPO / "reference"
    files = {p for p in root.rglob("*.py") if p.name != "__init__.py"}
    needed = {p for p in files if stubs.BEGIN in p.read_text()}
    todo = list(needed)
    while todo:
        for imported in _relative_imports(todo.pop(), root) - needed:
            needed.add(imported)
            todo.append(imported)
    assert not files - needed, sorted(str(p.relative_to(REPO)) for p in files - needed)
