"""How much grading a class on every core saves: `grade_class` with 1 job and with N.

    python tests/bench_class_grading.py [--students 100] [--jobs 2] [--rounds 1]

Makes a class of Module 1 uploads (tests/class_submissions.py: a quarter with a top-left
causal mask, a sixth with a softmax that does not subtract the maximum, the rest correct),
grades it with `python -m grader.distribute.grade_class --jobs 1` and `--jobs N` in turn
(`--rounds` times each, alternating, so both see the same machine), and prints the wall
times, seconds per student and the ratio parallel / serial, with the CPU model.  Every run
must give every student the expected score.  `--loop` adds what grading costs without
`grade_class`: a loop that lays each upload out and runs one `python -m grader` per student,
as `run_autograder` does on Gradescope.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import class_submissions  # noqa: E402
from bench_grading import cpu_model  # noqa: E402

SHARES = {"causal_top_left": 0.25, "softmax_no_max": 1 / 6}


def cpu_seconds() -> float:
    """CPU time of every finished child process and its descendants, so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def grade(submissions: Path, out: Path, jobs: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(class_submissions.REPO)}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "grader.distribute.grade_class",
                           "--submissions", str(submissions), "-e", "1", "--out", str(out),
                           "--jobs", str(jobs)], cwd=class_submissions.REPO, env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"grade_class failed: {done.stderr[-2000:]}")
    return seconds


def grade_in_a_loop(submissions: Path, out: Path, students: list[str]) -> float:
    """One `collect` and one `python -m grader` per student, one after another."""
    env = {**os.environ, "PYTHONPATH": str(class_submissions.REPO)}
    start = time.perf_counter()
    for student in students:
        work = out / "work" / student
        subprocess.run([sys.executable, "-m", "grader.distribute.collect",
                        str(submissions / student), str(work), "--exercise", "1"],
                       cwd=class_submissions.REPO, env=env, check=True, capture_output=True)
        subprocess.run([sys.executable, "-m", "grader", "--target", str(work), "-e", "1",
                        "--json", str(out / "results" / f"{student}.json"),
                        "--hide-hidden-checks", "--private", str(submissions)],
                       cwd=class_submissions.REPO, env=env, check=True, capture_output=True)
        shutil.rmtree(work)
    return time.perf_counter() - start


def check_scores(out: Path, bugs: dict[str, str | None]) -> None:
    with open(out / "scores.csv") as f:
        scores = {row["student"]: float(row["score"]) for row in csv.DictReader(f)}
    wrong = {s: scores.get(s) for s, bug in bugs.items()
             if scores.get(s) != class_submissions.expected_score(bug)}
    if wrong:
        raise RuntimeError(f"unexpected scores: {wrong}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--loop", action="store_true",
                        help="also time one `python -m grader` per student, in a loop")
    args = parser.parse_args()
    bugs = class_submissions.class_of(args.students, SHARES)
    times: dict[int, list[float]] = {1: [], args.jobs: []}
    cpu: dict[int, list[float]] = {1: [], args.jobs: []}
    with tempfile.TemporaryDirectory(prefix="bench-class-") as tmp:
        submissions = class_submissions.make_class(Path(tmp) / "submissions", bugs)
        for _ in range(args.rounds):
            for jobs in times:
                out = Path(tmp) / f"out-{jobs}"
                before = cpu_seconds()
                times[jobs].append(grade(submissions, out, jobs))
                cpu[jobs].append(cpu_seconds() - before)
                check_scores(out, bugs)
        before = cpu_seconds()
        loop = (grade_in_a_loop(submissions, Path(tmp) / "loop", sorted(bugs))
                if args.loop else None)
        loop_cpu = cpu_seconds() - before
    serial, parallel = (statistics.median(times[j]) for j in times)
    print(f"{cpu_model()}, {os.cpu_count()} cores; {args.students} Module 1 uploads, "
          f"median of {args.rounds} round(s)")
    for jobs, seconds in ((1, serial), (args.jobs, parallel)):
        used = statistics.median(cpu[jobs])
        print(f"--jobs {jobs}: {seconds:7.1f} s  ({seconds / args.students:.2f} s per student, "
              f"CPU {used / args.students:.2f} s per student, {used / seconds:.2f} cores busy; "
              f"runs: {', '.join(f'{s:.1f}' for s in times[jobs])})")
    print(f"ratio --jobs {args.jobs} / --jobs 1: {parallel / serial:.2f}")
    if loop is not None:
        print(f"a loop of python -m grader: {loop:7.1f} s  ({loop / args.students:.2f} s per "
              f"student, CPU {loop_cpu / args.students:.2f} s per student); "
              f"ratio --jobs {args.jobs} / loop: {parallel / loop:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
