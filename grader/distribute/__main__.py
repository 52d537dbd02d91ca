"""`python -m grader.distribute nbgrader|gradescope [--out DIR]` (what `make nbgrader` and
`make gradescope` run)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.distribute")
    parser.add_argument("what", choices=["nbgrader", "gradescope"])
    parser.add_argument("--out", type=Path, default=None,
                        help="default: build/nbgrader or build/gradescope")
    args = parser.parse_args(argv)
    out = args.out or Path("build") / args.what
    if args.what == "nbgrader":
        from . import nbgrader_course

        names = nbgrader_course.build(out)
        print(f"nbgrader course in {out}/: source/ and release/ for {', '.join(names)}")
        print(f"Release to students: cd {out} && nbgrader release_assignment <name>")
    else:
        from . import gradescope

        paths = gradescope.build(out)
        for path in paths:
            print(f"wrote {path}")
        print("Upload NN_module/autograder.zip as the autograder of that module's Gradescope "
              "programming assignment (autograder.zip grades the whole course).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
