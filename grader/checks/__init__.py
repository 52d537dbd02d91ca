"""Every grading check of the course, registered by exercise id.

Layout: one package per course module, named as its package in `reference/` and
`exercises/`, with one file per exercise named by its id: the checks of 3.4 are in
`transformer/ex3_4_feed_forward.py`, in id order.  Helpers that several exercises of a module
use are in the package's `common.py`; the instructor-only recipe of the module's committed
expected values is its `fixtures.py` (see `grader.fixtures`).

A check is a plain function `check(impl)`: `impl` is the implementation under test — the
sandboxed student module when grading from the command line, or a notebook's namespace
under nbgrader.  It raises `expect.CheckFailed` with a teaching message when the answer is
wrong.  Checks never import `reference`: expected values come from math (finite
differences, invariants) or from committed fixtures (`grader/data/`).
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass

from ..sandbox.remote import protect

DEFAULT_TIMEOUT = 10.0  # seconds for one check, student code included


@dataclass(frozen=True)
class Check:
    exercise_id: str
    name: str
    description: str
    fn: Callable
    weight: int = 1
    hidden: bool = False  # shown to students only after the deadline (nbgrader / Gradescope)
    timeout: float = DEFAULT_TIMEOUT

    @property
    def test_id(self) -> str:
        return f"{self.exercise_id}::{self.name}"


REGISTRY: list[Check] = []


def check(exercise_id: str, weight: int = 1, hidden: bool = False,
          timeout: float = DEFAULT_TIMEOUT):
    """Register `fn(impl)` as a check of `exercise_id`; its docstring's first line names it."""

    def register(fn: Callable) -> Callable:
        description = (fn.__doc__ or fn.__name__).strip().splitlines()[0]
        REGISTRY.append(Check(exercise_id, fn.__name__, description, fn, weight, hidden, timeout))
        return fn

    return register


# One package of checks per course module, its exercise files imported in id order for their
# registrations.  A notebook's helper package ships its own module's only (an exercise
# without checks is then an error, never full marks).
CHECK_MODULES = ("self_attention", "positional_encoding", "transformer", "llm", "modern")
EXERCISE_FILE = re.compile(r"ex(\d+)_(\d+)_\w+")  # ex3_4_feed_forward: the checks of 3.4


def exercise_files(package: str) -> list[str]:
    """The exercise files of a package of checks, in id order: ["ex3_1_linear", ...]."""
    path = importlib.import_module(f"{__name__}.{package}").__path__
    names = [m.name for m in pkgutil.iter_modules(path) if EXERCISE_FILE.fullmatch(m.name)]
    return sorted(names, key=lambda n: tuple(map(int, EXERCISE_FILE.fullmatch(n).groups())))


for _package in CHECK_MODULES:
    if importlib.util.find_spec(f"{__name__}.{_package}") is not None:
        for _name in exercise_files(_package):
            importlib.import_module(f"{__name__}.{_package}.{_name}")

# A check may hand student code a module-level constant (a list of examples, a config dict):
# an in-place edit made by that code must fail the check, not change what later checks see.
protect(vars(module)[name] for key, module in list(sys.modules.items())
        if key.startswith(f"{__name__}.") and module is not None for name in vars(module)
        if not name.startswith("__"))


def checks_for(exercise_id: str) -> list[Check]:
    return [c for c in REGISTRY if c.exercise_id == exercise_id]
