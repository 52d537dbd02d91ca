"""The pytest plugin that turns registered checks into test items and collects verdicts.

One pytest item per check, grouped by exercise.  Each exercise gets a fresh sandbox process
(`sandbox.WorkerPool` starts the next one ahead of time), so whatever one exercise's code
does — crash, hang, exit, patch NumPy — cannot touch another's verdict.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest

from . import checks as check_registry
from . import dependencies
from .course import Exercise
from .expect import CheckFailed
from .results import (
    ERROR,
    FAILED,
    NOT_IMPLEMENTED,
    PASSED,
    TIMEOUT,
    CheckResult,
    ExerciseResult,
)
from .sandbox import (
    RemoteImplementation,
    StudentCrash,
    StudentError,
    StudentNotImplemented,
    StudentTimeout,
    WorkerPool,
)


class GradingPlugin:
    def __init__(self, exercises: list[Exercise], pool: WorkerPool,
                 on_exercise_done: Callable[[ExerciseResult], None] | None = None,
                 known: dict[str, str | None] | None = None):
        self.exercises = exercises
        self.pool = pool
        self.results = {ex.id: ExerciseResult(ex) for ex in exercises}
        self.on_exercise_done = on_exercise_done
        self._impl: RemoteImplementation | None = None
        self._current: str | None = None
        self._started = 0.0
        self._timed_out: set[str] = set()
        self._crashed: set[str] = set()
        # graded exercise -> how it is broken; `known` carries verdicts of an earlier run
        # (make watch re-grades only what changed)
        self._states: dict[str, str | None] = dict(known or {})

    # -- collection: one parametrised item per check ----------------------------------------
    def pytest_generate_tests(self, metafunc):
        if "check" not in metafunc.fixturenames:
            return
        params = []
        for ex in self.exercises:
            # Hidden checks last: what the student's code prints during them, and how they end,
            # then never shows in what the visible checks report.
            for c in sorted(check_registry.checks_for(ex.id), key=lambda c: c.hidden):
                # pytest-timeout is the backstop; the sandbox enforces c.timeout itself.
                params.append(pytest.param(c, id=c.test_id, marks=pytest.mark.timeout(
                    c.timeout + 20, method="thread" if _no_sigalrm() else "signal")))
        metafunc.parametrize("check", params)

    @pytest.fixture
    def impl(self, check):
        if check.exercise_id != self._current:
            self._finish_exercise()
            self._current, self._started = check.exercise_id, time.monotonic()
            result = self.results[check.exercise_id]
            result.note, result.blocked, result.fix_first = dependencies.note(
                check.exercise_id, dependencies.roots(check.exercise_id, self._states))
            self._impl = None if result.blocked else RemoteImplementation(self.pool)
        if self.results[check.exercise_id].blocked:
            raise dependencies.DependencyBroken("not run (see above)")
        if check.exercise_id in self._timed_out:
            raise StudentTimeout("Timeout", "not run: an earlier check of this exercise "
                                 "timed out")
        self._impl.deadline = time.monotonic() + check.timeout
        return self._impl

    # -- verdicts ---------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(self, item, call):
        """Record the check's verdict; return a bare report.  (pytest's own would render the
        traceback of every failure, parsing the check's source each time: most of the time
        a failing submission took, for text nobody reads.)"""
        failed = call.excinfo is not None
        report = pytest.TestReport(item.nodeid, item.location, {}, "failed" if failed else "passed",
                            str(call.excinfo.value) if failed else None, call.when,
                            duration=call.duration, start=call.start, stop=call.stop)
        check = item.callspec.params.get("check") if hasattr(item, "callspec") else None
        if check is None or call.when == "teardown" or (call.when == "setup" and not failed):
            return report
        status, message = classify(call.excinfo, check.exercise_id)
        if status == TIMEOUT:
            self._timed_out.add(check.exercise_id)
        if call.excinfo is not None and isinstance(call.excinfo.value, StudentCrash) \
                and not check.hidden:
            self._crashed.add(check.exercise_id)
        output = self._impl.take_output() if self._impl is not None else ""
        self.results[check.exercise_id].checks.append(CheckResult(
            check.exercise_id, check.name, check.description, check.weight, status,
            self._relative(message), check.hidden, self._relative(output)))
        return report

    def _relative(self, text: str) -> str:
        """No temporary paths in what a student reads: the scratch folder is `<scratch>`, and
        the submission's files are named from the submission's folder."""
        text = text.replace(str(self.pool.scratch.root), "<scratch>")
        return text.replace(str(self.pool.target.parent) + os.sep, "")

    def pytest_sessionfinish(self, session):
        self._finish_exercise()

    def _finish_exercise(self):
        if self._current is None:
            return
        result = self.results[self._current]
        result.broken = dependencies.state(result, self._current in self._crashed)
        self._states[self._current] = result.broken
        if self._impl is not None:
            self._impl.close()
        result.seconds = time.monotonic() - self._started
        if self.on_exercise_done is not None:
            self.on_exercise_done(result)
        self._current, self._impl = None, None


def classify(excinfo, exercise_id: str) -> tuple[str, str]:
    """Map how a check ended to a status and a message for the student."""
    if excinfo is None:
        return PASSED, ""
    exc = excinfo.value
    if isinstance(exc, dependencies.DependencyBroken):
        return FAILED, str(exc)
    if isinstance(exc, StudentNotImplemented) or isinstance(exc, NotImplementedError):
        text = getattr(exc, "message", str(exc)) or "not implemented yet"
        needs = text.startswith("Exercise ") and not text.startswith(f"Exercise {exercise_id} ")
        return NOT_IMPLEMENTED, f"needs {text}" if needs else text
    if isinstance(exc, StudentTimeout) or "Timeout" in type(exc).__name__ or (
            "Timeout" in str(exc)[:40] and not isinstance(exc, CheckFailed)):
        return TIMEOUT, f"{getattr(exc, 'message', str(exc))} (time limit per check)"
    if isinstance(exc, AssertionError):  # CheckFailed, or a plain assert in a check
        return FAILED, str(exc) or "a check's assertion failed"
    if isinstance(exc, StudentCrash):
        return ERROR, exc.message
    if isinstance(exc, StudentError):
        trace = f"\n{exc.traceback}" if exc.traceback else ""
        hint = ""
        if "broadcast" in exc.message or "axes don't match" in exc.message:
            hint = ("\nHint: two arrays' shapes did not line up. Print their shapes at the "
                    "line above; common causes are a reduction without keepdims=True, .T "
                    "on a batched array (use np.swapaxes(x, -1, -2)), or slices of "
                    "different lengths.")
        return ERROR, f"your code raised {exc.type_name}: {exc.message}{hint}{trace}"
    # Local (nbgrader) mode: the student's exception arrives as itself.
    return ERROR, f"{type(exc).__name__}: {exc}"


def _no_sigalrm() -> bool:
    import signal
    import threading

    main = threading.current_thread() is threading.main_thread()
    return not hasattr(signal, "SIGALRM") or not main
