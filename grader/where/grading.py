"""An exercise's checks (from the registry) and the fixture keys they read."""

from __future__ import annotations

import ast
import inspect
import re
import zipfile
from pathlib import Path

from .. import checks as registry
from .. import course
from .card import Place

DATA_DIR = Path(registry.__file__).resolve().parents[1] / "data"
# A key named like "rope.out" or "kv.params." (the start of an f-string): dotted words.
KEYLIKE = re.compile(r"[\w-]+(\.[\w-]+)*\.?")


def _relative(path: str, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path


def _def_line(fn) -> int | None:
    """The line of `def fn` (after its decorators)."""
    try:
        lines, start = inspect.getsourcelines(fn)
    except (OSError, TypeError):
        return None
    for offset, line in enumerate(lines):
        if line.lstrip().startswith(("def ", "async def ")):
            return start + offset
    return start


def checks(ex: course.Exercise, root: Path) -> list[Place]:
    """Every check registered for `ex`, where its function is defined, hidden or not."""
    return [Place(_relative(inspect.getsourcefile(chk.fn) or "?", root), _def_line(chk.fn),
                  chk.name, chk.hidden)
            for chk in registry.checks_for(ex.id)]


def _module_functions(fn) -> dict[str, ast.AST]:
    """The top-level functions of the file that defines `fn`, by name."""
    try:
        tree = ast.parse(inspect.getsource(inspect.getmodule(fn)))
    except (OSError, TypeError, SyntaxError):
        return {}
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef)
    return {node.name: node for node in tree.body if isinstance(node, kinds)}


def _strings(fn, depth: int = 3) -> tuple[set[str], set[str]]:
    """(whole strings, f-string starts) in `fn` and the helpers of its file it calls, to
    `depth` calls deep: the fixture keys a check can read."""
    functions = _module_functions(fn)
    whole, starts, seen = set(), set(), set()
    todo = [(fn.__name__, 0)]
    while todo:
        name, level = todo.pop()
        if name in seen or name not in functions:
            continue
        seen.add(name)
        for node in ast.walk(functions[name]):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                whole.add(node.value)
            elif isinstance(node, ast.JoinedStr) and node.values:
                first = node.values[0]
                if isinstance(first, ast.Constant) and "." in str(first.value):
                    starts.add(str(first.value))
            elif isinstance(node, ast.Name) and level < depth:
                todo.append((node.id, level + 1))
    whole = {s for s in whole if KEYLIKE.fullmatch(s)}
    starts = {s for s in starts if KEYLIKE.fullmatch(s)}
    return whole, starts


def _keys(path: Path) -> list[str]:
    """The array names of an .npz file, without loading the arrays."""
    try:
        with zipfile.ZipFile(path) as archive:
            return [n.removesuffix(".npy") for n in archive.namelist()]
    except (OSError, zipfile.BadZipFile):
        return []


def _loaded_files(fn) -> set[str]:
    """The data files the file of `fn` loads by name: `fixtures.load("llm_kv_cache")`."""
    try:
        source = inspect.getsource(inspect.getmodule(fn))
    except (OSError, TypeError):
        return set()
    return set(re.findall(r"""\bload\(\s*["']([\w.-]+)["']""", source))


def fixtures(ex: course.Exercise, root: Path, data_dir: Path = DATA_DIR
             ) -> dict[str, list[str]]:
    """data file -> the keys that belong to `ex`: named after its id ("4.5.…"), or read by
    one of its checks (from the files its checks' module loads, when it says which)."""
    own = re.compile(rf"{re.escape(ex.id)}(?![\d])")
    whole: set[str] = set()
    starts: set[str] = set()
    loaded: set[str] = set()
    for chk in registry.checks_for(ex.id):
        w, s = _strings(chk.fn)
        whole |= w
        starts |= s
        loaded |= _loaded_files(chk.fn)
    found = {}
    for path in sorted(data_dir.glob("*.npz")):
        # Short bare words ("x") are keys only in a file the checks are known to load.
        read = whole if path.stem in loaded else {w for w in whole if "." in w}
        keys = [k for k in _keys(path)
                if own.match(k) or k in read or k.startswith(tuple(starts))]
        if keys:
            found[_relative(str(path), root)] = keys
    return found
