"""Fill in an exercise's card from the code as it is now."""

from __future__ import annotations

from pathlib import Path

from .. import hint
from . import code, grading, mutations
from .card import REPO_ROOT, Card, Place, resolve


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
        hints=_hints(ex, root),
    )


def _hints(ex, root: Path) -> Place | None:
    """Where `make hint` finds the exercise's hints, and how many levels there are."""
    path = hint.hints_file(ex.module)
    path = root / path.relative_to(REPO_ROOT)
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    heading = f"## {ex.id} "
    line = next((n for n, row in enumerate(text.splitlines(), 1) if row.startswith(heading)),
                None)
    levels = len(hint.parse(text, str(path)).get(ex.id, []))
    return Place(str(path.relative_to(root)), line, f"{levels} levels: make hint EX={ex.id}")
