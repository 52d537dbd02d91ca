"""An exercise built on one that fails: say so first; on one that hangs or crashes: skip it.

`course.USES` says which exercises' functions an exercise's code calls.  Exercises are graded
in id order, so when one starts, the verdicts of those it builds on are known (when this run
graded them).  A *root* is a broken exercise whose own dependencies are fine: the one to fix
first.  If a root hangs or crashes, the checks of every exercise built on it would hang or
crash again, one time limit each, so they are not run: they earn nothing and say why.  If a
root only fails, the exercise is graded as usual and its report says first which exercise
to fix.  (Grading it instead on trusted copies of its dependencies is not offered: at stakes
they would have to run inside the sandbox, where student code could read them.)

Only visible checks count: a hidden check's verdict must not show, before the due date, in
another exercise's report.
"""

from __future__ import annotations

from . import course
from .results import NOT_IMPLEMENTED, PASSED, TIMEOUT, ExerciseResult

HANGS, CRASHES, FAILS = "hangs", "crashes", "fails"


class DependencyBroken(Exception):
    """The check was not run: an exercise it builds on hangs or crashes."""


def state(result: ExerciseResult, crashed: bool) -> str | None:
    """How a graded exercise is broken (judged by its visible checks), or None."""
    if result.blocked:
        return result.blocked
    visible = [c for c in result.checks if not c.hidden]
    if any(c.status == TIMEOUT for c in visible):
        return HANGS
    if crashed:
        return CRASHES
    if any(c.status not in (PASSED, NOT_IMPLEMENTED) for c in visible):
        return FAILS
    return None


def below(exercise_id: str) -> set[str]:
    """Every exercise `exercise_id` builds on, directly or through others."""
    found: set[str] = set()
    todo = list(course.USES.get(exercise_id, ()))
    while todo:
        dep = todo.pop()
        if dep not in found:
            found.add(dep)
            todo.extend(course.USES.get(dep, ()))
    return found


def roots(exercise_id: str, states: dict[str, str | None]) -> list[tuple[str, str]]:
    """(exercise, how it is broken) for each broken exercise under `exercise_id` whose own
    dependencies are all fine (the ones to fix first), in id order."""
    # Two exercises that call each other (2.3's tables scale with 2.6; 2.6's checks use
    # 2.3's tables) cannot tell which is to blame: neither names the other.
    found = [(dep, states[dep]) for dep in below(exercise_id)
             if states.get(dep) and exercise_id not in below(dep)
             and not any(states.get(d) for d in below(dep) - {exercise_id})]
    return sorted(found, key=lambda item: course.BY_ID[item[0]].sort_key)


def note(exercise_id: str, broken: list[tuple[str, str]]) -> tuple[str, str, str]:
    """(note, inherited state, the exercise to fix first): what the report of `exercise_id`
    says first, and whether its checks are skipped (the state it inherits: hangs or
    crashes) or not ("")."""
    if not broken:
        return "", "", ""
    blocking = [(dep, how) for dep, how in broken if how in (HANGS, CRASHES)]
    shown = blocking or broken
    named = ", ".join(f"{dep} ({course.BY_ID[dep].title})" for dep, _ in shown)
    first = shown[0][0]
    if blocking:
        how = blocking[0][1]
        return (f"Not run: {exercise_id} builds on {named}, which {how}: fix {first} first "
                "(running these checks would only repeat that)."), how, first
    return (f"{exercise_id} builds on {named}, which fails: fix {first} first; failures "
            "here may come from it."), "", first
