"""`make watch`: grade everything once, then re-grade on every save what the save affects.

A saved file affects the exercises written in it, those whose files import it (directly or
through other files), and those built on any of them (`course.USES`: their checks call the
changed functions).  Only those are graded again; the others keep their last result, and
what they say about the exercises they build on stays true (`grade(..., known=...)`).  The
screen is cleared and redrawn each time: the module bars, the exercises started, the
messages of the first re-graded exercise that is not passed, and what to do next.

File events come from `watchfiles` (the operating system's change notifications, through
the Rust `notify` crate): an editor's save, which may write a temporary file and rename it,
arrives as one batch, and nothing is polled while the student types.
"""

from __future__ import annotations

import argparse
import ast
import signal
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from . import course, dependencies, report, screen
from .results import PASSED, ExerciseResult
from .runner import grade, resolve_target
from .sandbox import SandboxUnavailable
from .sandbox.launch import become_subreaper

CLEAR = "\033[H\033[2J\033[3J"  # cursor home, clear the screen and its scroll-back
RULE = "-" * screen.WIDTH


def module_name(path: Path, root: Path) -> str | None:
    """`self_attention.softmax` for `<root>/self_attention/softmax.py` (None outside root)."""
    try:
        parts = path.resolve().relative_to(root).with_suffix("").parts
    except ValueError:
        return None
    if path.suffix != ".py" or not parts:
        return None
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, name: str, packages: set[str]) -> set[str]:
    """The course modules `path` (module `name`) imports, spelled `package.file`: absolute
    imports through any top-level folder (`exercises.`, `reference.`) and relative ones."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return set()  # a file that does not parse is reported by grading it
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = name.split(".")[: len(name.split(".")) - (0 if is_package else 1)]
                here = here[: len(here) - (node.level - 1)] if node.level > 1 else here
                base = ".".join(here + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            parts = target.split(".")
            start = next((i for i, p in enumerate(parts) if p in packages), None)
            if start is not None:
                found.add(".".join(parts[start:start + 2]))
    return found


def affected(changed: Iterable[Path], root: Path) -> list[course.Exercise]:
    """The exercises a save of `changed` (files under `root`) can change, in id order."""
    packages = {m.package for m in course.MODULES}
    names = {name for p in changed if (name := module_name(Path(p), root))}
    graph = {}  # module -> the course modules it imports
    for path in root.rglob("*.py"):
        name = module_name(path, root)
        if name:
            graph[name] = _imports(path, name, packages)
    dirty = set(names)
    grew = True
    while grew:  # every module that imports a dirty one, directly or not, is dirty
        more = {m for m, imported in graph.items() if imported & dirty} - dirty
        dirty |= more
        grew = bool(more)
    direct = {ex.id for ex in course.EXERCISES
              if f"{ex.module.package}.{ex.file.removesuffix('.py')}" in dirty}
    built_on = {ex.id for ex in course.EXERCISES if dependencies.below(ex.id) & direct}
    return [ex for ex in course.EXERCISES if ex.id in direct | built_on]


class Session:
    """The results of every selected exercise, kept up to date save after save."""

    def __init__(self, target: Path, ids: list[str] | None, json_path: Path,
                 colour: bool, out=sys.stdout):
        self.target, self.json_path, self.colour, self.out = target, json_path, colour, out
        self.selected = course.select(ids)
        self.results: dict[str, ExerciseResult] = {}

    def regrade(self, exercises: list[course.Exercise], why: str) -> None:
        ids = [ex.id for ex in exercises if ex in self.selected]
        if not ids:
            return
        known = {i: r.broken for i, r in self.results.items() if i not in ids}
        self._say(f"{why}: grading {_ids(ids)} ...", clear=False)
        start = time.monotonic()
        fresh = grade(self.target, ids, known=known)
        seconds = time.monotonic() - start
        self.results.update((r.exercise.id, r) for r in fresh)
        results = [self.results[ex.id] for ex in self.selected if ex.id in self.results]
        focus = next((r for r in fresh if r.status != PASSED), None)
        report.write_json(report.gradescope(results, seconds), self.json_path)
        self._say("\n".join([
            screen.fit(f"{why}: graded {_ids(ids)}"),
            "",
            screen.first_screen(results, seconds, self.colour, focus=focus),
            "",
            screen.fit(f"Watching {self._shown()}: save a file to re-grade, Ctrl-C to stop."),
        ]), clear=True)

    def _shown(self) -> str:
        try:
            return str(self.target.relative_to(Path.cwd())) + "/"
        except ValueError:
            return str(self.target) + "/"

    def _say(self, text: str, clear: bool) -> None:
        if clear:  # a terminal is redrawn; a pipe (a log, the tests) gets a rule instead
            self.out.write(CLEAR if self.out.isatty() else RULE + "\n")
        self.out.write(text + "\n")
        self.out.flush()


def _ids(ids: list[str]) -> str:
    return ", ".join(ids) if len(ids) <= 8 else f"{len(ids)} exercises ({ids[0]}–{ids[-1]})"


def _python_files(change, path: str) -> bool:
    return path.endswith(".py") and "__pycache__" not in path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.watch",
                                     description="Grade, then re-grade on every save.")
    parser.add_argument("--target", default="exercises",
                        help="exercises (default), reference, or a folder laid out like them")
    parser.add_argument("--exercise", "-e", action="append", metavar="ID",
                        help="only these exercises or modules (repeatable; default: all)")
    parser.add_argument("--json", type=Path, default=Path("build/results.json"),
                        help="where to write the results (default: build/results.json)")
    args = parser.parse_args(argv)
    try:
        course.select(args.exercise)
        target = resolve_target(args.target)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    import watchfiles  # only `make watch` needs it

    become_subreaper()  # what student code starts and leaves behind comes back to us
    # Ctrl-C stops watching, even when started from a shell that ignores SIGINT for jobs.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    session = Session(target, args.exercise, args.json, screen.use_colour(sys.stdout))
    try:
        # The first (empty) batch comes once the watcher runs: grading then, not before,
        # means no save is missed between the first screen and the watch.
        started = False
        for changes in watchfiles.watch(target, watch_filter=_python_files, rust_timeout=1000,
                                        yield_on_timeout=True, raise_interrupt=True):
            if not started:
                session.regrade(session.selected, "Started")
                started = True
            if not changes:
                continue
            paths = sorted({Path(p) for _, p in changes})
            saved = ", ".join(p.name for p in paths[:3]) + (" ..." if len(paths) > 3 else "")
            todo = affected(paths, target)
            if not todo:
                continue
            try:
                session.regrade(todo, f"Saved {saved} at {time.strftime('%H:%M:%S')}")
            except SandboxUnavailable:
                raise
            except Exception as exc:  # noqa: BLE001 — a grader bug: say so, keep watching
                print(f"The grader itself failed ({type(exc).__name__}: {exc}); please "
                      "report it. Still watching.", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("\nStopped watching (make grade grades everything once).")
        return 0
    except SandboxUnavailable as exc:
        print(f"error: student code cannot be confined, so nothing was graded: {exc}",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
