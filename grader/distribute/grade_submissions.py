"""Grade a class's Gradescope-style submissions: one folder per student, one process each.

    SUBMISSIONS/alice/...   (the files as uploaded: any folder structure, or the module's
    SUBMISSIONS/bob/...      nbgrader notebook)

Each student is graded as Gradescope's `run_autograder` grades an upload: `collect` lays the
files out like `exercises/` in a temporary folder, then `python -m grader` (its `main`, in a
process of the student's own, see `parallel.py`) grades them with student code in the
sandbox, and writes

    OUT/results/<student>.json   Gradescope's results format (hidden checks split off)
    OUT/checks/<student>.json    every check's verdict (`grader.report.checks_json`)
    OUT/logs/<student>.txt       what the grader printed: the table, the notes of `collect`

A student whose grading fails or overruns the time limit gets results with 0 points and the
reason, and no checks file; the others are not affected.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .. import cli, report
from . import collect, parallel


@dataclass(frozen=True)
class Options:
    """What every student's grading shares (handed to each student's process)."""

    submissions: Path
    out: Path
    stubs: Path  # stand-ins for the files a submission lacks
    exercises: tuple[str, ...] = ()  # ids or module numbers; () grades every exercise
    confine: tuple[str, ...] = ()  # `python -m grader` options: --private, --memory-limit
    # One per job: after each exercise the grader kills every process of its sandbox user,
    # so two gradings at once must never share one.
    sandbox_users: tuple[str, ...] = ()
    scratch: Path | None = None  # the run's temporary folder (`grade_all` makes it)


def students_in(submissions: Path) -> list[str]:
    """The student folders of `submissions` (not hidden ones such as `.DS_Store`)."""
    return sorted(p.name for p in submissions.iterdir()
                  if p.is_dir() and not p.name.startswith((".", "__")))


def results_path(out: Path, student: str) -> Path:
    return out / "results" / f"{student}.json"


def checks_path(out: Path, student: str) -> Path:
    return out / "checks" / f"{student}.json"


def log_path(out: Path, student: str) -> Path:
    return out / "logs" / f"{student}.txt"


def prepare(out: Path, students: list[str]) -> None:
    """Output folders, without what an earlier run wrote for these students (a grading that
    fails now must not leave an old result looking current)."""
    for folder in ("results", "checks", "logs"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    for student in students:
        for path in (results_path(out, student), checks_path(out, student)):
            path.unlink(missing_ok=True)


def grade_submission(student: str, slot: int, options: Options) -> int:
    """In the student's own process (in job `slot`): lay the upload out, grade it, write
    its files; returns `python -m grader`'s exit code."""
    _print_into(log_path(options.out, student))
    # Every temporary folder of this grading (the laid-out upload, the sandbox's scratch)
    # goes into the run's, which is removed at the end: a grading stopped half-way leaves
    # nothing behind, and the others' folders cannot be listed.
    tempfile.tempdir = str(options.scratch) if options.scratch else None
    work = Path(tempfile.mkdtemp(prefix="class-submission-"))
    try:
        work.chmod(0o711)  # a sandbox user may reach the submission inside, nothing else
        selected = list(options.exercises) or None
        notes = collect.collect(options.submissions / student, work / "submission",
                                options.stubs, exercise_ids=selected)
        (work / "notes.txt").write_text("".join(line + "\n" for line in notes))
        _readable_by_all(work / "submission")
        argv = ["--target", str(work / "submission"),
                "--json", str(results_path(options.out, student)),
                "--checks-json", str(checks_path(options.out, student)),
                "--hide-hidden-checks", "--verbose", "--preamble", str(work / "notes.txt"),
                *[arg for ex in options.exercises for arg in ("--exercise", ex)],
                *options.confine]
        if options.sandbox_users:
            argv += ["--sandbox-user", options.sandbox_users[slot]]
        code = cli.main(argv)
        _name_student(checks_path(options.out, student), student)
        return code
    finally:
        shutil.rmtree(work, ignore_errors=True)


def grade_all(students: list[str], options: Options, jobs: int, time_limit: float,
              on_done=None, on_tick=None) -> list[parallel.Outcome]:
    """Every student, `jobs` at a time (at most one per sandbox user); a student past
    `time_limit` seconds is stopped and gets results that say so."""
    if options.sandbox_users:
        jobs = min(jobs, len(options.sandbox_users))
    prepare(options.out, students)
    scratch = Path(tempfile.mkdtemp(prefix="class-grading-"))
    try:
        scratch.chmod(0o711)  # a sandbox user may pass through, not list
        options = dataclasses.replace(options, scratch=scratch)
        outcomes = parallel.run(students, grade_submission, (options,), jobs, time_limit,
                                on_done=on_done, on_tick=on_tick)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for outcome in outcomes:
        if not results_path(options.out, outcome.item).exists():
            if outcome.timed_out:
                why = f"grading did not finish within {time_limit:g} s and was stopped"
            else:
                why = f"grading failed (exit code {outcome.exitcode})"
            report.write_json(not_graded(f"{why}; see logs/{outcome.item}.txt"),
                              results_path(options.out, outcome.item))
    return outcomes


def not_graded(reason: str) -> dict:
    """Gradescope results of a student whose grading did not finish: 0, and why."""
    return {"score": 0.0, "max_score": 0, "tests": [],
            "output": f"Not graded: {reason} (a problem of the grading run, which the "
                      "instructor can see)."}


def _print_into(log: Path) -> None:
    """Send this process's output (the grader's table, tracebacks) to the student's log."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def _readable_by_all(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def _name_student(path: Path, student: str) -> None:
    """`python -m grader` leaves the student unnamed in the checks file; name them."""
    if path.exists():
        data = json.loads(path.read_text())
        data["student"] = student
        report.write_json(data, path)
