"""One graded test of the GitHub Classroom workflow, with partial credit.

`python -m grader.distribute.classroom_runner` does what
`classroom-resources/autograding-command-grader` does with the same inputs, given as
variables: `GRADING_TEST_NAME`, `GRADING_COMMAND` (run by the shell, output to the log),
`GRADING_TIMEOUT` (minutes) and `GRADING_MAX_SCORE`; it sets the step's `result` output (in
`$GITHUB_OUTPUT`) to the same base64 JSON the reporter reads.  One difference: the score is
the grader's own score for the exercise, read from the results file the command writes
(`GRADING_RESULTS`), not all or nothing.  Exit 0 earns `max_score`, as with the action;
exit 1 (the grader's `--fail-under`) earns what the results file says; anything else (the
grader could not grade, a timeout) is an error worth 0.  Like the action it never fails its
step, and it always sets `result`, so the reporter gets every test's.

Standard library only: it reports a result even when the install step failed.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def grader_score(path: Path) -> float | None:
    """The points in a results file of `python -m grader` (None if unreadable)."""
    try:
        data = json.loads(path.read_text())
        return float(sum(test["score"] for test in data["tests"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def run_command(command: str, timeout_s: float) -> int | None:
    """The command's exit status, or None when it ran out of time (then it is killed)."""
    proc = subprocess.Popen(command, shell=True, start_new_session=True)
    try:
        return proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return None


def result(test_name: str, command: str, max_score: float, status: str, score: float,
           message: str, duration_ms: int) -> dict:
    """The runner result the reporter reads: the command grader's format (version 1)."""
    shown = f"{score:.2f}".rstrip("0").rstrip(".")
    return {"version": 1, "status": status, "max_score": max_score, "tests": [{
        "name": f"{test_name}: {shown}/{max_score:g} points", "status": status,
        "score": score, "message": message, "test_code": command, "filename": "",
        "line_no": 0, "duration": duration_ms}]}


def grade(env: dict[str, str]) -> dict:
    test_name = env.get("GRADING_TEST_NAME", "test")
    command = env.get("GRADING_COMMAND", "")
    try:
        max_score = float(env.get("GRADING_MAX_SCORE") or 0)
        max_score = int(max_score) if max_score.is_integer() else max_score
        timeout_s = float(env.get("GRADING_TIMEOUT") or 10) * 60
    except ValueError as exc:
        return result(test_name, command, 0, "error", 0, f"bad input: {exc}", 0)
    if not command:
        return result(test_name, command, max_score, "error", 0, "GRADING_COMMAND is empty", 0)
    results = Path(env["GRADING_RESULTS"]) if env.get("GRADING_RESULTS") else None
    if results is not None:
        results.unlink(missing_ok=True)  # never score a previous run's file
    start = time.monotonic()
    code = run_command(command, timeout_s)
    duration = int((time.monotonic() - start) * 1000)
    if code is None:
        return result(test_name, command, max_score, "error", 0, "Command timed out", duration)
    if code == 0:
        return result(test_name, command, max_score, "pass", max_score, "", duration)
    score = grader_score(results) if results is not None and code == 1 else None
    if score is None:
        return result(test_name, command, max_score, "error", 0,
                      f"failed with exit code {code}", duration)
    score = round(min(max(score, 0.0), max_score), 2)
    return result(test_name, command, max_score, "fail", score,
                  f"failed with exit code {code}", duration)


def main() -> int:
    try:
        outcome = grade(dict(os.environ))
    except Exception as exc:  # noqa: BLE001 — the reporter must get a result whatever happens
        try:  # keep the test's points in the maximum: the reporter skips a max_score of 0
            max_score = float(os.environ.get("GRADING_MAX_SCORE") or 0)
        except ValueError:
            max_score = 0
        outcome = result(os.environ.get("GRADING_TEST_NAME", "test"),
                         os.environ.get("GRADING_COMMAND", ""), max_score, "error", 0,
                         f"{type(exc).__name__}: {exc}", 0)
    test = outcome["tests"][0]
    print(f"\n{test['name']} ({outcome['status']})", flush=True)
    line = "result=" + base64.b64encode(json.dumps(outcome).encode()).decode()
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        with open(output, "a") as fh:
            fh.write(line + "\n")
    else:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
