"""Lay a Gradescope submission out like `exercises/`, whatever folder structure it came in.

Students may upload `exercises/`, `self_attention/`, or loose files.  Every exercise file is
looked for by name (preferring one inside a folder named after its module); a file that is
missing is replaced by its stub, so only the exercises in it are lost.

    python -m grader.distribute.collect SUBMISSION_DIR OUT_DIR [--stubs DIR]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from .. import course

DEFAULT_STUBS = Path(__file__).resolve().parents[2] / "exercises"


def find(submission: Path, package: str, name: str) -> Path | None:
    matches = [p for p in submission.rglob(name)
               if p.is_file() and "__pycache__" not in p.parts and "__MACOSX" not in p.parts]
    if not matches:
        return None
    return min(matches, key=lambda p: (p.parent.name != package, len(p.parts), str(p)))


def collect(submission: Path, out: Path, stubs: Path = DEFAULT_STUBS,
            exercise_ids: list[str] | None = None) -> list[str]:
    """Copy the submission's exercise files into `out`; returns lines for the report.

    Every exercise file is laid out (stubs stand in for missing ones, so imports work);
    only the selected exercises' missing files are reported."""
    notes = []
    selected = {(ex.module.package, ex.file) for ex in course.select(exercise_ids)}
    files = sorted({(ex.module.package, ex.file) for ex in course.EXERCISES})
    for package, name in files:
        dest = out / package / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        found = find(submission, package, name)
        if found is None:
            shutil.copyfile(stubs / package / name, dest)
            if (package, name) in selected:
                    notes.append(f"{package}/{name} was not in your submission: its exercises "
                             "are graded as not implemented.")
        else:
            shutil.copyfile(found, dest)
    return notes


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
