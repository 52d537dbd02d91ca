"""Fill in an exercise's card from the code as it is now."""

from __future__ import annotations

from pathlib import Path

from . import code, grading, mutations
from .card import REPO_ROOT, Card, resolve


def lookup(query: str, root: Path = REPO_ROOT) -> Card:
    """Everything about one exercise; raises `UnknownExercise` for an unknown id or name."""
    ex = resolve(query)
    return Card(
        exercise=ex,
        stub=code.definitions(root, "exercises", ex),
        reference=code.definitions(root, "reference", ex),
        lecture=ex.lecture_link,
        checks=grading.checks(ex, root),
        fixtures=grading.fixtures(ex, root),
        mutations=mutations.test_files(ex, root),
        demos=code.demos(ex, root),
    )
