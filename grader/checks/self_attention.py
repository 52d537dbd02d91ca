"""Checks of Module 1 — self-attention (exercises 1.1–1.9).

Dimensions are small and distinct (B=2, T_q=3, T_k=5, D=4, D_v=6, C=12; the causal cases
draw T_q in {3, 5, 7} < T_k in {5, 7, 8, 9, 10, 11}) so that a transposed or wrongly reduced
axis changes a shape or a value.  Expected values are fixtures generated from the reference
(`build_fixtures`), finite differences through the student's own forward, and invariants of
the math; no solution code lives here.  Every input of a fixture — values, mask sizes,
padding lengths, the fully masked row, head counts — is drawn from the fixture seed and read
back from the fixture, so the checks hold for any seed.
"""

from __future__ import annotations

import numpy as np

from .. import expect, fixtures
from ..gradcheck import check_gradient_of
from ..sandbox import instrumented_call
from . import check

AXES = (-1, 0, 1)
# The causal_mask cases: square (called with one argument), fewer queries than keys, one
# query, more queries than keys; their sizes are drawn by `build_fixtures`.
CAUSAL_CASES = ("square", "fewer_queries", "one_query", "more_queries")
ATTENTION_CASES = ("plain", "causal", "padding", "heads")
MHA_CASES = ("cross", "padded", "causal_self")


def fx() -> dict[str, np.ndarray]:
    return fixtures.load("self_attention")


def get(name: str) -> np.ndarray:
    return fx()[name].copy()


def _no_warnings(info, fn_name: str) -> None:
    """No numerical warning (0/0, overflow); a student's own prints and warnings are fine."""
    numeric = [w for w in info.warnings if w.startswith(("RuntimeWarning", "FloatingPoint"))]
    if numeric:
        expect.fail(f"{fn_name} raised a warning: {numeric[0]}. Fully masked rows and "
                    "-inf entries must be handled without 0/0 or exp overflow (use np.where, "
                    "or np.errstate around a step you then repair).")


# ---------------------------------------------------------------------------------------
# 1.1 softmax
# ---------------------------------------------------------------------------------------
@check("1.1", weight=2)
def softmax_values(impl):
    """softmax matches the definition along axis -1, 0 and 1"""
    x = get("softmax.x")
    for axis in AXES:
        out = expect.call_pure(impl.softmax, "softmax", x, axis=axis)
        expect.array(out, f"softmax(x, axis={axis})", shape=x.shape, dtype=np.float64)
        sums = out.sum(axis=axis)
        if not np.allclose(sums, 1.0, atol=1e-9):
            other = [a for a in AXES if a != axis and np.allclose(out.sum(axis=a), 1.0)]
            hint = f" They sum to 1 along axis {other[0]}: you normalised over the wrong axis." \
                if other else " Divide exp(x) by its sum along `axis` (keepdims=True)."
            expect.fail(f"softmax(x, axis={axis}) should sum to 1 along axis {axis}; sums range "
                        f"over [{sums.min():.4g}, {sums.max():.4g}].{hint}")
        expect.close(out, fx()[f"softmax.out_axis{axis}"], f"softmax(x, axis={axis})")


@check("1.1")
def softmax_stable_and_masked(impl):
    """softmax is stable for |x| ~ 1e4, gives 0 for -inf and zeros for an all -inf row"""
    big = get("softmax.big")
    out, info = instrumented_call(impl.softmax, big)
    expect.array(out, "softmax of large inputs", shape=big.shape, finite=False)
    if not np.all(np.isfinite(out)):
        bad = sorted({int(r) for r in np.argwhere(~np.isfinite(out))[:, 0]},
                     key=lambda r: bool(np.all(np.isneginf(big[r]))))  # overflow rows first
        row = bad[0]
        hint = ("An all -inf row must give zeros (no attendable position)." if
                np.all(np.isneginf(big[row])) else
                "exp(1000) overflows: subtract the maximum along the axis first "
                "(softmax(x) = softmax(x - max x)).")
        expect.fail(f"softmax gave non-finite values in row {row} for input {big[row]}. {hint}")
    _no_warnings(info, "softmax")
    expect.close(out, fx()["softmax.big_out"], "softmax of large / -inf inputs",
                 hint="-inf entries must give exactly 0 and an all -inf row all zeros.")


@check("1.1")
def softmax_invariants(impl):
    """softmax is shift invariant, keeps float32, and leaves its input alone"""
    x = get("softmax.x")
    shifted = expect.call_pure(impl.softmax, "softmax", x + 50.0)
    expect.close(shifted, fx()["softmax.out_axis-1"], "softmax(x + 50)",
                 hint="softmax(x + c) must equal softmax(x) for any constant c.")
    x32 = x.astype(np.float32)
    out32 = expect.call_pure(impl.softmax, "softmax", x32)
    expect.array(out32, "softmax(float32 x)", shape=x.shape, dtype=np.float32)
    expect.close(out32, fx()["softmax.out_axis-1"], "softmax(float32 x)", **expect.F32)


# ---------------------------------------------------------------------------------------
# 1.2 softmax backward
# ---------------------------------------------------------------------------------------
@check("1.2", weight=3)
def softmax_backward_values(impl):
    """softmax_backward equals the vector-Jacobian product along axis -1, 0 and 1"""
    dout = get("softmax_backward.dout")
    for axis in AXES:
        out = get(f"softmax.out_axis{axis}")
        dx = expect.call_pure(impl.softmax_backward, "softmax_backward", dout, out, axis=axis)
        expect.array(dx, f"softmax_backward(axis={axis})", shape=dout.shape, dtype=np.float64)
        leak = np.abs(dx.sum(axis=axis)).max()
        if leak > 1e-9:
            expect.fail(f"softmax_backward(axis={axis}): the gradient should sum to 0 along "
                        f"axis {axis} (softmax's outputs always sum to 1), but sums reach "
                        f"{leak:.3g}. Subtract <dout, out> taken along the same axis, with "
                        "keepdims=True: dx = out * (dout - sum(dout * out, axis)).")
        expect.close(dx, fx()[f"softmax_backward.dx_axis{axis}"],
                     f"softmax_backward(axis={axis})",
                     hint="dx = out * (dout - sum(dout * out, axis, keepdims=True)).")


@check("1.2")
def softmax_backward_properties(impl):
    """a constant upstream gradient gives zero, float32 stays float32"""
    out = get("softmax.out_axis-1")
    expect.require_correct(impl.softmax_backward(get("softmax_backward.dout"), out),
                     fx()["softmax_backward.dx_axis-1"], "softmax_backward", "1.2")
    dx = impl.softmax_backward(np.full(out.shape, 3.0), out)
    expect.array(dx, "softmax_backward(constant dout)", shape=out.shape)
    expect.close(dx, np.zeros_like(out), "softmax_backward(constant dout)",
                 hint="Adding a constant to every logit does not change softmax, so its "
                      "gradient along that direction must be 0.")
    dout = get("softmax_backward.dout")
    dx32 = impl.softmax_backward(dout.astype(np.float32), out.astype(np.float32))
    expect.array(dx32, "softmax_backward(float32)", shape=out.shape, dtype=np.float32)
    expect.close(dx32, fx()["softmax_backward.dx_axis-1"], "softmax_backward(float32)",
                 **expect.F32)


@check("1.2", weight=2, hidden=True)
def softmax_backward_no_jacobian(impl):
    """softmax_backward never builds the T×T Jacobian (memory stays linear)"""
    expect.require_correct(impl.softmax_backward(get("softmax_backward.dout"),
                                           get("softmax.out_axis-1")),
                     fx()["softmax_backward.dx_axis-1"], "softmax_backward", "1.2")
    rng = np.random.default_rng(12)
    logits = rng.standard_normal((8, 1024))
    out = np.exp(logits - logits.max(-1, keepdims=True))
    out /= out.sum(-1, keepdims=True)
    dout = rng.standard_normal(out.shape)
    dx, info = instrumented_call(impl.softmax_backward, dout, out)
    expect.array(dx, "softmax_backward on (8, 1024)", shape=out.shape)
    limit = 4 * 2**20  # the Jacobian of this input is 64 MiB; one row of it 8 MiB
    if info.peak_bytes > limit:
        expect.fail(f"softmax_backward allocated {info.peak_bytes / 2**20:.1f} MiB for a "
                    f"{out.nbytes / 2**10:.0f} KiB input (limit {limit / 2**20:.1f} MiB): it looks "
                    "like it builds the Jacobian diag(p) - p p^T. Use the vector-Jacobian "
                    "product dx = p * (dout - sum(dout * p)) instead.")
    leak = np.abs(dx.sum(-1)).max()
    if leak > 1e-9:
        expect.fail(f"softmax_backward on a (8, 1024) input: rows of dx should sum to 0, got "
                    f"up to {leak:.3g}.")


# ---------------------------------------------------------------------------------------
# 1.3 masks
# ---------------------------------------------------------------------------------------
@check("1.3", weight=2)
def causal_mask_alignment(impl):
    """causal_mask is boolean, lower-triangular, and bottom-right aligned when t_q != t_k"""
    for j in range(len(CAUSAL_CASES)):  # square (one argument), t_q < t_k, t_q = 1, t_q > t_k
        t_q, t_k = (int(fx()[f"masks.causal.{j}.{n}"]) for n in ("t_q", "t_k"))
        one_arg = j == 0
        label = f"causal_mask({t_q})" if one_arg else f"causal_mask({t_q}, {t_k})"
        mask = impl.causal_mask(t_q) if one_arg else impl.causal_mask(t_q, t_k)
        expected = fx()[f"masks.causal.{j}.out"]
        expect.array(mask, label, shape=expected.shape, dtype=bool)
        if np.array_equal(mask, expected):
            continue
        if np.array_equal(mask, ~expected):
            expect.fail(f"{label} is inverted: the course's masks say True = may attend.")
        if np.array_equal(mask, np.tri(*expected.shape, dtype=bool)):
            expect.fail(f"{label} is top-left aligned. With fewer queries than keys (decoding "
                        "with a KV cache) query i sits at position i + t_k - t_q, so it may "
                        f"attend to keys j <= i + t_k - t_q. Expected\n{expected.astype(int)}")
        expect.fail(f"{label} is\n{mask.astype(int)}\nexpected\n{expected.astype(int)}\n"
                    "(1 = may attend; keys at or before the query's position).")


@check("1.3")
def padding_mask_values(impl):
    """padding_mask marks the first `length` keys of each sequence"""
    lengths, t = fx()["masks.lengths"], int(fx()["masks.padding_t"])
    mask = impl.padding_mask(lengths.copy(), t)
    expected = fx()["masks.padding"]
    label = f"padding_mask({lengths.tolist()}, {t})"
    expect.array(mask, label, shape=expected.shape, dtype=bool)
    if not np.array_equal(mask, expected):
        expect.fail(f"{label} is\n{mask.astype(int)}\nexpected\n"
                    f"{expected.astype(int)}\n(row b is True for key positions j < lengths[b]).")
    as_list = impl.padding_mask([int(n) for n in lengths], t)
    if not (isinstance(as_list, np.ndarray) and np.array_equal(as_list, expected)):
        expect.fail("padding_mask should accept lengths as a Python list too.")


# ---------------------------------------------------------------------------------------
# 1.4 / 1.5 scaled dot-product attention
# ---------------------------------------------------------------------------------------
def _case(name: str) -> dict[str, np.ndarray]:
    keys = ("q", "k", "v", "mask", "out", "weights", "dout", "dq", "dk", "dv")
    prefix = f"attention.{name}."
    return {k: get(prefix + k) for k in keys if prefix + k in fx()}


def _sdpa(impl, case, **overrides):
    args = {"q": case["q"], "k": case["k"], "v": case["v"], **overrides}
    mask = case.get("mask")
    result = expect.call_pure(impl.scaled_dot_product_attention, "scaled_dot_product_attention",
                              args["q"], args["k"], args["v"], mask=mask)
    out, cache = expect.pair(result, "scaled_dot_product_attention")
    return out, cache


def _diagnose_attention(impl, case) -> str:
    """Name the likely bug by re-running the student's own function on rescaled queries."""
    d = case["q"].shape[-1]
    probes = {
        "the 1/sqrt(d_k) scaling is missing": case["q"] / np.sqrt(d),
        "you divided by d_k instead of sqrt(d_k)": case["q"] * np.sqrt(d),
        "you multiplied by sqrt(d_k) instead of dividing": case["q"] / d,
    }
    for diagnosis, q in probes.items():
        try:
            probe, _ = _sdpa(impl, case, q=q)
        except Exception:  # noqa: BLE001 — a diagnosis is best effort
            return ""
        if isinstance(probe, np.ndarray) and probe.shape == case["out"].shape and np.allclose(
                probe, case["out"], rtol=1e-6, atol=1e-8):
            return f"It looks like {diagnosis}."
    return ""


def _compare_attention(impl, case, out, cache, label, hint=""):
    """Output and cache['weights'] must match the case; explain the first difference."""
    expect.array(out, label, shape=case["out"].shape)
    if not isinstance(cache, dict) or "weights" not in cache:
        expect.fail(f"{label}: the cache should be a dict with the attention weights under "
                    "cache['weights'] (shape (..., T_q, T_k)), for plotting and the backward.")
    weights = expect.array(cache["weights"], f"{label}: cache['weights']",
                           shape=case["weights"].shape)
    if "mask" in case:
        mask = np.broadcast_to(case["mask"], weights.shape)
        if np.any(np.abs(weights[~mask]) > 0):
            expect.fail(f"{label}: positions where the mask is False got weight "
                        f"{np.abs(weights[~mask]).max():.3g}; they must get exactly 0. Set "
                        "their scores to -inf before the softmax (True = may attend).")
    live = case["weights"].sum(-1) > 0.5
    sums = weights.sum(-1)
    if not np.allclose(sums[live], 1.0, atol=1e-9):
        if np.allclose(weights.sum(-2), 1.0, atol=1e-9):
            hint = " They sum to 1 over the query axis: softmax must run over the keys (axis -1)."
        elif "mask" in case:
            hint = (" Masked weights are 0 but rows no longer sum to 1: mask the scores with "
                    "-inf before the softmax instead of zeroing weights after it.")
        else:
            hint = ""
        expect.fail(f"{label}: each row of the attention weights should sum to 1 over the "
                    f"keys; got sums in [{sums.min():.4g}, {sums.max():.4g}].{hint}")
    good = np.allclose(weights, case["weights"], **expect.F64) and np.allclose(
        out, case["out"], **expect.F64)
    if not good:
        hint = _diagnose_attention(impl, case) or hint
    expect.close(weights, case["weights"], f"{label}: cache['weights']", hint=hint)
    expect.close(out, case["out"], label, hint=hint)


@check("1.4", weight=3)
def attention_values(impl):
    """softmax(q k^T / sqrt(d_k)) v with its weights in the cache"""
    case = _case("plain")
    out, cache = _sdpa(impl, case)
    expect.array(out, "attention output", shape=case["out"].shape, dtype=np.float64)
    _compare_attention(impl, case, out, cache, "attention without mask")


@check("1.4", weight=2)
def attention_masks(impl):
    """masked keys get weight 0 (causal t_q < t_k, padding); a fully masked row gives zeros"""
    for name in ("causal", "padding", "fully_masked"):
        case = _case(name)
        result, info = instrumented_call(impl.scaled_dot_product_attention, case["q"],
                                         case["k"], case["v"], mask=case["mask"])
        out, cache = expect.pair(result, "scaled_dot_product_attention")
        label = f"attention with the {name.replace('_', ' ')} mask"
        expect.array(out, label, shape=case["out"].shape)
        _no_warnings(info, "scaled_dot_product_attention")
        _compare_attention(impl, case, out, cache, label,
                           hint="A fully masked row must give zeros.")


@check("1.4")
def attention_batched_float32(impl):
    """works on (B, H, T, D) inputs, keeps float32, leaves inputs unchanged"""
    plain = _case("plain")
    out, _ = _sdpa(impl, plain)
    plain_ok = isinstance(out, np.ndarray) and np.allclose(out, plain["out"], **expect.F64)
    case = _case("heads")
    out, cache = _sdpa(impl, case)
    _compare_attention(impl, case, out, cache, "attention on (B, H, T, D) inputs",
                       hint="Your 3-D case works: use np.swapaxes(k, -1, -2), not k.T, so the "
                            "leading axes are kept." if plain_ok else "")
    q, k, v = (plain[n].astype(np.float32) for n in "qkv")
    out32, _ = expect.pair(expect.call_pure(impl.scaled_dot_product_attention,
                                            "scaled_dot_product_attention", q, k, v),
                           "scaled_dot_product_attention")
    expect.array(out32, "attention of float32 inputs", shape=plain["out"].shape,
                 dtype=np.float32)
    expect.close(out32, plain["out"], "attention of float32 inputs", **expect.F32)


def _require_forward(impl, case, exercise="1.4"):
    """A backward is graded against a correct forward; say so when the forward is wrong."""
    out, cache = _sdpa(impl, case)
    if not (isinstance(out, np.ndarray) and out.shape == case["out"].shape
            and np.allclose(out, case["out"], **expect.F64)):
        expect.fail(f"your scaled_dot_product_attention ({exercise}) gives wrong outputs; fix "
                    f"{exercise} first — its backward is graded against a correct forward.")
    return cache


def _sdpa_grads(impl, case):
    cache = _require_forward(impl, case)
    grads = impl.scaled_dot_product_attention_backward(case["dout"], cache)
    if not (isinstance(grads, tuple) and len(grads) == 3):
        expect.fail("scaled_dot_product_attention_backward should return (dq, dk, dv).")
    for g, n in zip(grads, "qkv"):
        expect.array(g, f"d{n}", shape=case[n].shape)
    return grads


@check("1.5", weight=4)
def attention_backward_values(impl):
    """dq, dk, dv match the true gradients, with and without masks"""
    for name in ("plain", "causal", "padding", "heads"):
        case = _case(name)
        grads = _sdpa_grads(impl, case)
        hints = {
            "q": "dq = scale * dS @ k, where dS is the softmax backward of dP = dout @ v^T.",
            "k": "dk = scale * dS^T @ q (the transpose over the last two axes).",
            "v": "dv = P^T @ dout, with P the attention weights.",
        }
        for g, n in zip(grads, "qkv"):
            expect.close(g, case[f"d{n}"], f"d{n} ({name} case)", hint=hints[n])


@check("1.5", weight=4, hidden=True)
def attention_backward_finite_differences(impl):
    """the backward agrees with finite differences of your own forward"""
    case = _case("causal")
    dq, dk, dv = _sdpa_grads(impl, case)
    q, k, v = case["q"], case["k"], case["v"]
    args, kwargs = (q, k, v), {"mask": case["mask"]}
    for grad, x, name in ((dq, q, "dq"), (dk, k, "dk"), (dv, v, "dv")):
        check_gradient_of(grad, impl.scaled_dot_product_attention, args, kwargs, x,
                          case["dout"], f"{name} (finite differences)")


@check("1.5", weight=2)
def attention_backward_masked_rows_float32(impl):
    """a fully masked row has zero gradient; float32 gradients stay float32"""
    case = _case("fully_masked")
    cache = _require_forward(impl, case)
    grads, info = instrumented_call(impl.scaled_dot_product_attention_backward, case["dout"],
                                    cache)
    _no_warnings(info, "scaled_dot_product_attention_backward")
    if not (isinstance(grads, tuple) and len(grads) == 3):
        expect.fail("scaled_dot_product_attention_backward should return (dq, dk, dv).")
    for g, n in zip(grads, "qkv"):
        expect.array(g, f"d{n} with a fully masked row", shape=case[n].shape)
        expect.close(g, case[f"d{n}"], f"d{n} with a fully masked row")
    plain = _case("plain")
    q, k, v, dout = (plain[n].astype(np.float32) for n in ("q", "k", "v", "dout"))
    _, cache = expect.pair(impl.scaled_dot_product_attention(q, k, v),
                           "scaled_dot_product_attention")
    grads32 = impl.scaled_dot_product_attention_backward(dout, cache)
    for g, n in zip(grads32, "qkv"):
        expect.array(g, f"d{n} of float32 inputs", shape=plain[n].shape, dtype=np.float32)
        expect.close(g, plain[f"d{n}"], f"d{n} of float32 inputs", **expect.F32)


# ---------------------------------------------------------------------------------------
# 1.6 heads
# ---------------------------------------------------------------------------------------
@check("1.6", weight=2)
def split_heads_layout(impl):
    """split_heads gives (B, H, T, D) with head h = columns h*D:(h+1)*D"""
    x = get("heads.x")  # (2, 5, 12)
    out = expect.call_pure(impl.split_heads, "split_heads", x, 3)
    expected = fx()["heads.split"]
    if isinstance(out, np.ndarray) and out.shape == (2, 5, 3, 4):
        expect.fail("split_heads returned (B, T, H, D); the course wants (B, H, T, D): "
                    "transpose axes 1 and 2 after the reshape.")
    expect.array(out, "split_heads(x, 3)", shape=expected.shape)
    if np.array_equal(out, x.reshape(2, 5, 4, 3).transpose(0, 3, 1, 2)):
        expect.fail("split_heads gives head h every 3rd column; a head must take the "
                    "contiguous block of columns h*D:(h+1)*D (reshape to (B, T, H, D)).")
    expect.close(out, expected, "split_heads(x, 3)")


@check("1.6")
def merge_heads_inverse(impl):
    """merge_heads is the inverse of split_heads and keeps float32"""
    split = get("heads.split")
    merged = expect.call_pure(impl.merge_heads, "merge_heads", split)
    expect.array(merged, "merge_heads", shape=(2, 5, 12))
    expect.close(merged, fx()["heads.x"], "merge_heads(split_heads(x))",
                 hint="Transpose back to (B, T, H, D) before reshaping to (B, T, C).")
    merged32 = impl.merge_heads(split.astype(np.float32))
    expect.array(merged32, "merge_heads(float32)", shape=(2, 5, 12), dtype=np.float32)


# ---------------------------------------------------------------------------------------
# 1.7 / 1.8 multi-head attention
# ---------------------------------------------------------------------------------------
PARAM_NAMES = ("W_q", "W_k", "W_v", "W_o", "b_q", "b_k", "b_v", "b_o")


def _mha_case(name: str) -> dict:
    prefix = f"mha.{name}."
    case = {k[len(prefix):]: get(k) for k in fx() if k.startswith(prefix)}
    case["params"] = {p: case.pop(f"params.{p}") for p in PARAM_NAMES}
    case["grads"] = {p: case.pop(f"grads.{p}") for p in PARAM_NAMES}
    case["n_heads"] = int(case.pop("n_heads"))
    if "mask" not in case:
        case["mask"] = None
    return case


def _mha(impl, case, x_q=None, x_kv=None):
    x_q = case["x_q"] if x_q is None else x_q
    if x_kv is None:
        x_kv = case.get("x_kv", x_q)  # self-attention cases store no x_kv: x_kv is x_q
    result = expect.call_pure(impl.multi_head_attention, "multi_head_attention", x_q, x_kv,
                              case["params"], case["n_heads"], mask=case["mask"])
    return expect.pair(result, "multi_head_attention")


@check("1.7", weight=3)
def mha_values(impl):
    """multi-head attention matches the expected outputs and per-head weights"""
    for name in MHA_CASES:
        case = _mha_case(name)
        out, cache = _mha(impl, case)
        label = f"multi_head_attention ({name}, {case['n_heads']} heads)"
        expect.array(out, label, shape=case["out"].shape, dtype=np.float64)
        if not isinstance(cache, dict) or "weights" not in cache:
            expect.fail(f"{label}: cache['weights'] should hold the (B, H, T_q, T_k) weights.")
        expect.array(cache["weights"], f"{label}: cache['weights']",
                     shape=case["weights"].shape)
        expect.close(cache["weights"], case["weights"], f"{label}: per-head weights",
                     hint="Project with x @ W + b, split heads as in 1.6, and scale by "
                          "1/sqrt(C / H), the head size.")
        expect.close(out, case["out"], label,
                     hint="After merging the heads, apply the output projection W_o, b_o.")


@check("1.7", hidden=True)
def mha_causal_invariance(impl):
    """with a causal mask, changing a later token never changes an earlier output"""
    case = _mha_case("causal_self")
    x = case["x_q"]
    out, _ = _mha(impl, case, x_q=x, x_kv=x)
    expect.array(out, "multi_head_attention output", shape=case["out"].shape)
    changed = x.copy()
    changed[:, -1, :] += 5.0
    out2, _ = _mha(impl, case, x_q=changed, x_kv=changed)
    expect.array(out2, "multi_head_attention output", shape=out.shape)
    leak = np.abs(out2[:, :-1] - out[:, :-1]).max()
    if leak > 1e-12:
        expect.fail(f"changing the last token moved earlier outputs by {leak:.3g}: the causal "
                    "mask leaks the future. Broadcast the (T, T) mask over batch and heads.")
    expect.require_correct(out, case["out"], "multi_head_attention with a causal mask", "1.7")


@check("1.7")
def mha_float32_and_inputs(impl):
    """float32 in, float32 out; params and inputs are not modified"""
    case = _mha_case("cross")
    x_q, x_kv = case["x_q"].astype(np.float32), case["x_kv"].astype(np.float32)
    params = {k: v.astype(np.float32) for k, v in case["params"].items()}
    before = {k: v.copy() for k, v in params.items()}
    out, _ = expect.pair(impl.multi_head_attention(x_q, x_kv, params, case["n_heads"]),
                         "multi_head_attention")
    expect.unchanged(before, params, "multi_head_attention (params)")
    expect.array(out, "multi_head_attention(float32)", shape=case["out"].shape,
                 dtype=np.float32)
    expect.close(out, case["out"], "multi_head_attention(float32)", **expect.F32)


def _mha_grads(impl, case, x_q=None, x_kv=None):
    out, cache = _mha(impl, case, x_q, x_kv)
    if not (isinstance(out, np.ndarray) and out.shape == case["out"].shape
            and np.allclose(out, case["out"], **expect.F64)):
        expect.fail("your multi_head_attention (1.7) gives wrong outputs; fix 1.7 first — its "
                    "backward is graded against a correct forward.")
    grads = impl.multi_head_attention_backward(case["dout"], cache)
    if not (isinstance(grads, tuple) and len(grads) == 3 and isinstance(grads[2], dict)):
        expect.fail("multi_head_attention_backward should return (dx_q, dx_kv, dparams) "
                    "with dparams a dict keyed like params.")
    dx_q, dx_kv, dparams = grads
    missing = sorted(set(PARAM_NAMES) - set(dparams))
    if missing:
        expect.fail(f"dparams is missing {missing}; it needs the same keys as params.")
    return dx_q, dx_kv, dparams


@check("1.8", weight=4)
def mha_backward_values(impl):
    """dx_q, dx_kv and every parameter gradient match the true gradients"""
    for name in ("cross", "padded"):
        case = _mha_case(name)
        dx_q, dx_kv, dparams = _mha_grads(impl, case)
        expect.array(dx_q, f"dx_q ({name})", shape=case["x_q"].shape)
        expect.array(dx_kv, f"dx_kv ({name})", shape=case["x_kv"].shape)
        # In backward order, so the first mismatch is where the bug is.
        into_heads = ("dW_o is right, so look at the gradient flowing into the merged heads: "
                      "d(merged) = dout @ W_o^T.")
        for p in ("W_o", "b_o", "W_v", "b_v", "W_k", "b_k", "W_q", "b_q"):
            expect.array(dparams[p], f"d{p}", shape=case["params"][p].shape)
            hint = ("Bias gradients sum dY over batch and time." if p.startswith("b") else
                    "dW = x^T dY summed over batch and time (reshape to (B*T, C) first).")
            if not p.endswith("_o"):
                hint += " " + into_heads
            expect.close(dparams[p], case["grads"][p], f"d{p} ({name})", hint=hint)
        expect.close(dx_kv, case["dx_kv"], f"dx_kv ({name})",
                     hint="dx_kv collects both paths: dk @ W_k^T + dv @ W_v^T.")
        expect.close(dx_q, case["dx_q"], f"dx_q ({name})", hint="dx_q = dq @ W_q^T.")


@check("1.8")
def mha_backward_float32(impl):
    """float32 in, float32 gradients out"""
    case = _mha_case("cross")
    x_q, x_kv = case["x_q"].astype(np.float32), case["x_kv"].astype(np.float32)
    params = {k: v.astype(np.float32) for k, v in case["params"].items()}
    _, cache = expect.pair(impl.multi_head_attention(x_q, x_kv, params, case["n_heads"]),
                           "multi_head_attention")
    grads = impl.multi_head_attention_backward(case["dout"].astype(np.float32), cache)
    if not (isinstance(grads, tuple) and len(grads) == 3 and isinstance(grads[2], dict)):
        expect.fail("multi_head_attention_backward should return (dx_q, dx_kv, dparams).")
    dx_q, dx_kv, dparams = grads
    expect.array(dx_q, "dx_q of float32 inputs", shape=x_q.shape, dtype=np.float32)
    expect.array(dx_kv, "dx_kv of float32 inputs", shape=x_kv.shape, dtype=np.float32)
    for p in PARAM_NAMES:
        expect.array(dparams.get(p), f"d{p} of float32 inputs", shape=params[p].shape,
                     dtype=np.float32)
        expect.close(dparams[p], case["grads"][p], f"d{p} of float32 inputs", **expect.F32)


@check("1.8", weight=4, hidden=True, timeout=30)
def mha_backward_finite_differences(impl):
    """every gradient agrees with finite differences of your own forward"""
    case = _mha_case("padded")
    dx_q, dx_kv, dparams = _mha_grads(impl, case)
    x_q, x_kv, params = case["x_q"], case["x_kv"], case["params"]
    args, kwargs = (x_q, x_kv, params, case["n_heads"]), {"mask": case["mask"]}
    wrt = [(dx_q, x_q, "dx_q"), (dx_kv, x_kv, "dx_kv")]
    wrt += [(dparams[p], params[p], f"d{p}") for p in ("W_q", "W_v", "b_k", "W_o", "b_o")]
    for grad, x, name in wrt:
        check_gradient_of(grad, impl.multi_head_attention, args, kwargs, x, case["dout"],
                          f"{name} (finite differences)")


@check("1.8", weight=2)
def mha_backward_self_attention(impl):
    """for self-attention (x_kv is x_q), dx_q + dx_kv is the gradient of x"""
    case = _mha_case("causal_self")
    x = case["x_q"]
    dx_q, dx_kv, _ = _mha_grads(impl, case, x_q=x, x_kv=x)
    expect.close(dx_q + dx_kv, case["dx"], "dx_q + dx_kv for self-attention",
                 hint="Both projections of the same x contribute; return them separately and "
                      "let the caller add them.")


# ---------------------------------------------------------------------------------------
# 1.9 online softmax
# ---------------------------------------------------------------------------------------
def _online(impl, case, block_size, q=None):
    q = case["q"] if q is None else q
    return expect.call_pure(impl.online_softmax_attention, "online_softmax_attention",
                            q, case["k"], case["v"], mask=case.get("mask"),
                            block_size=block_size)


@check("1.9", weight=3)
def online_equals_attention(impl):
    """equals scaled_dot_product_attention for every block size, with and without masks"""
    for name in ("plain", "causal", "padding", "heads"):
        case = _case(name)
        t_k = case["k"].shape[-2]
        for block_size in (1, 2, 3, 64):
            out = _online(impl, case, block_size)
            label = f"online_softmax_attention ({name}, block_size={block_size})"
            expect.array(out, label, shape=case["out"].shape, dtype=np.float64)
            hint = ("When the running max m grows, rescale both the running sum l and the "
                    "accumulator by exp(m_old - m_new).")
            if t_k % block_size:
                hint = (f"T_k={t_k} is not a multiple of {block_size}: is the last, shorter "
                        "block processed? " + hint)
            expect.close(out, case["out"], label, hint=hint)
    plain = _case("plain")
    q, k, v = (plain[n].astype(np.float32) for n in "qkv")
    out32 = impl.online_softmax_attention(q, k, v, block_size=2)
    expect.array(out32, "online attention of float32 inputs", shape=plain["out"].shape,
                 dtype=np.float32)
    expect.close(out32, plain["out"], "online attention of float32 inputs", **expect.F32)


@check("1.9", weight=2)
def online_stable_and_masked(impl):
    """no NaN or warning for a fully masked row or for large logits"""
    case = _case("fully_masked")
    out, info = instrumented_call(impl.online_softmax_attention, case["q"], case["k"],
                                  case["v"], mask=case["mask"], block_size=2)
    expect.array(out, "online attention with a fully masked row", shape=case["out"].shape)
    _no_warnings(info, "online_softmax_attention")
    expect.close(out, case["out"], "online attention with a fully masked row",
                 hint="Start the running max at -inf and guard exp(-inf - (-inf)); a row that "
                      "never sees an allowed key must end as zeros.")
    big = _case("large")
    out, info = instrumented_call(impl.online_softmax_attention, big["q"], big["k"], big["v"],
                                  block_size=2)
    expect.array(out, "online attention with large logits", shape=big["out"].shape)
    _no_warnings(info, "online_softmax_attention")
    expect.close(out, big["out"], "online attention with large logits",
                 hint="Subtract the running max inside each block before exp.")


@check("1.9", weight=2, hidden=True)
def online_memory(impl):
    """never materialises the T_q × T_k score matrix (peak memory far below it)"""
    plain = _case("plain")
    expect.require_correct(_online(impl, plain, 2), plain["out"], "online_softmax_attention", "1.9")
    rng = np.random.default_rng(9)
    t, d = 2048, 8
    q, k, v = (rng.standard_normal((1, t, d)) for _ in range(3))
    out, info = instrumented_call(impl.online_softmax_attention, q, k, v, block_size=32)
    expect.array(out, f"online attention on T={t}", shape=(1, t, d))
    full = t * t * 8
    if info.peak_bytes > full // 2:
        expect.fail(f"online_softmax_attention with T={t} and block_size=32 allocated "
                    f"{info.peak_bytes / 2**20:.1f} MiB at peak; the full score matrix is "
                    f"{full / 2**20:.0f} MiB and a block of scores {t * 32 * 8 / 2**10:.0f} KiB. "
                    "Loop over key blocks and keep only running statistics (m, l, acc).")
    sums = np.abs(out).max()
    if not np.isfinite(sums):
        expect.fail(f"online attention on T={t} gave non-finite values.")


# ---------------------------------------------------------------------------------------
# Fixtures (instructor-only: `make fixtures` runs this against the reference)
# ---------------------------------------------------------------------------------------
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
