"""A module's notebook runs the code of every module up to its own in one namespace
(grader/distribute/sources.py): a top-level name that two files of reference/ define would
silently replace the other there, and a check would fail in the notebook only."""

import ast
from collections import defaultdict
from pathlib import Path

REFERENCE = Path(__file__).resolve().parents[1] / "reference"


def top_level_names(path: Path) -> list[str]:
    """The names a file binds at its top level: functions, classes, assigned constants."""
    names = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return names


def test_no_two_reference_files_define_the_same_top_level_name():
    where = defaultdict(list)
    for path in sorted(REFERENCE.rglob("*.py")):
        for name in top_level_names(path):
            where[name].append(str(path.relative_to(REFERENCE)))
    twice = {name: files for name, files in where.items() if len(files) > 1}
    assert not twice, ("defined in two files, which share a notebook's namespace: "
                       f"{twice}; rename one (e.g. with the file's topic as a prefix)")


def test_the_check_sees_a_name_defined_twice(tmp_path):
    for name in ("a.py", "b.py"):
        (tmp_path / name).write_text("def _helper(x):\n    return x\n\nLIMIT = 3\n")
    assert top_level_names(tmp_path / "a.py") == top_level_names(tmp_path / "b.py") == [
        "_helper", "LIMIT"]
