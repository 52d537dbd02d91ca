"""Lay a Gradescope submission out like `exercises/`, whatever folder structure it came in.

Students may upload `exercises/`, `self_attention/`, or loose files.  Every exercise file is
looked for by name (preferring one inside a folder named after its module); a file that is
missing is replaced by its stub, so only the exercises in it are lost.  Every other file of
the stubs (the given helpers such as `transformer/hf_checkpoint.py`, the package files) is
laid out from the stubs, whatever the submission holds under that name.  For a module's
assignment they may upload the module's nbgrader notebook instead: its code cells are laid
out as nbgrader's out-of-kernel grading lays them out (`cells.py`), so the same code scores
the same on every route.

This runs as root on files a student chose: it never follows a symbolic link, copies regular
files only (no devices, FIFOs or sockets), reads at most `MAX_FILE_BYTES` of a file and
`MAX_TOTAL_BYTES` in all, looks at no more than `MAX_ENTRIES` names, and says in the report
what it skipped and why.

    python -m grader.distribute.collect SUBMISSION_DIR OUT_DIR [--stubs DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import sys
from pathlib import Path

from .. import course
from .cells import module_of as cells_module_of
from .cells import write_package

DEFAULT_STUBS = Path(__file__).resolve().parents[2] / "exercises"
MAX_FILE_BYTES = 1 << 20  # an exercise file is tens of kilobytes
MAX_TOTAL_BYTES = 16 << 20
MAX_ENTRIES = 20_000
IGNORED_FOLDERS = {"__pycache__", "__MACOSX", ".git"}


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file (a device, FIFO or socket)"


def find_all(submission: Path, wanted: set[str], notes: list[str]) -> dict[str, list[Path]]:
    """Regular files of `submission` named like an exercise file (or any notebook, under
    ".ipynb"), never through a link."""
    found: dict[str, list[Path]] = {}
    seen = 0
    for folder, dirs, files in os.walk(submission, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in IGNORED_FOLDERS)
        for name in sorted(files) + [d for d in dirs if d in wanted]:
            seen += 1
            if seen > MAX_ENTRIES:
                notes.append(f"Your submission holds more than {MAX_ENTRIES} files; the rest "
                             "were not looked at.")
                return found
            key = ".ipynb" if name.endswith(".ipynb") else name
            if key not in wanted:
                continue
            path = Path(folder) / name
            mode = os.lstat(path).st_mode
            if stat.S_ISREG(mode):
                found.setdefault(key, []).append(path)
            else:
                notes.append(f"{path.relative_to(submission)} was skipped: it is "
                             f"{_kind(mode)}, and only regular files are graded.")
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
    return found


def read_regular(path: Path, limit: int) -> bytes | str:
    """The file's bytes, or why they were not read (opened without following a link)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        return f"could not be opened ({exc.strerror})"
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            return f"is {_kind(info.st_mode)}, and only regular files are graded"
        if info.st_size > limit:
            return f"is {info.st_size / 2**20:.1f} MiB, over the {limit / 2**20:g} MiB limit"
        data = f.read(limit + 1)
    if len(data) > limit:
        return f"is over the {limit / 2**20:g} MiB limit"
    return data


def collect(submission: Path, out: Path, stubs: Path = DEFAULT_STUBS,
            exercise_ids: list[str] | None = None) -> list[str]:
    """Copy the submission's exercise files into `out`; returns lines for the report.

    Every exercise file is laid out (stubs stand in for missing ones, so imports work);
    only the selected exercises' missing files are reported."""
    notes: list[str] = []
    selected = {(ex.module.package, ex.file) for ex in course.select(exercise_ids)}
    files = sorted({(ex.module.package, ex.file) for ex in course.EXERCISES})
    found = find_all(submission, {name for _, name in files} | {".ipynb"}, notes)
    modules = {ex.module for ex in course.select(exercise_ids)}
    if len(modules) == 1 and found.get(".ipynb"):
        graded = from_notebook(submission, found[".ipynb"], modules.pop(), out, stubs, notes)
        if graded:
            return notes
    # The given helpers come from the stubs: exercise files import them.
    shutil.copytree(stubs, out, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", ".generated.json"))
    budget = MAX_TOTAL_BYTES
    for package, name in files:
        dest = out / package / name
        # A file inside a folder named after its module first, then the shallowest.
        candidates = sorted(found.get(name, []), key=lambda p: (p.parent.name != package,
                                                                len(p.parts), str(p)))
        data = read_regular(candidates[0], min(MAX_FILE_BYTES, budget)) if candidates else None
        if isinstance(data, bytes):
            budget -= len(data)
            dest.write_bytes(data)
            continue
        shutil.copyfile(stubs / package / name, dest)
        if data is not None:
            notes.append(f"{candidates[0].relative_to(submission)} {data}: its exercises are "
                         "graded as not implemented.")
        elif (package, name) in selected:
            notes.append(f"{package}/{name} was not in your submission: its exercises are "
                         "graded as not implemented.")
    return notes


def from_notebook(submission: Path, notebooks: list[Path], module: course.Module, out: Path,
                  stubs: Path, notes: list[str]) -> bool:
    """Lay out `out` from the first of `notebooks` that is `module`'s nbgrader notebook."""
    for path in sorted(notebooks, key=lambda p: (len(p.parts), str(p))):
        data = read_regular(path, MAX_TOTAL_BYTES)
        if isinstance(data, str):
            notes.append(f"{path.relative_to(submission)} {data}.")
            continue
        try:
            notebook = json.loads(data.decode("utf-8"))
            cells = notebook.get("cells") if isinstance(notebook, dict) else None
        except (UnicodeDecodeError, ValueError, RecursionError):
            cells = None
        if not isinstance(cells, list) or cells_module_of(cells) != module:
            continue
        write_package(cells, module, stubs, out)
        notes.append(f"Graded your notebook {path.relative_to(submission)}: its code cells "
                     "(not its test cells) run in order, as in the notebook.")
        return True
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.distribute.collect")
    parser.add_argument("submission", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--stubs", type=Path, default=DEFAULT_STUBS)
    parser.add_argument("--exercise", action="append", metavar="ID")
    args = parser.parse_args(argv)
    for line in collect(args.submission, args.out, args.stubs, args.exercise):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
