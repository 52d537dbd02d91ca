"""How much grading a class on every core saves: `grade_class` with 1 job and with N.

    python tests/bench_class_grading.py [--students 100] [--jobs 2] [--rounds 1]

Makes a class of Module 1 uploads (tests/class_submissions.py: a quarter with a top-left
causal mask, a sixth with a softmax that does not subtract the maximum, the rest correct),
grades it with `python -m grader.distribute.grade_class --jobs 1` and `--jobs N` in turn
(`--rounds` times each, alternating, so both see the same machine), and prints the wall
times, seconds per student and the ratio parallel / serial, with the CPU model.  Every run
must give every student the expected score.
"""

from __future__ import annotations

import argparse
import csv
import os
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
    args = parser.parse_args()
    bugs = class_submissions.class_of(args.students, SHARES)
    times: dict[int, list[float]] = {1: [], args.jobs: []}
    with tempfile.TemporaryDirectory(prefix="bench-class-") as tmp:
        submissions = class_submissions.make_class(Path(tmp) / "submissions", bugs)
        for _ in range(args.rounds):
            for jobs in times:
                out = Path(tmp) / f"out-{jobs}"
                times[jobs].append(grade(submissions, out, jobs))
                check_scores(out, bugs)
    serial, parallel = (statistics.median(times[j]) for j in times)
    print(f"{cpu_model()}, {os.cpu_count()} cores; {args.students} Module 1 uploads, "
          f"median of {args.rounds} round(s)")
    for jobs, seconds in ((1, serial), (args.jobs, parallel)):
        print(f"--jobs {jobs}: {seconds:7.1f} s  ({seconds / args.students:.2f} s per student; "
              f"runs: {', '.join(f'{s:.1f}' for s in times[jobs])})")
    print(f"ratio --jobs {args.jobs} / --jobs 1: {parallel / serial:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
