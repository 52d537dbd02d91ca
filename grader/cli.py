"""`python -m grader`: grade exercises, print the table, write the results file."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import course, report, screen
from .runner import GRADER_DIR, grade, resolve_target
from .sandbox import Limits, SandboxUnavailable
from .sandbox.launch import GiB, become_subreaper
from .text import clean


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m grader",
        description="Grade the course's exercises and write a Gradescope-format results file.")
    parser.add_argument("--target", default="exercises",
                        help="exercises (default), reference, or a directory laid out like "
                             "exercises/")
    parser.add_argument("--exercise", "-e", action="append", metavar="ID",
                        help="exercise id such as 1.4, or a module number such as 1 "
                             "(repeatable; default: all)")
    parser.add_argument("--where", metavar="ID",
                        help="grade nothing: show where everything of one exercise lives (its "
                             "stub, solution, checks, fixtures, tests, lecture, demos); ID "
                             "is an id such as 4.5 or a function name such as softmax")
    parser.add_argument("--json", type=Path, default=Path("build/results.json"),
                        help="where to write the results (default: build/results.json)")
    parser.add_argument("--checks-json", type=Path, default=None, metavar="PATH",
                        help="also write every check's verdict as data (for class reports)")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="every exercise's row and every failure's message (default: "
                             "progress per module, what you started, and what to do next)")
    parser.add_argument("--fail-under", type=float, default=None, metavar="POINTS",
                        help="exit with status 1 if the total is below POINTS")
    gradescope = parser.add_argument_group("autograding (Gradescope)")
    gradescope.add_argument("--hide-hidden-checks", action="store_true",
                            help="report hidden checks as separate tests shown only after "
                                 "the due date")
    gradescope.add_argument("--preamble", type=Path, default=None, metavar="FILE",
                            help="text to put at the top of the results' output")
    gradescope.add_argument("--sandbox-user", default=None, metavar="USER",
                            help="run student code as this unprivileged user (needs root)")
    gradescope.add_argument("--private", action="append", default=[], metavar="PATH",
                            help="a path student code must neither read nor write; grading "
                                 "stops unless a probe proves it (repeatable)")
    gradescope.add_argument("--memory-limit", type=float, default=4.0, metavar="GIB",
                            help="address space of the process running student code "
                                 "(default: 4 GiB)")
    return parser.parse_args(argv)


def limits_from(args: argparse.Namespace) -> Limits:
    """The sandbox's limits; at stakes the grader, its data and the results are private."""
    private = [str(Path(p).resolve()) for p in args.private]
    if args.sandbox_user or private:
        private += [str(GRADER_DIR), str(args.json.resolve().parent)]
    return Limits(user=args.sandbox_user, memory_bytes=int(args.memory_limit * GiB),
                  private=tuple(dict.fromkeys(private)))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.where is not None:
        from .where.command import where  # reads tests/ and demos: never needed to grade

        return where(args.where)
    try:
        course.select(args.exercise)
        target = resolve_target(args.target)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:  # the folder as the student named it, short
        shown = target.relative_to(Path.cwd())
    except ValueError:
        shown = target
    print(f"Grading {shown} ...\n")
    if args.verbose:
        print(report.header())
    live = not args.verbose and sys.stdout.isatty()
    total = len(course.select(args.exercise))
    done = []

    def show(result):
        done.append(result)
        if args.verbose:
            print(report.row(result), flush=True)
        elif live:  # a counter in place while grading, on a terminal only
            print(f"\rgraded {len(done)}/{total} ({result.exercise.id})", end="", flush=True)

    become_subreaper()  # what student code starts and leaves behind comes back to us, and dies
    start = time.monotonic()
    try:
        limits = limits_from(args)
        results = grade(target, args.exercise, limits=limits, on_exercise_done=show)
    except SandboxUnavailable as exc:
        report.write_json(report.not_graded(str(exc)), args.json)
        print(f"error: student code cannot be confined, so nothing was graded: {exc}",
              file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 — a grader bug must still leave a report behind
        report.write_json(report.internal_error(exc, time.monotonic() - start), args.json)
        print(f"\nThe grader itself failed ({type(exc).__name__}: {exc}); please report it. "
              f"An error report was written to {args.json}", file=sys.stderr)
        return 2
    seconds = time.monotonic() - start
    if live:
        print("\r" + " " * 40 + "\r", end="")
    if args.verbose:
        print()
        print(report.total_line(results) + f" ({seconds:.1f} s)")
        details = report.details(results)
        if details:
            print("\n" + details)
    else:
        print(screen.first_screen(results, seconds, screen.use_colour(sys.stdout)))
    preamble = (clean(args.preamble.read_text(errors="replace"), 4000)  # it names student files
                if args.preamble and args.preamble.is_file() else "")
    report.write_json(report.gradescope(results, seconds, split_hidden=args.hide_hidden_checks,
                                        preamble=preamble), args.json)
    if args.checks_json:
        report.write_json(report.checks_json(results), args.checks_json)
    print(f"\nResults written to {args.json}")
    if args.fail_under is not None and sum(r.score for r in results) < args.fail_under:
        return 1
    return 0
