"""One exercise's card: the places that make it up (filled in by `find.lookup`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import course

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Place:
    """A file of the repository (`path` relative to its root), a line in it, what is there."""

    path: str
    line: int | None = None
    what: str = ""  # a function's name, the names a demo uses, "17 mutants", ...
    hidden: bool = False  # a check students see only after the deadline


@dataclass(frozen=True)
class Card:
    exercise: course.Exercise
    stub: list[Place]  # exercises/...: one place per function the student writes
    reference: list[Place]  # reference/...: the same functions, solved
    lecture: str  # the section that teaches it, e.g. lectures/01_self_attention/theory.md#3-masks
    checks: list[Place]  # every registered check, in grading order
    fixtures: dict[str, list[str]] = field(default_factory=dict)  # data file -> its keys
    mutations: list[Place] = field(default_factory=list)  # test files of plausible bugs
    demos: list[Place] = field(default_factory=list)  # scripts that call the exercise
    hints: Place | None = None  # its section of grader/hints/<module>.md (`make hint`)


class UnknownExercise(LookupError):
    """Neither an exercise id nor a name an exercise asks for."""


def resolve(query: str) -> course.Exercise:
    """The exercise with id `query` ("4.5", or "4_5" as file names spell it), or the one that
    asks for the name `query` (any case: "kvcache" is KVCache's)."""
    query = query.strip()
    if query.replace("_", ".") in course.BY_ID:
        return course.BY_ID[query.replace("_", ".")]
    for ex in course.EXERCISES:
        if query.lower() in {name.lower() for name in ex.names + ex.also}:
            return ex
    known = " ".join(ex.id for ex in course.EXERCISES)
    raise UnknownExercise(f"unknown exercise {query!r}: neither an exercise id nor a "
                          f"function an exercise asks for (such as softmax). Valid ids: "
                          f"{known}")
