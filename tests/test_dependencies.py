"""An exercise built on a broken one: the report names the one to fix first, and a
dependency that hangs costs its time limit once (grader/dependencies.py)."""

from __future__ import annotations

import shutil
import time

import pytest
from conftest import REPO

from grader import course, dependencies
from grader.results import FAILED, PASSED, TIMEOUT, CheckResult, ExerciseResult
from grader.runner import grade

BUILT_ON_SOFTMAX = ("1.4", "1.5", "1.7", "1.8")
OFF_BY_A_HAIR = '''
_right_softmax = softmax


def softmax(x, axis=-1):
    return _right_softmax(x, axis=axis) * 1.0001
'''
HANGS = '''
def softmax(x, axis=-1):
    while True:
        pass
'''


def submission(tmp_path, softmax: str):
    target = tmp_path / "submission"
    shutil.copytree(REPO / "reference", target, ignore=shutil.ignore_patterns("__pycache__"))
    with open(target / "self_attention" / "softmax.py", "a") as file:
        file.write("\n\n" + softmax)
    return target


def test_a_wrong_softmax_is_named_in_every_exercise_built_on_it(tmp_path):
    results = {r.exercise.id: r for r in grade(submission(tmp_path, OFF_BY_A_HAIR), ["1"])}
    assert results["1.1"].status == FAILED
    for ex_id in BUILT_ON_SOFTMAX:
        result = results[ex_id]
        assert result.note.startswith(f"{ex_id} builds on 1.1 (Stable softmax), which fails: "
                                      "fix 1.1 first"), result.note
        assert result.reason == result.note and result.details.startswith(result.note)
        assert not result.blocked  # graded as usual
    for ex_id in ("1.2", "1.3", "1.6", "1.9"):
        assert results[ex_id].status == PASSED and not results[ex_id].note


@pytest.mark.serial  # timed: run alone, not beside other tests
def test_a_hanging_softmax_costs_its_time_limit_once(tmp_path):
    start = time.monotonic()
    results = {r.exercise.id: r for r in grade(submission(tmp_path, HANGS), ["1"])}
    seconds = time.monotonic() - start
    assert results["1.1"].status == TIMEOUT
    for ex_id in BUILT_ON_SOFTMAX:
        result = results[ex_id]
        assert result.blocked == dependencies.HANGS and result.score == 0
        assert result.note.startswith(f"Not run: {ex_id} builds on 1.1 (Stable softmax), "
                                      "which hangs: fix 1.1 first"), result.note
        assert all(c.message == "not run (see above)" for c in result.checks)
    assert results["1.9"].status == PASSED
    limit = max(c.timeout for c in __import__("grader").checks.checks_for("1.1"))
    assert seconds < limit + 8, f"{seconds:.1f} s: the hang was waited for more than once"


def _result(ex_id: str, *statuses: str, hidden: tuple[bool, ...] = ()) -> ExerciseResult:
    hidden = hidden or (False,) * len(statuses)
    return ExerciseResult(course.BY_ID[ex_id], [
        CheckResult(ex_id, f"c{i}", "d", 1, s, "m", h)
        for i, (s, h) in enumerate(zip(statuses, hidden))])


def test_only_visible_checks_make_an_exercise_broken():
    """A hidden check's verdict must not show in another exercise's report."""
    assert dependencies.state(_result("1.1", PASSED, FAILED, hidden=(False, True)),
                              crashed=False) is None
    assert dependencies.state(_result("1.1", TIMEOUT, PASSED), crashed=False) == "hangs"
    assert dependencies.state(_result("1.1", PASSED), crashed=True) == "crashes"


@pytest.mark.parametrize("states, exercise, expected", [
    ({"1.1": "fails", "1.4": "fails"}, "1.7", [("1.1", "fails")]),  # the root, not 1.4
    ({"1.4": "fails", "1.6": "hangs"}, "1.7", [("1.4", "fails"), ("1.6", "hangs")]),
    ({"1.1": None, "1.4": None}, "1.7", []),
    ({"2.3": "fails"}, "2.6", []),  # they call each other: neither blames the other
])
def test_the_roots_are_the_broken_exercises_to_fix_first(states, exercise, expected):
    assert dependencies.roots(exercise, states) == expected
