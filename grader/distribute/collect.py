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


def collect(submission: Path, out: Path, stubs: Path = DEFAULT_STUBS) -> list[str]:
    """Copy the submission's exercise files into `out`; returns lines for the report."""
    notes = []
    files = sorted({(ex.module.package, ex.file) for ex in course.EXERCISES})
    for package, name in files:
        dest = out / package / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        found = find(submission, package, name)
        if found is None:
            shutil.copyfile(stubs / package / name, dest)
            notes.append(f"{package}/{name} was not in your submission: its exercises are "
                         "graded as not implemented.")
        else:
            shutil.copyfile(found, dest)
    return notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.distribute.collect")
    parser.add_argument("submission", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--stubs", type=Path, default=DEFAULT_STUBS)
    args = parser.parse_args(argv)
    for line in collect(args.submission, args.out, args.stubs):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
