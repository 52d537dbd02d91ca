"""`python -m grader.distribute nbgrader|gradescope [--out DIR]` (what `make nbgrader` and
`make gradescope` run)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_OUT = {"nbgrader": Path("nbgrader-course"), "gradescope": Path("build") / "gradescope"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.distribute")
    parser.add_argument("what", choices=["nbgrader", "gradescope"])
    parser.add_argument("--out", "--course", type=Path, default=None,
                        help="nbgrader: the course folder, created once and updated after "
                             "(default: nbgrader-course, which no make target removes); "
                             "gradescope: where the zips go (default: build/gradescope)")
    parser.add_argument("--lectures-url", default="", metavar="URL",
                        help="nbgrader: where the lectures are published (e.g. the course "
                             "site, or https://github.com/OWNER/REPO/blob/main); notebooks "
                             "link there instead of shipping their lecture")
    args = parser.parse_args(argv)
    out = args.out or DEFAULT_OUT[args.what]
    if args.what == "nbgrader":
        from . import nbgrader_course

        existed = (out / "gradebook.db").exists()
        names = nbgrader_course.build(out, lectures_url=args.lectures_url)
        print(f"nbgrader course in {out}/: {'updated' if existed else 'created'} source/ and "
              f"release/ of {', '.join(names)}; your settings in {out}/nbgrader_config.py")
        print(f"Next: cd {out} && nbgrader release_assignment <name> (README: Instructors)")
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
