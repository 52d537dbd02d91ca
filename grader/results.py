"""What grading found: per check, then per exercise (status, points, a one-line reason)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .course import Exercise
from .text import clean

MESSAGE_LIMIT = 4000  # characters of one check's message (it may quote student output)

PASSED, FAILED, NOT_IMPLEMENTED, ERROR, TIMEOUT = (
    "passed", "failed", "not implemented", "error", "timeout")


@dataclass
class CheckResult:
    exercise_id: str
    name: str
    description: str
    weight: int
    status: str
    message: str = ""
    hidden: bool = False
    output: str = ""  # the end of what the student's code printed during this check

    def __post_init__(self):
        # Messages quote what student code returned, raised or printed: never raw.
        self.message = clean(self.message, MESSAGE_LIMIT)
        self.output = clean(self.output)


@dataclass
class ExerciseResult:
    exercise: Exercise
    checks: list[CheckResult] = field(default_factory=list)
    seconds: float = 0.0
    # Said first when an exercise it builds on is broken (`grader.dependencies`); `blocked`
    # is how that one is broken ("hangs" / "crashes") when this one's checks were not run.
    note: str = ""
    blocked: str = ""
    fix_first: str = ""  # the exercise the note names first
    # How it is broken, for the exercises built on it ("hangs", "crashes", "fails", or None
    # when its visible checks pass): set when grading it ends.
    broken: str | None = None

    @property
    def output(self) -> str:
        """The end of what the student's code printed, over all checks."""
        return "".join(c.output for c in self.checks)

    @property
    def score(self) -> float:
        total = sum(c.weight for c in self.checks)
        if total == 0:
            return 0.0
        earned = sum(c.weight for c in self.checks if c.status == PASSED)
        return round(self.exercise.points * earned / total, 2)

    @property
    def status(self) -> str:
        return status_of(self.checks)

    @property
    def reason(self) -> str:
        """One line: why points were lost (empty when passed)."""
        failing = [c for c in self.checks if c.status != PASSED]
        if not failing:
            return ""
        if self.note:
            return self.note
        first = failing[0]
        line = (first.message.strip().splitlines() or [first.status])[0]
        passed = len(self.checks) - len(failing)
        if passed:
            line = f"partial credit, {passed}/{len(self.checks)} checks passed; {line}"
        return line

    @property
    def details(self) -> str:
        """The dependency note, then every check with its verdict and the full message of
        each failure."""
        return (self.note + "\n" if self.note else "") + describe_checks(self.checks)


def status_of(checks: list[CheckResult]) -> str:
    """One status for a group of checks: the worst way one of them ended."""
    if not checks:
        return ERROR
    failing = [c for c in checks if c.status != PASSED]
    if not failing:
        return PASSED
    statuses = {c.status for c in failing}
    if TIMEOUT in statuses:
        return TIMEOUT
    if statuses == {NOT_IMPLEMENTED} and len(failing) == len(checks):
        return NOT_IMPLEMENTED
    if ERROR in statuses:
        return ERROR
    return FAILED


def describe_checks(checks: list[CheckResult], mark_hidden: bool = False) -> str:
    """One line per check (ok / FAIL) with the full message of each failure, then the end of
    what the student's code printed during these checks.  `mark_hidden` labels hidden
    checks (by their description only: their code is never shown)."""
    output = "".join(c.output for c in checks)
    lines = []
    previous = None
    for c in checks:
        mark = "ok  " if c.status == PASSED else "FAIL"
        label = "(hidden) " if mark_hidden and c.hidden else ""
        lines.append(f"[{mark}] {label}{c.description} (weight {c.weight})")
        if c.status != PASSED and c.message:
            if c.message == previous:  # e.g. a file that does not compile: every check
                lines.append("       (the same error as above)")
            else:
                lines.extend("       " + m for m in c.message.strip().splitlines())
            previous = c.message
    if output.strip():
        lines.append("Your code printed (end of output):")
        lines.extend("       " + m for m in output.strip().splitlines()[-15:])
    return "\n".join(lines)
