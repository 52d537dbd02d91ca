"""The instructor-only recipe of Module 2's fixtures (`python -m grader.fixtures`).

Never shipped to students; `build_fixtures(impl, rng)` runs the reference through the sandbox
and returns every input with the reference's outputs, each key prefixed by the id of the
exercise that reads it (`exercise_of`).
"""

from __future__ import annotations

import numpy as np

from ... import fixtures
from .common import HEAD_DIM
from .ex2_5_alibi import N_SLOPE_CASES

EXERCISE_OF = {"sinusoidal": "2.1", "embedding": "2.2", "rope": "2.3", "alibi": "2.5",
               "scaling": "2.6"}


def exercise_of(name: str) -> str:
    """The exercise whose checks read fixture `name`: "alibi.slopes.3" -> "2.5"."""
    return EXERCISE_OF[name.split(".")[0]]


FIXTURE_SEED = 20261127  # the committed fixtures; `make gradescope` draws its own


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _distinct(rng: np.random.Generator, choices, k: int) -> list[int]:
    """k distinct values of `choices`, drawn (in the order drawn)."""
    return [int(n) for n in rng.choice(np.asarray(choices), size=k, replace=False)]


def build_fixtures(impl, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return fixtures.with_ids(_build(impl, rng), exercise_of)


def _build(impl, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every input drawn from `rng`: sizes, bases, positions, ids, head counts, factors."""
    f: dict[str, np.ndarray] = {}
    sinusoids = {  # name: (t, d, base); base None = the default (not passed)
        "even": (int(rng.integers(5, 13)), int(rng.choice([4, 6, 8, 10])),
                 round(_log_uniform(rng, 1000.0, 100000.0), 1)),
        "odd": (int(rng.integers(4, 13)), int(rng.choice([3, 5, 7, 9])),
                round(_log_uniform(rng, 1000.0, 100000.0), 1)),
        "small_base": (int(rng.integers(5, 13)), int(rng.choice([4, 6, 8])),
                       round(float(rng.uniform(20.0, 500.0)), 1)),
        "default": (int(rng.integers(24, 65)), int(rng.choice([4, 6, 8])), None),  # lstsq: d <= 8
    }
    for name, (t, d, base) in sinusoids.items():
        f[f"sinusoidal.{name}.t"], f[f"sinusoidal.{name}.d"] = np.array(t), np.array(d)
        if base is None:
            f[f"sinusoidal.{name}.out"] = impl.sinusoidal_positional_encoding(t, d)
        else:
            f[f"sinusoidal.{name}.base"] = np.array(base)
            f[f"sinusoidal.{name}.out"] = impl.sinusoidal_positional_encoding(t, d, base=base)

    ids = rng.integers(0, 7, size=(2, 3))  # 6 ids of 7: some id never occurs
    while len(np.unique(ids)) == ids.size:  # and one repeats (scatter-add must accumulate)
        ids = rng.integers(0, 7, size=(2, 3))
    table = rng.standard_normal((7, 5))
    out, cache = impl.embedding(ids, table)
    dout = rng.standard_normal(out.shape)
    f.update({"embedding.ids": ids, "embedding.table": table, "embedding.out": out,
              "embedding.dout": dout, "embedding.dtable": impl.embedding_backward(dout, cache)})

    gaps = np.sort(rng.choice(np.arange(1, 64), size=5, replace=False))
    for name, positions, base in (
            ("arange", int(rng.integers(0, 50)) + np.arange(5), None),
            ("gaps", gaps, round(_log_uniform(rng, 2000.0, 50000.0), 1)),
            ("base500", int(rng.integers(0, 50)) + np.arange(5),
             round(float(rng.uniform(100.0, 1000.0)), 1)),
            ("long", int(rng.integers(0, 50)) + np.arange(int(rng.integers(24, 65))), None)):
        if base is None:
            cos, sin = impl.rope_cos_sin(positions, HEAD_DIM)
        else:
            cos, sin = impl.rope_cos_sin(positions, HEAD_DIM, base=base)
            f[f"rope.{name}.base"] = np.array(base)
        f.update({f"rope.{name}.positions": positions, f"rope.{name}.cos": cos,
                  f"rope.{name}.sin": sin})
    cos, sin = f["rope.arange.cos"], f["rope.arange.sin"]
    x = rng.standard_normal((2, 3, 5, HEAD_DIM)) * 3  # large: layouts must differ by O(1)
    d_out = rng.standard_normal(x.shape)
    f.update({"rope.x": x, "rope.out": impl.apply_rope(x, cos, sin),
              "rope.out_interleaved": impl.apply_rope_interleaved(x, cos, sin),
              "rope.dout": d_out, "rope.dx": impl.apply_rope_backward(d_out, cos, sin),
              "rope.dout_rotated": impl.apply_rope(d_out, cos, sin)})

    n_pow, n_other = N_SLOPE_CASES
    heads = (_distinct(rng, [2 ** e for e in range(9)], n_pow)
             + _distinct(rng, [n for n in range(3, 65) if n & (n - 1)], n_other))
    for j, n in enumerate(heads):  # powers of two first
        f[f"alibi.slopes.{j}.n"], f[f"alibi.slopes.{j}.out"] = np.array(n), impl.alibi_slopes(n)
    square = int(rng.integers(3, 10))
    t_q = int(rng.integers(2, 6))
    bias_sizes = ((square, square), (t_q, t_q + int(rng.integers(2, 7))),  # t_k - t_q >= 2:
                  (1, int(rng.integers(3, 11))))  # top-left is then no off-by-one
    for j, (t_q, t_k) in enumerate(bias_sizes):
        n = int(rng.integers(2, 25))
        f.update({f"alibi.bias.{j}.n": np.array(n), f"alibi.bias.{j}.t_q": np.array(t_q),
                  f"alibi.bias.{j}.t_k": np.array(t_k),
                  f"alibi.bias.{j}.out": impl.alibi_bias(n, t_q, t_k),
                  f"alibi.bias.{j}.slopes": impl.alibi_slopes(n)})

    positions = np.sort(rng.choice(np.arange(1, 100), size=6, replace=False))
    base = round(_log_uniform(rng, 2000.0, 50000.0), 1)
    factor = float(rng.choice([1.5, 2.0, 2.5, 3.0, 4.0, 6.0, 8.0]))
    f.update({"scaling.positions": positions, "scaling.base": np.array(base),
              "scaling.factor": np.array(factor)})
    for kind in ("linear", "ntk"):
        scaled_positions, new_base = impl.rope_scaling(positions, HEAD_DIM, base,
                                                       {"type": kind, "factor": factor})
        cos, _ = impl.rope_cos_sin(positions, HEAD_DIM, base=base,
                                   scaling={"type": kind, "factor": factor})
        f.update({f"scaling.{kind}.positions": np.asarray(scaled_positions, dtype=np.float64),
                  f"scaling.{kind}.base": np.array(float(new_base)),
                  f"scaling.{kind}.cos": cos})
    return f
