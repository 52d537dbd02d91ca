"""A notebook's code, laid out as a package like `exercises/`, to grade in the sandbox.

The notebook's code cells but its test cells run, in order, in one namespace, as they do in
the notebook: `<module>/_notebook.py` runs each from its own file in `notebook_cells/`, so a
traceback points at the cell's own lines.  A cell that does not compile or raises costs
only itself: the functions of its exercise then say what went wrong.  The exercise files of
the module and of the earlier ones (which the notebook hands out solved) hand out that
namespace's names, so every class is the notebook's own; later modules' files are stubs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .. import course

CELLS = "notebook_cells"  # next to `_notebook.py`: one file per code cell

NOTEBOOK = '''"""The notebook's code cells, in order, in one namespace (its test cells left out)."""

import pathlib as _pathlib

_CELLS = _pathlib.Path(__file__).with_name("notebook_cells")


def _run_cell(cell, exercise, names):
    before = {name: globals().get(name) for name in names}
    try:
        path = _CELLS / cell
        exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), globals())
    except BaseException as exc:  # noqa: BLE001 — the cell's own error, reported per exercise
        if isinstance(exc, SyntaxError):
            reason = f"it has a syntax error at line {exc.lineno}: {exc.msg}"
        else:
            reason = f"it raised {type(exc).__name__}: {exc}"
        for name in names:
            if globals().get(name) is before[name]:
                globals()[name] = _broken(exercise, reason)


def _broken(exercise, reason):
    def broken(*args, **kwargs):
        raise RuntimeError(f"your solution cell of exercise {exercise} did not run: {reason}")

    return broken


class _Shell:
    """What IPython magics in a cell reach outside a kernel: `%time`-like magics and cell
    magics run their code, the others (shell commands too) do nothing."""

    def run_line_magic(self, name, line, *args, **kwargs):
        if name in ("time", "timeit", "prun"):
            exec(compile(line, f"<%{name}>", "exec"), globals())

    def run_cell_magic(self, name, line, cell):
        exec(compile(cell, f"<%%{name}>", "exec"), globals())

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def get_ipython():
    return _Shell()


'''

SHIM = '''"""Graded from a notebook: this file's names are those of the notebook's namespace."""

from ..{package} import _notebook


def __getattr__(name):
    try:
        return getattr(_notebook, name)
    except AttributeError:
        raise AttributeError(f"your notebook does not define {name!r}") from None
'''


def _python(source) -> str:
    """A cell's source as plain Python: IPython's `%magic` and `!shell` lines become calls of
    `get_ipython()` (as in a kernel), which `_notebook.py` answers."""
    if isinstance(source, list):  # a notebook file may store a cell as a list of lines
        source = "".join(str(line) for line in source)
    source = str(source)
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # no IPython (the Gradescope image): the same, for the simple forms
        return _without_magics(source)
    return TransformerManager().transform_cell(source)


def _without_magics(source: str) -> str:
    """`%%magic` cells keep their body; `%line` magics and `!shell` lines run nothing."""
    lines = source.splitlines(keepends=True)
    if lines and lines[0].lstrip().startswith("%%"):
        lines = lines[1:]
    out = []
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            line = line[: len(line) - len(stripped)] + "pass  # " + stripped
        out.append(line)
    return "".join(out)


def grade_id(exercise: course.Exercise) -> str:
    """The nbgrader id of an exercise's solution cell (its test cell adds `_tests`)."""
    return "ex" + exercise.id.replace(".", "_")


def nbgrader_meta(cell) -> dict:
    """A cell's nbgrader metadata, or {} (a submitted file may hold anything)."""
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    meta = meta.get("nbgrader") if isinstance(meta, dict) else None
    return meta if isinstance(meta, dict) else {}


def module_of(cells: list) -> course.Module | None:
    """The course module whose notebook these cells are (by its test cells' ids), if any."""
    ids = {nbgrader_meta(c).get("grade_id") for c in cells}
    return next((ex.module for ex in course.EXERCISES if f"{grade_id(ex)}_tests" in ids), None)


def write_package(cells: list, module: course.Module, stubs: Path, dest: Path) -> Path:
    """Lay out `dest` from the `stubs` (an `exercises/` folder) and the code `cells` of
    `module`'s notebook (nbformat cells, in order)."""
    shutil.copytree(stubs, dest)
    folder = dest / module.package
    (folder / CELLS).mkdir()
    owners = {grade_id(ex): ex for ex in course.EXERCISES if ex.module == module}
    calls = []
    for index, cell in enumerate(cells):
        meta = nbgrader_meta(cell)
        if not isinstance(cell, dict) or cell.get("cell_type") != "code" or meta.get("grade"):
            continue  # markdown, and the test cells: the grade is not theirs to give
        ex = owners.get(meta.get("grade_id"))
        name = f"{index:03d}_" + (f"exercise_{ex.id}.py" if ex else "cell.py")
        (folder / CELLS / name).write_text(_python(cell.get("source", "")), encoding="utf-8")
        calls.append(f"_run_cell({name!r}, {ex.id if ex else None!r}, "
                     f"{tuple(ex.names + ex.also) if ex else ()!r})\n")
    (folder / "_notebook.py").write_text(NOTEBOOK + "".join(calls), encoding="utf-8")
    for path in {ex.path for ex in course.EXERCISES if ex.module.number <= module.number}:
        (dest / path).write_text(SHIM.replace("{package}", module.package), encoding="utf-8")
    return dest
