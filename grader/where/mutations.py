"""The mutation tests of an exercise: test files of plausible student bugs that its checks
must catch.  Found by reading tests/ (never importing it): a file named after the id
(`tests/mutations/test_4_5.py`), or one whose `Mutant(...)`s or test names name the id."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from .. import course
from .card import Place


def _id_token(ex: course.Exercise) -> re.Pattern:
    """The id as names spell it: 4_5 or 4.5, not inside 14_5 or 4_50."""
    major, minor = ex.id.split(".")
    return re.compile(rf"(?<![\d]){major}[._]{minor}(?![\d])")


def _is_mutation_file(rel: str, tree: ast.Module) -> bool:
    if "mutation" in rel or "catch_bugs" in rel:
        return True
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("mutation"):
            return True
        if isinstance(node, ast.Import) and any(a.name.endswith("mutation") for a in node.names):
            return True
    return False


def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level `NAME = "4.5"` assignments (mutants often name their exercise so)."""
    out = {}
    for node in tree.body:
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)):
            out.update((t.id, node.value.value) for t in node.targets if isinstance(t, ast.Name))
    return out


def _mutants_of(tree: ast.Module, exercise_id: str) -> int:
    """How many `Mutant(name, exercise, ...)` calls of the file are bugs of `exercise_id`."""
    constants = _constants(tree)
    count = 0
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if getattr(func, "id", getattr(func, "attr", "")) != "Mutant":
            continue
        args = [kw.value for kw in node.keywords if kw.arg == "exercise"] + node.args[1:2]
        for arg in args[:1]:
            value = (arg.value if isinstance(arg, ast.Constant)
                     else constants.get(arg.id) if isinstance(arg, ast.Name) else None)
            count += value == exercise_id
    return count


def test_files(ex: course.Exercise, root: Path) -> list[Place]:
    """The mutation-test files of `ex`, each with how many of its mutants (or tests) it has."""
    tests = root / "tests"
    token = _id_token(ex)
    places = []
    for path in sorted(tests.rglob("*.py")) if tests.is_dir() else []:
        rel = path.relative_to(root).as_posix()
        try:
            tree = ast.parse(path.read_text(errors="replace"))
        except (SyntaxError, ValueError):
            continue
        if not _is_mutation_file(rel, tree):
            continue
        mutants = _mutants_of(tree, ex.id)
        if not mutants and token.search(path.name):  # a file of this exercise's bugs only
            mutants = sum(1 for node in ast.walk(tree) if isinstance(node, ast.Call)
                          and getattr(node.func, "id", getattr(node.func, "attr", "")) == "Mutant")
        named = sum(1 for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
                    and node.name.startswith("test") and token.search(node.name))
        if mutants:
            places.append(Place(rel, None, f"{mutants} mutant{'s' * (mutants != 1)}"))
        elif named or token.search(path.name):
            places.append(Place(rel, None, f"{named} test{'s' * (named != 1)}" if named else ""))
    return places
