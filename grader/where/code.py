"""Where an exercise's functions are defined, and which demos call them (read from syntax
trees, never imported: a stub raises and a demo may train for minutes)."""

from __future__ import annotations

import ast
from pathlib import Path

from .. import course
from .card import Place

# Top-level folders that never hold a demo: the grader, the students' tree, the tests, and
# what tools leave behind.
NOT_DEMOS = {"grader", "exercises", "tests", "build", "dist", "runs", "venv", "node_modules"}


def _parse(path: Path) -> ast.Module | None:
    try:
        return ast.parse(path.read_text(errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return None


def _top_level(tree: ast.Module) -> dict[str, int]:
    """name -> line of every function and class defined at the top of a file."""
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return {node.name: node.lineno for node in tree.body if isinstance(node, kinds)}


def definitions(root: Path, tree_name: str, ex: course.Exercise) -> list[Place]:
    """Where `tree_name` (exercises or reference) defines each function of `ex`: in the
    exercise's file, else in another file of its package (a helper that moved)."""
    if not (root / tree_name).is_dir():
        return []  # a copy without that tree (a student's release has no reference/)
    home = root / tree_name / ex.path
    package = home.parent
    others = sorted(p for p in package.glob("*.py") if p != home) if package.is_dir() else []
    places = []
    for name in ex.names + ex.also:
        for path in [home, *others]:
            tree = _parse(path) if path.is_file() else None
            line = _top_level(tree).get(name) if tree else None
            if line is not None:
                places.append(Place(path.relative_to(root).as_posix(), line, name))
                break
        else:
            places.append(Place(home.relative_to(root).as_posix(), None, name))
    return places


def _demo_files(root: Path) -> list[Path]:
    """Every Python file outside the grader, the student tree and the tests, that is not an
    exercise's own file: demos, experiments, benchmarks, wherever they live."""
    exercise_files = {ex.path for ex in course.EXERCISES}
    files = []
    for top in sorted(root.iterdir()):
        if (not top.is_dir() or top.name.startswith((".", "_")) or top.name in NOT_DEMOS
                or (top / "pyvenv.cfg").exists()):
            continue
        for path in sorted(top.rglob("*.py")):
            rel = path.relative_to(top).as_posix()
            if "__pycache__" in path.parts or path.name == "__init__.py":
                continue
            if top.name == "reference" and rel in exercise_files:
                continue  # a solution, not a demo (exercises build on each other)
            files.append(path)
    return files


def _imported_modules(tree: ast.Module) -> dict[str, str]:
    """local name -> the module it was imported from (or is), for every import of a file;
    a name assigned from `importlib.import_module(...)` (or any `*import*` / `*impl*` call)
    is bound to "" (some implementation, chosen at run time)."""
    bound = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound[alias.asname or alias.name.split(".")[0]] = alias.name
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                bound[alias.asname or alias.name] = f"{node.module or ''}.{alias.name}"
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = node.value.func
            called = getattr(func, "id", getattr(func, "attr", "")).lower()
            if "import" in called or "impl" in called:
                bound.update((t.id, "") for t in node.targets if isinstance(t, ast.Name))
    return bound


def _from_exercise(module: str, ex: course.Exercise) -> bool:
    """Whether a dotted module path can be the exercise's file or package (any tree)."""
    parts = [p for p in module.split(".") if p]
    stem = ex.file.removesuffix(".py")
    return not parts or parts[-1] in (stem, ex.module.package)


def used_names(tree: ast.Module, ex: course.Exercise) -> set[str]:
    """The exercise's names a file imports from the exercise's module, or uses as an
    attribute of an implementation it was handed (`impl.generate`, `llm.KVCache`)."""
    names = set(ex.names + ex.also)
    imports = _imported_modules(tree)
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if _from_exercise(node.module or "", ex):
                used.update(a.name for a in node.names if a.name in names)
        elif isinstance(node, ast.Attribute) and node.attr in names:
            if _an_implementation(node.value, imports, ex):
                used.add(node.attr)
    return used


# What a demo calls the implementation it is handed (`def main(impl)`), besides the names of
# the course's packages and exercise files (`llm.generate`, `kv_cache.KVCache`).
IMPLEMENTATION_NAMES = {"impl", "implementation", "solution", "student", "target", "package",
                        "exercises", "reference"}


def _an_implementation(value: ast.expr, imports: dict[str, str], ex: course.Exercise) -> bool:
    """Whether `value` in `value.name` is the exercise's module rather than some object
    (`model.train()` is not exercise 4.3's `train`): imported from it, loaded at run time,
    or named like an implementation, its package or its file."""
    own = {ex.file.removesuffix(".py"), ex.module.package}
    if isinstance(value, ast.Name):
        if value.id in imports:
            return _from_exercise(imports[value.id], ex)
        return value.id in IMPLEMENTATION_NAMES | own
    if isinstance(value, ast.Attribute):
        return value.attr in own
    return False


def demos(ex: course.Exercise, root: Path) -> list[Place]:
    """The demos that use any of the exercise's functions, with the names they use."""
    places = []
    for path in _demo_files(root):
        tree = _parse(path)
        used = used_names(tree, ex) if tree else set()
        if used:
            places.append(Place(path.relative_to(root).as_posix(), None,
                                ", ".join(sorted(used))))
    return places
