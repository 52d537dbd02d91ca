"""The instructor-only recipe of Module 1's fixtures (`python -m grader.fixtures`).

Never shipped to students; `build_fixtures(impl, rng)` runs the reference through the sandbox
and returns every input with the reference's outputs, each key prefixed by the id of the
exercise that reads it (`exercise_of`).
"""

from __future__ import annotations

import numpy as np

from ... import fixtures
from .common import AXES, PARAM_NAMES

ATTENTION_CASES = ("plain", "causal", "padding", "heads")


EXERCISE_OF = {"softmax": "1.1", "softmax_backward": "1.2", "masks": "1.3",
               "attention": "1.4", "heads": "1.6", "mha": "1.7"}
# What only a backward reads belongs to that backward's exercise.
BACKWARD_OF = {"1.4": "1.5", "1.7": "1.8"}
GRADIENTS = {"dout", "dq", "dk", "dv", "dx", "dx_q", "dx_kv", "grads"}


def exercise_of(name: str) -> str:
    """The exercise whose checks read fixture `name`: "mha.cross.dx_q" -> "1.8"."""
    group, *parts = name.split(".")
    exercise = EXERCISE_OF[group]
    if exercise in BACKWARD_OF and GRADIENTS & set(parts):
        return BACKWARD_OF[exercise]
    return exercise


FIXTURE_SEED = 20261126  # the committed fixtures; `make gradescope` draws its own


def _large_logits(rng: np.random.Generator) -> np.ndarray:
    """`softmax.big`: a row near +1000 (exp overflows unless the max is subtracted) with a
    -inf and a far negative entry, an all -inf row, and a row of +-1e4 with a -inf; the values,
    the order of the columns in each row and the order of the rows are drawn."""
    top = rng.uniform(800.0, 1200.0)
    near = np.array([top, top - rng.uniform(0.2, 3.0), -rng.uniform(800.0, 1200.0), -np.inf,
                     top - rng.uniform(0.2, 3.0)])
    huge = np.array([-1e4 * rng.uniform(0.5, 2.0), 1e4 * rng.uniform(0.5, 2.0),
                     3.0 * rng.standard_normal(), 5.0 + 3.0 * rng.standard_normal(), -np.inf])
    rows = [rng.permutation(near), np.full(5, -np.inf), rng.permutation(huge)]
    return np.stack([rows[i] for i in rng.permutation(len(rows))])


def _causal_sizes(rng: np.random.Generator) -> tuple[int, int]:
    """(T_q, T_k) of a causal attention case: T_q < T_k, both distinct from B=2, D=4, D_v=6."""
    t_q = int(rng.choice([3, 5, 7]))
    return t_q, int(rng.choice([n for n in range(t_q + 1, 12) if n not in (4, 6)]))


def _padded_lengths(rng: np.random.Generator, t: int) -> np.ndarray:
    """Lengths of a batch of 2, each in 1..t, at least one below t (padding)."""
    lengths = rng.integers(1, t + 1, size=2)
    while np.all(lengths == t):
        lengths = rng.integers(1, t + 1, size=2)
    return lengths


def build_fixtures(impl, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return fixtures.with_ids(_build(impl, rng), exercise_of)


def _build(impl, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every input drawn from `rng`: values, the large and -inf logits, mask sizes, padding
    lengths, causal shapes, the fully masked row, head counts."""
    f: dict[str, np.ndarray] = {}

    x = rng.standard_normal((2, 3, 5)) * 3
    f["softmax.x"] = x
    for axis in AXES:
        f[f"softmax.out_axis{axis}"] = impl.softmax(x, axis=axis)
    big = _large_logits(rng)
    f["softmax.big"], f["softmax.big_out"] = big, impl.softmax(big)
    dout = rng.standard_normal(x.shape)
    f["softmax_backward.dout"] = dout
    for axis in AXES:
        f[f"softmax_backward.dx_axis{axis}"] = impl.softmax_backward(
            dout, f[f"softmax.out_axis{axis}"], axis=axis)

    square = int(rng.integers(2, 11))
    fewer = int(rng.integers(2, 7))
    more = int(rng.integers(2, 7))
    sizes = ((square, square), (fewer, fewer + int(rng.integers(1, 5))),
             (1, int(rng.integers(2, 10))), (more + int(rng.integers(1, 4)), more))
    for j, (t_q, t_k) in enumerate(sizes):  # the order of CAUSAL_CASES
        f[f"masks.causal.{j}.t_q"], f[f"masks.causal.{j}.t_k"] = np.array(t_q), np.array(t_k)
        f[f"masks.causal.{j}.out"] = (impl.causal_mask(t_q) if j == 0 else
                                      impl.causal_mask(t_q, t_k))
    t = int(rng.integers(4, 11))  # lengths: an empty sequence, a full one, two in between
    f["masks.padding_t"] = np.array(t)
    f["masks.lengths"] = rng.permutation(np.array([0, t, int(rng.integers(1, t)),
                                                   int(rng.integers(1, t))]))
    f["masks.padding"] = impl.padding_mask(f["masks.lengths"], t)

    q, k, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), \
        rng.standard_normal((2, 5, 6))
    t_q, t_k = _causal_sizes(rng)
    cq, ck, cv = (rng.standard_normal((2, t_q, 4)), rng.standard_normal((2, t_k, 4)),
                  rng.standard_normal((2, t_k, 6)))
    fully = np.broadcast_to(impl.causal_mask(t_q, t_k), (2, t_q, t_k)).copy()
    fully[int(rng.integers(2)), int(rng.integers(t_q))] = False
    h_q, h_k = _causal_sizes(rng)
    cases = {
        "plain": (q, k, v, None),
        "causal": (cq, ck, cv, impl.causal_mask(t_q, t_k)),
        "padding": (q, k, v, impl.padding_mask(_padded_lengths(rng, 5), 5)[:, None, :]),
        "fully_masked": (cq, ck, cv, fully),
        "heads": (rng.standard_normal((2, 2, h_q, 4)), rng.standard_normal((2, 2, h_k, 4)),
                  rng.standard_normal((2, 2, h_k, 6)), impl.causal_mask(h_q, h_k)),
        "large": (30 * q, 30 * k, v, None),
    }
    for name, (cq, ck, cv, mask) in cases.items():
        out, cache = impl.scaled_dot_product_attention(cq, ck, cv, mask=mask)
        d_out = rng.standard_normal(out.shape)
        dq, dk, dv = impl.scaled_dot_product_attention_backward(d_out, cache)
        arrays = {"q": cq, "k": ck, "v": cv, "out": out, "weights": cache["weights"],
                  "dout": d_out, "dq": dq, "dk": dk, "dv": dv}
        if mask is not None:
            arrays["mask"] = mask
        f.update({f"attention.{name}.{key}": val for key, val in arrays.items()})

    hx = rng.standard_normal((2, 5, 12))
    f["heads.x"], f["heads.split"] = hx, impl.split_heads(hx, 3)

    c = 12
    t_self = int(rng.integers(3, 10))
    for name, t_q, t_k, self_attn in (("cross", 3, 5, False), ("padded", 3, 5, False),
                                      ("causal_self", t_self, t_self, True)):
        n_heads = int(rng.choice([2, 3, 4, 6]))  # divisors of C = 12
        params = {p: rng.standard_normal((c, c) if p.startswith("W") else (c,)) * 0.4
                  for p in PARAM_NAMES}
        x_q = rng.standard_normal((2, t_q, c))
        x_kv = x_q if self_attn else rng.standard_normal((2, t_k, c))
        mask = {"cross": None,
                "padded": impl.padding_mask(_padded_lengths(rng, t_k), t_k)[:, None, None, :],
                "causal_self": impl.causal_mask(t_q)}[name]
        out, cache = impl.multi_head_attention(x_q, x_kv, params, n_heads, mask=mask)
        d_out = rng.standard_normal(out.shape)
        dx_q, dx_kv, dparams = impl.multi_head_attention_backward(d_out, cache)
        arrays = {"x_q": x_q, "out": out, "weights": cache["weights"], "dout": d_out,
                  "dx_q": dx_q, "dx_kv": dx_kv, "n_heads": np.array(n_heads)}
        if self_attn:  # no x_kv stored: the checks pass x_q as x_kv
            arrays["dx"] = dx_q + dx_kv
        else:
            arrays["x_kv"] = x_kv
        if mask is not None:
            arrays["mask"] = mask
        arrays.update({f"params.{p}": params[p] for p in PARAM_NAMES})
        arrays.update({f"grads.{p}": dparams[p] for p in PARAM_NAMES})
        f.update({f"mha.{name}.{key}": val for key, val in arrays.items()})
    return f
