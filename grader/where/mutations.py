"""The mutation tests of an exercise: test files of plausible student bugs that its checks
must catch.  Found by reading tests/ (never importing it): a file named after the id
(`tests/mutations/test_4_5.py`), or one whose `Mutant(...)`s or test names name the id."""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from pathlib import Path

from .. import course
from .card import Place


@lru_cache(maxsize=512)
def _parse(path: Path, mtime: float) -> ast.Module | None:
    """A test file's syntax tree, parsed once per version of the file."""
    try:
        return ast.parse(path.read_text(errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return None


def _may_hold_mutants(path: Path, rel: str) -> bool:
    """Whether `_is_mutation_file` can hold for the file: its path says so, or its text
    names the harness (a quick look that spares parsing every other test file)."""
    if "mutation" in rel or "catch_bugs" in rel:
        return True
    try:
        return "mutation" in path.read_text(errors="replace")
    except OSError:
        return False


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


def _is_mutant(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", "")) == "Mutant")


def _exercise_of(call: ast.Call, constants: dict[str, str]) -> str | None:
    """The exercise of `Mutant(name, exercise, ...)`, when it is written or a named constant."""
    args = [kw.value for kw in call.keywords if kw.arg == "exercise"] + call.args[1:2]
    if not args:
        return None
    arg = args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    return constants.get(arg.id) if isinstance(arg, ast.Name) else None


def _mutants_of(tree: ast.Module, exercise_id: str) -> int:
    """How many mutants of the file are bugs of `exercise_id`: `Mutant(...)` calls that name
    it, and calls of the file's own shorthands (`def mutant(...): return Mutant(..., "3.9",
    ...)`)."""
    constants = _constants(tree)
    shorthands = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)
                  and any(_is_mutant(n) and _exercise_of(n, constants) == exercise_id
                          for n in ast.walk(node))}
    inside = {id(n) for node in tree.body if isinstance(node, ast.FunctionDef)
              and node.name in shorthands for n in ast.walk(node)}
    count = 0
    for node in ast.walk(tree):
        if id(node) in inside or not isinstance(node, ast.Call):
            continue
        if _is_mutant(node):
            count += _exercise_of(node, constants) == exercise_id
        else:
            count += getattr(node.func, "id", "") in shorthands
    return count


def test_files(ex: course.Exercise, root: Path) -> list[Place]:
    """The mutation-test files of `ex`, each with how many of its mutants (or tests) it has."""
    tests = root / "tests"
    token = _id_token(ex)
    places = []
    for path in sorted(tests.rglob("*.py")) if tests.is_dir() else []:
        rel = path.relative_to(root).as_posix()
        if not _may_hold_mutants(path, rel):
            continue
        tree = _parse(path, path.stat().st_mtime)
        if tree is None or not _is_mutation_file(rel, tree):
            continue
        mutants = _mutants_of(tree, ex.id)
        if not mutants and token.search(path.name):  # a file of this exercise's bugs only
            mutants = sum(1 for node in ast.walk(tree) if _is_mutant(node))
        named = sum(1 for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
                    and node.name.startswith("test") and token.search(node.name))
        if mutants:
            places.append(Place(rel, None, f"{mutants} mutant{'s' * (mutants != 1)}"))
        elif named or token.search(path.name):
            places.append(Place(rel, None, f"{named} test{'s' * (named != 1)}" if named else ""))
    return places
