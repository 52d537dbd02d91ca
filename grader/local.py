"""Run checks in this process, on functions you hand over (nbgrader test cells, notebooks).

`python -m grader` isolates student code in a sandbox; a notebook already *is* the student's
process, so here the checks receive the notebook's own functions:

    from grader.local import check_exercise
    check_exercise("1.4", globals())
"""

from __future__ import annotations

import types
from collections.abc import Mapping

from . import checks, course
from .expect import CheckFailed


class Namespace:
    """Module-like view of a dict such as `globals()`."""

    def __init__(self, names: Mapping):
        self._names = names

    def __getattr__(self, name: str):
        try:
            return self._names[name]
        except KeyError:
            raise AttributeError(f"{name} is not defined here — run the cell that defines "
                                 "it first") from None


def check_exercise(exercise_id: str, namespace, hidden: bool = True) -> float:
    """Run the checks of one exercise; raise `CheckFailed` listing every failure.

    `namespace` is a module or a mapping of names (e.g. `globals()`).  `hidden=False` skips
    the checks an instructor keeps hidden.  Returns the exercise's points when all pass.
    """
    exercise = course.BY_ID[exercise_id]
    impl = Namespace(namespace) if isinstance(namespace, Mapping) else namespace
    if not isinstance(impl, (Namespace, types.ModuleType)):
        impl = Namespace(vars(namespace))
    failures = []
    for chk in checks.checks_for(exercise_id):
        if chk.hidden and not hidden:
            continue
        try:
            chk.fn(impl)
        except CheckFailed as exc:
            failures.append(f"- {chk.description}: {exc}")
    if failures:
        raise CheckFailed(f"Exercise {exercise_id} ({exercise.title}):\n" + "\n".join(failures))
    return float(exercise.points)
