"""The `grader/` folder that ships next to students' notebooks: visible checks only.

nbgrader copies every plain file of an assignment into the release unchanged, so this copy
must hold no solution and no hidden test: hidden checks (and the instructor-only fixture
recipe, each package's `fixtures.py`) are cut out here; they live only in the course's
`autograder/` folder, which grades and is never released.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

from .. import checks, course

GRADER_DIR = Path(__file__).resolve().parents[1]
# What a test cell needs: the course table, the checks' tools, in-process grading, the data.
SHIPPED = (
    "__init__.py", "course.py", "expect.py", "gradcheck.py", "fixtures.py", "local.py",
    "results.py", "text.py", "checks/__init__.py", "sandbox/__init__.py", "sandbox/launch.py",
    "sandbox/forking.py", "sandbox/process.py", "sandbox/remote.py", "sandbox/wire.py",
)
INSTRUCTOR_ONLY = {"build_fixtures"}
INSTRUCTOR_ONLY_FILES = {"fixtures.py"}  # in each package of checks: the fixtures' recipe


def _is_hidden_check(node: ast.stmt) -> bool:
    for deco in getattr(node, "decorator_list", []):
        if isinstance(deco, ast.Call) and getattr(deco.func, "id", "") == "check":
            for kw in deco.keywords:
                if kw.arg == "hidden" and isinstance(kw.value, ast.Constant) and kw.value.value:
                    return True
    return False


def visible_source(source: str) -> str:
    """A checks module without its hidden checks and instructor-only functions."""
    lines = source.splitlines(keepends=True)
    drop: set[int] = set()
    for node in ast.parse(source).body:
        if _is_hidden_check(node) or getattr(node, "name", None) in INSTRUCTOR_ONLY:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
            drop.update(range(start, node.end_lineno))
    kept = "".join(line for i, line in enumerate(lines) if i not in drop)
    ast.parse(kept)  # still valid Python
    return kept


def check_modules(module: course.Module) -> list[str]:
    """The packages of checks that hold `module`'s checks (in `CHECK_MODULES` order)."""
    prefix = f"{checks.__name__}."
    used = {chk.fn.__module__.removeprefix(prefix).split(".")[0] for ex in course.EXERCISES
            if ex.module == module for chk in checks.checks_for(ex.id)}
    return [name for name in checks.CHECK_MODULES if name in used]


def write(dest: Path, module: course.Module) -> Path:
    """Write the helper package of `module`'s assignment to `dest/grader/`: its own visible
    checks and public expected values, nothing of another module; returns that folder."""
    target = dest / "grader"
    if target.exists():
        shutil.rmtree(target)
    for rel in SHIPPED:
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(GRADER_DIR / rel, target / rel)
    (target / "data").mkdir()
    for name in check_modules(module):
        (target / "checks" / name).mkdir()
        for path in sorted((GRADER_DIR / "checks" / name).glob("*.py")):
            if path.name not in INSTRUCTOR_ONLY_FILES:
                (target / "checks" / name / path.name).write_text(
                    visible_source(path.read_text()))
        data = GRADER_DIR / "data" / f"{name}.npz"
        if data.is_file():
            shutil.copyfile(data, target / "data" / data.name)
    return target
