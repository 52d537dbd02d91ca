"""The modules layer: Module N imports only Modules <= N, only their public names, and no two
files import each other (the rules and how they are seen: tests/layering.py).

Run on both trees, `reference/` and `exercises/`, and on any other package of the repository
that imports them.  The second half plants each kind of violation, in a small tree and in a
copy of `reference/`, to show that the checks find it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from layering import (
    import_cycles,
    imports,
    later_module_imports,
    private_attribute_access,
    private_name_imports,
)

from grader.course import MODULES

REPO = Path(__file__).resolve().parent.parent
ORDER = {module.package: module.number for module in MODULES}
TREES = [REPO / "reference", REPO / "exercises"]
NOT_COURSE_CODE = {"grader", "tests", "reference", "exercises"}


def python_files(tree: Path) -> list[Path]:
    return sorted(p for p in tree.rglob("*.py") if "__pycache__" not in p.parts)


def users_of_the_trees() -> list[Path]:
    """Files of the repository's other packages that import reference/ or exercises/."""
    roots = {tree.name: tree for tree in TREES}
    files = []
    for package in sorted(REPO.iterdir()):
        if (package.name in NOT_COURSE_CODE or package.name.startswith(".")
                or not (package / "__init__.py").is_file()):
            continue
        files += [p for p in python_files(package) if imports([p], roots)]
    return files


def course_files() -> list[Path]:
    return [f for tree in TREES for f in python_files(tree)] + users_of_the_trees()


def explain(found: list[str], rule: str) -> str:
    return f"{rule}:\n  " + "\n  ".join(found)


@pytest.mark.parametrize("tree", TREES, ids=lambda tree: tree.name)
def test_no_module_imports_a_later_module(tree):
    found = later_module_imports(tree, ORDER, REPO)
    assert not found, explain(found, "a module imports a later one; move the code to the later "
                                     "module, or let it plug in (as KVCache.forward does)")


def test_no_private_name_crosses_modules():
    found = private_name_imports(course_files(), TREES, ORDER, REPO)
    assert not found, explain(found, "a private name is imported from another module; make it "
                                     "public (and document it) or keep it where it is used")


def test_no_private_attribute_crosses_modules():
    found = private_attribute_access(course_files(), TREES, ORDER, REPO)
    assert not found, explain(found, "code reaches into another module's private attribute; "
                                     "give that module a public method for it")


@pytest.mark.parametrize("tree", TREES, ids=lambda tree: tree.name)
def test_no_import_cycles(tree):
    found = import_cycles(python_files(tree), {tree.name: tree}, REPO)
    assert not found, explain(found, "import cycle")


def test_the_trees_are_scanned():
    """Not vacuous: the scan sees the imports that are there, lazy ones too."""
    tree = REPO / "reference"
    seen = {(i.source.relative_to(tree).as_posix(), i.target.relative_to(tree).as_posix(),
             i.lazy) for i in imports(python_files(tree), {"reference": tree})}
    assert ("llm/kv_cache.py", "transformer/gpt.py", False) in seen
    assert ("positional_encoding/rope.py", "positional_encoding/rope_scaling.py", True) in seen


# --- planted violations ------------------------------------------------------------------

FIRST_MODEL = '''
class Model:
    def __init__(self):
        self._state = None  # its own private attribute: fine

    def save(self, path):
        from ..second.io import save  # a later module, lazily
        save(self, path)


def _helper():
    return 1
'''
SECOND_IO = '''
from ..first.model import Model, _helper


def save(model, path):
    """Write a model.

    Args:
        model: a ``Model`` (Module 1).
        path: where.
    """
    return model._state, path, _helper()


def fresh():
    model = Model()
    return model._state
'''
SECOND_CLEAN = '''
from ..first.model import Model


def save(model, path):
    """Write a model.

    Args:
        model: a ``Model`` (Module 1).
        path: where.
    """
    return model.state, path


def fresh():
    return Model().state
'''
PLANTED_ORDER = {"first": 1, "second": 2}


def make_tree(root: Path, files: dict[str, str]) -> Path:
    tree = root / "course"
    for rel, text in {"__init__.py": "", "first/__init__.py": "", "second/__init__.py": "",
                      **files}.items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text(text)
    return tree


def scan(tree: Path) -> dict[str, list[str]]:
    files = python_files(tree)
    return {
        "later": later_module_imports(tree, PLANTED_ORDER, tree.parent),
        "private_name": private_name_imports(files, [tree], PLANTED_ORDER, tree.parent),
        "private_attribute": private_attribute_access(files, [tree], PLANTED_ORDER, tree.parent),
        "cycles": import_cycles(files, {tree.name: tree}, tree.parent),
    }


def test_planted_violations_are_found(tmp_path):
    tree = make_tree(tmp_path, {"first/model.py": FIRST_MODEL, "second/io.py": SECOND_IO})
    found = scan(tree)
    assert found["later"] == ["course/first/model.py:7: Module 1 (first) imports "
                              "course/second/io.py of Module 2 (second) inside a function"]
    assert found["private_name"] == ["course/second/io.py:2: imports the private name _helper "
                                     "of course/first/model.py"]
    assert [line.split(": ")[0:2] for line in found["private_attribute"]] == [
        ["course/second/io.py:12", "model._state reaches into a private attribute (model is "
                                   "a Model of Module 1)"],
        ["course/second/io.py:17", "model._state reaches into a private attribute (model is "
                                   "made by Model)"]]
    assert found["cycles"] == ["these files import each other: course/first/model.py, "
                               "course/second/io.py"]


def test_a_clean_tree_passes(tmp_path):
    clean_first = FIRST_MODEL.replace("        from ..second.io import save  # a later module, "
                                      "lazily\n        save(self, path)\n", "        pass\n")
    tree = make_tree(tmp_path, {"first/model.py": clean_first, "second/io.py": SECOND_CLEAN})
    assert scan(tree) == {"later": [], "private_name": [], "private_attribute": [], "cycles": []}


def test_a_violation_planted_in_the_reference_is_found(submission):
    """The checks on a copy of reference/: GPT.forward importing Module 4 again, lazily, as
    it once did, is a later-module import and a cycle."""
    gpt = submission / "transformer" / "gpt.py"
    gpt.write_text(gpt.read_text() + "\n\ndef _decode(model, idx, cache):\n"
                   "    from ..llm.kv_cache import forward_with_cache\n"
                   "    return forward_with_cache(model, idx, cache)\n")
    later = later_module_imports(submission, ORDER, submission.parent)
    assert any("submission/transformer/gpt.py" in line and "inside a function" in line
               for line in later), later
    cycles = import_cycles(python_files(submission), {submission.name: submission},
                           submission.parent)
    assert any("submission/llm/kv_cache.py" in c and "submission/transformer/gpt.py" in c
               for c in cycles), cycles
