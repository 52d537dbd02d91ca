"""Every grading check of the course, registered by exercise id.

A check is a plain function `check(impl)`: `impl` is the implementation under test — the
sandboxed student module when grading from the command line, or a notebook's namespace
under nbgrader.  It raises `expect.CheckFailed` with a teaching message when the answer is
wrong.  Checks never import `reference`: expected values come from math (finite
differences, invariants) or from committed fixtures (`grader/data/`).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

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


# One module of checks per course module, imported for their registrations.  A notebook's
# helper package ships its own module's only (an exercise without checks is then an error,
# never full marks).
CHECK_MODULES = ("self_attention", "positional_encoding", "transformer", "llm",
                 "llm_pretraining", "llm_sampling", "llm_kv_cache", "llm_gqa",
                 "llm_quantization", "llm_scaling", "llm_sft", "llm_reward", "llm_ppo",
                 "llm_dpo", "llm_prompting")
for _name in CHECK_MODULES:
    if importlib.util.find_spec(f"{__name__}.{_name}") is not None:
        importlib.import_module(f"{__name__}.{_name}")


def checks_for(exercise_id: str) -> list[Check]:
    return [c for c in REGISTRY if c.exercise_id == exercise_id]
