"""Checks also run in-process on plain functions (the nbgrader path)."""

from __future__ import annotations

import importlib

import pytest

from grader import course
from grader.expect import CheckFailed
from grader.local import check_exercise


def names_of(tree: str, package: str) -> dict:
    """Every name of a package's files, as a notebook of that module defines them."""
    names = {}
    for ex in course.EXERCISES:
        if ex.module.package == package:
            module = importlib.import_module(f"{tree}.{package}.{ex.file.removesuffix('.py')}")
            names.update(vars(module))
    return names


@pytest.mark.parametrize("ex", course.EXERCISES, ids=lambda ex: ex.id)
def test_reference_functions_pass_in_process(ex):
    # A module's notebook also defines the earlier modules' names (4.5 uses 3.11's GPT).
    names = {}
    for module in course.MODULES[: course.MODULES.index(ex.module) + 1]:
        names.update(names_of("reference", module.package))
    assert check_exercise(ex.id, names) == ex.points


def test_stubs_raise_not_implemented_in_process():
    stubs = names_of("exercises", "self_attention")
    with pytest.raises(NotImplementedError, match="Exercise 1.4"):
        check_exercise("1.4", stubs)


def test_a_wrong_function_fails_with_every_message():
    names = names_of("reference", "self_attention")
    names["softmax"] = lambda x, axis=-1: x  # plausible nonsense
    with pytest.raises(CheckFailed, match=r"Exercise 1\.1 \(Stable softmax\):\n- "):
        check_exercise("1.1", names)
