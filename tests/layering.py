"""Static checks that the course's modules layer: Module N uses only Modules <= N, through
their public names.  Read by tests/test_layering.py; everything here works on source text
(`ast`), nothing is imported or run.

A *tree* is a directory of module packages (`reference/`, `exercises/`): `tree/<package>/*.py`,
each package one module of the course with its number (`grader.course.MODULES`).  The rules:

1. a file of Module N imports no file of a module numbered above N, not even inside a
   function (a lazy import is a dependency all the same);
2. no file imports a private name (`_x`) of another module;
3. no file reaches into a private attribute (`obj._x`) of another module's object, where
   that can be seen statically: `obj` is a name imported from another module, a variable
   assigned from a call of one (`model = GPT(...)`), or a parameter that the function's
   docstring or annotation gives another module's class (``model: a ``GPT`` ...``);
4. no two files import each other, directly or through others (import cycles).

`self._x` is never flagged: a subclass may use what it inherits.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

# "model: a ``GPT`` (3.11)" / "model (GPT): ..." in a docstring's Args section
DOC_PARAM = re.compile(r"^\s*(\w+)(?: \((\w+)\))?: (?:an? |the )?(?:``(\w+)``)?")


@dataclass(frozen=True)
class Import:
    """One import statement's target file, as written in `source` at `line`."""

    source: Path
    target: Path
    line: int
    names: tuple[str, ...]  # the names imported from the target ("from t import a, b")
    lazy: bool  # inside a function or class, not at the top of the file


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _module_file(path: Path) -> Path | None:
    """`path.py`, or `path/__init__.py` for a package, or None."""
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return None


def _targets(source: Path, node: ast.AST, roots: dict[str, Path]) -> list[tuple[Path, tuple]]:
    """The files an import statement loads, each with the names taken from it.  `roots` maps
    a top-level package name (e.g. "reference") to its directory, for absolute imports."""
    if isinstance(node, ast.Import):
        found = []
        for alias in node.names:
            head, *rest = alias.name.split(".")
            if head in roots and (target := _module_file(roots[head].joinpath(*rest))):
                found.append((target, ()))
        return found
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = source.parent
        for _ in range(node.level - 1):
            base = base.parent
        parts = node.module.split(".") if node.module else []
    else:
        head, *parts = (node.module or "").split(".")
        if head not in roots:
            return []
        base = roots[head]
    target = _module_file(base.joinpath(*parts))
    if target is None:
        return []
    found, names = [], []
    for alias in node.names:
        # `from pkg import submodule` loads the submodule's file, not only the package's
        sub = _module_file(target.parent / alias.name) if target.name == "__init__.py" else None
        if sub is not None:
            found.append((sub, ()))
        else:
            names.append(alias.name)
    if names or not found:
        found.append((target, tuple(names)))
    return found


def imports(files: list[Path], roots: dict[str, Path]) -> list[Import]:
    """Every import of `files` that loads one of the course's files, top-level or lazy."""
    found = []
    for path in files:
        tree = ast.parse(path.read_text(), str(path))
        lazy_nodes = {id(n) for top in tree.body
                      if isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                      for n in ast.walk(top)}
        for node in ast.walk(tree):
            for target, names in _targets(path, node, roots):
                found.append(Import(path, target, node.lineno, names, id(node) in lazy_nodes))
    return found


def module_of(path: Path, tree: Path, order: dict[str, int]) -> str | None:
    """The module package a file of `tree` belongs to (its first folder), or None."""
    try:
        parts = path.relative_to(tree).parts
    except ValueError:
        return None
    return parts[0] if len(parts) > 1 and parts[0] in order else None


def _where(path: Path, line: int, root: Path) -> str:
    return f"{path.relative_to(root).as_posix()}:{line}"


def later_module_imports(tree: Path, order: dict[str, int], root: Path) -> list[str]:
    """Rule 1: imports of a later module's file, lazy ones included."""
    found = []
    files = sorted(tree.rglob("*.py"))
    for imp in imports(files, {tree.name: tree}):
        src, dst = module_of(imp.source, tree, order), module_of(imp.target, tree, order)
        if src and dst and order[dst] > order[src]:
            found.append(f"{_where(imp.source, imp.line, root)}: Module {order[src]} ({src}) "
                         f"imports {imp.target.relative_to(root).as_posix()} of Module "
                         f"{order[dst]} ({dst}){' inside a function' if imp.lazy else ''}")
    return found


def _owner(path: Path, trees: list[Path], order: dict[str, int]) -> tuple | None:
    """(tree, module) of a course file, or None for a file of no module."""
    for tree in trees:
        module = module_of(path, tree, order)
        if module:
            return tree, module
    return None


def _foreign(imp: Import, trees: list[Path], order: dict[str, int]) -> bool:
    """Whether an import crosses from one module (or a file of no module) into another."""
    dst = _owner(imp.target, trees, order)
    return dst is not None and _owner(imp.source, trees, order) != dst


def private_name_imports(files: list[Path], trees: list[Path], order: dict[str, int],
                         root: Path) -> list[str]:
    """Rule 2: `from <another module's file> import _name`."""
    roots = {tree.name: tree for tree in trees}
    found = []
    for imp in imports(files, roots):
        for name in imp.names:
            if private(name) and _foreign(imp, trees, order):
                found.append(f"{_where(imp.source, imp.line, root)}: imports the private name "
                             f"{name} of {imp.target.relative_to(root).as_posix()}")
    return found


def _classes(trees: list[Path], order: dict[str, int]) -> dict[str, str]:
    """{class name: its module} of every class defined in a module file of the trees."""
    found = {}
    for tree in trees:
        for path in tree.rglob("*.py"):
            module = module_of(path, tree, order)
            for node in ast.walk(ast.parse(path.read_text())):
                if module and isinstance(node, ast.ClassDef):
                    found.setdefault(node.name, module)
    return found


def _documented_params(func: ast.AST, classes: dict[str, str]) -> dict[str, str]:
    """{parameter: class name} for parameters annotated or documented as a known class."""
    args = func.args
    params = {a.arg: a for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    typed = {}
    for name, arg in params.items():
        if isinstance(arg.annotation, ast.Name) and arg.annotation.id in classes:
            typed[name] = arg.annotation.id
    for line in (ast.get_docstring(func) or "").splitlines():
        found = DOC_PARAM.match(line)
        if found and found.group(1) in params:
            cls = found.group(2) or found.group(3)
            if cls in classes:
                typed.setdefault(found.group(1), cls)
    return typed


def private_attribute_access(files: list[Path], trees: list[Path], order: dict[str, int],
                             root: Path) -> list[str]:
    """Rule 3: `obj._x` where `obj` is seen to be another module's (see the file's docstring)."""
    roots = {tree.name: tree for tree in trees}
    classes = _classes(trees, order)
    found = []
    for path in files:
        here = _owner(path, trees, order)
        here_module = here[1] if here else None
        tree = ast.parse(path.read_text(), str(path))
        # names imported from another module's file, at any depth of the file
        foreign = {}
        for node in ast.walk(tree):
            for target, names in _targets(path, node, roots):
                imp = Import(path, target, node.lineno, names, False)
                if not _foreign(imp, trees, order):
                    continue
                if names:
                    foreign.update({n: target for n in names})
                elif isinstance(node, ast.ImportFrom):  # `from pkg import submodule`
                    foreign.update({a.asname or a.name: target for a in node.names})
        imported = {n: f"imported from {t.relative_to(root).as_posix()}"
                    for n, t in foreign.items()}
        found += _scan_scope(tree, imported, classes, here_module, order, path, root)
    return sorted(set(found))


FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _own_nodes(scope: ast.AST):
    """The nodes of a module or function, without those of the functions defined in it."""
    todo = list(ast.iter_child_nodes(scope))
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, FUNCTIONS):
            todo.extend(ast.iter_child_nodes(node))


def _scan_scope(scope, suspects, classes, here_module, order, path, root) -> list[str]:
    """Rule 3 in one scope, then in the functions defined in it (which see its suspects)."""
    suspects = dict(suspects)
    if isinstance(scope, FUNCTIONS):
        for name, cls in _documented_params(scope, classes).items():
            if classes[cls] != here_module:
                suspects[name] = f"a {cls} of Module {order[classes[cls]]}"
    nodes = list(_own_nodes(scope))
    for node in nodes:  # `x = Foreign(...)` / `x = Foreign.load(...)`
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
                and _root_name(node.value.func) in suspects):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    suspects[target.id] = f"made by {_root_name(node.value.func)}"
    found = []
    for node in nodes:
        if (isinstance(node, ast.Attribute) and private(node.attr)
                and isinstance(node.value, ast.Name) and node.value.id in suspects):
            found.append(f"{_where(path, node.lineno, root)}: {node.value.id}.{node.attr} "
                         f"reaches into a private attribute ({node.value.id} is "
                         f"{suspects[node.value.id]})")
        elif isinstance(node, FUNCTIONS):
            found += _scan_scope(node, suspects, classes, here_module, order, path, root)
    return found


def _root_name(node: ast.AST) -> str | None:
    """`GPT` of `GPT(...)`, `GPT.from_pretrained(...)`; None for anything else."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def import_cycles(files: list[Path], roots: dict[str, Path], root: Path) -> list[str]:
    """Rule 4: every set of files that import each other, directly or through others
    (Tarjan's strongly connected components of the import graph, lazy imports included)."""
    graph: dict[Path, set[Path]] = {path: set() for path in files}
    for imp in imports(files, roots):
        graph[imp.source].add(imp.target)
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node: Path) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                names = sorted(p.relative_to(root).as_posix() for p in component)
                cycles.append("these files import each other: " + ", ".join(names))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles
