"""Generate the student stubs in `exercises/` from `reference/` (`make stubs`).

Each `### BEGIN SOLUTION` / `### END SOLUTION` region of a reference file becomes
`raise NotImplementedError("Exercise 1.4 (...) ...")`, naming the exercise that owns the
enclosing function; everything else is copied unchanged.  A stub the student has edited is
never overwritten: `exercises/.generated.json` remembers the hash of every file as generated,
and a file that matches neither that hash nor the new output is skipped (or, with --force,
backed up to `<file>.orig-<time>` first).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import sys
import time
from pathlib import Path

from . import course

REPO_ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
MANIFEST = ".generated.json"
PACKAGE_DOCSTRING = (
    '"""Your solutions: implement the stubs, then run `make grade` (see README.md)."""\n')


class MarkerError(ValueError):
    """Solution markers that cannot be turned into a stub."""


def _owner_index() -> dict[str, course.Exercise]:
    """Function or class name -> the exercise that asks for it."""
    return {name: ex for ex in course.EXERCISES for name in ex.names + ex.also}


def _enclosing_functions(tree: ast.AST) -> list[tuple[int, int, str]]:
    """(first line, last line, qualified name) of every function, methods as Class.method."""
    spans = []

    def visit(node, prefix: str):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                qualname = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    spans.append((child.lineno, child.end_lineno, qualname))
                visit(child, qualname + ".")

    visit(tree, "")
    return spans


def stub_source(source: str, where: str) -> str:
    """The stub of one reference file's text; `where` names it in error messages."""
    lines = source.splitlines(keepends=True)
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise MarkerError(f"{where}: not valid Python ({exc})") from None
    spans = _enclosing_functions(tree)
    owners = _owner_index()
    out, i = [], 0
    while i < len(lines):
        text = lines[i].strip()
        if text == END:
            raise MarkerError(f"{where}:{i + 1}: {END} without {BEGIN}")
        if text != BEGIN:
            out.append(lines[i])
            i += 1
            continue
        start = i
        indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
        while i < len(lines) and lines[i].strip() != END:
            i += 1
            if i < len(lines) and lines[i].strip() == BEGIN:
                raise MarkerError(f"{where}:{i + 1}: nested {BEGIN}")
        if i == len(lines):
            raise MarkerError(f"{where}:{start + 1}: {BEGIN} without {END}")
        out.append(_raise_line(indent, _owner(spans, owners, start + 1, where)))
        i += 1
    return "".join(out)


def _owner(spans, owners, line: int, where: str) -> tuple[course.Exercise, str]:
    inside = [s for s in spans if s[0] < line <= s[1]]
    if not inside:
        raise MarkerError(f"{where}:{line}: a solution region must sit inside a function")
    qualname = max(inside, key=lambda s: s[0])[2]  # the innermost function
    for candidate in (qualname, qualname.split(".")[0]):
        if candidate in owners:
            return owners[candidate], qualname
    raise MarkerError(f"{where}:{line}: {qualname} belongs to no exercise in grader/course.py")


def _raise_line(indent: str, owner: tuple[course.Exercise, str]) -> str:
    ex, qualname = owner
    return (f'{indent}raise NotImplementedError(\n'
            f'{indent}    "Exercise {ex.id} ({qualname}) is not implemented yet; "\n'
            f'{indent}    "see {ex.lecture_link}"\n'
            f'{indent})\n')


def generate(reference: Path = REPO_ROOT / "reference") -> dict[str, str]:
    """{relative path: stub text} for every Python file of the reference."""
    stubs = {}
    for path in sorted(reference.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        rel = path.relative_to(reference).as_posix()
        if rel == "__init__.py":
            stubs[rel] = PACKAGE_DOCSTRING
        else:
            stubs[rel] = stub_source(path.read_text(), f"reference/{rel}")
    return stubs


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def write(exercises: Path, stubs: dict[str, str], force: bool = False) -> dict[str, list[str]]:
    """Write the stubs, never losing a student's edits; returns what happened to each file."""
    manifest_path = exercises / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    report: dict[str, list[str]] = {"written": [], "unchanged": [], "skipped": [],
                                     "backed_up": []}
    for rel, text in stubs.items():
        path = exercises / rel
        current = path.read_text() if path.is_file() else None
        if current == text:
            report["unchanged"].append(rel)
        elif current is None or _digest(current) == manifest.get(rel):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            report["written"].append(rel)
        elif force:
            backup = path.with_name(f"{path.name}.orig-{time.strftime('%Y%m%d-%H%M%S')}")
            backup.write_text(current)
            path.write_text(text)
            report["backed_up"].append(f"{rel} -> {backup.name}")
            report["written"].append(rel)
        else:
            report["skipped"].append(rel)
            continue  # keep the old fingerprint: the file is still the student's
        manifest[rel] = _digest(text)
    _retire(exercises, manifest, stubs, report)
    manifest_path.write_text(json.dumps(dict(sorted(manifest.items())), indent=2) + "\n")
    return report


def _retire(exercises: Path, manifest: dict, stubs: dict[str, str],
            report: dict[str, list[str]]) -> None:
    """Stubs the generator made whose reference file is gone: removed if untouched, kept
    (and reported) if the student edited them; either way no longer in the manifest."""
    for rel in [rel for rel in manifest if rel not in stubs]:
        path = exercises / rel
        if path.is_file() and _digest(path.read_text()) != manifest[rel]:
            report["skipped"].append(rel)  # the student's now: never deleted
        elif path.is_file():
            path.unlink()
            report.setdefault("removed", []).append(rel)
        del manifest[rel]


def differences(exercises: Path, stubs: dict[str, str]) -> list[str]:
    """Files of `exercises/` that are not exactly what the generator produces."""
    return [rel for rel, text in stubs.items()
            if not (exercises / rel).is_file() or (exercises / rel).read_text() != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.stubs",
                                     description="Regenerate exercises/ from reference/.")
    parser.add_argument("--force", action="store_true",
                        help="also replace stubs you edited (each is backed up first)")
    parser.add_argument("--check", action="store_true",
                        help="only report files that differ from the generator's output")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "exercises")
    args = parser.parse_args(argv)
    try:
        stubs = generate()
    except MarkerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        diff = differences(args.out, stubs)
        for rel in diff:
            print(f"differs from the generator: exercises/{rel}")
        return 1 if diff else 0
    report = write(args.out, stubs, force=args.force)
    print(f"stubs: {len(report['written'])} written, {len(report['unchanged'])} unchanged, "
          f"{len(report['skipped'])} kept because you edited them")
    for rel in report["skipped"]:
        print(f"  kept your edited exercises/{rel} (run `make stubs FORCE=1` to replace it; "
              "it would be backed up first)")
    for line in report["backed_up"]:
        print(f"  backed up exercises/{line}")
    for rel in report.get("removed", []):
        print(f"  removed exercises/{rel} (its reference file is gone)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
