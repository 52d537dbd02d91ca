"""Checks of Module 2 — positional encoding (exercises 2.1–2.6).

Small distinct dimensions (B=2, H=3, T=5, head_dim=8); RoPE inputs are scaled up (std 3) so
that confusing the two layouts moves outputs by O(1), not by a tolerance-sized amount.
Expected values are fixtures from the reference (`build_fixtures`), finite differences
through the student's own forward, and the math's invariants (norm preservation, RoPE's
relative property, the sinusoid's linear shift).  No solution code lives here.  Every
input of a fixture (sizes, bases, positions, ids, head counts, the scaling factor) is drawn
from the fixture seed and read back from the fixture, so the checks hold for any seed.
"""

from __future__ import annotations

import numpy as np

from .. import expect, fixtures
from ..gradcheck import check_gradient_of, numerical_gradient_of
from . import check

HEAD_DIM = 8
N_SLOPE_CASES = (4, 4)  # alibi_slopes: head counts drawn, (powers of two, other counts)
N_BIAS_CASES = 3  # alibi_bias: t_q = t_k, t_q < t_k - 1, t_q = 1 < t_k - 1


def fx() -> dict[str, np.ndarray]:
    return fixtures.load("positional_encoding")


def get(name: str) -> np.ndarray:
    return fx()[name].copy()


# ---------------------------------------------------------------------------------------
# 2.1 sinusoidal
# ---------------------------------------------------------------------------------------
# Drawn by `build_fixtures`: an even d, an odd d, a small base (each with its own t and base),
# and a longer table with the default base (the linear shift, float32).
SINUSOID_CASES = ("even", "odd", "small_base")


def _sinusoid(name: str) -> tuple[int, int, float | None]:
    """(t, d, base) of a fixture case; base None for the default-base case."""
    prefix = f"sinusoidal.{name}."
    base = fx().get(prefix + "base")
    return (int(fx()[prefix + "t"]), int(fx()[prefix + "d"]),
            None if base is None else float(base))


@check("2.1", weight=2)
def sinusoidal_values(impl):
    """sin on even columns, cos on odd ones, frequencies base^(-2i/d), any d"""
    for name in SINUSOID_CASES:
        t, d, base = _sinusoid(name)
        label = f"sinusoidal_positional_encoding({t}, {d}, base={base:g})"
        odd_hint = (f" With odd d={d} there are {d // 2 + 1} sin columns but only {d // 2} "
                    "cos columns: the last column is sin(p w_{(d-1)/2})." if d % 2 else "")
        pe = _call_naming_the_case(impl.sinusoidal_positional_encoding, label, odd_hint,
                                   t, d, base=base)
        expected = fx()[f"sinusoidal.{name}.out"]
        expect.array(pe, label, shape=(t, d), dtype=np.float64)
        if np.allclose(pe, expected, **expect.F64):
            continue
        pairs = d // 2 * 2
        swapped = expected.copy()
        swapped[:, 0:pairs:2], swapped[:, 1:pairs:2] = expected[:, 1:pairs:2], \
            expected[:, 0:pairs:2]
        if np.allclose(pe[:, :pairs], swapped[:, :pairs], **expect.F64):
            expect.fail(f"{label}: sin and cos are swapped. Column 2i holds sin(p w_i) and "
                        "column 2i+1 holds cos(p w_i).")
        if np.allclose(pe[:, :2], expected[:, :2], **expect.F64):
            expect.fail(f"{label}: the first pair is right but later ones are not: check the "
                        "frequency w_i = base^(-2i/d), where i counts pairs (columns 2i and "
                        "2i+1 share one frequency).")
        expect.close(pe, expected, label, hint=odd_hint.strip() or
                     "Row p is position p, starting at 0; columns alternate sin, cos.")


def _call_naming_the_case(fn, label: str, hint: str, *args, **kwargs):
    """Call the student's function; if it raises, say on which input (and why, if we know)."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 — re-raised unless it is the student's own error
        name = getattr(exc, "type_name", type(exc).__name__)
        if name == "NotImplementedError" or not hasattr(exc, "type_name"):
            raise
        expect.fail(f"{label} raised {name}: {getattr(exc, 'message', exc)}.{hint}")


@check("2.1", hidden=True)
def sinusoidal_linear_shift(impl):
    """PE[p + k] is a fixed rotation of PE[p], the same for every p"""
    t, d, _ = _sinusoid("default")
    k = 3
    pe = impl.sinusoidal_positional_encoding(t, d)
    expect.require_correct(pe, fx()["sinusoidal.default.out"],
                           "sinusoidal_positional_encoding", "2.1")
    m, *_ = np.linalg.lstsq(pe[:-k], pe[k:], rcond=None)  # PE[p] @ m = PE[p + k]
    residual = np.abs(pe[:-k] @ m - pe[k:]).max()
    if residual > 1e-8 or not np.allclose(m @ m.T, np.eye(d), atol=1e-6):
        expect.fail(f"PE[p + {k}] should equal PE[p] times a fixed rotation matrix; the best "
                    f"linear fit leaves an error of {residual:.3g}.")


@check("2.1")
def sinusoidal_dtype_and_edges(impl):
    """dtype argument, d = 1 and t = 0 work"""
    t, d, _ = _sinusoid("default")
    pe32 = impl.sinusoidal_positional_encoding(t, d, dtype=np.float32)
    expect.array(pe32, f"sinusoidal_positional_encoding({t}, {d}, dtype=float32)",
                 shape=(t, d), dtype=np.float32)
    expect.close(pe32, fx()["sinusoidal.default.out"], "float32 encoding", **expect.F32)
    one = impl.sinusoidal_positional_encoding(3, 1)
    expect.array(one, "sinusoidal_positional_encoding(3, 1)", shape=(3, 1))
    expect.close(one, np.sin(np.arange(3.0))[:, None], "sinusoidal_positional_encoding(3, 1)",
                 hint="With d = 1 there is only the sin column, at frequency 1.")
    empty = impl.sinusoidal_positional_encoding(0, 4)
    expect.array(empty, "sinusoidal_positional_encoding(0, 4)", shape=(0, 4))


# ---------------------------------------------------------------------------------------
# 2.2 learned embedding
# ---------------------------------------------------------------------------------------
@check("2.2", weight=2)
def embedding_forward(impl):
    """a gather of table rows, any id shape, table dtype kept, inputs untouched"""
    ids, table = get("embedding.ids"), get("embedding.table")
    out, _ = expect.pair(expect.call_pure(impl.embedding, "embedding", ids, table), "embedding")
    expect.array(out, "embedding(ids, table)", shape=ids.shape + table.shape[1:],
                 dtype=np.float64)
    expect.close(out, fx()["embedding.out"], "embedding(ids, table)",
                 hint="Row (b, t) of the output is table[ids[b, t]].")
    out32, _ = expect.pair(impl.embedding(ids.astype(np.int32), table.astype(np.float32)),
                           "embedding")
    expect.array(out32, "embedding of a float32 table", shape=out.shape, dtype=np.float32)


@check("2.2", weight=2)
def embedding_backward_scatter_add(impl):
    """the gradient scatter-adds rows, accumulating repeated ids"""
    ids, table, dout = get("embedding.ids"), get("embedding.table"), get("embedding.dout")
    _, cache = expect.pair(impl.embedding(ids, table), "embedding")
    dtable = impl.embedding_backward(dout, cache)
    expect.array(dtable, "embedding_backward", shape=table.shape, dtype=np.float64)
    expected = fx()["embedding.dtable"]
    if not np.allclose(dtable, expected, **expect.F64):
        last_write = np.zeros_like(table)
        last_write[ids.reshape(-1)] = dout.reshape(-1, table.shape[1])
        if np.allclose(dtable, last_write, **expect.F64):
            expect.fail("embedding_backward keeps only one gradient per id: `dtable[ids] = "
                        "dout` overwrites repeated ids. They must accumulate (np.add.at).")
    expect.close(dtable, expected, "embedding_backward",
                 hint="Rows of ids that never occur get a zero gradient.")
    _, cache32 = expect.pair(impl.embedding(ids, table.astype(np.float32)), "embedding")
    dtable32 = impl.embedding_backward(dout.astype(np.float32), cache32)
    expect.array(dtable32, "embedding_backward for a float32 table", shape=table.shape,
                 dtype=np.float32)


@check("2.2", hidden=True)
def embedding_backward_finite_differences(impl):
    """the backward agrees with finite differences of your own forward"""
    ids, table, dout = get("embedding.ids"), get("embedding.table"), get("embedding.dout")
    out, cache = expect.pair(impl.embedding(ids, table), "embedding")
    expect.require_correct(out, fx()["embedding.out"], "embedding", "2.2")
    dtable = impl.embedding_backward(dout, cache)

    check_gradient_of(dtable, impl.embedding, (ids, table), {}, table, dout,
                      "dtable (finite differences)")


# ---------------------------------------------------------------------------------------
# 2.3 RoPE, half-split layout
# ---------------------------------------------------------------------------------------
# Drawn by `build_fixtures`: consecutive positions from an offset (the default base; its
# tables rotate `rope.x`), sorted positions with gaps, and a small base; "long" (consecutive,
# default base) is for the relative property.
ROPE_TABLE_CASES = ("arange", "gaps", "base500")


def _tables(name: str):
    return get(f"rope.{name}.cos"), get(f"rope.{name}.sin")


def _rope_cos_sin(impl, name: str):
    """The student's tables for fixture case `name` (base passed only if the case has one),
    and a label naming the call."""
    positions, base = get(f"rope.{name}.positions"), fx().get(f"rope.{name}.base")
    if base is None:
        result = impl.rope_cos_sin(positions, HEAD_DIM)
        label = f"rope_cos_sin(positions={positions.tolist()}, {HEAD_DIM})"
    else:
        result = impl.rope_cos_sin(positions, HEAD_DIM, base=float(base))
        label = f"rope_cos_sin(positions={positions.tolist()}, {HEAD_DIM}, base={float(base):g})"
    if not (isinstance(result, tuple) and len(result) == 2):
        expect.fail("rope_cos_sin should return the pair (cos, sin).")
    return result, label


@check("2.3", weight=2)
def rope_tables(impl):
    """cos/sin tables of shape (T, head_dim) in the half-split layout"""
    for name in ROPE_TABLE_CASES:
        (cos, sin), label = _rope_cos_sin(impl, name)
        exp_cos, exp_sin = _tables(name)
        expect.array(cos, f"{label}: cos", shape=exp_cos.shape, dtype=np.float64)
        expect.array(sin, f"{label}: sin", shape=exp_sin.shape, dtype=np.float64)
        if np.allclose(cos, exp_sin, **expect.F64) and np.allclose(sin, exp_cos, **expect.F64):
            expect.fail(f"{label}: cos and sin are swapped.")
        half = HEAD_DIM // 2
        interleaved = np.repeat(exp_cos[:, :half], 2, axis=1)
        if np.allclose(cos, interleaved, **expect.F64):
            expect.fail(f"{label}: your table repeats each frequency twice in a row (the "
                        "interleaved layout). The half-split layout concatenates the "
                        "frequencies with themselves: emb = [freqs, freqs].")
        expect.close(cos, exp_cos, f"{label}: cos",
                     hint="inv_freq_i = base^(-2i/head_dim) for i < head_dim/2; the angle is "
                          "position * inv_freq_i.")
        expect.close(sin, exp_sin, f"{label}: sin")


@check("2.3", weight=2)
def apply_rope_values(impl):
    """x * cos + rotate_half(x) * sin on (B, H, T, head_dim) inputs"""
    x = get("rope.x")
    cos, sin = _tables("arange")
    out = expect.call_pure(impl.apply_rope, "apply_rope", x, cos, sin)
    expect.array(out, "apply_rope(x, cos, sin)", shape=x.shape, dtype=np.float64)
    expected = fx()["rope.out"]
    if np.allclose(out, fx()["rope.out_interleaved"], **expect.F64):
        expect.fail("apply_rope rotated adjacent pairs (2i, 2i+1) — the interleaved layout. "
                    "This function uses the half-split layout: dimension i pairs with i + "
                    "head_dim/2, via rotate_half(x) = [-x2, x1].")
    if np.allclose(out, x * cos + _wrong_rotate_half(x) * sin, **expect.F64):
        expect.fail("apply_rope rotates the wrong way (by minus the angle). The rotation is "
                    "out = x * cos + rotate_half(x) * sin, with rotate_half(x) = [-x2, x1].")
    expect.close(out, expected, "apply_rope(x, cos, sin)")


def _wrong_rotate_half(x):
    """The classic sign slip, [x2, -x1], to recognise it (a bug, not the solution)."""
    half = x.shape[-1] // 2
    return np.concatenate([x[..., half:], -x[..., :half]], axis=-1)


@check("2.3", weight=2)
def apply_rope_backward_is_inverse(impl):
    """the backward is the inverse rotation, and agrees with finite differences"""
    x, dout = get("rope.x"), get("rope.dout")
    cos, sin = _tables("arange")
    dx = impl.apply_rope_backward(dout, cos, sin)
    expect.array(dx, "apply_rope_backward(dout, cos, sin)", shape=x.shape, dtype=np.float64)
    if np.allclose(dx, fx()["rope.dout_rotated"], **expect.F64):
        expect.fail("apply_rope_backward applies the forward rotation again. The transpose "
                    "of a rotation is its inverse: rotate by -angle (use -sin). (If you edited "
                    "the given rotate_half, restore it: [-x2, x1].)")
    expect.close(dx, fx()["rope.dx"], "apply_rope_backward(dout, cos, sin)",
                 hint="dx = dout * cos - rotate_half(dout) * sin.")
    expect.require_correct(impl.apply_rope(x, cos, sin), fx()["rope.out"], "apply_rope", "2.3")
    small = x[:1, :1, :3].copy()
    cos3, sin3 = cos[:3], sin[:3]
    g = dout[:1, :1, :3]

    numeric = numerical_gradient_of(impl.apply_rope, (small, cos3, sin3), {}, small, g,
                                    output=None)
    expect.close(impl.apply_rope_backward(g, cos3, sin3), numeric,
                 "apply_rope_backward (finite differences)", **expect.GRAD)


@check("2.3", hidden=True)
def rope_relative_property(impl):
    """scores depend only on the relative position, and norms are preserved"""
    (cos, sin), _ = _rope_cos_sin(impl, "long")  # consecutive positions
    expect.require_correct(cos, fx()["rope.long.cos"], "rope_cos_sin", "2.3")
    n = cos.shape[0]
    rng = np.random.default_rng(3)
    q, k = rng.standard_normal((2, n, HEAD_DIM)) * 3
    rq = impl.apply_rope(q[None], cos, sin)[0]
    expect.array(rq, "apply_rope(q)", shape=q.shape)
    norms = np.linalg.norm(rq, axis=-1) / np.linalg.norm(q, axis=-1)
    if not np.allclose(norms, 1.0, atol=1e-9):
        expect.fail(f"apply_rope changed vector norms by a factor up to {np.abs(norms).max():.4g}: "
                    "a rotation preserves them.")
    # Same q and k at positions (m, n) and (m + s, n + s) give the same score.
    q1 = np.repeat(q[:1], n, axis=0)
    k1 = np.repeat(k[:1], n, axis=0)
    rq1, rk1 = impl.apply_rope(q1[None], cos, sin)[0], impl.apply_rope(k1[None], cos, sin)[0]
    scores = np.array([rq1[m] @ rk1[m + 4] for m in range(n - 4)])
    if np.abs(scores - scores[0]).max() > 1e-9:
        expect.fail("q·k after RoPE should depend only on the distance n - m; at distance 4 "
                    f"it varies by {np.abs(scores - scores[0]).max():.3g} with m.")


@check("2.3")
def apply_rope_float32(impl):
    """float32 inputs stay float32 (the tables are float64)"""
    x = get("rope.x").astype(np.float32)
    cos, sin = _tables("arange")
    out = impl.apply_rope(x, cos, sin)
    expect.array(out, "apply_rope(float32 x)", shape=x.shape, dtype=np.float32)
    expect.close(out, fx()["rope.out"], "apply_rope(float32 x)", **expect.F32)
    dx = impl.apply_rope_backward(get("rope.dout").astype(np.float32), cos, sin)
    expect.array(dx, "apply_rope_backward(float32 dout)", shape=x.shape, dtype=np.float32)


# ---------------------------------------------------------------------------------------
# 2.4 RoPE, interleaved layout
# ---------------------------------------------------------------------------------------
@check("2.4", weight=2)
def interleaved_values(impl):
    """adjacent pairs (2i, 2i+1) rotate by the angles of the table's first half"""
    x = get("rope.x")
    cos, sin = _tables("arange")
    out = expect.call_pure(impl.apply_rope_interleaved, "apply_rope_interleaved", x, cos, sin)
    expect.array(out, "apply_rope_interleaved(x, cos, sin)", shape=x.shape, dtype=np.float64)
    if np.allclose(out, fx()["rope.out"], **expect.F64):
        expect.fail("apply_rope_interleaved gives the half-split result: its pairs are "
                    "adjacent dimensions (2i, 2i+1), not (i, i + head_dim/2).")
    expect.close(out, fx()["rope.out_interleaved"], "apply_rope_interleaved(x, cos, sin)",
                 hint="Pair i uses angle cos[:, i], sin[:, i] from the first half of the "
                      "tables: out[2i] = x[2i] c - x[2i+1] s, out[2i+1] = x[2i] s + x[2i+1] c.")


@check("2.4", hidden=True)
def interleaved_properties(impl):
    """the interleaved rotation preserves norms and has the relative property"""
    x = get("rope.x")
    cos, sin = _tables("arange")
    out = impl.apply_rope_interleaved(x, cos, sin)
    expect.require_correct(out, fx()["rope.out_interleaved"], "apply_rope_interleaved", "2.4")
    norms = np.linalg.norm(out, axis=-1) / np.linalg.norm(x, axis=-1)
    if not np.allclose(norms, 1.0, atol=1e-9):
        expect.fail("apply_rope_interleaved changed vector norms: a rotation preserves them.")


@check("2.4")
def interleaved_float32(impl):
    """float32 inputs stay float32"""
    x = get("rope.x").astype(np.float32)
    cos, sin = _tables("arange")
    out = impl.apply_rope_interleaved(x, cos, sin)
    expect.array(out, "apply_rope_interleaved(float32 x)", shape=x.shape, dtype=np.float32)
    expect.close(out, fx()["rope.out_interleaved"], "apply_rope_interleaved(float32 x)",
                 **expect.F32)


# ---------------------------------------------------------------------------------------
# 2.5 ALiBi
# ---------------------------------------------------------------------------------------
@check("2.5", weight=3)
def alibi_slopes_values(impl):
    """Press et al.'s slopes, including non-power-of-two head counts"""
    for j in range(sum(N_SLOPE_CASES)):  # powers of two first, so that the hint below holds
        n = int(fx()[f"alibi.slopes.{j}.n"])
        slopes = impl.alibi_slopes(n)
        expected = fx()[f"alibi.slopes.{j}.out"]
        expect.array(slopes, f"alibi_slopes({n})", shape=(n,), dtype=np.float64)
        if np.allclose(slopes, expected, **expect.F64):
            continue
        power_of_two = n & (n - 1) == 0
        if not power_of_two:
            expect.fail(f"alibi_slopes({n}) is wrong but powers of two may be right: for a "
                        f"head count that is not a power of two, take the slopes of the "
                        f"closest smaller power of two m, then every other slope of 2m "
                        f"(slopes(2m)[0::2]) until you have {n}.\nExpected "
                        f"{np.round(expected, 5).tolist()}\ngot {np.round(slopes, 5).tolist()}")
        expect.close(slopes, expected, f"alibi_slopes({n})",
                     hint=f"For n = {n} heads the slopes are 2^(-8h/n) for h = 1..n.")


@check("2.5", weight=2)
def alibi_bias_values(impl):
    """bias -slope (i - j) per head, bottom-right aligned when t_q < t_k"""
    for j in range(N_BIAS_CASES):
        n, t_q, t_k = (int(fx()[f"alibi.bias.{j}.{key}"]) for key in ("n", "t_q", "t_k"))
        label = f"alibi_bias({n}, {t_q}, {t_k})"
        bias = impl.alibi_bias(n, t_q, t_k)
        expected = fx()[f"alibi.bias.{j}.out"]
        expect.array(bias, label, shape=(n, t_q, t_k), dtype=np.float64)
        if np.allclose(bias, expected, **expect.F64):
            continue
        slopes = fx()[f"alibi.bias.{j}.slopes"][:, None, None]
        diff = bias - expected
        if np.allclose(diff, diff[:, :1, :1], **expect.F64) and np.allclose(
                np.abs(diff[:, 0, 0]), slopes[:, 0, 0], **expect.F64):
            expect.fail(f"{label} is off by one position (by exactly one slope everywhere): "
                        "the distance is (query position) - (key position), and query i sits "
                        "at position i + t_k - t_q.")
        if t_q != t_k and np.allclose(bias, -slopes * (np.arange(t_q)[:, None] -
                                                       np.arange(t_k)[None, :]), **expect.F64):
            expect.fail(f"{label} is top-left aligned. Like causal masks, ALiBi is "
                        "bottom-right aligned: the last query is the newest token, at position "
                        "t_k - 1, so query i sits at i + t_k - t_q.")
        if np.allclose(bias, -expected, **expect.F64):
            expect.fail(f"{label} has the wrong sign: distant keys must get a negative bias.")
        expect.close(bias, expected, label)


# ---------------------------------------------------------------------------------------
# 2.6 RoPE scaling
# ---------------------------------------------------------------------------------------
def _scaling_inputs() -> tuple[np.ndarray, float, float]:
    """(positions, base, factor) of the scaling fixtures."""
    return (get("scaling.positions"), float(fx()["scaling.base"]),
            float(fx()["scaling.factor"]))


def _scaled(impl, kind: str, key: str = "type"):
    positions, base, factor = _scaling_inputs()
    result = impl.rope_scaling(positions, HEAD_DIM, base, {key: kind, "factor": factor})
    if not (isinstance(result, tuple) and len(result) == 2):
        expect.fail("rope_scaling should return the pair (positions, base).")
    return result


@check("2.6", weight=2)
def linear_interpolation(impl):
    """linear scaling divides positions by the factor (position interpolation)"""
    given, base0, factor = _scaling_inputs()
    positions, base = _scaled(impl, "linear")
    expect.close(np.asarray(positions, dtype=np.float64), fx()["scaling.linear.positions"],
                 f"positions after linear scaling by {factor:g}",
                 hint="Position interpolation squeezes positions: p -> p / factor.")
    if not np.isclose(float(base), base0):
        expect.fail(f"linear scaling must leave the base ({base0:g}) alone; got "
                    f"{float(base)!r}.")
    cos, sin = impl.rope_cos_sin(given, HEAD_DIM, base=base0,
                                 scaling={"type": "linear", "factor": factor})
    expect.close(cos, fx()["scaling.linear.cos"],
                 f"rope_cos_sin(..., scaling=linear x{factor:g}): cos")


@check("2.6", weight=2)
def ntk_base_scaling(impl):
    """NTK-aware scaling raises the base to base * s^(d / (d - 2))"""
    given, base0, factor = _scaling_inputs()
    positions, base = _scaled(impl, "ntk")
    expected = float(fx()["scaling.ntk.base"])
    if not np.isclose(float(base), expected, rtol=1e-12):
        hint = (" You used base * s: the exponent d / (d - 2) keeps the lowest frequency "
                "interpolated by exactly s." if np.isclose(float(base), base0 * factor) else "")
        expect.fail(f"NTK scaling by {factor:g} of base {base0:g} with head_dim {HEAD_DIM}: "
                    f"base should become {expected:.6g}, got {float(base):.6g}.{hint}")
    expect.close(np.asarray(positions, dtype=np.float64), given,
                 "positions after NTK scaling", hint="NTK scaling changes the base only.")
    cos, _ = impl.rope_cos_sin(given, HEAD_DIM, base=base0,
                               scaling={"rope_type": "ntk", "factor": factor})
    expect.close(cos, fx()["scaling.ntk.cos"], f"rope_cos_sin(..., scaling=ntk x{factor:g}): cos",
                 hint='"rope_type" (Hugging Face configs) is an alias of "type".')


# ---------------------------------------------------------------------------------------
# Fixtures (instructor-only: `make fixtures` runs this against the reference)
# ---------------------------------------------------------------------------------------
FIXTURE_SEED = 20261127  # the committed fixtures; `make gradescope` draws its own


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _distinct(rng: np.random.Generator, choices, k: int) -> list[int]:
    """k distinct values of `choices`, drawn (in the order drawn)."""
    return [int(n) for n in rng.choice(np.asarray(choices), size=k, replace=False)]


def build_fixtures(impl, rng: np.random.Generator) -> dict[str, np.ndarray]:
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
