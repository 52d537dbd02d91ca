"""Read the reference as source text: which code belongs to which exercise, and which is given.

Used to build notebooks (one solution cell per exercise) and to prove that nothing of a
solution reaches what students receive.  Nothing here imports `reference`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from .. import course

REPO_ROOT = Path(__file__).resolve().parents[2]
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


@dataclass
class FileParts:
    """One reference file split into the code students are given and each exercise's code."""

    path: Path
    given: str = ""
    by_exercise: dict[str, str] = field(default_factory=dict)


def _segment(lines: list[str], node: ast.stmt) -> str:
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
    while start > 0 and lines[start - 1].lstrip().startswith("#"):  # comments just above
        start -= 1
    end = node.end_lineno
    # Indented comments right after the last statement still belong to the body (### END).
    while end < len(lines) and lines[end][:1].isspace() and lines[end].lstrip().startswith("#"):
        end += 1
    return "".join(lines[start:end])


def _without_nested_relative_imports(source: str) -> str:
    """A notebook has no package: an import such as `from .rope_scaling import rope_scaling`
    inside a function becomes `pass`, and the name resolves to the earlier cell's function."""
    lines = source.splitlines(keepends=True)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level > 0 and node.col_offset > 0:
            indent = lines[node.lineno - 1][: node.col_offset]
            names = ", ".join(a.name for a in node.names)
            lines[node.lineno - 1] = f"{indent}pass  # {names}: defined in an earlier cell\n"
            for extra in range(node.lineno, node.end_lineno):
                lines[extra] = ""
    return "".join(lines)


def split_file(path: Path) -> FileParts:
    """Given code (imports other than relative ones, helpers, constants) and exercise code."""
    source = _without_nested_relative_imports(path.read_text())
    lines = source.splitlines(keepends=True)
    owners = {name: ex.id for ex in course.EXERCISES for name in ex.names + ex.also}
    parts = FileParts(path)
    given: list[str] = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the module docstring
        if isinstance(node, ast.ImportFrom) and (node.level > 0 or node.module == "__future__"):
            # In a notebook every earlier cell's names are already defined; only an alias
            # (`import X as Y`) needs a line of its own.
            given.extend(f"{a.asname} = {a.name}\n" for a in node.names
                         if a.asname and a.asname != a.name)
            continue
        name = getattr(node, "name", None)
        if name in owners:
            code = parts.by_exercise.get(owners[name], "")
            parts.by_exercise[owners[name]] = code + ("\n\n" if code else "") + _segment(
                lines, node)
        else:
            given.append(_segment(lines, node))
    parts.given = "\n\n".join(g.rstrip("\n") for g in given) + "\n" if given else ""
    return parts


def full_source(path: Path) -> str:
    """A reference file as one notebook cell: given code and solutions, markers removed."""
    parts = split_file(path)
    body = "\n\n".join([parts.given.rstrip("\n"), *parts.by_exercise.values()]) + "\n"
    return "".join(line for line in body.splitlines(keepends=True)
                   if line.strip() not in (BEGIN, END))


def given_files(module: course.Module) -> list[Path]:
    """The files a module's exercise files import (transitively) that are not its own
    exercise files, in an order where each comes after what it imports: earlier modules'
    files, which a later module's notebook is given solved (like a course that hands out
    assignment 1's solution with assignment 2), and the module's own given helpers (e.g.
    `transformer/hf_checkpoint.py`, which `GPT.from_pretrained` uses)."""
    ordered: list[Path] = []
    seen: set[Path] = set()
    # a later module's file is never handed out, even if an earlier file imported it
    # (tests/test_layering.py keeps them from doing so)
    allowed = {m.package for m in course.MODULES if m.number <= module.number}

    def visit(path: Path) -> None:
        if path in seen:
            return
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level > 0 and node.module:
                base = path.parent if node.level == 1 else path.parents[node.level - 1]
                target = base.joinpath(*node.module.split(".")).with_suffix(".py")
                if target.is_file() and target.parent.name in allowed:
                    visit(target)
        ordered.append(path)

    own = [parts.path for parts in module_files(module)]
    for path in own:
        visit(path)
    return [p for p in ordered if p not in own]


def module_files(module: course.Module) -> list[FileParts]:
    """The exercise files of a module, in exercise order."""
    seen: dict[str, FileParts] = {}
    for ex in course.EXERCISES:
        if ex.module == module and ex.file not in seen:
            seen[ex.file] = split_file(REPO_ROOT / "reference" / module.package / ex.file)
    return list(seen.values())


def solution_lines(min_length: int = 20, packages: set[str] | None = None) -> set[str]:
    """Distinctive lines of the solution regions (stripped), to search for leaks: long enough
    to mean something, and found nowhere outside a solution region (of any module).
    `packages` limits the solutions to those modules."""
    inside_lines, outside_lines = set(), set()
    for path in (REPO_ROOT / "reference").rglob("*.py"):
        wanted = packages is None or path.parent.name in packages
        inside = False
        for line in path.read_text().splitlines():
            text = line.strip()
            if text in (BEGIN, END):
                inside = text == BEGIN
            elif inside:
                if wanted:
                    inside_lines.add(text)
            else:
                outside_lines.add(text)
    outside_text = "\n".join(outside_lines)  # e.g. a docstring quoting the formula
    return {text for text in inside_lines - outside_lines
            if len(text) >= min_length and not text.startswith("#") and text not in outside_text}
