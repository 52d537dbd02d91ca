"""Grade a whole class on every core, with progress, then write the class report.

Gradescope-style uploads, one folder per student (files in any structure, or the module's
nbgrader notebook):

    python -m grader.distribute.grade_class --submissions DIR [-e 1] [--out build/class]

    Each student is graded as Gradescope's `run_autograder` grades one upload, in a process
    of their own (`grade_submissions.py`), with expected values drawn for this run from a
    secret seed (the grader runs from a temporary autograder bundle, as on Gradescope).
    OUT/results/<student>.json (Gradescope's format), OUT/checks/<student>.json,
    OUT/logs/<student>.txt, OUT/scores.csv and the class report in OUT/report/ (or
    `--report DIR`; `make grade-class` puts it in build/report/).

An nbgrader course:

    python -m grader.distribute.grade_class --course nbgrader-course --assignment NAME

    `nbgrader autograde NAME` in parallel shards (`nbgrader_shards.py`): the gradebook,
    `autograded/` and `reports/checks/NAME/` are written by nbgrader as usual; the report
    goes to `<course>/reports/class/NAME/report/` (or `--out`, `--report`).

Progress goes to stderr; the summary and where the files are, to stdout.  A submission that
hangs or crashes costs only itself: the exit code is 0 unless nothing could be graded at all
(2 for a wrong command line).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .. import checks, course
from . import class_report, class_summary, grade_submissions, nbgrader_shards
from .progress import Progress

SLACK_SECONDS = 60  # a student's time limit: every check's own limit, plus this


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m grader.distribute.grade_class",
        description="Grade every submission of an assignment in parallel, with progress, "
                    "and write a class report.")
    layout = parser.add_mutually_exclusive_group(required=True)
    layout.add_argument("--submissions", type=Path, metavar="DIR",
                        help="one sub-folder per student, as uploaded to Gradescope")
    layout.add_argument("--course", type=Path, metavar="DIR",
                        help="an nbgrader course folder (with --assignment)")
    parser.add_argument("--assignment", metavar="NAME",
                        help="the nbgrader assignment to autograde, e.g. 01_self_attention")
    parser.add_argument("--exercise", "-e", action="append", metavar="ID",
                        help="with --submissions: exercise id or module number to grade, "
                             "e.g. 1 (repeatable; default: every exercise)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="where results and the report go (default: build/class, or "
                             "<course>/reports/class/<assignment>)")
    parser.add_argument("--report", type=Path, default=None, metavar="DIR",
                        help="where the class report goes (default: OUT/report)")
    parser.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1, metavar="N",
                        help="submissions graded at once (default: the number of cores)")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="with --submissions: stop a student's grading after this long "
                             "(default: the sum of the checks' time limits, plus 60 s)")
    parser.add_argument("--top", type=int, default=5, metavar="N",
                        help="most failed checks to print (default: 5)")
    confine = parser.add_argument_group("confinement (passed on to the grader)")
    confine.add_argument("--sandbox-user", action="append", default=[], metavar="USER",
                         help="run student code as this unprivileged user (needs root; the "
                              "submissions and OUT become readable by root only); repeat "
                              "it: one user per job, since the grader kills every process "
                              "of its user after each exercise")
    confine.add_argument("--private", action="append", default=[], metavar="PATH",
                         help="with --submissions: another path student code must neither "
                              "read nor write (the submissions and OUT always are)")
    confine.add_argument("--memory-limit", type=float, default=None, metavar="GIB",
                         help="address space of student code (default: the grader's, 4 GiB)")
    confine.add_argument("--trust-submissions", action="store_true",
                         help="with --submissions: grade even where no probe can prove the "
                              "confinement (no Landlock, no sandbox user)")
    parser.add_argument("--from-autograder", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.course and not args.assignment:
        parser.error("--course needs --assignment")
    if args.course and (args.exercise or args.private or args.trust_submissions
                        or args.timeout):
        parser.error("--exercise, --private, --timeout and --trust-submissions go with "
                     "--submissions (an nbgrader assignment is one module)")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    return args


def _jobs_for(args: argparse.Namespace, students: int) -> int:
    """Gradings at once: as asked, but not more than students, nor than sandbox users."""
    jobs = min(args.jobs, students)
    if args.sandbox_user and len(args.sandbox_user) < jobs:
        print(f"{len(args.sandbox_user)} sandbox user(s): grading {len(args.sandbox_user)} at a "
              "time (each grading needs a user of its own)", file=sys.stderr)
        jobs = len(args.sandbox_user)
    return jobs


def time_limit_for(exercise_ids: list[str] | None) -> float:
    """How long one student's grading may take: every check's own time limit, and some."""
    return sum(c.timeout for ex in course.select(exercise_ids)
               for c in checks.checks_for(ex.id)) + SLACK_SECONDS


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.course:
            return grade_nbgrader(args)
        course.select(args.exercise)  # an unknown id is a usage error, said before any work
        if args.from_autograder:
            return grade_uploads(args)
        return run_from_autograder(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # the gradings under way were stopped (parallel.run)
        print("\ninterrupted: what was graded so far is kept", file=sys.stderr)
        return 130


# -- Gradescope-style uploads -----------------------------------------------------------------
def run_from_autograder(args: argparse.Namespace) -> int:
    """Build an autograder bundle with expected values drawn for this run (kept in a folder
    only this user may read), and grade from it in a new process: the grader imported there
    is the bundle's, with its secret expected values."""
    from . import bundle

    submissions = args.submissions.resolve()
    if not submissions.is_dir():
        raise FileNotFoundError(f"--submissions {args.submissions}: no such folder")
    if not grade_submissions.students_in(submissions):
        raise FileNotFoundError(f"--submissions {args.submissions}: no student folders in it")
    out = (args.out or Path("build/class")).resolve()
    with tempfile.TemporaryDirectory(prefix="class-autograder-") as tmp:
        print("Drawing expected values for this run ...", file=sys.stderr, flush=True)
        autograder = bundle.write(Path(tmp) / "autograder", bundle.secret_fixtures())
        env = {**os.environ, "PYTHONPATH": str(autograder),
               # The grader's own NumPy work is tiny, and a forked process must inherit no
               # threads: no BLAS thread pool.
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        command = [sys.executable, "-m", "grader.distribute.grade_class", "--from-autograder",
                   "--submissions", str(submissions), "--out", str(out),
                   "--jobs", str(args.jobs), "--top", str(args.top),
                   *_repeat("--exercise", args.exercise or []),
                   *_repeat("--private", [str(Path(p).resolve()) for p in args.private])]
        command += _repeat("--sandbox-user", args.sandbox_user)
        report = args.report and args.report.resolve()  # the engine runs elsewhere
        for flag, value in (("--timeout", args.timeout), ("--memory-limit", args.memory_limit),
                            ("--report", report)):
            if value is not None:
                command += [flag, str(value)]
        if args.trust_submissions:
            command.append("--trust-submissions")
        engine = subprocess.Popen(command, cwd=autograder, env=env)
        try:
            return engine.wait()
        except KeyboardInterrupt:
            # The engine was interrupted too: let it stop its gradings and clean up.
            try:
                return engine.wait(timeout=30)
            except subprocess.TimeoutExpired:
                engine.kill()
                return engine.wait()


def grade_uploads(args: argparse.Namespace) -> int:
    """In the bundle's process: grade every student folder, then the scores and report."""
    autograder = Path.cwd()
    if Path(checks.__file__).resolve().parents[2] != autograder.resolve():
        raise FileNotFoundError("--from-autograder: not run from an autograder bundle")
    submissions, out = args.submissions, args.out
    students = grade_submissions.students_in(submissions)
    out.mkdir(parents=True, exist_ok=True)
    jobs = _jobs_for(args, len(students))
    options = grade_submissions.Options(
        submissions, out, stubs=autograder / "exercises",
        exercises=tuple(args.exercise or ()), confine=tuple(_confinement(args)),
        sandbox_users=tuple(args.sandbox_user))
    limit = args.timeout or time_limit_for(args.exercise)
    what = ("-e " + " ".join(args.exercise)) if args.exercise else "every exercise"
    print(f"Grading {len(students)} submissions ({what}) from {submissions}, "
          f"{jobs} at a time ...", file=sys.stderr, flush=True)
    start = time.monotonic()
    progress = Progress(len(students))
    count = iter(range(1, len(students) + 1))
    grade_submissions.grade_all(students, options, jobs, limit,
                                on_done=lambda _outcome: progress.update(next(count)),
                                on_tick=progress.tick)
    progress.finish()
    scores = [class_summary.score_of(s, grade_submissions.checks_path(out, s),
                                     _why_not_graded(out, s)) for s in students]
    class_summary.write_scores(scores, out / "scores.csv")
    graded = [s.student for s in scores if not s.not_graded]
    report_dir = (args.report or out / "report").resolve()
    _report(out / "checks", graded, report_dir, args.top)
    print("\n".join(class_summary.summary(scores, time.monotonic() - start, jobs,
                                          "submissions")))
    print(f"Files: {out}/results/ (Gradescope's format), checks/, logs/, scores.csv")
    print(f"Report: {report_dir}/")
    return 0 if graded else 1


def _why_not_graded(out: Path, student: str) -> str:
    """The first line of the results' output (they say why when there are no checks)."""
    try:
        output = json.loads(grade_submissions.results_path(out, student).read_text())
        return output.get("output", "").strip().splitlines()[0]
    except (OSError, ValueError, IndexError, AttributeError):
        return "not graded"


def _confinement(args: argparse.Namespace) -> list[str]:
    """`python -m grader` options: the sandbox as asked, and unless the submissions are
    trusted, the submissions and the results private (then a probe must prove it)."""
    private = list(args.private)
    if not args.trust_submissions:
        private += [str(args.submissions), str(args.out)]
    if args.sandbox_user:
        for folder in (args.submissions, args.out):  # as run_autograder: root's eyes only
            folder.chmod(0o700)
    options = [*_repeat("--private", private)]
    if args.memory_limit is not None:
        options += ["--memory-limit", str(args.memory_limit)]
    return options


# -- nbgrader ---------------------------------------------------------------------------------
def grade_nbgrader(args: argparse.Namespace) -> int:
    """Autograde in shards, then the scores, the report and the summary."""
    course_dir = args.course.resolve()
    if not (course_dir / "nbgrader_config.py").is_file():
        raise FileNotFoundError(f"--course {args.course}: no nbgrader_config.py in it")
    students = nbgrader_shards.students_of(course_dir, args.assignment)
    if not students:
        raise FileNotFoundError(f"no submissions of {args.assignment} in "
                                f"{course_dir}/submitted/*/{args.assignment}/")
    out = (args.out or course_dir / "reports" / "class" / args.assignment).resolve()
    jobs = _jobs_for(args, len(students))
    config = []
    if args.memory_limit is not None:
        config.append(f"--GradeInSandbox.memory_limit={args.memory_limit}")
    print(f"Autograding {len(students)} students' {args.assignment} in {jobs} shards ...",
          file=sys.stderr, flush=True)
    start = time.monotonic()
    progress = Progress(len(students))
    shards, graded = nbgrader_shards.autograde(course_dir, args.assignment, students, jobs,
                                               out / "logs", tuple(config), progress.update,
                                               sandbox_users=tuple(args.sandbox_user))
    progress.finish()
    checks_dir = nbgrader_shards.checks_folder(course_dir, args.assignment)
    report_dir = (args.report or out / "report").resolve()
    _report(checks_dir, sorted(graded), report_dir, args.top)
    why = "not autograded: see the shard logs"
    scores = [class_summary.score_of(s, checks_dir / f"{s}.json", why) if s in graded
              else class_summary.Score(s, not_graded=why)  # an older checks file is stale
              for s in students]
    class_summary.write_scores(scores, out / "scores.csv")
    for shard in shards:
        if shard.exitcode != 0:
            print(f"nbgrader autograde exited with {shard.exitcode} for "
                  f"{len(shard.students)} students: see {shard.log}")
    print("\n".join(class_summary.summary(scores, time.monotonic() - start, jobs, "students")))
    print(f"Files: gradebook {course_dir}/gradebook.db (nbgrader export writes grades.csv), "
          f"checks in {checks_dir}/, scores.csv and logs/ in {out}/")
    print(f"Report: {report_dir}/")
    return 0 if graded else 1


# -- both ---------------------------------------------------------------------------------------
def _report(checks_dir: Path, students: list[str], out: Path, top: int) -> None:
    """The class report of these students' checks files (not of older files in the folder)."""
    loaded = [s for s in class_report.load(checks_dir) if s["student"] in set(students)]
    if not loaded:
        return
    print()
    for line in class_report.write(loaded, out, top):
        print(line)
    print()


def _repeat(flag: str, values: list[str]) -> list[str]:
    return [arg for value in values for arg in (flag, value)]


if __name__ == "__main__":
    sys.exit(main())
