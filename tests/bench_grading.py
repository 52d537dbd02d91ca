"""How long grading takes where grades count: Module 1 on Gradescope and with nbgrader.

    python tests/bench_grading.py [--baseline DIR] [--rounds 5] [--students 6]

Gradescope: the seconds `run_autograder` takes on the reference solutions (median of
`--rounds`), as root with a throwaway sandbox user (as Gradescope runs it) when run as root,
else as a local test run.  nbgrader: the seconds per student of `nbgrader autograde` on
`--students` completed notebooks (median of `--rounds` runs of `autograde --force`).
`--baseline DIR` measures another checkout of the course the same way, side by side in the
same run, with the same interpreters: compare ratios, not seconds, across machines.
(`make bench-grading` runs it.)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ASSIGNMENT = "01_self_attention"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

import sandbox_env  # noqa: E402


def build(checkout: Path, what: str, out: Path) -> None:
    """`python -m grader.distribute` of `checkout` (its own code, not this one's)."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    subprocess.run([sys.executable, "-m", "grader.distribute", what, "--out", str(out)],
                   cwd=checkout, env=env, check=True, capture_output=True)


def time_gradescope(checkout: Path, work: Path, env: dict, rounds: int) -> float:
    build(checkout, "gradescope", work / "zips")
    seconds = []
    for i in range(rounds):
        root = work / f"root{i}"
        with zipfile.ZipFile(work / "zips" / ASSIGNMENT / "autograder.zip") as zf:
            zf.extractall(root / "source")
        (root / "submission").mkdir()
        for path in (REPO / "reference" / "self_attention").glob("*.py"):
            shutil.copy(path, root / "submission" / path.name)
        start = time.perf_counter()
        done = subprocess.run(["bash", str(root / "source" / "run_autograder")],
                              env={**os.environ, "AUTOGRADER_ROOT": str(root), **env},
                              capture_output=True, text=True)
        seconds.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise RuntimeError(f"run_autograder failed: {done.stderr[-1000:]}")
    return statistics.median(seconds)


def time_nbgrader(checkout: Path, work: Path, students: int, rounds: int) -> float:
    course = work / "course"
    build(checkout, "nbgrader", course)
    source = nbformat.read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    nb = nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = "".join(line for line in answers[grade_id].splitlines(True)
                                  if "### BEGIN SOLUTION" not in line
                                  and "### END SOLUTION" not in line)
    for k in range(students):
        folder = course / "submitted" / f"student{k}" / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{ASSIGNMENT}.ipynb")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
                                 f"{os.environ.get('PATH', '')}"}
    seconds = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--force"],
                       cwd=course, env=env, check=True, capture_output=True)
        seconds.append((time.perf_counter() - start) / students)
    return statistics.median(seconds)


def measure(checkout: Path, env: dict, args) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        gradescope = time_gradescope(checkout, Path(tmp) / "gs", env, args.rounds)
        nbgrader = time_nbgrader(checkout, Path(tmp) / "nb", args.students, args.rounds)
    return gradescope, nbgrader


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, help="another checkout to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--students", type=int, default=6)
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if sandbox_env.why_not_root() is None:
            user = stack.enter_context(sandbox_env.throwaway_user())
            python = stack.enter_context(sandbox_env.python_for(user))
            env = {"AUTOGRADER_SANDBOX_USER": user, "AUTOGRADER_PYTHON": str(python)}
            how = f"as root, student code as {user}"
        else:
            env = {"AUTOGRADER_LOCAL_TEST": "1", "AUTOGRADER_PYTHON": sys.executable}
            how = "local test run, not sandboxed"
        print(f"{cpu_model()}, {os.cpu_count()} cores; Gradescope {how}")
        rows = [("this checkout", *measure(REPO, env, args))]
        if args.baseline:
            rows.append((f"baseline {args.baseline}", *measure(args.baseline.resolve(), env,
                                                               args)))
    print(f"{'':<34} {'Gradescope s/submission':>24} {'nbgrader s/student':>19}")
    for name, gradescope, nbgrader in rows:
        print(f"{name[:34]:<34} {gradescope:>24.2f} {nbgrader:>19.2f}")
    if len(rows) == 2:
        print(f"{'ratio (this / baseline)':<34} {rows[0][1] / rows[1][1]:>24.2f} "
              f"{rows[0][2] / rows[1][2]:>19.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
