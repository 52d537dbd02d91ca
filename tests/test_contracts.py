"""Every clause of every exercise's contract is enforced by a check (issue: contracts).

The clauses come from the stubs' signatures and docstrings (``tests/contracts/clauses.py``);
``tests/contracts/ex<M>_<N>.py`` (``ex3_2.py`` for 3.2) names, for each, the checks that
enforce it: a check of the same exercise by name, or another exercise's as
``"4.5::generate_top_k"``.  A clause that
cannot apply says why (``NA``); one whose check is still missing is a ``Gap`` (a strict
xfail, so that adding the check asks for the mark to go).
"""

from __future__ import annotations

import importlib
import importlib.util

import pytest
from contracts.clauses import NA, Gap, required

from grader import checks, course


def table(ex: course.Exercise) -> dict:
    """The exercise's table (empty while its file does not exist)."""
    name = f"contracts.ex{ex.id.replace('.', '_')}"
    if importlib.util.find_spec(name) is None:
        return {}
    return importlib.import_module(name).CONTRACT


def _check_exists(ex: course.Exercise, name: str) -> bool:
    exercise_id, _, check = name.rpartition("::")
    return any(c.name == check for c in checks.checks_for(exercise_id or ex.id))


def _params():
    for ex in course.EXERCISES:
        entries = table(ex)
        for clause in required(ex):
            entry = entries.get(clause)
            marks = ([pytest.mark.xfail(strict=True, reason=entry.why)]
                     if isinstance(entry, Gap) else [])
            yield pytest.param(ex, clause, entry, id=f"{ex.id}-{clause}", marks=marks)


@pytest.mark.parametrize("ex, clause, entry", list(_params()))
def test_every_clause_has_a_check(ex, clause, entry):
    assert entry is not None, f"{ex.id}: no row for the clause {clause!r}"
    if isinstance(entry, NA):
        assert entry.why, f"{ex.id}: {clause!r} is not applicable without a reason"
        return
    assert not isinstance(entry, Gap), f"{ex.id}: {clause!r}: {entry.why}"
    assert entry, f"{ex.id}: {clause!r} names no check"
    for name in entry:
        assert _check_exists(ex, name), f"{ex.id}: {clause!r} names an unknown check {name!r}"


@pytest.mark.parametrize("ex", course.EXERCISES, ids=lambda ex: ex.id)
def test_a_table_names_only_clauses_of_the_contract(ex):
    assert set(table(ex)) <= set(required(ex)), set(table(ex)) - set(required(ex))
