"""`python -m grader --where 4.5`: everything the course holds about one exercise.

From an id (or a function name such as `softmax`) to the stub students edit, the reference
solution, the checks that grade it, their fixtures, the mutation tests that prove those
checks catch bugs, the lecture section that teaches it, and the demos that run it.  Every
answer is computed from the code as it is — the check registry, the files' syntax trees,
the fixture files — so it stays right when things move.
"""

from __future__ import annotations

from .card import Card, UnknownExercise, resolve
from .find import lookup

__all__ = ["Card", "UnknownExercise", "lookup", "resolve"]
