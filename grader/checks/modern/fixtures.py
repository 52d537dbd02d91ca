"""The instructor-only recipe of Module 5's fixtures (`python -m grader.fixtures`).

Never shipped to students; `build_fixtures(impl, rng)` runs the reference through the sandbox
and returns every input with the reference's outputs, each key prefixed by the id of the
exercise that reads it (`exercise_of`).  Each exercise draws from its own stream, so a change
to one exercise's fixtures leaves the others' as they were.
"""

from __future__ import annotations

import numpy as np

from ... import fixtures

EXERCISE_OF = {"llama": "5.1", "lora": "5.2", "moe": "5.3"}


def exercise_of(name: str) -> str:
    """The exercise whose checks read fixture `name`: "llama.logits" -> "5.1"."""
    return EXERCISE_OF[name.split(".")[0]]


FIXTURE_SEED = 20261206  # the committed fixtures; `make gradescope` draws its own


def build_fixtures(impl, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """5.1's Llama runs, 5.2's LoRA cases, 5.3's routing cases: one stream each."""
    llama_rng, lora_rng, moe_rng = rng.spawn(3)
    arrays = {**_llama_fixtures(impl, llama_rng), **_lora_fixtures(impl, lora_rng),
              **_moe_fixtures(impl, moe_rng)}
    return fixtures.with_ids(arrays, exercise_of)


# --- 5.1 The Llama block and model -----------------------------------------------------------


def _llama_fixtures(impl, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Keys "llama.*"."""
    return {}


# --- 5.2 LoRA --------------------------------------------------------------------------------


def _lora_fixtures(impl, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Keys "lora.*": one adapted layer's inputs, its sizes drawn too (the checks compute the
    expected values from the definition, in float64).  Distinct sizes (B=2, T=3, in 7-9,
    out 5-6, r 2-4), so that a transposed A or B fails on shape; B is random (not the zero of
    an init), so the update shows; the scale s = alpha / r lies in (r + 0.5, r + 2.5), so
    that s, alpha = s * r, s**2, alpha / sqrt(r) and 1 all differ (s**2 = alpha iff s = r)."""
    n_in, n_out, r = int(rng.integers(7, 10)), int(rng.integers(5, 7)), int(rng.integers(2, 5))
    f = {"lora.x": rng.standard_normal((2, 3, n_in)),
         "lora.W": rng.standard_normal((n_in, n_out)),
         "lora.b": rng.standard_normal(n_out),
         "lora.A": rng.standard_normal((n_in, r)),
         "lora.B": rng.standard_normal((r, n_out)),
         "lora.alpha": np.array(round(r * float(rng.uniform(r + 0.5, r + 2.5)), 2)),
         "lora.dout": rng.standard_normal((2, 3, n_out))}
    return f


# --- 5.3 Mixture of experts ------------------------------------------------------------------


def _moe_fixtures(impl, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Keys "moe.*": none. 5.3's checks compute every expected value from their own float64
    formulas, hand-worked cases and finite differences (see ex5_3_moe.py)."""
    return {}
