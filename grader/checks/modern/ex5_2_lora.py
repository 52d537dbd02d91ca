"""Checks of exercise 5.2: LoRA, a frozen linear layer plus a low-rank update.

Expected values come from the definition, computed here in float64 on the fixture's inputs
(`grader/data/modern.npz`, keys `5.2/lora.*`; sizes drawn too, B random so that the update
shows): ``y = x W + b + (alpha / r) (x A) B`` and ``merge_lora = W + (alpha / r) A B``.
Gradients are central finite differences of the student's own forward, once that forward is
right.  The outputs of typical wrong formulas (another scale, the update or the bias left out,
a gradient transposed or missing one of its two paths) are computed the same way, so a
message names a slip only when it is exactly what came out.  That the forward keeps the
update apart from ``W`` shows numerically: next to a frozen W of entries near 2^70 whose
first two rows cancel, ``x @ (W + AB)`` rounds the update of those rows away.

``lora_init`` is random: its ``A`` is checked statistically against PEFT's
``kaiming_uniform_(a=sqrt(5))`` (uniform on ``[-1/sqrt(in), 1/sqrt(in)]``: every entry
within the bound, the largest within 2% of it, the mean within 5% of the bound of 0 and the
variance within 5% of ``1 / (3 in)``, on 400 x 100 = 40,000 draws: each at least 11
standard errors wide), its ``B`` exactly zero.
"""

from __future__ import annotations

import numpy as np

from ... import expect, fixtures
from ...gradcheck import numerical_gradient_of
from .. import check

INIT_IN, INIT_OUT, INIT_R = 400, 3, 100  # 40,000 entries of A: statistics, not bitwise
BIG = 2.0**70  # frozen entries whose ulp (2^18) dwarfs any update entry of the checks


def fx() -> dict[str, np.ndarray]:
    return fixtures.by_name("modern")


def _case():
    """(x, W, b, A, B, alpha, dout): fresh copies of the fixture's layer."""
    x, W, b, A, B, dout = (fx()[f"lora.{k}"].copy() for k in ("x", "W", "b", "A", "B", "dout"))
    return x, W, b, A, B, float(fx()["lora.alpha"]), dout


def _lora(x, W, A, B, scale, b=None):
    """x W (+ b) + scale (x A) B, in float64: the definition with any scale."""
    out = x @ W + scale * ((x @ A) @ B)
    return out if b is None else out + b


def _same(actual, expected, tol=expect.F64) -> bool:
    return (isinstance(actual, np.ndarray) and actual.shape == np.shape(expected)
            and bool(np.allclose(actual, expected, **tol)))


def _scale_slips(alpha: float, r: int) -> list[tuple[float, str, str]]:
    """(a wrong scale, what it is, the cause) for the update alpha / r."""
    s = alpha / r
    return [(alpha, "alpha, not alpha / r", "the update is scaled by alpha, not alpha / r"),
            (1.0, "1: alpha / r is missing", "the scale alpha / r is missing"),
            (s * s, "(alpha / r)**2: the scale was applied twice",
             "the scale alpha / r is applied twice"),
            (alpha / np.sqrt(r), "alpha / sqrt(r), rsLoRA's scale, not PEFT's default "
             "alpha / r", "the update is scaled by alpha / sqrt(r)"),
            (r / alpha, "r / alpha, the inverse of alpha / r",
             "the update is scaled by r / alpha")]


def _forward_verdict(out, x, W, A, B, alpha, b, what: str) -> None:
    """Fail, naming the slip when one is confirmed, unless `out` is the right forward."""
    r = A.shape[1]
    want = _lora(x, W, A, B, alpha / r, b)
    if _same(out, want):
        return
    for scale, which, cause in _scale_slips(alpha, r):
        if _same(out, _lora(x, W, A, B, scale, b)):
            expect.fail(f"{what}: the output is x W + b + c (x A) B with c = {which}. LoRA "
                        f"scales the update by alpha / r = {alpha:g} / {r} (PEFT's default "
                        "scaling = lora_alpha / r). " + expect.cause(cause))
    if _same(out, _lora(x, W, A, B, 0.0, b)):
        expect.fail(f"{what} is the frozen layer's output x W + b: the low-rank update "
                    "(alpha / r) (x A) B is missing. " + expect.cause("the update is missing"))
    if b is not None and _same(out, _lora(x, W, A, B, alpha / r)):
        expect.fail(f"{what} is x W + (alpha / r) (x A) B: the frozen bias b is missing. "
                    + expect.cause("the bias b is not added"))
    expect.close(out, want, what, hint="y = x @ W + b + (alpha / r) * (x @ A) @ B with "
                 "r = A.shape[1].")


def _forward_is_right(impl) -> bool:
    x, W, b, A, B, alpha, _ = _case()
    try:
        out, _ = impl.lora_linear(x, W, A, B, alpha, b)
    except Exception as exc:  # noqa: BLE001 — the forward's own check reports it
        if getattr(exc, "type_name", type(exc).__name__) == "NotImplementedError":
            raise
        return False
    return _same(out, _lora(x, W, A, B, alpha / A.shape[1], b))


def _skipped_until(check_name: str, what: str) -> None:
    expect.fail(f"5.2 {what}: skipped until {check_name} passes (this check needs a right "
                "forward).")


@check("5.2", weight=2)
def lora_linear_values(impl):
    """y = x W + b + (alpha / r) (x A) B for x (B, T, in), (N, in) and (in,); float32 kept"""
    x, W, b, A, B, alpha, _ = _case()
    shapes = f"x {x.shape}, W {W.shape}, A {A.shape}, B {B.shape}, alpha={alpha:g}"
    what = f"5.2 lora_linear({shapes}, b)"
    out, _ = expect.pair(expect.call_pure(impl.lora_linear, "lora_linear", x, W, A, B, alpha,
                                          b), "lora_linear")
    expect.array(out, what, shape=x.shape[:-1] + (W.shape[1],), dtype=np.float64)
    _forward_verdict(out, x, W, A, B, alpha, b, what)
    out_nb, _ = expect.pair(impl.lora_linear(x, W, A, B, alpha), "lora_linear")
    _forward_verdict(out_nb, x, W, A, B, alpha, None, f"5.2 lora_linear({shapes}) without b")
    for xs in (x.reshape(-1, x.shape[-1]), x[0, 0]):
        out_s, _ = expect.pair(impl.lora_linear(xs, W, A, B, alpha, b), "lora_linear")
        _forward_verdict(out_s, xs, W, A, B, alpha, b, f"5.2 lora_linear on x of shape "
                         f"{xs.shape}")
    out32, _ = expect.pair(impl.lora_linear(*(a.astype(np.float32) for a in (x, W, A, B)),
                                            alpha, b.astype(np.float32)), "lora_linear")
    expect.array(out32, "5.2 lora_linear of float32 inputs", shape=out.shape, dtype=np.float32)
    expect.close(out32, _lora(x, W, A, B, alpha / A.shape[1], b),
                 "5.2 lora_linear of float32 inputs", **expect.F32)


@check("5.2")
def lora_linear_keeps_the_update_apart(impl):
    """the update goes through x @ A, never through W + A B (it would round away next to W)"""
    x, W, _, A, B, alpha, _ = _case()
    if not _forward_is_right(impl):
        _skipped_until("lora_linear_values", "the update kept apart from W")
    n_in, n_out = W.shape
    row = BIG * (1 + np.arange(n_out) / 8)  # exact: powers of two times eighths
    W_big = np.zeros((n_in, n_out))
    W_big[0], W_big[1] = row, -row  # x @ W_big = 0 exactly when x[..., 0] = x[..., 1] = 1
    xs = x.reshape(-1, n_in).copy()
    xs[:, :2] = 1.0
    s = alpha / A.shape[1]
    what = ("5.2 lora_linear with a frozen W whose first two rows are +-2^70 (1 + j/8) (they "
            "cancel: x @ W = 0 exactly) and x[:, 0] = x[:, 1] = 1")
    out, _ = expect.pair(impl.lora_linear(xs, W_big, A, B, alpha), "lora_linear")
    want = s * ((xs @ A) @ B)  # the frozen path is exactly 0
    expect.array(out, what, shape=want.shape, dtype=np.float64)
    if _same(out, want):
        return
    merged = [xs @ (W_big + s * (A @ B)), xs @ (W_big + (s * A) @ B), xs @ W_big + xs @ (
        (W_big + s * (A @ B)) - W_big)]
    if any(_same(out, m) for m in merged):
        expect.fail(f"{what}: the output lost the update of those two rows, as x @ (W + "
                    "(alpha / r) A @ B) does: next to W's entries (spacing 2^18) the update "
                    "is rounded away. Compute the frozen path x @ W and the update "
                    "(x @ A) @ B apart, and never form the (in, out) matrix W + A @ B: that "
                    "is merge_lora's job, once training is over. "
                    + expect.cause("the forward formed the merged weight W + (alpha / r) A B"))
    expect.close(out, want, what, hint="Keep the frozen path x @ W and the update "
                 "(alpha / r) * (x @ A) @ B apart, and add them at the end.")


@check("5.2")
def lora_init_matches_peft(impl):
    """A ~ PEFT's kaiming-uniform (bound 1/sqrt(in)), B = 0; random only through rng"""
    bound = 1 / np.sqrt(INIT_IN)
    call = f"lora_init({INIT_IN}, {INIT_OUT}, {INIT_R}, np.random.default_rng(52))"
    pair = expect.call_pure(impl.lora_init, "lora_init", INIT_IN, INIT_OUT, INIT_R,
                            np.random.default_rng(52))
    if not (isinstance(pair, tuple) and len(pair) == 2):
        expect.fail(f"5.2 {call} should return the pair (A, B), got {type(pair).__name__}.")
    A, B = pair
    expect.array(A, f"5.2 A of {call}", shape=(INIT_IN, INIT_R), dtype=np.float64)
    expect.array(B, f"5.2 B of {call}", shape=(INIT_R, INIT_OUT), dtype=np.float64)
    if np.any(B != 0):
        expect.fail(f"5.2 {call}: B has {int(np.count_nonzero(B))} nonzero entries (largest "
                    f"|B| = {np.abs(B).max():.3g}). B starts at zero (PEFT: zeros_ on "
                    "lora_B.weight), so that the adapted layer is the frozen one until B is "
                    "trained. " + expect.cause("B is not initialised to zero"))
    top = float(np.abs(A).max())
    if not (0.98 * bound <= top <= bound * (1 + 1e-12)):
        fourth = float(np.mean(A**4) / np.mean(A**2) ** 2)  # 1.8 uniform, 3 normal
        for wrong, name in ((np.sqrt(6 / INIT_IN), "sqrt(6 / in): kaiming_uniform_ with a = 0 "
                             "(He); PEFT passes a = sqrt(5)"),
                            (1 / np.sqrt(INIT_R), "1 / sqrt(r): the fan-in is in, A's first "
                             "axis (lora_A.weight (r, in) has fan-in in)"),
                            (1 / INIT_IN, "1 / in, not 1 / sqrt(in)")):
            if abs(top - wrong) <= 0.02 * wrong and abs(fourth - 1.8) < 0.1:
                expect.fail(f"5.2 {call}: A is uniform on [-c, c] with c = {top:.4g} = "
                            f"{name}. Expected c = 1/sqrt(in) = {bound:.4g}. "
                            + expect.cause(f"the bound of A is {name.split(':')[0]}"))
        if abs(fourth - 3) < 0.2:
            expect.fail(f"5.2 {call}: A looks normal (its kurtosis is {fourth:.2f}; 1.8 for "
                        f"a uniform, 3 for a normal) with entries up to {top:.4g}. PEFT draws "
                        f"lora_A uniformly on [-1/sqrt(in), 1/sqrt(in)] = [-{bound:.4g}, "
                        f"{bound:.4g}]. " + expect.cause("A is drawn from a normal "
                                                         "distribution, not a uniform one"))
        expect.fail(f"5.2 {call}: the largest |A| is {top:.4g}; A's entries must lie in "
                    f"[-1/sqrt(in), 1/sqrt(in)] = [-{bound:.4g}, {bound:.4g}] and fill it "
                    "(PEFT's kaiming_uniform_(a=sqrt(5)) on lora_A.weight, fan-in in).")
    mean, var = float(A.mean()), float(A.var())
    if abs(mean) > 0.05 * bound or abs(var / (bound**2 / 3) - 1) > 0.05:
        expect.fail(f"5.2 {call}: A has mean {mean:.3g} and variance {var:.4g}; a uniform on "
                    f"[-{bound:.4g}, {bound:.4g}] has mean 0 and variance 1 / (3 in) = "
                    f"{bound**2 / 3:.4g} (tolerance: 5% of the bound for the mean, 5% for the "
                    f"variance, over {A.size} draws).")
    again, _ = impl.lora_init(INIT_IN, INIT_OUT, INIT_R, np.random.default_rng(52))
    if not np.array_equal(again, A):
        expect.fail(f"5.2 {call} gave another A when called again with a new generator of the "
                    "same seed: draw A from rng, the only source of randomness (not "
                    "np.random.* or a generator of your own). "
                    + expect.cause("A is not drawn from rng"))
    other, _ = impl.lora_init(INIT_IN, INIT_OUT, INIT_R, np.random.default_rng(53))
    if np.array_equal(other, A):
        expect.fail("5.2 lora_init gave the same A for seeds 52 and 53: draw A from rng "
                    "(a fixed seed of your own ignores the caller's). "
                    + expect.cause("A is not drawn from rng"))
    A32, B32 = impl.lora_init(7, 5, 2, np.random.default_rng(0), dtype=np.float32)
    expect.array(A32, "5.2 A of lora_init(7, 5, 2, rng, dtype=np.float32)", shape=(7, 2),
                 dtype=np.float32)
    expect.array(B32, "5.2 B of lora_init(7, 5, 2, rng, dtype=np.float32)", shape=(2, 5),
                 dtype=np.float32)
    if _forward_is_right(impl):  # the point of B = 0: the model is unchanged at step 0
        x, W, b, _, _, alpha, _ = _case()
        A0, B0 = impl.lora_init(W.shape[0], W.shape[1], 3, np.random.default_rng(1))
        out, _ = expect.pair(impl.lora_linear(x, W, A0, B0, alpha, b), "lora_linear")
        expect.close(out, x @ W + b, "5.2 lora_linear with a fresh lora_init adapter",
                     hint="At initialisation the adapted layer is the frozen one (B = 0).")


SCALED = ("the update is scaled by alpha / r once, and so is its part of every gradient: dA, "
          "dB and the update's path of dx")
BOTH_PATHS = "dx sums both paths: dout W^T (frozen) + (alpha / r) dout B^T A^T (update)"
LAYOUT = {"dA": ("A", "(in, r)", "lora_A.weight (r, in)"),
          "dB": ("B", "(r, out)", "lora_B.weight (out, r)")}


def _backward_slip(name: str, grad, want, s: float, alpha: float, frozen_dx):
    """(the cause, what to do) confirmed for a wrong gradient `name` (compared with `want`,
    finite differences), or None."""
    if _same(grad, want, expect.GRAD):
        return None
    if name in LAYOUT and _same(np.transpose(grad), want, expect.GRAD):
        param, layout, peft = LAYOUT[name]
        return f"{name} is transposed", (
            f"it has shape {np.shape(grad)}, the transpose of {param}'s {np.shape(want)}: a "
            f"gradient has its parameter's shape, here {layout} (PEFT's {peft} is the "
            "transpose)")
    if name == "dx":
        update = want - frozen_dx  # (alpha / r) dout B^T A^T
        for value, cause, advice in (
                (frozen_dx, "dx misses the update's path (alpha / r) dout B^T A^T", BOTH_PATHS),
                (update, "dx misses the frozen path dout W^T", BOTH_PATHS),
                (frozen_dx + update / s, "the scale alpha / r is missing from dx's update "
                 "path", SCALED),
                (frozen_dx + update * s, "the scale alpha / r is applied twice in dx's update "
                 "path", SCALED)):
            if _same(grad, value, expect.GRAD):
                return cause, advice
        return None
    for factor, cause in ((1 / s, f"the scale alpha / r is missing from {name}"),
                          (s, f"the scale alpha / r is applied twice in {name}"),
                          (alpha / s, f"{name} is scaled by alpha, not alpha / r")):
        if _same(grad, want * factor, expect.GRAD):
            return cause, SCALED
    return None


@check("5.2", weight=2)
def lora_linear_backward_gradients(impl):
    """(dx, dA, dB) by finite differences; W and b frozen (no gradient); float32 kept"""
    x, W, b, A, B, alpha, dout = _case()
    if not _forward_is_right(impl):
        _skipped_until("lora_linear_values", "the backward (it works from the forward's cache)")
    s = alpha / A.shape[1]
    for xs, ds in ((x, dout), (x[0, 0], dout[0, 0])):
        what = f"5.2 lora_linear_backward on x of shape {xs.shape}"
        _, cache = expect.pair(impl.lora_linear(xs.copy(), W.copy(), A.copy(), B.copy(), alpha,
                                                b.copy()), "lora_linear")
        grads = expect.call_pure(impl.lora_linear_backward, "lora_linear_backward", ds, cache)
        if not (isinstance(grads, tuple) and len(grads) == 3):
            n = len(grads) if isinstance(grads, tuple) else None
            expect.fail(f"{what} should return the tuple (dx, dA, dB), got "
                        f"{f'{n} values' if n is not None else type(grads).__name__}. "
                        "W and b are frozen: no gradient for them (computing dW would cost what "
                        "LoRA saves).")
        dx, dA, dB = grads
        if np.shape(dA) == B.shape and np.shape(dB) == A.shape:
            expect.fail(f"{what}: the second gradient has B's shape {B.shape} and the third "
                        f"A's {A.shape}: return (dx, dA, dB), in the order of the forward's "
                        "inputs. " + expect.cause("the gradients came back as (dx, dB, dA)"))
        args = (xs, W, A, B, alpha, b)
        for name, grad, arr in (("dx", dx, xs), ("dA", dA, A), ("dB", dB, B)):
            want = numerical_gradient_of(impl.lora_linear, args, {}, arr, ds)
            label = f"{what}: {name} (finite differences)"
            found = _backward_slip(name, grad, want, s, alpha, ds @ W.T)
            if found:
                expect.fail(f"{label} is wrong: {found[1]}. " + expect.cause(found[0]))
            expect.array(grad, label, shape=arr.shape, dtype=np.float64)
            expect.close(grad, want, label, **expect.GRAD)
    _, cache32 = expect.pair(impl.lora_linear(*(a.astype(np.float32) for a in (x, W, A, B)),
                                              alpha, b.astype(np.float32)), "lora_linear")
    grads32 = impl.lora_linear_backward(dout.astype(np.float32), cache32)
    for grad, arr, name in zip(grads32, (x, A, B), ("dx", "dA", "dB")):
        expect.array(grad, f"5.2 lora_linear_backward of float32 inputs: {name}",
                     shape=arr.shape, dtype=np.float32)


@check("5.2")
def merge_lora_folds_the_update(impl):
    """merge_lora = W + (alpha / r) A B, a new array (W untouched), equal to the forward"""
    x, W, b, A, B, alpha, _ = _case()
    r = A.shape[1]
    what = f"5.2 merge_lora(W {W.shape}, A {A.shape}, B {B.shape}, alpha={alpha:g})"
    merged = expect.call_pure(impl.merge_lora, "merge_lora", W, A, B, alpha)
    expect.array(merged, what, shape=W.shape, dtype=np.float64)
    want = W + (alpha / r) * (A @ B)
    if not _same(merged, want):
        for scale, which, cause in _scale_slips(alpha, r):
            if _same(merged, W + scale * (A @ B)):
                expect.fail(f"{what} is W + c A B with c = {which}: scale as the forward "
                            "does, by alpha / r. " + expect.cause(cause))
        if _same(merged, (alpha / r) * (A @ B)):
            expect.fail(f"{what} is the update (alpha / r) A B alone: the merged weight "
                        "replaces W, so it is W plus the update. "
                        + expect.cause("W is missing from the merged weight"))
        expect.close(merged, want, what, hint="merged = W + (alpha / r) * A @ B, r = "
                     "A.shape[1].")
    if _forward_is_right(impl):
        out, _ = expect.pair(impl.lora_linear(x, W, A, B, alpha, b), "lora_linear")
        expect.close(x @ merged + b, out, "5.2 x @ merge_lora(W, A, B, alpha) + b against "
                     "lora_linear(x, W, A, B, alpha, b)")
    merged32 = impl.merge_lora(*(a.astype(np.float32) for a in (W, A, B)), alpha)
    expect.array(merged32, "5.2 merge_lora of float32 inputs", shape=W.shape, dtype=np.float32)


@check("5.2")
def lora_refuses_bad_input(impl):
    """ValueError for shapes that do not fit (PEFT's layouts included), r < 1, alpha <= 0"""
    x, W, b, A, B, alpha, _ = _case()
    # the given code raises these errors: points only once the functions themselves run (a
    # stub raises NotImplementedError here)
    impl.lora_linear(x, W, A, B, alpha, b)
    impl.merge_lora(W, A, B, alpha)
    impl.lora_init(5, 4, 2, np.random.default_rng(0))
    r = A.shape[1]
    for args, what in (
            ((x, W, A.T, B, alpha, b), f"A of shape {A.T.shape} (PEFT's (r, in) layout)"),
            ((x, W, A, B.T, alpha, b), f"B of shape {B.T.shape} (PEFT's (out, r) layout)"),
            ((x[..., :-1], W, A, B, alpha, b), "x's last axis not W.shape[0]"),
            ((x, W, A, B, alpha, b[:-1]), f"b of shape {b[:-1].shape}"),
            ((x, W, A[:, :0], B[:0], alpha, b), "rank r = 0"),
            ((x, W, A, B, 0.0, b), "alpha = 0"), ((x, W, A, B, -float(r), b), "alpha < 0")):
        expect.raises(impl.lora_linear, ValueError, f"5.2 lora_linear with {what}", *args)
    expect.raises(impl.merge_lora, ValueError, f"5.2 merge_lora with B of shape {B.T.shape}",
                  W, A, B.T, alpha)
    expect.raises(impl.merge_lora, ValueError, "5.2 merge_lora with alpha = -1", W, A, B, -1.0)
    for args, what in (((5, 4, 0, np.random.default_rng(0)), "r = 0"),
                       ((5.0, 4, 2, np.random.default_rng(0)), "in_features = 5.0"),
                       ((5, 4, 2, 0), "rng = 0, not a Generator")):
        expect.raises(impl.lora_init, ValueError, f"5.2 lora_init with {what}", *args)
