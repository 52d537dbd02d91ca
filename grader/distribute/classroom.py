"""`make classroom`: a GitHub Classroom autograding workflow, generated from the course table.

`python -m grader.distribute.classroom [--out DIR] [--module N ...] [--all-or-nothing]` writes
`DIR/.github/workflows/classroom.yml` (default DIR: build/classroom): copy it into the template
repository of a GitHub Classroom assignment.  On every push the workflow installs the student
dependencies (`pip install -e .`, as `make grade` does), grades each selected exercise in its
own step with `python -m grader --target exercises --exercise ID --fail-under POINTS`, and
hands every step's result to GitHub Classroom's reporter
(`classroom-resources/autograding-grading-reporter`), which adds up the points.

How Classroom's autograding counts points (read from the actions' source, pinned below):

- `classroom-resources/autograding-command-grader` runs a command and sets its `result`
  output to base64 JSON `{"version": 1, "status", "max_score", "tests": [{"name", "status",
  "score", ...}]}`, with `score` = `max-score` if the command exits 0 and 0 otherwise: all or
  nothing per test.  It never fails its step.
- The reporter reads each runner's result from the env variable `<STEP ID>_RESULTS`, and
  reports `sum(tests[].score)` out of `sum(max_score)` to Classroom (an "Autograding report"
  annotation); it fails the job if any runner's status is `fail` or `error`.  GitHub's own
  `autograding-python-grader` reports fractional scores this way (`max_score / len(tests)`
  per passing test).

So partial credit is possible: by default each step runs the same grader command through
`grader.distribute.classroom_runner`, which reports the grader's own score for the exercise
(partial credit per check, as `make grade` shows it) in the format above.  `--all-or-nothing`
uses the command-grader action instead (full points only when every check passes).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from .. import course

# Actions pinned to a commit (the release each comment names), as GitHub recommends for
# third-party actions: a moved tag cannot change what grades the students.
CHECKOUT = "actions/checkout@d23441a48e516b6c34aea4fa41551a30e30af803"
CHECKOUT_VERSION = "v6.1.0"
SETUP_PYTHON = "actions/setup-python@ece7cb06caefa5fff74198d8649806c4678c61a1"
SETUP_PYTHON_VERSION = "v6.3.0"
COMMAND_GRADER = ("classroom-resources/autograding-command-grader@"
                  "d5b3fa6f50f7f629b7bfae0cc3e4c58852b412d5")
COMMAND_GRADER_VERSION = "v1"
REPORTER = ("classroom-resources/autograding-grading-reporter@"
            "d13b5912daf5042ac1b71bc38bdb4a6bcd61d8ca")
REPORTER_VERSION = "v1"

PYTHON_VERSION = "3.12"  # the course supports 3.10-3.13
TARGET = "exercises"  # what the workflow grades; the tests put `reference` in its place
RESULTS_DIR = "build/autograding"  # the grader's results file per exercise, in the student repo
TIMEOUT_MINUTES = 10  # per exercise; each check has its own 10 s limit inside the grader
INSTALL = "python -m pip install --disable-pip-version-check -e ."
RUNNER = "python -m grader.distribute.classroom_runner"
ALWAYS = "${{ !cancelled() }}"  # run after a failed step too: every exercise gets a result


def command(ex: course.Exercise, target: str = TARGET) -> str:
    """The command that grades one exercise: exit 0 only with all of its points."""
    return (f"python -m grader --target {target} --exercise {ex.id} "
            f"--json {results_path(ex)} --fail-under {ex.points}")


def results_path(ex: course.Exercise) -> str:
    return f"{RESULTS_DIR}/{ex.id}.json"


def step_id(ex: course.Exercise) -> str:
    """`exercise_1_4`: a step id, and (upper-cased) the reporter's `<ID>_RESULTS` variable."""
    return "exercise_" + ex.id.replace(".", "_")


def test_name(ex: course.Exercise) -> str:
    return f"{ex.id} {ex.title}"


def select(modules: list[int] | None) -> list[course.Exercise]:
    """The exercises of these modules (all when none), in course order."""
    known = {m.number for m in course.MODULES}
    unknown = sorted(set(modules or ()) - known)
    if unknown:
        raise ValueError(f"unknown module {unknown[0]}; the course has modules "
                         f"{', '.join(str(n) for n in sorted(known))}")
    return course.select([str(n) for n in modules] if modules else None)


# --- the workflow as data ---------------------------------------------------------------------

@dataclass(frozen=True)
class Commented:
    """A scalar written with a comment after it on the same line."""
    value: object
    comment: str


def plain(node):
    """The data without comments: what a YAML parser reads back from `render(node)`."""
    if isinstance(node, Commented):
        return plain(node.value)
    if isinstance(node, dict):
        return {k: plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    return node


def grading_step(ex: course.Exercise, all_or_nothing: bool) -> dict:
    step = {"name": f"{test_name(ex)} ({ex.points} points)", "id": step_id(ex), "if": ALWAYS}
    if all_or_nothing:
        step["uses"] = Commented(COMMAND_GRADER, COMMAND_GRADER_VERSION)
        step["with"] = {"test-name": test_name(ex), "command": command(ex),
                        "timeout": TIMEOUT_MINUTES, "max-score": ex.points}
    else:
        # The command grader's inputs, as variables of the runner that reports partial credit.
        step["env"] = {"GRADING_TEST_NAME": test_name(ex), "GRADING_COMMAND": command(ex),
                       "GRADING_RESULTS": results_path(ex),
                       "GRADING_TIMEOUT": str(TIMEOUT_MINUTES),
                       "GRADING_MAX_SCORE": str(ex.points)}
        step["run"] = RUNNER
    return step


def workflow(exercises: list[course.Exercise], all_or_nothing: bool = False) -> dict:
    """The workflow: set-up, one grading step per exercise, the reporter given every result."""
    steps = [
        {"name": "Check out the submission",
         "uses": Commented(CHECKOUT, CHECKOUT_VERSION)},
        {"name": "Set up Python",
         "uses": Commented(SETUP_PYTHON, SETUP_PYTHON_VERSION),
         "with": {"python-version": PYTHON_VERSION}},
        {"name": "Install the student dependencies", "run": INSTALL},
        *(grading_step(ex, all_or_nothing) for ex in exercises),
        {"name": "Autograding Reporter", "if": ALWAYS,
         "uses": Commented(REPORTER, REPORTER_VERSION),
         "env": {f"{step_id(ex).upper()}_RESULTS": f"${{{{ steps.{step_id(ex)}.outputs.result }}}}"
                 for ex in exercises},
         "with": {"runners": ",".join(step_id(ex) for ex in exercises)}},
    ]
    return {
        "name": "Autograding Tests",
        "on": ["push", "workflow_dispatch", "repository_dispatch"],
        "permissions": {"actions": "read", "contents": "read"},
        "jobs": {"run-autograding-tests": {
            "runs-on": "ubuntu-latest",
            # GitHub Classroom's own workflows skip the commit that creates the repository.
            "if": "github.actor != 'github-classroom[bot]'",
            "steps": steps,
        }},
    }


def header(exercises: list[course.Exercise], all_or_nothing: bool) -> str:
    modules = sorted({ex.module.number for ex in exercises})
    which = ("the whole course" if len(modules) == len(course.MODULES)
             else "module " + ", ".join(str(n) for n in modules))
    total = sum(ex.points for ex in exercises)
    if all_or_nothing:
        scoring = """\
Scoring: ALL OR NOTHING per exercise. classroom-resources/autograding-command-grader gives
a test its max-score when the command exits 0 and 0 points otherwise, and
`--fail-under <points>` makes the grader exit 0 only with all of the exercise's points:
an exercise with 2 of its 3 checks right scores 0 here (make grade shows the partial
credit). Without --all-or-nothing, the generator writes steps that report it."""
    else:
        scoring = """\
Scoring: PARTIAL CREDIT, the points `make grade` gives. Each step runs the same command
the command-grader action would (`--fail-under <points>`: exit 0 only with full points)
through grader.distribute.classroom_runner, which sets the step's `result` output to the
grader's score for the exercise, in the format the command grader uses (base64 JSON,
version 1, tests[].score); the reporter sends Classroom the sum of those scores. Its log
("Total points for <runner>", the summary table) counts passed tests instead, so it shows
0 for a partly right exercise: the test's name ("1.4 ...: 6.67/8 points") and the
"Autograding complete" annotation show the points Classroom records.
(--all-or-nothing writes command-grader steps: full points or none per exercise.)"""
    lines = [
        f"GitHub Classroom autograding for {which}: {len(exercises)} exercises, "
        f"{total} points.",
        "Generated by `python -m grader.distribute.classroom` (make classroom) from",
        "grader/course.py; regenerate instead of editing. Copy it to",
        ".github/workflows/classroom.yml of the assignment's template repository, made",
        "from this one without reference/ (the solutions). Add no tests in Classroom's",
        "web form: Classroom then commits its own workflow at this path.",
        "",
        *scoring.splitlines(),
        "",
        "Each step runs even when an earlier one failed (if: !cancelled()), so the reporter",
        "gets a result from every exercise. A student's repository holds the grader and",
        "this file: these grades are self-reported, like make grade on their machine.",
    ]
    return "".join(f"# {line}".rstrip() + "\n" for line in lines)


# --- a YAML writer for this data (PyYAML is not a student dependency) ---------------------------

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_./@-]*")
# Words YAML 1.1 readers (PyYAML, and GitHub's `on:` pitfall) take for booleans or null.
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        raise TypeError(f"cannot write {value!r} as YAML")
    if _PLAIN.fullmatch(value) and value.lower() not in _RESERVED:
        return value
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a double-quoted YAML one


def _lines(node, indent: int) -> list[str]:
    pad = " " * indent
    out = []
    if isinstance(node, dict):
        for key, value in node.items():
            comment = ""
            if isinstance(value, Commented):
                value, comment = value.value, f"  # {value.comment}"
            if isinstance(value, (dict, list)) and value:
                out.append(f"{pad}{scalar(key)}:")
                out += _lines(value, indent + (2 if isinstance(value, dict) else 0))
            else:
                out.append(f"{pad}{scalar(key)}: {scalar(value)}{comment}")
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, (dict, list)) and item:
                first, *rest = _lines(item, indent + 2)
                out.append(f"{pad}- {first.lstrip()}")
                out += rest
            else:
                out.append(f"{pad}- {scalar(item)}")
    else:
        raise TypeError(f"expected a mapping or a list, got {node!r}")
    return out


def render(exercises: list[course.Exercise], all_or_nothing: bool = False) -> str:
    data = workflow(exercises, all_or_nothing)
    return header(exercises, all_or_nothing) + "\n".join(_lines(data, 0)) + "\n"


def build(out_dir: Path, modules: list[int] | None = None,
          all_or_nothing: bool = False) -> Path:
    path = out_dir / ".github" / "workflows" / "classroom.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(select(modules), all_or_nothing))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grader.distribute.classroom",
        description="Write a GitHub Classroom autograding workflow: one graded test per "
                    "exercise, worth its points.")
    parser.add_argument("--out", type=Path, default=Path("build/classroom"),
                        help="writes OUT/.github/workflows/classroom.yml "
                             "(default: build/classroom)")
    parser.add_argument("--module", type=int, nargs="+", action="extend", metavar="N",
                        help="only these modules' exercises (default: the whole course)")
    parser.add_argument("--all-or-nothing", action="store_true",
                        help="grade with classroom-resources/autograding-command-grader: full "
                             "points for an exercise or none (default: partial credit)")
    args = parser.parse_args(argv)
    try:
        path = build(args.out, args.module, args.all_or_nothing)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    print("Copy it to .github/workflows/classroom.yml in the assignment's template repository "
          "(without reference/), and add no tests in Classroom's web form.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
