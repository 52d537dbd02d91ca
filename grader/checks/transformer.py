"""Checks of Module 3 — the Transformer from scratch (3.1–3.11).

Distinct small dimensions (batch, time, width, hidden width, classes), drawn with every
other input from the fixtures' generator: the checks read every input from the fixtures and
work for any seed.  Expected values are fixtures from the reference, plus the outputs of
typical *wrong* formulas (eps outside the sqrt, unbiased variance, smoothing over K-1
classes, L2 in the gradient...) computed by the instructor-only fixture builder, so a
message can name the mistake without the grader shipping a solution.  Backwards are also
checked by finite differences of the student's own forward (hidden checks), once that
forward is right.
"""

from __future__ import annotations

import numpy as np

from .. import expect, fixtures
from ..gradcheck import check_gradient_of
from ..sandbox import instrumented_call
from . import check


def fx() -> dict[str, np.ndarray]:
    return fixtures.load("transformer")


def get(name: str) -> np.ndarray:
    return fx()[name].copy()


def _params(prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix):]: get(k) for k in fx() if k.startswith(prefix)}


def _matches(actual, name: str) -> bool:
    """Does `actual` equal the fixture `name` (e.g. a known wrong formula's output)?"""
    other = fx()[name]
    return (isinstance(actual, np.ndarray) and actual.shape == other.shape
            and bool(np.allclose(actual, other, **expect.F64)))


def _grads(result, n: int, what: str) -> tuple:
    if not (isinstance(result, tuple) and len(result) == n):
        expect.fail(f"{what} should return a tuple of {n} gradients.")
    return result


# ---------------------------------------------------------------------------------------
# 3.1 linear
# ---------------------------------------------------------------------------------------
@check("3.1", weight=2)
def linear_values(impl):
    """y = x @ W + b on (B, T, in) inputs, with and without bias, float32 kept"""
    x, W, b = get("linear.x"), get("linear.W"), get("linear.b")
    out, _ = expect.pair(expect.call_pure(impl.linear, "linear", x, W, b), "linear")
    expect.array(out, "linear(x, W, b)", shape=fx()["linear.out"].shape, dtype=np.float64)
    expect.close(out, fx()["linear.out"], "linear(x, W, b)",
                 hint="W is (in, out), as in the GPT-2 checkpoint: y = x @ W + b.")
    out_nb, _ = expect.pair(impl.linear(x, W), "linear")
    expect.close(out_nb, fx()["linear.out"] - b, "linear(x, W) without bias")
    out32, _ = expect.pair(impl.linear(x.astype(np.float32), W.astype(np.float32),
                                       b.astype(np.float32)), "linear")
    expect.array(out32, "linear of float32 inputs", shape=out.shape, dtype=np.float32)


@check("3.1", weight=2)
def linear_backward_values(impl):
    """dx = dY Wᵀ, dW = xᵀ dY and db = Σ dY, summed over batch and time"""
    x, W, b, dout = get("linear.x"), get("linear.W"), get("linear.b"), get("linear.dout")
    _, cache = expect.pair(impl.linear(x, W, b), "linear")
    dx, dW, db = _grads(impl.linear_backward(dout, cache), 3, "linear_backward")
    expect.array(dx, "dx", shape=x.shape)
    if isinstance(dW, np.ndarray) and dW.shape == x.shape[:-2] + W.shape:
        expect.fail("dW has a batch axis: sum the per-example products over every leading "
                    "axis (reshape x and dY to (B*T, ·) first), so dW has W's shape.")
    expect.array(dW, "dW", shape=W.shape)
    expect.array(db, "db", shape=b.shape)
    expect.close(dW, fx()["linear.dW"], "dW", hint="dW = xᵀ dY, shape (in, out).")
    expect.close(db, fx()["linear.db"], "db", hint="db sums dY over batch and time.")
    expect.close(dx, fx()["linear.dx"], "dx", hint="dx = dY Wᵀ.")
    _, cache_nb = expect.pair(impl.linear(x, W), "linear")
    grads = _grads(impl.linear_backward(dout, cache_nb), 3, "linear_backward")
    if grads[2] is not None:
        expect.fail("linear_backward should return db = None when the layer has no bias.")
    f32 = [a.astype(np.float32) for a in (x, W, b, dout)]
    _, cache32 = expect.pair(impl.linear(*f32[:3]), "linear")
    for grad, ref, name in zip(_grads(impl.linear_backward(f32[3], cache32), 3,
                                      "linear_backward"), (x, W, b), ("dx", "dW", "db")):
        expect.array(grad, f"{name} of float32 inputs", shape=ref.shape, dtype=np.float32)


@check("3.1", hidden=True)
def linear_finite_differences(impl):
    """the backward agrees with finite differences of your own forward"""
    x, W, b, dout = get("linear.x"), get("linear.W"), get("linear.b"), get("linear.dout")
    out, cache = expect.pair(impl.linear(x, W, b), "linear")
    expect.require_correct(out, fx()["linear.out"], "linear", "3.1")
    dx, dW, db = _grads(impl.linear_backward(dout, cache), 3, "linear_backward")

    for grad, arr, name in ((dx, x, "dx"), (dW, W, "dW"), (db, b, "db")):
        check_gradient_of(grad, impl.linear, (x, W, b), {}, arr, dout,
                          f"{name} (finite differences)")


# ---------------------------------------------------------------------------------------
# 3.2 LayerNorm and RMSNorm
# ---------------------------------------------------------------------------------------
@check("3.2", weight=2)
def layer_norm_values(impl):
    """normalise over the last axis with the biased variance, eps inside the sqrt"""
    x, gamma, beta = get("ln.x"), get("ln.gamma"), get("ln.beta")
    eps = float(fx()["ln.eps"])
    out, _ = expect.pair(expect.call_pure(impl.layer_norm, "layer_norm", x, gamma, beta,
                                          eps=eps), "layer_norm")
    expect.array(out, "layer_norm", shape=x.shape, dtype=np.float64)
    if _matches(out, "ln.bug.eps_outside"):
        expect.fail("layer_norm puts eps outside the square root: (x - mean) / (std + eps). "
                    "It goes inside: (x - mean) / sqrt(var + eps).")
    if _matches(out, "ln.bug.unbiased"):
        expect.fail("layer_norm uses the unbiased variance (divides by n - 1). LayerNorm uses "
                    "the biased one: mean of squared deviations, divided by n.")
    expect.close(out, fx()["ln.out"], "layer_norm(x, gamma, beta)",
                 hint="Normalise over the last axis only (keepdims=True), then scale and "
                      "shift.")
    out32, _ = expect.pair(impl.layer_norm(x.astype(np.float32), gamma.astype(np.float32),
                                           beta.astype(np.float32), eps=eps), "layer_norm")
    expect.array(out32, "layer_norm of float32 inputs", shape=x.shape, dtype=np.float32)


@check("3.2", weight=3)
def layer_norm_backward_values(impl):
    """dx, dgamma and dbeta of LayerNorm"""
    x, gamma, beta, dout = get("ln.x"), get("ln.gamma"), get("ln.beta"), get("ln.dout")
    eps = float(fx()["ln.eps"])
    out, cache = expect.pair(impl.layer_norm(x, gamma, beta, eps=eps), "layer_norm")
    expect.require_correct(out, fx()["ln.out"], "layer_norm", "3.2")
    dx, dgamma, dbeta = _grads(impl.layer_norm_backward(dout, cache), 3,
                               "layer_norm_backward")
    expect.array(dgamma, "dgamma", shape=gamma.shape)
    expect.array(dbeta, "dbeta", shape=beta.shape)
    expect.close(dbeta, fx()["ln.dbeta"], "dbeta", hint="dbeta sums dY over batch and time.")
    expect.close(dgamma, fx()["ln.dgamma"], "dgamma", hint="dgamma sums dY * x_hat.")
    f32 = [a.astype(np.float32) for a in (x, gamma, beta, dout)]
    _, cache32 = expect.pair(impl.layer_norm(*f32[:3], eps=eps), "layer_norm")
    for grad, ref, name in zip(_grads(impl.layer_norm_backward(f32[3], cache32), 3,
                                      "layer_norm_backward"), (x, gamma, beta),
                               ("dx", "dgamma", "dbeta")):
        expect.array(grad, f"LayerNorm {name} of float32 inputs", shape=ref.shape,
                     dtype=np.float32)
    expect.array(dx, "dx", shape=x.shape)
    expect.close(dx, fx()["ln.dx"], "dx",
                 hint="With g = dY * gamma: dx = (g - mean(g) - x_hat * mean(g * x_hat)) / "
                      "sqrt(var + eps), means over the normalised axis.")


@check("3.2", weight=2)
def rms_norm_values_and_backward(impl):
    """RMSNorm forward and backward"""
    x, gamma, dout = get("rms.x"), get("rms.gamma"), get("rms.dout")
    out, cache = expect.pair(expect.call_pure(impl.rms_norm, "rms_norm", x, gamma),
                             "rms_norm")
    expect.array(out, "rms_norm", shape=x.shape, dtype=np.float64)
    if _matches(out, "rms.bug.eps_outside"):
        expect.fail("rms_norm puts eps outside the square root; it goes inside: "
                    "x / sqrt(mean(x^2) + eps).")
    expect.close(out, fx()["rms.out"], "rms_norm(x, gamma)",
                 hint="RMSNorm does not subtract the mean: y = x / sqrt(mean(x^2) + eps) * "
                      "gamma, default eps 1e-6.")
    dx, dgamma = _grads(impl.rms_norm_backward(dout, cache), 2, "rms_norm_backward")
    expect.close(dgamma, fx()["rms.dgamma"], "RMSNorm dgamma")
    expect.close(dx, fx()["rms.dx"], "RMSNorm dx")
    out32, cache32 = expect.pair(impl.rms_norm(x.astype(np.float32), gamma.astype(np.float32)),
                                 "rms_norm")
    expect.array(out32, "rms_norm of float32 inputs", shape=x.shape, dtype=np.float32)
    for grad, ref, name in zip(_grads(impl.rms_norm_backward(dout.astype(np.float32), cache32),
                                      2, "rms_norm_backward"), (x, gamma), ("dx", "dgamma")):
        expect.array(grad, f"RMSNorm {name} of float32 inputs", shape=ref.shape,
                     dtype=np.float32)


@check("3.2", hidden=True)
def layer_norm_finite_differences(impl):
    """LayerNorm's backward agrees with finite differences of your own forward"""
    x, gamma, beta, dout = get("ln.x"), get("ln.gamma"), get("ln.beta"), get("ln.dout")
    eps = float(fx()["ln.eps"])
    out, cache = expect.pair(impl.layer_norm(x, gamma, beta, eps=eps), "layer_norm")
    expect.require_correct(out, fx()["ln.out"], "layer_norm", "3.2")
    dx, dgamma, dbeta = _grads(impl.layer_norm_backward(dout, cache), 3,
                               "layer_norm_backward")

    for grad, arr, name in ((dx, x, "dx"), (dgamma, gamma, "dgamma"), (dbeta, beta, "dbeta")):
        check_gradient_of(grad, impl.layer_norm, (x, gamma, beta), {"eps": eps}, arr, dout,
                          f"LayerNorm {name} (finite differences)")


# ---------------------------------------------------------------------------------------
# 3.3 activations
# ---------------------------------------------------------------------------------------
ACTIVATIONS = (("relu", {}), ("gelu", {"approximate": "tanh"}),
               ("gelu", {"approximate": "none"}), ("silu", {}))


def _act_key(name, kwargs):
    return f"act.{name}_{kwargs.get('approximate', '')}".rstrip("_")


@check("3.3", weight=2)
def activation_values(impl):
    """ReLU, GELU (tanh and exact) and SiLU"""
    x = get("act.x")
    for name, kwargs in ACTIVATIONS:
        label = f"{name}({', '.join(f'{k}={v!r}' for k, v in kwargs.items()) or 'x'})"
        out, _ = expect.pair(expect.call_pure(getattr(impl, name), name, x, **kwargs), name)
        expect.array(out, label, shape=x.shape, dtype=np.float64)
        key = _act_key(name, kwargs)
        if name == "gelu":
            other = _act_key("gelu", {"approximate": "none" if kwargs["approximate"] == "tanh"
                                      else "tanh"})
            if not _matches(out, key + ".out") and _matches(out, other + ".out"):
                expect.fail(f"{label} computes the other GELU: approximate='tanh' is GPT-2's "
                            "0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))), 'none' the exact "
                            "0.5x(1 + erf(x/sqrt(2))).")
        expect.close(out, fx()[key + ".out"], label)


@check("3.3", weight=2)
def activation_backward_values(impl):
    """the derivative of each activation, times the upstream gradient"""
    x, dout = get("act.x"), get("act.dout")
    for name, kwargs in ACTIVATIONS:
        key = _act_key(name, kwargs)
        out, cache = expect.pair(getattr(impl, name)(x, **kwargs), name)
        expect.require_correct(out, fx()[key + ".out"], f"{key[4:]} (forward)", "3.3")
        dx = getattr(impl, f"{name}_backward")(dout, cache)
        expect.array(dx, f"{name}_backward", shape=x.shape, dtype=np.float64)
        hint = {"relu": "The derivative is 1 where x > 0 and 0 elsewhere (0 at x = 0).",
                "silu": "d/dx x*sigmoid(x) = sigmoid(x) * (1 + x * (1 - sigmoid(x))).",
                }.get(name, "Differentiate the same GELU form the forward used.")
        expect.close(dx, fx()[key + ".dx"], f"{key[4:]}_backward", hint=hint)


@check("3.3")
def activation_float32(impl):
    """float32 in, float32 out, forward and backward"""
    x = get("act.x").astype(np.float32)
    for name, kwargs in ACTIVATIONS:
        out, cache = expect.pair(getattr(impl, name)(x, **kwargs), name)
        expect.array(out, f"{name} of float32 input", shape=x.shape, dtype=np.float32)
        expect.close(out, fx()[_act_key(name, kwargs) + ".out"], f"{name} of float32 input",
                     **expect.F32)
        dx = getattr(impl, f"{name}_backward")(get("act.dout").astype(np.float32), cache)
        expect.array(dx, f"{name}_backward of float32 input", shape=x.shape, dtype=np.float32)
    far = get("act.far").astype(np.float32)  # |x| >= 100: exp(|x|) overflows float32
    result, info = instrumented_call(impl.silu, far)
    out, _ = expect.pair(result, "silu")
    numeric = [w for w in info.warnings if w.startswith("RuntimeWarning")]
    if numeric or not np.all(np.isfinite(out)):
        expect.fail("silu overflows for inputs like -1000 (exp(1000) in float32 is inf): "
                    "compute the sigmoid in a stable form, e.g. with exp(-|x|).")


# ---------------------------------------------------------------------------------------
# 3.4 feed-forward and SwiGLU
# ---------------------------------------------------------------------------------------
FFN_KEYS = ("W_1", "b_1", "W_2", "b_2")
SWIGLU_KEYS = ("W_gate", "W_up", "W_down")


@check("3.4", weight=2)
def feed_forward_values(impl):
    """x -> act(x W_1 + b_1) W_2 + b_2, GELU (tanh) by default"""
    x, params = get("ffn.x"), _params("ffn.params.")
    for activation in ("gelu", "relu"):
        kwargs = {} if activation == "gelu" else {"activation": activation}
        out, _ = expect.pair(expect.call_pure(impl.feed_forward, "feed_forward", x, params,
                                              **kwargs), "feed_forward")
        expect.array(out, f"feed_forward ({activation})", shape=x.shape, dtype=np.float64)
        expect.close(out, fx()[f"ffn.{activation}.out"], f"feed_forward ({activation})",
                     hint="The default activation is GELU with the tanh approximation.")


@check("3.4", weight=2)
def feed_forward_backward_values(impl):
    """dx and the gradient of every parameter of the MLP"""
    x, params, dout = get("ffn.x"), _params("ffn.params."), get("ffn.dout")
    out, cache = expect.pair(impl.feed_forward(x, params), "feed_forward")
    expect.require_correct(out, fx()["ffn.gelu.out"], "feed_forward", "3.4")
    result = impl.feed_forward_backward(dout, cache)
    if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict)):
        expect.fail("feed_forward_backward should return (dx, dparams), dparams a dict keyed "
                    "like params.")
    dx, dparams = result
    for key in reversed(FFN_KEYS):  # backward order: the first mismatch is the bug
        expect.array(dparams.get(key), f"d{key}", shape=params[key].shape)
        expect.close(dparams[key], fx()[f"ffn.grads.{key}"], f"d{key}")
    expect.close(dx, fx()["ffn.dx"], "dx of feed_forward")


@check("3.4", weight=2)
def swiglu_values_and_backward(impl):
    """W_down(silu(x W_gate) * (x W_up)) and its gradients"""
    x, params, dout = get("ffn.x"), _params("swiglu.params."), get("ffn.dout")
    out, cache = expect.pair(expect.call_pure(impl.swiglu, "swiglu", x, params), "swiglu")
    expect.array(out, "swiglu", shape=x.shape, dtype=np.float64)
    if _matches(out, "swiglu.bug.silu_on_up"):
        expect.fail("swiglu applies SiLU to the wrong branch: the gate is silu(x W_gate), "
                    "multiplied by the linear branch x W_up.")
    expect.close(out, fx()["swiglu.out"], "swiglu(x, params)")
    result = impl.swiglu_backward(dout, cache)
    if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict)):
        expect.fail("swiglu_backward should return (dx, dparams).")
    dx, dparams = result
    for key in reversed(SWIGLU_KEYS):
        expect.array(dparams.get(key), f"d{key}", shape=params[key].shape)
        expect.close(dparams[key], fx()[f"swiglu.grads.{key}"], f"d{key}",
                     hint="Product rule: the gate's gradient is d(h) * up, the linear "
                          "branch's d(h) * silu(gate).")
    expect.close(dx, fx()["swiglu.dx"], "dx of swiglu",
                 hint="x feeds both branches: dx = d(gate) W_gateᵀ + d(up) W_upᵀ.")


# ---------------------------------------------------------------------------------------
# 3.5 dropout
# ---------------------------------------------------------------------------------------
@check("3.5", weight=2)
def dropout_values(impl):
    """inverted dropout with the keep-mask rng.random(x.shape) >= p; identity in eval"""
    x, p = get("dropout.x"), float(fx()["dropout.p"])
    rng = np.random.default_rng(int(fx()["dropout.seed"]))
    out, _ = expect.pair(expect.call_pure(impl.dropout, "dropout", x, p, rng), "dropout")
    expect.array(out, "dropout(x, p, rng)", shape=x.shape, dtype=np.float64)
    if _matches(out, "dropout.bug.no_rescale"):
        expect.fail("dropout does not rescale the kept units: inverted dropout divides them "
                    "by 1 - p so that the expectation is unchanged.")
    expect.close(out, fx()["dropout.out"], "dropout(x, p, rng)",
                 hint="Draw the keep-mask as rng.random(x.shape) >= p (one draw of x's "
                      "shape), then out = x * mask / (1 - p).")
    rng = np.random.default_rng(int(fx()["dropout.eval_seed"]))
    state = rng.bit_generator.state
    out_eval, _ = expect.pair(impl.dropout(x, p, rng, train=False), "dropout")
    expect.close(out_eval, x, "dropout(..., train=False)", hint="Evaluation is the identity.")
    if rng.bit_generator.state != state:
        expect.fail("dropout(..., train=False) consumed random numbers; evaluation draws none.")
    zero, _ = expect.pair(impl.dropout(x, 1.0, np.random.default_rng(
        int(fx()["dropout.eval_seed"]))), "dropout")
    expect.close(zero, np.zeros_like(x), "dropout with p = 1",
                 hint="p = 1 drops everything (and must not divide by zero).")


@check("3.5")
def dropout_backward_values(impl):
    """the gradient passes through the same mask, scaled the same way"""
    x, p, dout = get("dropout.x"), float(fx()["dropout.p"]), get("dropout.dout")
    rng = np.random.default_rng(int(fx()["dropout.seed"]))
    out, cache = expect.pair(impl.dropout(x, p, rng), "dropout")
    expect.require_correct(out, fx()["dropout.out"], "dropout", "3.5")
    dx = impl.dropout_backward(dout, cache)
    expect.close(dx, fx()["dropout.dx"], "dropout_backward",
                 hint="dx = dout * mask / (1 - p), with the forward's mask.")
    rng = np.random.default_rng(int(fx()["dropout.seed"]))
    out32, cache32 = expect.pair(impl.dropout(x.astype(np.float32), p, rng), "dropout")
    expect.array(out32, "dropout of float32 input", shape=x.shape, dtype=np.float32)
    dx32 = impl.dropout_backward(dout.astype(np.float32), cache32)
    expect.array(dx32, "dropout_backward of float32 input", shape=x.shape, dtype=np.float32)


# ---------------------------------------------------------------------------------------
# 3.8 cross-entropy
# ---------------------------------------------------------------------------------------
CE_CASES = ("plain", "ignored", "smoothed")


def _ce(impl, name, logits=None):
    kwargs = {}
    if f"ce.{name}.smoothing" in fx():
        kwargs["label_smoothing"] = float(fx()[f"ce.{name}.smoothing"])
    logits = get("ce.logits") if logits is None else logits
    result = expect.call_pure(impl.cross_entropy, "cross_entropy", logits,
                              get(f"ce.{name}.targets"), **kwargs)
    loss, cache = expect.pair(result, "cross_entropy")
    value = np.asarray(loss)
    if value.shape != ():
        expect.fail(f"cross_entropy should return a scalar loss (the mean), got shape "
                    f"{value.shape}.")
    return value, cache


@check("3.8", weight=2)
def cross_entropy_values(impl):
    """mean over non-ignored targets; PyTorch's label smoothing over all K classes"""
    for name in CE_CASES:
        loss, _ = _ce(impl, name)
        expected = fx()[f"ce.{name}.loss"]
        if np.isclose(loss, expected, rtol=1e-9):
            continue
        if f"ce.{name}.bug.over_all" in fx() and np.isclose(loss, fx()[f"ce.{name}.bug.over_all"]):
            expect.fail("cross_entropy averages over every position; ignored targets "
                        "(ignore_index) must be left out of the mean, not counted as 0.")
        if f"ce.{name}.bug.k_minus_1" in fx() and np.isclose(
                loss, fx()[f"ce.{name}.bug.k_minus_1"]):
            expect.fail("label smoothing spreads eps over the K - 1 wrong classes; PyTorch "
                        "spreads eps/K over all K classes, the target included.")
        expect.fail(f"cross_entropy ({name} case) is {float(loss):.10g}, expected "
                    f"{float(expected):.10g}.")


@check("3.8", weight=2)
def cross_entropy_backward_values(impl):
    """dlogits = (softmax - target distribution) / N, zero rows for ignored targets"""
    for name in CE_CASES:
        loss, cache = _ce(impl, name)
        expect.require_correct(np.asarray(loss)[None], fx()[f"ce.{name}.loss"][None],
                         "cross_entropy", "3.8")
        dlogits = impl.cross_entropy_backward(1.0, cache)
        expect.array(dlogits, "dlogits", shape=fx()["ce.logits"].shape, dtype=np.float64)
        hint = {"plain": "dlogits = (softmax(logits) - onehot(target)) / N.",
                "ignored": "Divide by the number of non-ignored targets; ignored rows get 0.",
                "smoothed": "With label smoothing the target distribution is q = (1 - eps) "
                            "onehot + eps / K, so dlogits = (softmax - q) / N."}[name]
        expect.close(dlogits, fx()[f"ce.{name}.dlogits"], f"dlogits ({name} case)", hint=hint)
    logits32 = get("ce.logits").astype(np.float32)
    loss32, cache32 = expect.pair(impl.cross_entropy(
        logits32, get("ce.smoothed.targets"),
        label_smoothing=float(fx()["ce.smoothed.smoothing"])), "cross_entropy")
    if np.asarray(loss32).dtype != np.float32:
        expect.fail(f"cross_entropy of float32 logits returned a {np.asarray(loss32).dtype} loss; "
                    "keep float32 (a float64 one-hot or constant can promote it).")
    expect.array(impl.cross_entropy_backward(1.0, cache32), "dlogits of float32 logits",
                 shape=logits32.shape, dtype=np.float32)


@check("3.8")
def cross_entropy_stable_and_all_ignored(impl):
    """logits of size 1e4 are fine; if every target is ignored, loss 0 without NaN"""
    big = get("ce.logits") * float(fx()["ce.big.scale"])  # about 1e4
    loss, cache = _ce(impl, "plain", logits=big)
    if not np.isfinite(loss):
        expect.fail("cross_entropy overflows on logits of size 1e4: use the log-sum-exp trick "
                    "(subtract the row max before exp).")
    expect.close(np.asarray(loss)[None], fx()["ce.big.loss"][None], "cross-entropy of large logits")
    targets = np.full(get("ce.plain.targets").shape, -100)
    loss0, cache0 = expect.pair(impl.cross_entropy(get("ce.logits"), targets), "cross_entropy")
    if not (np.isfinite(loss0) and float(loss0) == 0.0):
        expect.fail(f"with every target ignored the loss should be 0 (no NaN), got {loss0!r}.")
    d0 = impl.cross_entropy_backward(1.0, cache0)
    expect.close(d0, np.zeros_like(get("ce.logits")), "dlogits with every target ignored")


# ---------------------------------------------------------------------------------------
# 3.10 AdamW, clipping, schedules
# ---------------------------------------------------------------------------------------
@check("3.10", weight=3)
def adamw_steps(impl):
    """PyTorch's AdamW: decoupled decay first, bias-corrected moments, an lr per step"""
    params = _params("adamw.params.")
    originals = dict(params)  # the model's own arrays: they must change, not be replaced
    beta1, beta2 = (float(b) for b in fx()["adamw.betas"])
    opt = impl.AdamW(lr=float(fx()["adamw.lr"]), betas=(beta1, beta2),
                     eps=float(fx()["adamw.eps"]), weight_decay=float(fx()["adamw.wd"]))
    for step in range(3):
        grads = _params(f"adamw.grads{step}.")
        lr = float(fx()["adamw.lr_step3"]) if step == 2 else None
        if lr is None:
            opt.step(params, grads)
        else:
            opt.step(params, grads, lr=lr)
        for key in originals:
            if params[key] is not originals[key]:
                expect.fail(f"AdamW.step replaced params[{key!r}] with a new array; update it "
                            "in place (p -= ..., or p[...] = ...) so the model's own arrays "
                            "change.")
        for key, value in params.items():
            expected = fx()[f"adamw.after{step}.{key}"]
            if np.allclose(value, expected, **expect.F64):
                continue
            for bug, message in (
                ("l2", "weight decay was added to the gradient (L2). AdamW decouples it: "
                       "p -= lr * weight_decay * p, separately from the Adam update."),
                ("no_bias_correction", "the moments are not bias-corrected: divide m by "
                                       "1 - beta1^t and v by 1 - beta2^t."),
                ("decay_after", "the decay is applied after the Adam update; PyTorch decays "
                                "first, using the parameter before this step's update."),
            ):
                if _matches(value, f"adamw.bug.{bug}.after{step}.{key}"):
                    expect.fail(f"after step {step + 1}, {key}: {message}")
            expect.close(value, expected, f"{key} after step {step + 1}",
                         hint="Update the arrays of `params` in place, keeping m, v and the "
                              "step count per parameter." + (
                                  " Step 3 passes lr=... to step(): use it." if step == 2
                                  else ""))


@check("3.10", weight=2)
def clip_grad_norm_values(impl):
    """clip_grad_norm returns the total norm and scales every gradient in place"""
    grads = _params("clip.grads.")
    originals = dict(grads)
    total = impl.clip_grad_norm(grads, float(fx()["clip.max_norm"]))
    for key in originals:
        if grads[key] is not originals[key]:
            expect.fail(f"clip_grad_norm replaced grads[{key!r}] with a new array; scale it in "
                        "place (g *= coef) so the caller's gradients change.")
    if not np.isclose(float(total), float(fx()["clip.total"]), rtol=1e-9):
        expect.fail(f"clip_grad_norm returned {float(total):.10g}; the total norm over all "
                    f"gradients (before clipping) is {float(fx()['clip.total']):.10g}: sqrt "
                    "of the sum of every squared entry of every gradient.")
    for key, value in grads.items():
        expect.close(value, fx()[f"clip.clipped.{key}"], f"gradient {key} after clipping",
                     hint="Scale in place by max_norm / (total + 1e-6) when that is below 1.")
    small = _params("clip.grads.")
    impl.clip_grad_norm(small, float(fx()["clip.loose_max_norm"]))  # above the total norm
    for key, value in small.items():
        expect.close(value, fx()[f"clip.grads.{key}"], f"gradient {key} under a large max_norm",
                     hint="Gradients below max_norm are left unchanged.")


@check("3.10", weight=2)
def schedules(impl):
    """the Noam schedule and linear-warmup cosine decay"""
    d_model, warmup = int(fx()["sched.d_model"]), int(fx()["sched.warmup"])
    max_lr, min_lr = float(fx()["sched.max_lr"]), float(fx()["sched.min_lr"])
    total = int(fx()["sched.total"])
    for i, step in enumerate(fx()["sched.steps"]):
        noam = float(impl.noam_schedule(int(step), d_model, warmup))
        if not np.isclose(noam, float(fx()["sched.noam"][i]), rtol=1e-9):
            expect.fail(f"noam_schedule({int(step)}, {d_model}, {warmup}) = {noam:.6g}, "
                        f"expected {float(fx()['sched.noam'][i]):.6g}: d^-0.5 * "
                        "min(step^-0.5, step * warmup^-1.5).")
        cosine = float(impl.cosine_schedule(int(step), max_lr, min_lr, warmup, total))
        if not np.isclose(cosine, float(fx()["sched.cosine"][i]), rtol=1e-9, atol=1e-15):
            expect.fail(f"cosine_schedule({int(step)}, max_lr={max_lr:.6g}, "
                        f"min_lr={min_lr:.6g}, warmup={warmup}, total={total}) = "
                        f"{cosine:.6g}, expected {float(fx()['sched.cosine'][i]):.6g}.")


# ---------------------------------------------------------------------------------------
# 3.6 / 3.7 encoder and decoder layers
# ---------------------------------------------------------------------------------------
MHA_KEYS = ("W_q", "b_q", "W_k", "b_k", "W_v", "b_v", "W_o", "b_o")
LN_KEYS = ("gamma", "beta")
ENCODER_KEYS = tuple(f"{p}.{k}" for p, keys in (("attn", MHA_KEYS), ("ln_1", LN_KEYS),
                                                ("ffn", FFN_KEYS), ("ln_2", LN_KEYS))
                     for k in keys)
DECODER_KEYS = tuple(f"{p}.{k}" for p, keys in (
    ("self_attn", MHA_KEYS), ("ln_1", LN_KEYS), ("cross_attn", MHA_KEYS), ("ln_2", LN_KEYS),
    ("ffn", FFN_KEYS), ("ln_3", LN_KEYS)) for k in keys)
PLACEMENTS = (("post", False), ("pre", True))
# Each layer's sub-layers in forward order: (params prefix, its LayerNorm, input, output).
SUBLAYERS = {
    "enc": (("attn", "ln_1", "x", "h"), ("ffn", "ln_2", "h", "out")),
    "dec": (("self_attn", "ln_1", "x", "h_1"), ("cross_attn", "ln_2", "h_1", "h_2"),
            ("ffn", "ln_3", "h_2", "out")),
}
SUBLAYER_TITLES = {"attn": "self-attention", "self_attn": "masked self-attention",
                   "cross_attn": "cross-attention", "ffn": "feed-forward"}
LAYER_FORMULAS = {
    ("enc", "post"): "h = ln_1(x + drop(attn(x, x))); out = ln_2(h + drop(ffn(h)))",
    ("enc", "pre"): "h = x + drop(attn(ln_1(x), ln_1(x))); out = h + drop(ffn(ln_2(h)))",
    ("dec", "post"): "h_1 = ln_1(x + drop(self_attn(x, x))); h_2 = ln_2(h_1 + "
                     "drop(cross_attn(h_1, memory))); out = ln_3(h_2 + drop(ffn(h_2)))",
    ("dec", "pre"): "h_1 = x + drop(self_attn(ln_1(x), ln_1(x))); h_2 = h_1 + "
                    "drop(cross_attn(ln_2(h_1), memory)); out = h_2 + drop(ffn(ln_3(h_2)))",
}
LAYER_IDS = {"enc": ("3.6", "encoder_layer"), "dec": ("3.7", "decoder_layer")}


def _fail_with(actual, expected, label: str, why: str) -> None:
    """Fail with where `actual` and `expected` differ, then the likely mistake `why`."""
    try:
        expect.close(actual, expected, label)
    except expect.CheckFailed as exc:
        expect.fail(f"{exc} Likely mistake: {why}")
    expect.fail(f"{label}: {why}")


def _diagnose(actual, expected_key: str, label: str, bugs: dict[str, str]) -> None:
    """If `actual` is not the fixture `expected_key` but equals a known wrong formula's
    fixture (`bugs`: fixture key -> likely mistake), fail naming that mistake."""
    if _matches(actual, expected_key):
        return
    for key, why in bugs.items():
        if key in fx() and _matches(actual, key):
            _fail_with(actual, fx()[expected_key], label, why)


def _forward_bugs(layer: str, placement: str) -> dict[str, str]:
    """Fixture key -> likely mistake, for the known wrong forwards of a layer."""
    other = "pre" if placement == "post" else "post"
    formula = LAYER_FORMULAS[(layer, placement)]
    base = f"{layer}.{placement}.bug."
    bugs = {f"{layer}.{other}.out":
            f"your layer computed the {other}-norm layer. norm_first={placement == 'pre'} "
            f"is {placement}-norm: {formula}.",
            base + "no_residual": f"every residual connection is missing: each sub-layer's "
                                  f"output is added to its input ({formula})."}
    for sub, _, src, dst in SUBLAYERS[layer]:
        bugs[base + f"no_residual_{sub}"] = (
            f"the residual connection around the {SUBLAYER_TITLES[sub]} sub-layer is missing: "
            f"{dst} adds the sub-layer's output to {src} ({formula}).")
    bugs[base + "residual_from_ln"] = (
        "the residuals add the normalised input: pre-norm adds each sub-layer's output to its "
        f"input before the LayerNorm, x + attn(ln_1(x)), not ln_1(x) + attn(ln_1(x)) "
        f"({formula}).")
    if layer == "enc":
        bugs[base + "no_mask"] = (
            "the padding mask is not applied: pass `mask` to the self-attention, so that "
            "padded source positions get weight 0.")
    else:
        bugs[base + "no_causal"] = (
            "the self-attention is not causal: with self_mask=None it uses the causal mask "
            "causal_mask(T), so that target position t sees only positions <= t.")
        bugs[base + "no_memory_mask"] = (
            "memory_mask is ignored: pass it to the cross-attention, so that padded memory "
            "(source) positions get weight 0.")
        bugs[base + "memory_normed"] = (
            "the memory went through ln_2: pre-norm normalises only the decoder stream, "
            "cross_attn(ln_2(h_1), memory) uses the encoder output as it is.")
    bugs[base + "ffn_gelu"] = (
        "the feed-forward network ran with GELU: pass `activation` on to feed_forward "
        "(ReLU by default, as in Vaswani et al.).")
    return bugs


def _dropout_bugs(layer: str, placement: str) -> dict[str, str]:
    """Fixture key -> likely mistake, for the known wrong training forwards (dropout)."""
    base = f"{layer}.{placement}.drop.bug."
    order = ", then ".join(SUBLAYER_TITLES[s[0]] for s in SUBLAYERS[layer])
    bugs = {f"{layer}.{placement}.out":
            "no dropout was applied: with train=True and dropout_p > 0, drop each sub-layer's "
            "output with dropout(y, dropout_p, rng, train) (3.5)."}
    bugs.update({key: "the dropout masks are drawn in the wrong order: one "
                      f"rng.random(shape) per sub-layer output, in the order they run ({order})."
                 for key in fx() if key.startswith(base + "order_")})
    bugs[base + "same_mask"] = ("one dropout mask is reused for several sub-layers: each "
                                "sub-layer's output gets its own draw.")
    bugs[base + "after_residual"] = (
        "dropout acts after the residual addition: it drops the sub-layer's output before "
        "the add (x + drop(attn(...))), never the residual stream itself.")
    return bugs


def _backward_bugs(layer: str, placement: str, base: str) -> dict[str, str]:
    """Fixture-key prefix -> likely mistake, for the known wrong backwards (their `.dx` and
    `.dmemory` are stored)."""
    bugs = {}
    for sub, ln, src, dst in SUBLAYERS[layer]:
        title = SUBLAYER_TITLES[sub]
        if placement == "pre":
            identity = (f"{dst} = {src} + drop({sub}({ln}({src}))) passes d{dst} to {src} "
                        f"unchanged: d{src} = d{dst} + ({ln}'s backward of the {title} "
                        "sub-layer's input gradient).")
        else:
            identity = (f"z = {src} + drop({sub}(...)) passes dz (after {ln}'s backward) to "
                        f"{src} unchanged: d{src} = dz + (the {title} sub-layer's input "
                        "gradient).")
        bugs[base + f"bwd_no_identity_{sub}"] = (
            f"the residual's gradient is missing around the {title} sub-layer: {identity}")
        both = (f"d{src} = d{dst} + ({ln}'s backward of the sub-layer's input gradient)"
                if placement == "pre" else
                f"d{src} = dz + (the sub-layer's input gradient), dz being {ln}'s backward")
        below = " (dmemory included)" if layer == "dec" else ""
        bugs[base + f"bwd_no_branch_{sub}"] = (
            f"the {title} sub-layer's gradient does not reach {src}: {src} feeds both the "
            f"residual and the sub-layer, so {both}. Without the second term every gradient "
            f"below it{below} misses that contribution.")
        bugs[base + f"no_drop_bwd_{sub}"] = (
            f"the gradient skips the {title} sub-layer's dropout: pass it through "
            "dropout_backward with that dropout's cache (the forward's mask and scale).")
    bugs[base + "bwd_no_kv"] = (
        "x is the self-attention's queries and its keys and values: its gradient adds dx_q "
        "and dx_kv.")
    return bugs


def _check_backward(layer: str, placement: str, what: str, dparams, outputs: dict,
                    expected: dict[str, str]) -> None:
    """The parameter gradients of a layer's backward, and a diagnosis when they or its
    `outputs` ({"dx": ..., "dmemory": ...}; fixture keys in `expected`) are wrong."""
    keys = ENCODER_KEYS if layer == "enc" else DECODER_KEYS
    if not isinstance(dparams, dict):
        expect.fail(f"{what} should return the parameter gradients as a dict keyed like params.")
    missing = sorted(set(keys) - set(dparams))
    if missing:
        expect.fail(f"{what}: dparams is missing {missing[:4]}; it needs every key of params.")
    grads = f"{layer}.{placement}.grads."
    for _, ln, _, _ in SUBLAYERS[layer]:
        if (_matches(dparams[f"{ln}.gamma"], f"{grads}{ln}.beta")
                and _matches(dparams[f"{ln}.beta"], f"{grads}{ln}.gamma")):
            expect.fail(f"{what}: d({ln}.gamma) and d({ln}.beta) are swapped. dgamma sums "
                        "dout * xhat over the rows, dbeta sums dout (layer_norm_backward "
                        "returns dx, dgamma, dbeta in that order).")
    base = f"{layer}.{placement}.bug."
    for prefix, why in _backward_bugs(layer, placement, base).items():
        for name, value in outputs.items():
            if f"{prefix}.{name}" in fx() and not _matches(value, expected[name]):
                _diagnose(value, expected[name], f"{what}: {name}", {f"{prefix}.{name}": why})
    # Backward order, so that the first mismatch is nearest the bug.
    order = []
    for sub, ln, _, _ in reversed(SUBLAYERS[layer]):
        parts = (ln, sub) if placement == "post" else (sub, ln)
        order += [k for part in parts for k in reversed(keys) if k.startswith(part + ".")]
    for i, key in enumerate(order):
        sub = key.split(".")[0]
        done = [s for s in dict.fromkeys(k.split(".")[0] for k in order[:i]) if s != sub]
        hint = (f"The gradients your backward computes before it ({', '.join(done)}) are "
                f"right, so the error enters at {SUBLAYER_TITLES.get(sub, sub)}: check the "
                "gradient that reaches it (a residual passes its gradient to both summands; "
                "dropout_backward uses the forward's cache)." if done else "")
        expect.close(dparams[key], fx()[grads + key], f"{what}: d({key})", hint=hint)


def _heads(layer: str) -> int:
    """The number of heads the fixtures of `layer` ("enc" or "dec") were built with."""
    return int(fx()[f"{layer}.n_heads"])


def _encoder(impl, placement: str, x=None, **kwargs):
    norm_first = placement == "pre"
    x = get("enc.x") if x is None else x
    kwargs.setdefault("mask", get("enc.mask"))
    result = expect.call_pure(impl.encoder_layer, "encoder_layer", x, _params("enc.params."),
                              _heads("enc"), norm_first=norm_first, **kwargs)
    return expect.pair(result, "encoder_layer")


@check("3.6", weight=3)
def encoder_values(impl):
    """post-norm (Vaswani) and pre-norm encoder layers, with a padding mask"""
    for placement, norm_first in PLACEMENTS:
        out, _ = _encoder(impl, placement)
        label = f"3.6 encoder_layer(norm_first={norm_first})"
        expect.array(out, label, shape=get("enc.x").shape, dtype=np.float64)
        _diagnose(out, f"enc.{placement}.out", label, _forward_bugs("enc", placement))
        expect.close(out, fx()[f"enc.{placement}.out"], label,
                     hint=f"Expected {LAYER_FORMULAS[('enc', placement)]}: self-attention "
                          "(queries, keys and values all from the same input, with the mask), "
                          "then the ReLU FFN, each with its residual add and its LayerNorm.")


@check("3.6", weight=3)
def encoder_backward_values(impl):
    """dx and every parameter gradient of both placements"""
    for placement, norm_first in PLACEMENTS:
        out, cache = _encoder(impl, placement)
        expect.require_correct(out, fx()[f"enc.{placement}.out"], "encoder_layer", "3.6")
        result = impl.encoder_layer_backward(get("enc.dout"), cache)
        if not (isinstance(result, tuple) and len(result) == 2):
            expect.fail("encoder_layer_backward should return (dx, dparams).")
        dx, dparams = result
        what = f"3.6 encoder_layer_backward (norm_first={norm_first})"
        _check_backward("enc", placement, what, dparams, {"dx": dx},
                        {"dx": f"enc.{placement}.dx"})
        expect.close(dx, fx()[f"enc.{placement}.dx"], f"{what}: dx",
                     hint="The residual adds the identity path: dx gets the upstream gradient "
                          "itself plus what flows back through the sublayer (self-attention "
                          "uses x three times: sum dx_q and dx_kv).")


def _layer_dropout(impl, layer: str, call, backward) -> None:
    """Dropout of a layer: the identity in evaluation (no draw), then each placement in
    training against the fixtures, forward and backward. `call(placement, **kwargs)` runs
    the layer; `backward(dout, cache)` returns {"dx": ..., ("dmemory": ...)}."""
    exercise, name = LAYER_IDS[layer]
    p, seed = float(fx()[f"{layer}.drop.p"]), int(fx()[f"{layer}.drop.seed"])
    for placement, _ in PLACEMENTS:  # points only for a layer right without dropout
        plain, cache = expect.pair(call(placement), name)
        expect.require_correct(plain, fx()[f"{layer}.{placement}.out"], name, exercise)
        for out_name, value in backward(get(f"{layer}.dout"), cache).items():
            expect.require_correct(value, fx()[f"{layer}.{placement}.{out_name}"],
                                   f"{name}_backward ({out_name})", exercise)
    rng = np.random.default_rng(seed)
    state = rng.bit_generator.state
    out, _ = expect.pair(call("post", dropout_p=p, rng=rng, train=False), name)
    if not _matches(out, f"{layer}.post.out"):
        _fail_with(out, fx()[f"{layer}.post.out"], f"{exercise} {name}(dropout_p={p}, "
                   "train=False)", "dropout ran in evaluation: pass `train` on to dropout; "
                   "with train=False every dropout is the identity.")
    if rng.bit_generator.state != state:
        expect.fail(f"{exercise} {name}(dropout_p={p}, train=False) drew random numbers; in "
                    "evaluation dropout is the identity and draws none.")
    for placement, norm_first in PLACEMENTS:
        out, cache = expect.pair(call(placement, dropout_p=p, rng=np.random.default_rng(seed),
                                      train=True), name)
        label = f"{exercise} {name}(norm_first={norm_first}, dropout_p={p}, train=True)"
        expect.array(out, label, shape=fx()[f"{layer}.dout"].shape, dtype=np.float64)
        _diagnose(out, f"{layer}.{placement}.drop.out", label, _dropout_bugs(layer, placement))
        expect.close(out, fx()[f"{layer}.{placement}.drop.out"], label,
                     hint="Dropout (3.5) acts on each sub-layer's output before its residual "
                          "add: dropout(y, dropout_p, rng, train), one draw per sub-layer, in "
                          "the order the sub-layers run.")
        grads = backward(get(f"{layer}.dout"), cache)
        base = f"{layer}.{placement}.drop.bug."
        for out_name, value in grads.items():
            key = f"{layer}.{placement}.drop.{out_name}"
            bugs = {f"{prefix}.{out_name}": why
                    for prefix, why in _backward_bugs(layer, placement, base).items()}
            _diagnose(value, key, f"{label} backward: {out_name}", bugs)
            expect.close(value, fx()[key], f"{label} backward: {out_name}",
                         hint="In training the gradient passes back through each dropout "
                              "(dropout_backward with its cache) before its sub-layer.")


@check("3.6", weight=2)
def encoder_dropout(impl):
    """training dropout on both sub-layer outputs (attention's mask drawn first), none in eval"""

    def call(placement, **kwargs):
        return impl.encoder_layer(get("enc.x"), _params("enc.params."), _heads("enc"),
                                  mask=get("enc.mask"), norm_first=placement == "pre", **kwargs)

    def backward(dout, cache):
        result = impl.encoder_layer_backward(dout, cache)
        if not (isinstance(result, tuple) and len(result) == 2):
            expect.fail("encoder_layer_backward should return (dx, dparams).")
        return {"dx": result[0]}

    _layer_dropout(impl, "enc", call, backward)


@check("3.6", weight=2, hidden=True, timeout=30)
def encoder_finite_differences(impl):
    """the backward agrees with finite differences of your own forward"""
    x, dout = get("enc.x"), get("enc.dout")
    out, cache = _encoder(impl, "pre", x)
    expect.require_correct(out, fx()["enc.pre.out"], "encoder_layer", "3.6")
    dx, dparams = impl.encoder_layer_backward(dout, cache)
    params = _params("enc.params.")

    args, kwargs = (x, params, _heads("enc")), {"mask": get("enc.mask"), "norm_first": True}
    check_gradient_of(dx, impl.encoder_layer, args, kwargs, x, dout,
                      "encoder dx (finite differences)")
    for key in ("ln_1.gamma", "ffn.b_1", "attn.W_v"):
        check_gradient_of(dparams[key], impl.encoder_layer, args, kwargs, params[key], dout,
                          f"encoder d{key} (finite differences)")


def _explain_shape_error(impl, exc: Exception, placement: str) -> None:
    """A decoder_layer that raised a broadcasting error: say what the cross-attention's
    shapes are (its queries, keys or values probably come from the wrong stream)."""
    text = str(getattr(exc, "message", exc))
    memory_length = get("dec.memory").shape[1]  # S shows up only in the memory's shapes
    if not (any(s in text for s in ("broadcast", "mismatch", "not aligned"))
            and str(memory_length) in text):
        return
    kind = getattr(exc, "type_name", type(exc).__name__)
    found = ""
    try:  # without memory_mask, a cross-attention that reads x may run: which one is it?
        out, _ = impl.decoder_layer(get("dec.x"), get("dec.memory"), _params("dec.params."),
                                    _heads("dec"), norm_first=placement == "pre")
        if _matches(out, f"dec.{placement}.bug.kv_from_x"):
            found = (" Without memory_mask your layer runs, and its output is the "
                     "cross-attention's with keys and values from x: take them from memory.")
    except Exception:  # noqa: BLE001 — the first error is the one to explain
        pass
    x, memory = get("dec.x"), get("dec.memory")
    expect.fail(
        f"3.7 decoder_layer(norm_first={placement == 'pre'}) raised {kind}: {text}. Here the "
        f"target has T = {x.shape[1]} positions and the memory S = {memory.shape[1]}: the "
        "cross-attention takes its queries from the decoder stream (h_1, or ln_2(h_1) in "
        "pre-norm) and its keys and values from memory, so its weights are (B, H, T, S), "
        "memory_mask (B, 1, 1, S) broadcasts against them, and its output is (B, T, C) like "
        f"h_1. Queries from memory, or keys and values from x, do not fit.{found}")


def _decoder(impl, placement: str, x=None, pure: bool = True, **kwargs):
    """decoder_layer on the fixture's inputs; `pure`: also check that no input is modified
    (not with a generator, whose state the call must advance)."""
    x = get("dec.x") if x is None else x
    kwargs.setdefault("memory_mask", get("dec.memory_mask"))
    args = (x, get("dec.memory"), _params("dec.params."), _heads("dec"))
    try:
        if pure:
            result = expect.call_pure(impl.decoder_layer, "decoder_layer", *args,
                                      norm_first=placement == "pre", **kwargs)
        else:
            result = impl.decoder_layer(*args, norm_first=placement == "pre", **kwargs)
    except expect.CheckFailed:
        raise
    except Exception as exc:  # noqa: BLE001 — explained when it is a shape error, else raised
        _explain_shape_error(impl, exc, placement)
        raise
    return expect.pair(result, "decoder_layer")


@check("3.7", weight=3)
def decoder_values(impl):
    """masked self-attention, cross-attention to the memory, FFN; both placements; masks"""
    for placement, norm_first in PLACEMENTS:
        out, _ = _decoder(impl, placement)
        label = f"3.7 decoder_layer(norm_first={norm_first})"
        expect.array(out, label, shape=get("dec.x").shape, dtype=np.float64)
        _diagnose(out, f"dec.{placement}.out", label, _forward_bugs("dec", placement))
        expect.close(out, fx()[f"dec.{placement}.out"], label,
                     hint=f"Expected {LAYER_FORMULAS[('dec', placement)]}, the self-attention "
                          "causal, the cross-attention with memory_mask.")
    # A self_mask that is passed is used as it is (here: causal and target padding).
    out, _ = _decoder(impl, "post", self_mask=get("dec.self_mask"))
    label = "3.7 decoder_layer(self_mask=causal & padding)"
    expect.array(out, label, shape=get("dec.x").shape, dtype=np.float64)
    _diagnose(out, "dec.post.self_mask.out", label, {
        "dec.post.out": "the self_mask you were given is ignored (the output is the one of the "
                        "plain causal mask): use self_mask as it is when it is not None."})
    expect.close(out, fx()["dec.post.self_mask.out"], label,
                 hint="When self_mask is given, the self-attention uses it as it is.")


@check("3.7", hidden=True)
def decoder_causality(impl):
    """changing a later target token never changes an earlier output"""
    x = get("dec.x")
    out, _ = _decoder(impl, "pre", x)
    expect.array(out, "decoder_layer output", shape=x.shape)
    changed = x.copy()
    changed[:, -1] += 3.0
    out2, _ = _decoder(impl, "pre", changed)
    expect.array(out2, "decoder_layer output", shape=x.shape)
    leak = np.abs(out2[:, :-1] - out[:, :-1]).max()
    if leak > 1e-12:
        expect.fail(f"3.7: changing the last target token moved earlier outputs by {leak:.3g}: "
                    "the decoder's self-attention must be causal (self_mask=None means "
                    "causal_mask(T)).")
    expect.require_correct(out, fx()["dec.pre.out"], "decoder_layer", "3.7")


def _decoder_backward(impl, dout, cache):
    result = impl.decoder_layer_backward(dout, cache)
    if not (isinstance(result, tuple) and len(result) == 3):
        expect.fail("decoder_layer_backward should return (dx, dmemory, dparams).")
    return result


@check("3.7", weight=2)
def decoder_dropout(impl):
    """training dropout on the three sub-layer outputs, in their order; none in eval"""

    def call(placement, **kwargs):
        return _decoder(impl, placement, pure=False, **kwargs)

    def backward(dout, cache):
        dx, dmemory, _ = _decoder_backward(impl, dout, cache)
        return {"dmemory": dmemory, "dx": dx}

    _layer_dropout(impl, "dec", call, backward)


@check("3.7", weight=4)
def decoder_backward_values(impl):
    """dx, dmemory (from the cross-attention) and every parameter gradient"""
    for placement, norm_first in PLACEMENTS:
        out, cache = _decoder(impl, placement)
        expect.require_correct(out, fx()[f"dec.{placement}.out"], "decoder_layer", "3.7")
        dx, dmemory, dparams = _decoder_backward(impl, get("dec.dout"), cache)
        what = f"3.7 decoder_layer_backward (norm_first={norm_first})"
        _check_backward("dec", placement, what, dparams, {"dx": dx, "dmemory": dmemory},
                        {"dx": f"dec.{placement}.dx", "dmemory": f"dec.{placement}.dmemory"})
        expect.close(dmemory, fx()[f"dec.{placement}.dmemory"], f"{what}: dmemory",
                     hint="The memory feeds the cross-attention's keys and values: dmemory is "
                          "its dx_kv.")
        expect.close(dx, fx()[f"dec.{placement}.dx"], f"{what}: dx")


# ---------------------------------------------------------------------------------------
# 3.9 the encoder-decoder Transformer
# ---------------------------------------------------------------------------------------
# Two tiny float64 models with distinct sizes, drawn with the fixtures (`s2s.<name>.config.*`,
# see `_s2s_config`); what each case is about is fixed:
# "post": post-norm, untied head, padding id 0;  "pre": pre-norm, tied head, one shared table.
SEQ2SEQ_CASES = {
    "post": {"n_layers": 2, "max_len": 16, "norm_first": False, "tie_head": False,
             "share_embeddings": False, "pad_id": 0, "dtype": "float64"},
    "pre": {"n_layers": 2, "max_len": 16, "norm_first": True, "tie_head": True,
            "share_embeddings": True, "pad_id": None, "dtype": "float64"},
}
SEQ2SEQ_SIZES = ("src_vocab_size", "tgt_vocab_size", "d_model", "n_heads", "d_ff")
SEQ2SEQ_GRAD_HINTS = {  # by the first part of a parameter's name
    "encoder": "The memory feeds every decoder layer: sum their dmemory before the encoder's "
               "backward (and through encoder.ln when pre-norm).",
    "tgt_embed": "A table gets sqrt(C) times the scatter-add of dX_0 (after dropout's "
                 "backward), plus the head's dlogitsᵀ h when tied.",
    "src_embed": "A table gets sqrt(C) times the scatter-add of dX_0 (after dropout's "
                 "backward).",
}


def _s2s_config(name: str) -> dict:
    """The TransformerConfig fields of the fixtures' model `name`: its drawn sizes and the
    structure of its case."""
    sizes = {k: int(fx()[f"s2s.{name}.config.{k}"]) for k in SEQ2SEQ_SIZES}
    return {**sizes, **SEQ2SEQ_CASES[name]}


def _s2s_smoothing() -> float:
    return float(fx()["s2s.smoothing"])


def _seq2seq_names(config: dict) -> list[str]:
    """The parameter names the lecture and the docstring promise for `config`."""
    names = [] if config.get("share_embeddings") else ["src_embed"]
    names.append("tgt_embed")
    for stack, keys in (("encoder", ENCODER_KEYS), ("decoder", DECODER_KEYS)):
        names += [f"{stack}.{i}.{k}" for i in range(config["n_layers"]) for k in keys]
        if config.get("norm_first"):
            names += [f"{stack}.ln.gamma", f"{stack}.ln.beta"]
    if not config.get("tie_head", True):
        names += ["head.W", "head.b"]
    return names


def _check_seq2seq_names(params, config: dict) -> None:
    if not isinstance(params, dict):
        expect.fail("Transformer(config).params should be a flat dict of arrays.")
    expected = _seq2seq_names(config)
    what = (f"Transformer(TransformerConfig(norm_first={config['norm_first']}, "
            f"tie_head={config['tie_head']}, share_embeddings={config['share_embeddings']}))")
    if config["tie_head"] and "head.W" in params:
        expect.fail(f"{what}.params has head.W: with tie_head=True the logits reuse the target "
                    "embedding (logits = h @ tgt_embedᵀ), there is no separate head.")
    if not config["tie_head"] and "head.W" not in params:
        expect.fail(f"{what}.params has no head.W: with tie_head=False the output projection "
                    "is its own linear layer, head.W (C, V_tgt) and head.b (V_tgt,).")
    if config["share_embeddings"] and "src_embed" in params:
        expect.fail(f"{what}.params has src_embed: with share_embeddings=True the source "
                    "uses tgt_embed too (one table).")
    missing, extra = [n for n in expected if n not in params], sorted(set(params) - set(expected))
    if missing or extra:
        expect.fail(f"{what}.params: missing {missing[:4]}, unexpected {extra[:4]} (see the "
                    "parameter list in the module docstring: encoder.{{i}}.attn.W_q ..., "
                    "encoder.ln.* and decoder.ln.* only when norm_first).")


def _seq2seq(impl, name: str):
    """A tiny Transformer of configuration `name` holding the fixture's weights."""
    config = _s2s_config(name)
    model = impl.Transformer(impl.TransformerConfig(**config),
                             np.random.default_rng(int(fx()["s2s.init_seed"])))
    _check_seq2seq_names(model.params, config)
    model.params = {k: get(f"s2s.{name}.params.{k}") for k in _seq2seq_names(config)}
    return model


@check("3.9", weight=2)
def seq2seq_init(impl):
    """the parameters: names, shapes, dtype and initial values, drawn from rng"""
    seed, other_seed = (int(s) for s in fx()["s2s.init.seeds"])
    for base in map(_s2s_config, SEQ2SEQ_CASES):
        config = {**base, "d_model": 32, "n_heads": 4, "src_vocab_size": 200,
                  "tgt_vocab_size": 200 if base["share_embeddings"] else 150,
                  "dtype": "float32"}
        C, F, V_tgt = config["d_model"], config["d_ff"], config["tgt_vocab_size"]
        params = impl.Transformer(impl.TransformerConfig(**config),
                                  np.random.default_rng(seed)).params
        _check_seq2seq_names(params, config)
        shapes = {"src_embed": (config["src_vocab_size"], C), "tgt_embed": (V_tgt, C),
                  "head.W": (C, V_tgt), "head.b": (V_tgt,)}
        for key, value in params.items():
            last = key.split(".")[-1]
            shape = shapes.get(key) or {"W_1": (C, F), "b_1": (F,), "W_2": (F, C)}.get(
                last, (C, C) if last.startswith("W_") else (C,))
            expect.array(value, f"params[{key!r}]", shape=shape, dtype=np.float32)
            if last == "gamma" and not np.all(value == 1):
                expect.fail(f"params[{key!r}] should start at ones (LayerNorm gain).")
            if (last == "beta" or last.startswith("b")) and not np.all(value == 0):
                expect.fail(f"params[{key!r}] should start at zeros.")
        for key in ("tgt_embed", "encoder.0.attn.W_q", "decoder.1.ffn.W_2"):
            std = float(np.std(params[key]))
            if not 0.85 < std * np.sqrt(C) < 1.15:
                expect.fail(f"params[{key!r}] has std {std:.4f}; expected about 1/sqrt(C) = "
                            f"{1 / np.sqrt(C):.4f} (embeddings: sqrt(C)·E[id] then has "
                            "variance 1, the scale of the positional encoding).")
        again = impl.Transformer(impl.TransformerConfig(**config), np.random.default_rng(seed))
        other = impl.Transformer(impl.TransformerConfig(**config),
                                 np.random.default_rng(other_seed))
        if not np.array_equal(again.params["tgt_embed"], params["tgt_embed"]):
            expect.fail("Two Transformers built with generators of the same seed differ: draw "
                        "every weight from the rng you are given.")
        if np.array_equal(other.params["tgt_embed"], params["tgt_embed"]):
            expect.fail("Transformers built with different seeds are equal: draw the weights "
                        "from the rng you are given.")


@check("3.9", weight=3)
def seq2seq_forward_values(impl):
    """logits of both models (post-norm with padding and an untied head; pre-norm, tied, shared)"""
    for name in SEQ2SEQ_CASES:
        config = _s2s_config(name)
        model = _seq2seq(impl, name)
        logits = model.forward(get(f"s2s.{name}.src"), get(f"s2s.{name}.tgt"))
        label = f"Transformer.forward (norm_first={config['norm_first']})"
        expected = fx()[f"s2s.{name}.logits"]
        expect.array(logits, label, shape=expected.shape, dtype=np.float64)
        diagnoses = {
            "no_scale": "the embeddings are not multiplied by sqrt(d_model) before the "
                        "positional encoding is added.",
            "no_src_mask": "source padding (pad_id) must be hidden from the encoder's "
                           "self-attention and from every cross-attention.",
        }
        for bug, message in diagnoses.items():
            if f"s2s.{name}.bug.{bug}" in fx() and _matches(logits, f"s2s.{name}.bug.{bug}"):
                expect.fail(f"{label}: {message}")
        expect.close(logits, expected, label,
                     hint="X_0 = sqrt(C)·E[src] + PE, the encoder layers (3.6) [+ encoder.ln]; "
                          "Y_0 likewise from tgt, the decoder layers (3.7) reading that memory "
                          "[+ decoder.ln]; then the head. Check 3.6 and 3.7 first.")


@check("3.9")
def seq2seq_masks(impl):
    """no target position sees a later one; source padding changes nothing"""
    model = _seq2seq(impl, "post")
    src, tgt = get("s2s.post.src"), get("s2s.post.tgt")
    logits = model.forward(src, tgt)
    expect.array(logits, "Transformer.forward", shape=fx()["s2s.post.logits"].shape)
    changed = tgt.copy()
    changed[:, 2:] = (changed[:, 2:] + 3) % (_s2s_config("post")["tgt_vocab_size"] - 1) + 1
    leak = np.abs(model.forward(src, changed)[:, :2] - logits[:, :2]).max()
    if not leak < 1e-12:
        expect.fail(f"changing target tokens 2.. moved the logits of positions 0 and 1 by "
                    f"{leak:.3g}: the decoder's self-attention must be causal (position t "
                    "sees tgt[:, :t+1] only).")
    padded = np.concatenate([src, np.zeros((src.shape[0], 3), dtype=src.dtype)], axis=1)
    moved = np.abs(model.forward(padded, tgt) - logits).max()
    if not moved < 1e-10:
        expect.fail(f"appending 3 padding tokens (pad_id 0) to every source moved the logits by "
                    f"{moved:.3g}: padded source positions must be masked as keys in the "
                    "encoder's self-attention and in every cross-attention.")
    expect.require_correct(logits, fx()["s2s.post.logits"], "Transformer.forward", "3.9")


@check("3.9", weight=3)
def seq2seq_backward_values(impl):
    """the loss (label smoothing, ignored labels) and the gradient of every parameter"""
    for name in SEQ2SEQ_CASES:
        config = _s2s_config(name)
        model = _seq2seq(impl, name)
        loss = model.loss(get(f"s2s.{name}.src"), get(f"s2s.{name}.tgt"),
                          get(f"s2s.{name}.labels"), label_smoothing=_s2s_smoothing())
        expected = float(fx()[f"s2s.{name}.loss"])
        if not np.isclose(float(loss), expected, rtol=1e-9):
            expect.fail(f"Transformer.loss is {float(loss):.10g}, expected {expected:.10g} "
                        "(cross_entropy of the logits against labels, ignore_index=-100, with "
                        "the given label_smoothing).")
        grads = model.backward()
        names = _seq2seq_names(config)
        if not isinstance(grads, dict) or sorted(grads) != sorted(names):
            expect.fail("Transformer.backward() should return a dict with the keys of params.")
        if name == "pre":  # one table, three uses: head, target lookup, source lookup
            for part, message in (("head", "the head's dlogitsᵀ h (tied head)"),
                                  ("src", "the source lookup's scatter-add (shared table)")):
                if _matches(grads["tgt_embed"], f"s2s.pre.bug.tgt_embed_without_{part}"):
                    expect.fail(f"d(tgt_embed) misses {message}: a table used several times "
                                "gets the sum of every use's gradient.")
        for key in reversed(names):  # backward order: the first mismatch is nearest the bug
            expect.close(grads[key], fx()[f"s2s.{name}.grads.{key}"],
                         f"d({key}) (norm_first={config['norm_first']})",
                         hint=SEQ2SEQ_GRAD_HINTS.get(key.split(".")[0], ""))


SEQ2SEQ_FD_KEYS = ("tgt_embed", "encoder.0.attn.W_k", "decoder.0.cross_attn.W_v",
                   "decoder.1.ln_3.gamma")


def _s2s_directional(model, args, smoothing: float, grads, seed: int) -> list[tuple]:
    """(key, analytic, numeric) directional derivatives of `model.loss(*args)` along random
    directions (a generator of `seed`), numeric by central differences of step 1e-5; the
    parameters are restored afterwards."""
    params, rng, found = dict(model.params), np.random.default_rng(seed), []
    for key in SEQ2SEQ_FD_KEYS:
        direction = rng.standard_normal(params[key].shape)
        values = []
        for sign in (1, -1):
            model.params = {**params, key: params[key] + sign * 1e-5 * direction}
            values.append(float(model.loss(*args, label_smoothing=smoothing)))
        found.append((key, float(np.sum(grads[key] * direction)),
                       (values[0] - values[1]) / 2e-5))
    model.params = params
    return found


@check("3.9", weight=1, hidden=True, timeout=30)
def seq2seq_finite_differences(impl):
    """the whole-model gradient agrees with finite differences of your own loss"""
    for name in SEQ2SEQ_CASES:
        model = _seq2seq(impl, name)
        args = (get(f"s2s.{name}.src"), get(f"s2s.{name}.tgt"), get(f"s2s.{name}.labels"))
        loss = model.loss(*args, label_smoothing=_s2s_smoothing())
        if not np.isclose(float(loss), float(fx()[f"s2s.{name}.loss"]), rtol=1e-9):
            expect.fail("Transformer.loss is not right yet (see the other checks of 3.9).")
        grads = model.backward()
        for key, analytic, numeric in _s2s_directional(model, args, _s2s_smoothing(), grads,
                                                       int(fx()["s2s.fd_seed"])):
            if not np.isclose(analytic, numeric, rtol=1e-5, atol=1e-7):
                expect.fail(f"d({key}) disagrees with finite differences of your loss "
                            f"(norm_first={SEQ2SEQ_CASES[name]['norm_first']}): "
                            f"directional derivative {analytic:.8g}, numeric {numeric:.8g}.")


@check("3.9", weight=1)
def seq2seq_greedy_decode(impl):
    """greedy decoding: argmax of the last position, EOS ends a row, padding after it"""
    model = _seq2seq(impl, "post")
    src = get("s2s.post.src")
    expect.require_correct(model.forward(src, get("s2s.post.tgt")), fx()["s2s.post.logits"],
                           "Transformer.forward", "3.9")
    model.params = _params("s2s.greedy.params.")
    max_new, bos = int(fx()["s2s.greedy.max_new"]), int(fx()["s2s.greedy.bos"])
    for case in ("mixed", "early"):
        eos = int(fx()[f"s2s.greedy.{case}.eos"])
        out = model.greedy_decode(src, max_new, bos, eos)
        expected = fx()[f"s2s.greedy.{case}.out"]
        label = f"greedy_decode(src, max_new_tokens={max_new}, bos_id={bos}, eos_id={eos})"
        expect.array(out, label, finite=False)
        if not np.issubdtype(out.dtype, np.integer):
            expect.fail(f"{label} should return integer token ids, got dtype {out.dtype}.")
        if out.shape != expected.shape:
            expect.fail(f"{label} returned shape {out.shape}, expected {expected.shape}: stop "
                        "as soon as every row has produced EOS, else after max_new_tokens; "
                        "BOS is not part of the output.")
        if not np.array_equal(out, expected):
            expect.fail(f"{label} returned {out.tolist()}, expected {expected.tolist()}. Each "
                        "step appends the argmax of the last position's logits; after a row's "
                        "EOS its positions hold pad_id.")


# ---------------------------------------------------------------------------------------
# 3.11 GPT-2
# ---------------------------------------------------------------------------------------
# A tiny float64 GPT-2 of two blocks; its other sizes are drawn with the fixtures
# (`gpt.config.*`, see `_gpt_config`).
GPT_CONFIG = {"n_layer": 2, "dtype": "float64"}
GPT_SIZES = ("vocab_size", "block_size", "n_head", "n_embd")


def _gpt_config() -> dict:
    return {**{k: int(fx()[f"gpt.config.{k}"]) for k in GPT_SIZES}, **GPT_CONFIG}


def _gpt(impl):
    """A tiny GPT-2 whose weights are the fixture's (large enough for layout bugs to show)."""
    model = impl.GPT(impl.GPTConfig(**_gpt_config()),
                     np.random.default_rng(int(fx()["gpt.init_seed"])))
    names = [str(n) for n in fx()["gpt.names"]]
    params = model.params
    if not isinstance(params, dict):
        expect.fail("3.11 GPT(config).params should be a dict of arrays named like the Hugging "
                    "Face GPT-2 checkpoint.")
    if "lm_head.weight" in params:
        expect.fail("3.11 GPT has a separate lm_head.weight: GPT-2's head is tied to wte.weight "
                    "(logits = x @ wte.weightᵀ).")
    missing, extra = sorted(set(names) - set(params)), sorted(set(params) - set(names))
    if missing or extra:
        expect.fail(f"3.11 GPT.params should be named as in the GPT-2 checkpoint; missing "
                    f"{missing[:4]}, unexpected {extra[:4]}.")
    model.params = {name: get(f"gpt.params.{name}") for name in names}
    return model


GPT_FORWARD_BUGS = {  # fixture gpt.bug.logits.<name> -> likely mistake
    "no_causal": "the attention is not causal (a leak of the future): pass causal_mask(T) to "
                 "the attention, so that position t attends to positions <= t only.",
    "no_wpe": "the position embedding is missing: x = wte.weight[idx] + wpe.weight[:T].",
    "no_ln_f": "the final LayerNorm is missing: logits = ln_f(x) @ wte.weightᵀ after the last "
               "block.",
    "no_scale": "the attention scores are not scaled: softmax(q kᵀ / sqrt(D)) with D = n_embd "
                "/ n_head, the head width (Module 1's scaled_dot_product_attention does it).",
    "gelu_exact": "the MLP uses the exact (erf) GELU: GPT-2 uses its tanh approximation, "
                  "feed_forward's activation=\"gelu\".",
    "no_attn_c_proj": "the attention's output projection is missing: the merged heads go "
                      "through attn.c_proj (merged @ W + b) before the residual add.",
    "c_proj_transposed": "attn.c_proj.weight is used transposed: GPT-2's Conv1D weights are "
                         "(in, out) and y = x @ W + b, with no .T.",
    "residual_from_ln": "the residual adds the normalised input: x = x + attn(ln_1(x)), not "
                        "ln_1(x) + attn(ln_1(x)).",
    **{f"qkv_{order}": f"c_attn's output columns were read as {' | '.join(order)}: they are "
                       "q | k | v (columns 0:C, C:2C and 2C:3C), each split into heads."
       for order in ("kqv", "qvk", "vkq", "kvq", "vqk")},
}
GPT_DLOGITS_GRADS = ("ln_f.weight", "h.0.ln_1.weight", "wpe.weight", "wte.weight")


def _gpt_grad_hint(name: str, n_layer: int) -> str:
    """Where the gradient of `name` comes from, for the first wrong one in backward order
    (every gradient the backward computes before it is right)."""
    if name.startswith("ln_f."):
        return ("ln_f's backward receives the head's input gradient, dx = dlogits @ "
                "wte.weight ((N, V) @ (V, C)).")
    if name == "wpe.weight":
        return ("d(wpe.weight)[t] sums dx[:, t] over the batch (every sequence uses position "
                "t); the rows t >= T get 0.")
    if name == "wte.weight":
        return ("wte.weight gets two gradients: the scatter-add of the embedding lookup and "
                "the head's dlogitsᵀ x — add them.")
    i, part = int(name.split(".")[1]), name.split(".", 2)[2].rsplit(".", 1)[0]
    incoming = ("ln_f's backward" if i == n_layer - 1 else
                f"block {i + 1}: its dx plus ln_1's backward of its attention branch")
    return {
        "mlp.c_proj": f"block {i}'s MLP receives the gradient of the block's output as it is "
                      f"(from {incoming}).",
        "mlp.c_fc": "inside the MLP, c_proj's input gradient goes through the tanh-GELU "
                    "backward to c_fc.",
        "ln_2": "ln_2 receives the MLP's input gradient (feed_forward_backward's dx).",
        "attn.c_proj": f"block {i}'s attention sub-layer receives dx + ln_2's backward of the "
                       "MLP branch: the residual x = x + mlp(ln_2(x)) passes dx on unchanged "
                       "and the branch adds its part (a dropped identity term is the usual "
                       "cause).",
        "attn.c_attn": "c_attn's output gradient is [dq | dk | dv] in the forward's column "
                       "order (0:C, C:2C, 2C:3C), each head merged back (B, H, T, D) -> "
                       "(B, T, C), from the attention backward (1.5) of c_proj's input "
                       "gradient split into heads.",
        "ln_1": "ln_1 receives c_attn's input gradient.",
    }[part]


def _gpt_grads(grads, expected: str, what: str) -> None:
    """Every gradient against the fixtures `{expected}.{name}`, in backward order, with a
    diagnosis of the first wrong one."""
    names = [str(n) for n in fx()["gpt.names"]]
    if not isinstance(grads, dict) or sorted(grads) != sorted(names):
        expect.fail(f"3.11 {what} should return a dict with the same keys as params.")
    for name in (n for n in reversed(names) if n.endswith(".weight") and "ln_" in n):
        bias = name[:-len("weight")] + "bias"
        if (f"{expected}.{name}" in fx() and f"{expected}.{bias}" in fx()
                and _matches(grads[name], f"{expected}.{bias}")
                and _matches(grads[bias], f"{expected}.{name}")):
            expect.fail(f"3.11 {what}: d({name}) and d({bias}) are swapped: the LayerNorm's "
                        "weight (gamma) gets sum(dout * xhat), its bias (beta) sum(dout).")
    n_layer = GPT_CONFIG["n_layer"]
    for name in reversed(names):  # backward order: the first mismatch is nearest the bug
        key = f"{expected}.{name}"
        if key not in fx() or _matches(grads[name], key):
            continue
        label = f"3.11 {what}: d({name})"
        if name == "wte.weight" and expected == "gpt.grads":
            _diagnose(grads[name], key, label, {
                "gpt.bug.grads.wte_lookup_only": "the tied head's gradient is not added: "
                    "wte.weight is also the head (logits = x @ wte.weightᵀ), so d(wte.weight) "
                    "= scatter-add of the lookup's gradient + dlogitsᵀ x.",
                "gpt.bug.grads.wte_head_only": "the embedding lookup's gradient is missing: "
                    "d(wte.weight) = scatter-add of dx at the input tokens + the head's "
                    "dlogitsᵀ x."})
        if name == "wpe.weight":
            batch = fx()["gpt.idx"].shape[0]
            expected_wpe = fx()[key]
            if np.allclose(grads[name] * batch, expected_wpe, **expect.F64):
                _fail_with(grads[name], expected_wpe, label, "the batch was averaged: every "
                           "sequence adds its dx[:, t] to row t, so sum over the batch.")
        if expected != "gpt.grads":  # a few gradients only: no claim about the others
            expect.close(grads[name], fx()[key], label, hint="Back-propagate the given "
                         "dlogits exactly as backward() does the loss's.")
        hint = _gpt_grad_hint(name, n_layer)
        if name != names[-1]:
            hint = ("The gradients your backward computes before it are right, so the error "
                    f"enters here: {hint}")
        expect.close(grads[name], fx()[key], label, hint=hint)


@check("3.11", weight=4)
def gpt_forward_values(impl):
    """GPT-2 logits: pre-norm blocks, learned positions, final LayerNorm, tied head"""
    model = _gpt(impl)
    idx = get("gpt.idx")
    logits = model.forward(idx)
    expected = fx()["gpt.logits"]
    label = "3.11 GPT.forward(idx)"
    expect.array(logits, label, shape=expected.shape, dtype=np.float64)
    _diagnose(logits, "gpt.logits", label,
              {f"gpt.bug.logits.{name}": why for name, why in GPT_FORWARD_BUGS.items()})
    if not _matches(logits, "gpt.logits"):  # a leak of the future, whatever its cause
        changed = idx.copy()
        changed[:, -1] = (changed[:, -1] + 1) % _gpt_config()["vocab_size"]
        later = model.forward(changed)
        if isinstance(later, np.ndarray) and later.shape == logits.shape and not np.allclose(
                later[:, :-1], logits[:, :-1], **expect.F64):
            expect.fail(f"{label}: changing only the last token changed the logits of earlier "
                        "positions: the attention is not causal (a leak of the future). Each "
                        "position may attend to itself and earlier positions only.")
    expect.close(logits, expected, label,
                 hint="Per block: x = x + attn(ln_1(x)); x = x + mlp(ln_2(x)). c_attn is "
                      "fused: its output columns are q | k | v, each split into heads; then "
                      "ln_f and logits = x @ wte.weightᵀ.")


@check("3.11", weight=6)
def gpt_loss_and_backward(impl):
    """the loss and the gradient of every parameter, the tied head's two paths summed"""
    model = _gpt(impl)
    idx, targets = get("gpt.idx"), get("gpt.targets")
    loss = model.loss(idx, targets)
    expected = float(fx()["gpt.loss"])
    if not np.isclose(float(loss), expected, rtol=1e-9):
        expect.require_correct(model.forward(idx), fx()["gpt.logits"], "GPT.forward (the "
                               "logits)", "3.11")
        message = (f"3.11 GPT.loss is {float(loss):.10g}, expected {expected:.10g} (the mean "
                   "cross-entropy over the non-ignored targets; the targets are already "
                   "shifted).")
        bugs = {"ignored_as_token_0": "the ignored targets (-100) were counted (as token 0): "
                                      "pass the targets to cross_entropy as they are, it "
                                      "leaves the positions whose target is -100 out.",
                "shifted_again": "the targets were shifted again: targets[b, t] is already "
                                 "the token after idx[b, :t+1], so compare logits[:, t] with "
                                 "targets[:, t]."}
        for name, why in bugs.items():
            if np.isclose(float(loss), float(fx()[f"gpt.bug.loss.{name}"]), rtol=1e-9):
                expect.fail(f"{message} Likely mistake: {why}")
        expect.fail(message)
    _gpt_grads(model.backward(), "gpt.grads", "GPT.backward()")


@check("3.11", weight=2)
def gpt_backward_given_dlogits(impl):
    """backward(dlogits) back-propagates the dlogits it is given, also right after a loss"""
    model = _gpt(impl)
    idx = get("gpt.idx")
    expect.require_correct(model.forward(idx), fx()["gpt.logits"], "GPT.forward (the logits)",
                           "3.11")
    model.loss(idx, get("gpt.targets"))
    grads = model.backward()
    if not (isinstance(grads, dict) and all(
            name in grads and _matches(grads[name], f"gpt.grads.{name}")
            for name in (str(n) for n in fx()["gpt.names"]))):
        expect.fail("3.11 GPT.backward() is not right yet (see gpt_loss_and_backward); this "
                    "check gives its points only to a correct backward.")
    grads = model.backward(get("gpt.dlogits"))
    if isinstance(grads, dict) and all(
            name in grads and _matches(grads[name], f"gpt.grads.{name}")
            for name in GPT_DLOGITS_GRADS):
        expect.fail("3.11 GPT.backward(dlogits) after loss(...) returned the loss's gradients: "
                    "it ignored the dlogits it was given. backward() differentiates the last "
                    "loss; backward(dlogits) back-propagates the dL/dlogits you pass.")
    _gpt_grads(grads, "gpt.dlogits.grads", "GPT.backward(dlogits)")


@check("3.11", weight=2, hidden=True, timeout=30)
def gpt_finite_differences(impl):
    """the gradient agrees with finite differences of your own loss (random directions)"""
    model = _gpt(impl)
    idx, targets = get("gpt.idx"), get("gpt.targets")
    loss = model.loss(idx, targets)
    if not np.isclose(float(loss), float(fx()["gpt.loss"]), rtol=1e-9):
        expect.fail("GPT.loss is not right yet (see the other checks of 3.11).")
    grads = model.backward()
    params = {name: get(f"gpt.params.{name}") for name in (str(n) for n in fx()["gpt.names"])}
    rng = np.random.default_rng(int(fx()["gpt.fd_seed"]))
    for name in ("wte.weight", "h.0.attn.c_attn.weight", "h.1.mlp.c_fc.bias", "ln_f.weight"):
        direction = rng.standard_normal(params[name].shape)
        h = 1e-5
        values = []
        for sign in (1, -1):
            trial = dict(params)
            trial[name] = params[name] + sign * h * direction
            model.params = trial
            values.append(float(model.loss(idx, targets)))
        numeric = (values[0] - values[1]) / (2 * h)
        analytic = float(np.sum(grads[name] * direction))
        if not np.isclose(analytic, numeric, rtol=1e-5, atol=1e-7):
            expect.fail(f"d({name}) disagrees with finite differences of your loss along a "
                        f"random direction: {analytic:.8g} vs {numeric:.8g}.")


# ---------------------------------------------------------------------------------------
# Fixtures (instructor-only: `make fixtures` runs this against the reference)
# ---------------------------------------------------------------------------------------
FIXTURE_SEED = 20261128  # the committed fixtures; `make gradescope` draws its own
# Every input below is drawn from the builder's `rng`: values, sizes, the seeds of the
# generators the checks make (dropout, model init, finite-difference directions) and the
# special cases (a zero for ReLU's kink, padded rows), so that another seed changes every
# graded call.


def _sizes(rng: np.random.Generator, n: int, low: int, high: int) -> list[int]:
    """`n` distinct sizes in low .. high - 1 (distinct: a transposed axis fails on shape)."""
    return [int(v) for v in rng.choice(np.arange(low, high), size=n, replace=False)]


def _seed(rng: np.random.Generator) -> int:
    """The seed of a generator of its own (a dropout's, a model init's), drawn from `rng`."""
    return int(rng.integers(2**31))


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _lengths(rng: np.random.Generator, batch: int, length: int) -> np.ndarray:
    """Sequence lengths in 2 .. `length` (`length` >= 3), at least one row padded (shorter
    than `length`); never 1, where attention to a single key ignores its queries."""
    lengths = rng.integers(2, length + 1, size=batch)
    lengths[rng.integers(batch)] = rng.integers(2, length)
    return lengths


def _ignore(rng: np.random.Generator, targets: np.ndarray, most: int) -> np.ndarray:
    """A copy of `targets` with 1 .. `most` random positions ignored (-100)."""
    out = targets.copy()
    count = int(rng.integers(1, max(1, most) + 1))
    np.put(out, rng.choice(out.size, size=count, replace=False), -100)
    return out


def _dropout_seed(rng: np.random.Generator, p: float, shape: tuple, n_masks: int) -> int:
    """A seed whose first `n_masks` keep-masks `random(shape) >= p` each keep and drop units
    and differ from one another, so that every dropout bug changes the output."""
    while True:
        seed = _seed(rng)
        draws = np.random.default_rng(seed)
        masks = [draws.random(shape) >= p for _ in range(n_masks)]
        if all(m.any() and not m.all() for m in masks) and all(
                not np.array_equal(a, b) for i, a in enumerate(masks) for b in masks[:i]):
            return seed


LAYER_WIDTHS = ((8, 2), (8, 4), (9, 3), (10, 2), (12, 2), (12, 3), (12, 4))  # (C, heads)


def _layer_sizes(rng: np.random.Generator) -> tuple[int, ...]:
    """(B, C, heads, F, encoder length, decoder length T, memory length S) of 3.6 / 3.7: the
    lengths differ from every other size, and S is not even a digit of one, so that a shape
    error naming S points at the cross-attention (`_explain_shape_error`)."""
    while True:
        C, heads = LAYER_WIDTHS[int(rng.integers(len(LAYER_WIDTHS)))]
        B, F = int(rng.integers(2, 4)), int(rng.integers(10, 19))
        T_enc, T, S = int(rng.integers(3, 7)), int(rng.integers(3, 7)), int(rng.integers(5, 9))
        others = (B, C, F, heads, C // heads)
        if (F != C and T_enc not in others and T not in others and T != S
                and not any(str(S) in str(v) for v in (*others, T, T_enc))):
            return B, C, heads, F, T_enc, T, S


GPT_WIDTHS = ((16, 2), (16, 4), (18, 3), (20, 2), (24, 2), (24, 3), (24, 4))  # (C, heads)


def _gpt_sizes(rng: np.random.Generator) -> tuple[dict, tuple[int, int]]:
    """The GPTConfig fields of 3.11 and the (B, T) of its batch, distinct sizes."""
    while True:
        C, heads = GPT_WIDTHS[int(rng.integers(len(GPT_WIDTHS)))]
        V, block = int(rng.integers(30, 46)), int(rng.integers(12, 21))
        B, T = int(rng.integers(2, 4)), int(rng.integers(5, 10))
        if len({V, block, C, 4 * C, T}) == 5 and T not in (B, heads, C // heads):
            return ({"vocab_size": V, "block_size": block, "n_head": heads, "n_embd": C,
                     **GPT_CONFIG}, (B, T))


def build_fixtures(impl, rng: np.random.Generator) -> dict[str, np.ndarray]:
    f: dict[str, np.ndarray] = {}
    # Stage A: batch, time, width, hidden width, linear outputs and classes, all distinct.
    B, T, C, F, O, K = _sizes(rng, 6, 2, 10)

    x, W, b = rng.standard_normal((B, T, C)), rng.standard_normal((C, O)), \
        rng.standard_normal(O)
    out, cache = impl.linear(x, W, b)
    dout = rng.standard_normal(out.shape)
    dx, dW, db = impl.linear_backward(dout, cache)
    f.update({"linear.x": x, "linear.W": W, "linear.b": b, "linear.out": out,
              "linear.dout": dout, "linear.dx": dx, "linear.dW": dW, "linear.db": db})

    # Small variance and a large eps, so eps placement and n vs n-1 change the output.
    x = rng.standard_normal((B, T, C)) * rng.uniform(0.07, 0.15) + rng.uniform(-2.0, 2.0)
    gamma, beta = rng.standard_normal(C), rng.standard_normal(C)
    eps = _log_uniform(rng, 5e-3, 2e-2)
    out, cache = impl.layer_norm(x, gamma, beta, eps=eps)
    dout = rng.standard_normal(x.shape)
    dx, dgamma, dbeta = impl.layer_norm_backward(dout, cache)
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    f.update({"ln.x": x, "ln.gamma": gamma, "ln.beta": beta, "ln.eps": np.array(eps),
              "ln.out": out, "ln.dout": dout, "ln.dx": dx, "ln.dgamma": dgamma,
              "ln.dbeta": dbeta,
              "ln.bug.eps_outside": (x - mu) / (np.sqrt(var) + eps) * gamma + beta,
              "ln.bug.unbiased": (x - mu) / np.sqrt(var * C / (C - 1) + eps) * gamma + beta})
    # Small inputs, so that the default eps = 1e-6 and its place matter.
    x = rng.standard_normal((B, T, C)) * _log_uniform(rng, 5e-3, 2e-2)
    gamma = rng.standard_normal(C)
    out, cache = impl.rms_norm(x, gamma)
    dout = rng.standard_normal(x.shape)
    dx, dgamma = impl.rms_norm_backward(dout, cache)
    ms = np.mean(x * x, -1, keepdims=True)
    f.update({"rms.x": x, "rms.gamma": gamma, "rms.out": out, "rms.dout": dout, "rms.dx": dx,
              "rms.dgamma": dgamma,
              "rms.bug.eps_outside": x / (np.sqrt(ms) + 1e-6) * gamma})

    # Values over [-6, 6] with the special points 0 (ReLU's kink: its derivative there is 0)
    # and +-tiny, in a random order; `far`: |x| >= 100, where exp(|x|) overflows float32.
    rows, cols = int(rng.integers(2, 4)), int(rng.integers(9, 16))
    tiny = _log_uniform(rng, 1e-4, 1e-2)
    x = np.concatenate([[0.0, tiny, -tiny], rng.uniform(-6.0, 6.0, rows * cols - 3)])
    x = rng.permutation(x).reshape(rows, cols)
    dout = rng.standard_normal(x.shape)
    f["act.x"], f["act.dout"] = x, dout
    f["act.far"] = rng.uniform(100.0, 1000.0, 4) * rng.permutation([-1.0, -1.0, 1.0, 1.0])
    for name, kwargs in ACTIVATIONS:
        out, cache = getattr(impl, name)(x, **kwargs)
        key = _act_key(name, kwargs)
        f[key + ".out"], f[key + ".dx"] = out, getattr(impl, f"{name}_backward")(dout, cache)

    x = rng.standard_normal((B, T, C))
    dout = rng.standard_normal(x.shape)
    ffn = {"W_1": rng.standard_normal((C, F)) * 0.5, "b_1": rng.standard_normal(F) * 0.5,
           "W_2": rng.standard_normal((F, C)) * 0.5, "b_2": rng.standard_normal(C) * 0.5}
    f.update({"ffn.x": x, "ffn.dout": dout})
    f.update({f"ffn.params.{k}": v for k, v in ffn.items()})
    for activation in ("gelu", "relu"):
        out, cache = impl.feed_forward(x, ffn, activation=activation)
        f[f"ffn.{activation}.out"] = out
        if activation == "gelu":
            dx, dparams = impl.feed_forward_backward(dout, cache)
            f["ffn.dx"] = dx
            f.update({f"ffn.grads.{k}": v for k, v in dparams.items()})
    sw = {k: rng.standard_normal((C, F) if k != "W_down" else (F, C)) * 0.5
          for k in SWIGLU_KEYS}
    out, cache = impl.swiglu(x, sw)
    dx, dparams = impl.swiglu_backward(dout, cache)
    up_silu, _ = impl.silu(x @ sw["W_up"])
    f.update({f"swiglu.params.{k}": v for k, v in sw.items()})
    f.update({"swiglu.out": out, "swiglu.dx": dx,
              "swiglu.bug.silu_on_up": ((x @ sw["W_gate"]) * up_silu) @ sw["W_down"]})
    f.update({f"swiglu.grads.{k}": v for k, v in dparams.items()})

    x, p = rng.standard_normal((B, T, C)), float(rng.uniform(0.2, 0.4))
    seed = _dropout_seed(rng, p, x.shape, 1)
    f["dropout.eval_seed"] = np.array(_seed(rng))
    out, cache = impl.dropout(x, p, np.random.default_rng(seed))
    dout = rng.standard_normal(x.shape)
    keep = np.random.default_rng(seed).random(x.shape) >= p
    f.update({"dropout.x": x, "dropout.p": np.array(p), "dropout.seed": np.array(seed),
              "dropout.out": out, "dropout.dout": dout,
              "dropout.dx": impl.dropout_backward(dout, cache),
              "dropout.bug.no_rescale": x * keep})

    logits = rng.standard_normal((B, T, K)) * 2
    plain = rng.integers(0, K, size=(B, T))
    ignored = _ignore(rng, plain, B * T // 2)
    eps_s = float(rng.uniform(0.05, 0.3))
    f["ce.logits"] = logits
    for name, targets, smoothing in (("plain", plain, 0.0), ("ignored", ignored, 0.0),
                                     ("smoothed", ignored, eps_s)):
        loss, cache = impl.cross_entropy(logits, targets, label_smoothing=smoothing)
        f[f"ce.{name}.targets"] = targets
        f[f"ce.{name}.loss"] = np.asarray(loss, dtype=np.float64)
        f[f"ce.{name}.dlogits"] = impl.cross_entropy_backward(1.0, cache)
        if smoothing:
            f[f"ce.{name}.smoothing"] = np.array(smoothing)
    logp = logits - logits.max(-1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
    valid = ignored != -100
    nll = -np.take_along_axis(logp, np.where(valid, ignored, 0)[..., None], -1)[..., 0]
    f["ce.ignored.bug.over_all"] = np.array((nll * valid).sum() / valid.size)
    others = (-logp.sum(-1) - nll) / (K - 1)
    f["ce.smoothed.bug.k_minus_1"] = np.array((((1 - eps_s) * nll + eps_s * others)
                                               * valid).sum() / valid.sum())
    big_scale = _log_uniform(rng, 5e3, 2e4)  # logits of size 1e4: exp overflows
    big_loss, _ = impl.cross_entropy(logits * big_scale, plain)
    f["ce.big.scale"] = np.array(big_scale)
    f["ce.big.loss"] = np.asarray(big_loss, dtype=np.float64)

    n_in, n_out = _sizes(rng, 2, 2, 7)
    params = {"w": rng.standard_normal((n_in, n_out)), "b": rng.standard_normal(n_out)}
    # lr^2 * wd stays well above the tolerance: decaying after the update is visible.
    lr, wd = _log_uniform(rng, 5e-3, 2e-2), float(rng.uniform(0.08, 0.2))
    lr3 = lr * float(rng.uniform(0.2, 0.5))
    beta1, beta2 = float(rng.uniform(0.8, 0.95)), float(rng.uniform(0.95, 0.999))
    eps_adam = _log_uniform(rng, 1e-9, 1e-7)
    f.update({"adamw.lr": np.array(lr), "adamw.wd": np.array(wd), "adamw.lr_step3": np.array(lr3),
              "adamw.betas": np.array([beta1, beta2]), "adamw.eps": np.array(eps_adam)})
    f.update({f"adamw.params.{k}": v.copy() for k, v in params.items()})
    opt = impl.AdamW(lr=lr, betas=(beta1, beta2), eps=eps_adam, weight_decay=wd)
    grads_seq = [{k: rng.standard_normal(v.shape) for k, v in params.items()} for _ in range(3)]
    for step, grads in enumerate(grads_seq):
        f.update({f"adamw.grads{step}.{k}": v for k, v in grads.items()})
        opt.step(params, grads, **({"lr": lr3} if step == 2 else {}))
        f.update({f"adamw.after{step}.{k}": v.copy() for k, v in params.items()})
    for bug in ("l2", "no_bias_correction", "decay_after"):
        p_bug = {k: f[f"adamw.params.{k}"].copy() for k in params}
        m = {k: np.zeros_like(v) for k, v in p_bug.items()}
        v2 = {k: np.zeros_like(v) for k, v in p_bug.items()}
        for step, grads in enumerate(grads_seq):
            t, step_lr = step + 1, (lr3 if step == 2 else lr)
            for k in p_bug:
                g = grads[k] + (wd * p_bug[k] if bug == "l2" else 0.0)
                if bug not in ("l2", "decay_after"):
                    p_bug[k] *= 1 - step_lr * wd
                m[k] = beta1 * m[k] + (1 - beta1) * g
                v2[k] = beta2 * v2[k] + (1 - beta2) * g * g
                mh, vh = (m[k], v2[k]) if bug == "no_bias_correction" else (
                    m[k] / (1 - beta1**t), v2[k] / (1 - beta2**t))
                p_bug[k] -= step_lr * mh / (np.sqrt(vh) + eps_adam)
                if bug == "decay_after":  # decays the already-updated parameter
                    p_bug[k] -= step_lr * wd * p_bug[k]
                f[f"adamw.bug.{bug}.after{step}.{k}"] = p_bug[k].copy()

    rows, cols, n = _sizes(rng, 3, 2, 7)
    grads = {"a": rng.standard_normal((rows, cols)), "c": rng.standard_normal(n)}
    norm = float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))
    max_norm = norm * float(rng.uniform(0.3, 0.8))  # below the total norm: clipped
    f.update({f"clip.grads.{k}": v.copy() for k, v in grads.items()})
    f["clip.max_norm"] = np.array(max_norm)
    f["clip.loose_max_norm"] = np.array(norm * float(rng.uniform(2.0, 20.0)))  # not clipped
    f["clip.total"] = np.array(float(impl.clip_grad_norm(grads, max_norm)))
    f.update({f"clip.clipped.{k}": v for k, v in grads.items()})

    # Schedules: step 1, the steps around the end of the warmup and of the decay, and
    # one step inside each phase.
    d_model, warmup = int(rng.integers(64, 1025)), int(rng.integers(20, 1001))
    total = warmup + int(rng.integers(2 * warmup, 8 * warmup))
    max_lr = _log_uniform(rng, 1e-4, 3e-3)
    min_lr = max_lr * float(rng.uniform(0.005, 0.2))
    steps = np.array([1, int(rng.integers(2, warmup - 1)), warmup - 1, warmup, warmup + 1,
                      int(rng.integers(warmup + 2, total - 1)), total - 1, total,
                      total + int(rng.integers(1, total))])
    f.update({"sched.steps": steps, "sched.d_model": np.array(d_model),
              "sched.warmup": np.array(warmup), "sched.total": np.array(total),
              "sched.max_lr": np.array(max_lr), "sched.min_lr": np.array(min_lr)})
    f["sched.noam"] = np.array([impl.noam_schedule(int(s), d_model, warmup) for s in steps])
    f["sched.cosine"] = np.array([impl.cosine_schedule(int(s), max_lr, min_lr, warmup, total)
                                  for s in steps])
    # 3.6 / 3.7: distinct sizes, weights std 0.3 so that every path moves the output.
    B, d, n_heads, d_ff, T_enc, T, S = _layer_sizes(rng)

    def layer_params(keys, d, d_ff):
        out = {}
        for key in keys:
            name = key.split(".")[-1]
            if name.startswith("W_") and name[2:] in ("q", "k", "v", "o"):
                shape = (d, d)
            elif name == "W_1":
                shape = (d, d_ff)
            elif name == "W_2":
                shape = (d_ff, d)
            elif name == "b_1":
                shape = (d_ff,)
            else:
                shape = (d,)
            value = rng.standard_normal(shape) * 0.3
            out[key] = value + 1.0 if name == "gamma" else value
        return out

    def layer_variant(layer, params, x, memory, masks, norm_first, bugs=(), keeps=None, p=0.0,
                      dout=None):
        """(out, dx, dmemory) of an encoder or decoder layer composed from the reference's
        sub-layers, with known bugs switched on by name (the fixture names of
        `_forward_bugs`, `_dropout_bugs` and `_backward_bugs`); `keeps`: each sub-layer's
        dropout keep-mask."""
        scale = 1.0 / (1.0 - p) if keeps else 1.0
        dmemory = []

        def part(prefix):
            return {k.split(".", 1)[1]: v for k, v in params.items()
                    if k.startswith(prefix + ".")}

        def drop(y, sub):
            return y * keeps[sub] * scale if keeps else y

        def run(sub, inp, ln):
            if sub == "ffn":
                return impl.feed_forward(inp, part("ffn"), activation="relu")
            kv = inp
            if sub == "cross_attn":
                kv = impl.layer_norm(memory, *ln)[0] if "memory_normed" in bugs else memory
            return impl.multi_head_attention(inp, kv, part(sub), n_heads, mask=masks[sub])

        def back(sub, cache, dy):
            if sub == "ffn":
                return impl.feed_forward_backward(dy, cache)[0]
            dq, dkv, _ = impl.multi_head_attention_backward(dy, cache)
            if sub == "cross_attn":
                dmemory.append(dkv)
                return dq
            return dq if "bwd_no_kv" in bugs else dq + dkv

        h, caches = x, []
        for sub, ln_name, _, _ in SUBLAYERS[layer]:
            ln = (params[ln_name + ".gamma"], params[ln_name + ".beta"])
            residual = not {"no_residual", f"no_residual_{sub}"} & set(bugs)
            if norm_first:
                u, ln_cache = impl.layer_norm(h, *ln)
                y, cache = run(sub, u, ln)
                base = u if "residual_from_ln" in bugs else h
                if "after_residual" in bugs:
                    h_new = drop(base + y, sub)
                else:
                    h_new = base + drop(y, sub) if residual else drop(y, sub)
            else:
                y, cache = run(sub, h, ln)
                if "after_residual" in bugs:
                    z = drop(h + y, sub)
                else:
                    z = h + drop(y, sub) if residual else drop(y, sub)
                h_new, ln_cache = impl.layer_norm(z, *ln)
            caches.append((sub, ln_cache, cache))
            h = h_new
        if dout is None:
            return h, None, None
        dh = dout
        for sub, ln_cache, cache in reversed(caches):
            skip_drop = not keeps or f"no_drop_bwd_{sub}" in bugs
            if norm_first:
                dy = dh if skip_drop else dh * keeps[sub] * scale
                d_branch = impl.layer_norm_backward(back(sub, cache, dy), ln_cache)[0]
                d_identity = dh
            else:
                d_identity = impl.layer_norm_backward(dh, ln_cache)[0]
                dy = d_identity if skip_drop else d_identity * keeps[sub] * scale
                d_branch = back(sub, cache, dy)
            dh = ((0 if f"bwd_no_identity_{sub}" in bugs else d_identity)
                  + (0 if f"bwd_no_branch_{sub}" in bugs else d_branch))
        return h, dh, (dmemory[0] if dmemory else None)

    def layer_fixtures(layer, placement, params, x, memory, masks, dout, reference, backward,
                       p, seed):
        """A layer's known wrong forwards and backwards for one placement, and its dropout
        case (rate `p`, generator seed `seed`); `reference(**kwargs)` runs the reference
        layer with these inputs."""
        from itertools import permutations

        norm_first, base = placement == "pre", f"{layer}.{placement}."
        subs = [s[0] for s in SUBLAYERS[layer]]
        out, dx, dmemory = layer_variant(layer, params, x, memory, masks, norm_first, dout=dout)
        assert np.allclose(out, f[base + "out"]) and np.allclose(dx, f[base + "dx"])
        bugs = ["no_residual", *(f"no_residual_{s}" for s in subs)]
        bugs += ["residual_from_ln"] + (["memory_normed"] if layer == "dec" else [])
        for bug in bugs if norm_first else bugs[:len(subs) + 1]:
            f[base + f"bug.{bug}"] = layer_variant(layer, params, x, memory, masks, norm_first,
                                                   (bug,))[0]
        f[base + "bug.ffn_gelu"] = reference(activation="gelu")[0]
        bugs = [f"bwd_no_{kind}_{s}" for kind in ("identity", "branch") for s in subs]
        for bug in [*bugs, "bwd_no_kv"]:
            _, dx, dmemory = layer_variant(layer, params, x, memory, masks, norm_first, (bug,),
                                           dout=dout)
            f[base + f"bug.{bug}.dx"] = dx
            if dmemory is not None and not np.allclose(dmemory, f[base + "dmemory"]):
                f[base + f"bug.{bug}.dmemory"] = dmemory
        # Training: dropout on each sub-layer's output, one draw each in forward order.
        f[f"{layer}.drop.p"], f[f"{layer}.drop.seed"] = np.array(p), np.array(seed)
        draws = np.random.default_rng(seed)
        keep = [draws.random(x.shape) >= p for _ in subs]
        out, cache = reference(dropout_p=p, rng=np.random.default_rng(seed), train=True)
        grads = backward(dout, cache)
        variant = layer_variant(layer, params, x, memory, masks, norm_first,
                                keeps=dict(zip(subs, keep)), p=p, dout=dout)
        assert all(np.allclose(a, b) for a, b in zip(variant, (out, *grads)))
        f.update({base + "drop.out": out, base + "drop.dx": grads[0]})
        if layer == "dec":
            f[base + "drop.dmemory"] = grads[1]
        for perm in permutations(range(len(subs))):
            if list(perm) != sorted(perm):
                keeps = dict(zip(subs, (keep[i] for i in perm)))
                f[base + "drop.bug.order_" + "".join(map(str, perm))] = layer_variant(
                    layer, params, x, memory, masks, norm_first, keeps=keeps, p=p)[0]
        f[base + "drop.bug.same_mask"] = layer_variant(
            layer, params, x, memory, masks, norm_first, keeps=dict.fromkeys(subs, keep[0]),
            p=p)[0]
        f[base + "drop.bug.after_residual"] = layer_variant(
            layer, params, x, memory, masks, norm_first, ("after_residual",),
            keeps=dict(zip(subs, keep)), p=p)[0]
        for s in subs:
            _, dx, dmemory = layer_variant(layer, params, x, memory, masks, norm_first,
                                           (f"no_drop_bwd_{s}",), keeps=dict(zip(subs, keep)),
                                           p=p, dout=dout)
            f[base + f"drop.bug.no_drop_bwd_{s}.dx"] = dx
            if dmemory is not None and not np.allclose(dmemory, f[base + "drop.dmemory"]):
                f[base + f"drop.bug.no_drop_bwd_{s}.dmemory"] = dmemory

    x = rng.standard_normal((B, T_enc, d))
    mask = impl.padding_mask(_lengths(rng, B, T_enc), T_enc)[:, None, None, :]
    enc = layer_params(ENCODER_KEYS, d, d_ff)
    dout = rng.standard_normal(x.shape)
    p = float(rng.uniform(0.15, 0.35))
    seed = _dropout_seed(rng, p, x.shape, len(SUBLAYERS["enc"]))
    f.update({"enc.x": x, "enc.mask": mask, "enc.dout": dout, "enc.n_heads": np.array(n_heads)})
    f.update({f"enc.params.{k}": v for k, v in enc.items()})
    for placement, norm_first in PLACEMENTS:
        out, cache = impl.encoder_layer(x, enc, n_heads, mask=mask, norm_first=norm_first)
        dx, dparams = impl.encoder_layer_backward(dout, cache)
        f.update({f"enc.{placement}.out": out, f"enc.{placement}.dx": dx})
        f.update({f"enc.{placement}.grads.{k}": v for k, v in dparams.items()})
        f[f"enc.{placement}.bug.no_mask"] = impl.encoder_layer(
            x, enc, n_heads, mask=None, norm_first=norm_first)[0]
        layer_fixtures("enc", placement, enc, x, None, {"attn": mask}, dout,
                       lambda nf=norm_first, **kw: impl.encoder_layer(
                           x, enc, n_heads, mask=mask, norm_first=nf, **kw),
                       lambda d, c: impl.encoder_layer_backward(d, c)[:1], p, seed)

    x, memory = rng.standard_normal((B, T, d)), rng.standard_normal((B, S, d))
    memory_mask = impl.padding_mask(_lengths(rng, B, S), S)[:, None, None, :]
    dec = layer_params(DECODER_KEYS, d, d_ff)
    dout = rng.standard_normal(x.shape)
    p = float(rng.uniform(0.15, 0.35))
    seed = _dropout_seed(rng, p, x.shape, len(SUBLAYERS["dec"]))
    f.update({"dec.x": x, "dec.memory": memory, "dec.memory_mask": memory_mask,
              "dec.dout": dout, "dec.n_heads": np.array(n_heads)})
    f.update({f"dec.params.{k}": v for k, v in dec.items()})
    self_mask = (impl.causal_mask(T)[None, None]
                 & impl.padding_mask(_lengths(rng, B, T), T)[:, None, None, :])  # (B, 1, T, T)
    f["dec.self_mask"] = self_mask
    f["dec.post.self_mask.out"] = impl.decoder_layer(x, memory, dec, n_heads,
                                                     self_mask=self_mask,
                                                     memory_mask=memory_mask)[0]
    for placement, norm_first in PLACEMENTS:
        out, cache = impl.decoder_layer(x, memory, dec, n_heads, memory_mask=memory_mask,
                                        norm_first=norm_first)
        dx, dmemory, dparams = impl.decoder_layer_backward(dout, cache)
        f.update({f"dec.{placement}.out": out, f"dec.{placement}.dx": dx,
                  f"dec.{placement}.dmemory": dmemory})
        f.update({f"dec.{placement}.grads.{k}": v for k, v in dparams.items()})
        f[f"dec.{placement}.bug.no_memory_mask"] = impl.decoder_layer(
            x, memory, dec, n_heads, norm_first=norm_first)[0]
        layer_fixtures("dec", placement, dec, x, memory,
                       {"self_attn": impl.causal_mask(T), "cross_attn": memory_mask}, dout,
                       lambda nf=norm_first, **kw: impl.decoder_layer(
                           x, memory, dec, n_heads, memory_mask=memory_mask, norm_first=nf,
                           **kw),
                       lambda d, c: impl.decoder_layer_backward(d, c)[:2], p, seed)
        no_causal, _ = impl.decoder_layer(x, memory, dec, n_heads,
                                          self_mask=np.ones((T, T), dtype=bool),
                                          memory_mask=memory_mask, norm_first=norm_first)
        kv_from_x, _ = impl.decoder_layer(x, x, dec, n_heads, norm_first=norm_first)
        f[f"dec.{placement}.bug.no_causal"] = no_causal
        f[f"dec.{placement}.bug.kv_from_x"] = kv_from_x
    f.update(_seq2seq_fixtures(impl, rng))
    # 3.11: a tiny GPT-2 with weights large enough for layout bugs to show.
    cfg, (B, T) = _gpt_sizes(rng)
    init_seed = _seed(rng)
    f.update({f"gpt.config.{k}": np.array(cfg[k]) for k in GPT_SIZES})
    f.update({"gpt.init_seed": np.array(init_seed), "gpt.fd_seed": np.array(_seed(rng))})
    model = impl.GPT(impl.GPTConfig(**cfg), np.random.default_rng(init_seed))
    names = list(model.params)
    params = {}
    for name, value in model.params.items():
        shape = value.shape
        if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name == "ln_f.weight":
            params[name] = 1.0 + 0.3 * rng.standard_normal(shape)
        elif name.endswith(".bias"):
            params[name] = 0.3 * rng.standard_normal(shape)
        elif name in ("wte.weight", "wpe.weight"):
            params[name] = rng.standard_normal(shape)
        else:
            params[name] = rng.standard_normal(shape) / np.sqrt(shape[0])
    model.params = params
    idx = rng.integers(0, cfg["vocab_size"], size=(B, T))
    targets = _ignore(rng, rng.integers(0, cfg["vocab_size"], size=(B, T)), 2)
    f["gpt.names"] = np.array(names)
    f.update({f"gpt.params.{k}": v for k, v in params.items()})
    f.update({"gpt.idx": idx, "gpt.targets": targets, "gpt.logits": model.forward(idx)})
    f["gpt.loss"] = np.array(float(model.loss(idx, targets)))

    def gpt_variant(bugs=()):
        """(logits, the head's input rows) of the GPT above composed from the reference's
        parts, with the known bugs of `GPT_FORWARD_BUGS` switched on by name."""
        (B, T), C, H = idx.shape, cfg["n_embd"], cfg["n_head"]
        x = impl.embedding(idx, params["wte.weight"])[0]
        if "no_wpe" not in bugs:
            x = x + impl.embedding(np.arange(T), params["wpe.weight"])[0]
        x = x.reshape(B * T, C)
        mask = None if "no_causal" in bugs else impl.causal_mask(T)
        order = next((bug[4:] for bug in bugs if bug.startswith("qkv_")), "qkv")
        for i in range(cfg["n_layer"]):
            p = {k[len(f"h.{i}."):]: v for k, v in params.items() if k.startswith(f"h.{i}.")}
            a = impl.layer_norm(x, p["ln_1.weight"], p["ln_1.bias"])[0]
            qkv = impl.linear(a, p["attn.c_attn.weight"], p["attn.c_attn.bias"])[0]
            qkv = qkv.reshape(B, T, 3 * C)
            part = {name: impl.split_heads(qkv[:, :, j * C:(j + 1) * C], H)
                    for j, name in enumerate(order)}
            q = part["q"] * np.sqrt(C // H) if "no_scale" in bugs else part["q"]
            y = impl.merge_heads(impl.scaled_dot_product_attention(q, part["k"], part["v"],
                                                                   mask)[0])
            y = y.reshape(B * T, C)
            if "no_attn_c_proj" not in bugs:
                w = p["attn.c_proj.weight"]
                y = impl.linear(y, w.T if "c_proj_transposed" in bugs else w,
                                p["attn.c_proj.bias"])[0]
            x = (a if "residual_from_ln" in bugs else x) + y
            a = impl.layer_norm(x, p["ln_2.weight"], p["ln_2.bias"])[0]
            mlp = {"W_1": p["mlp.c_fc.weight"], "b_1": p["mlp.c_fc.bias"],
                   "W_2": p["mlp.c_proj.weight"], "b_2": p["mlp.c_proj.bias"]}
            x = x + impl.feed_forward(a, mlp, activation="gelu_exact" if "gelu_exact" in bugs
                                      else "gelu")[0]
        if "no_ln_f" not in bugs:
            x = impl.layer_norm(x, params["ln_f.weight"], params["ln_f.bias"])[0]
        return (x @ params["wte.weight"].T).reshape(B, T, -1), x

    logits, hidden = gpt_variant()
    assert np.allclose(logits, f["gpt.logits"])
    f.update({f"gpt.bug.logits.{bug}": gpt_variant((bug,))[0] for bug in GPT_FORWARD_BUGS})
    for bug, bad_targets in (("ignored_as_token_0", np.where(targets == -100, 0, targets)),
                             ("shifted_again", targets[:, 1:])):
        f[f"gpt.bug.loss.{bug}"] = np.array(float(impl.cross_entropy(
            logits[:, :bad_targets.shape[1]], bad_targets)[0]))
    dlogits = impl.cross_entropy_backward(1.0, impl.cross_entropy(logits, targets)[1])
    head = dlogits.reshape(-1, cfg["vocab_size"]).T @ hidden  # the head's part of d(wte)
    f["gpt.bug.grads.wte_head_only"] = head
    f["gpt.bug.grads.wte_lookup_only"] = model.backward()["wte.weight"] - head
    f["gpt.dlogits"] = rng.standard_normal(logits.shape) * 0.1
    given = model.backward(f["gpt.dlogits"])  # right after the loss: dlogits wins
    f.update({f"gpt.dlogits.grads.{k}": given[k] for k in GPT_DLOGITS_GRADS})
    f.update({f"gpt.grads.{k}": v for k, v in model.backward().items()})
    return f


SEQ2SEQ_WIDTHS = ((8, 2), (12, 2), (12, 3), (12, 4), (16, 2), (16, 4))  # (C, heads)


def _seq2seq_sizes(rng: np.random.Generator) -> tuple[dict, tuple[int, int, int]]:
    """The drawn TransformerConfig sizes of each 3.9 model ({name: sizes}) and the batch,
    source and target lengths (B, S, T) they share; sizes distinct within a model."""
    while True:
        B, S, T = 3, int(rng.integers(5, 9)), int(rng.integers(4, 7))
        sizes = {}
        for name, case in SEQ2SEQ_CASES.items():
            C, heads = SEQ2SEQ_WIDTHS[int(rng.integers(len(SEQ2SEQ_WIDTHS)))]
            src_vocab = int(rng.integers(10, 17))
            tgt_vocab = src_vocab if case["share_embeddings"] else int(rng.integers(9, 16))
            sizes[name] = {"src_vocab_size": src_vocab, "tgt_vocab_size": tgt_vocab,
                           "d_model": C, "n_heads": heads, "d_ff": int(rng.integers(14, 25))}
        distinct = [[B, S, T, v["d_model"], v["d_ff"], *{v["src_vocab_size"],
                                                        v["tgt_vocab_size"]}]
                    for v in sizes.values()]
        if all(len(set(values)) == len(values) for values in distinct):
            return sizes, (B, S, T)


def _seq2seq_draw(rng: np.random.Generator, shapes: dict, config: dict, B: int, S: int,
                  T: int) -> tuple:
    """Weights (of the shapes of `shapes`, large enough for layout bugs to show) and
    (src, tgt, labels) for a 3.9 model of `config`."""
    C, params = config["d_model"], {}
    for key, value in shapes.items():
        last = key.split(".")[-1]
        if last == "gamma":
            params[key] = 1.0 + 0.3 * rng.standard_normal(value.shape)
        elif last == "beta" or last.startswith("b"):
            params[key] = 0.3 * rng.standard_normal(value.shape)
        elif key.endswith("embed"):
            params[key] = rng.standard_normal(value.shape) / np.sqrt(C)
        else:
            params[key] = rng.standard_normal(value.shape) / np.sqrt(value.shape[0])
    src = rng.integers(1, config["src_vocab_size"], size=(B, S))
    tgt = rng.integers(1, config["tgt_vocab_size"], size=(B, T))
    labels = _ignore(rng, rng.integers(0, config["tgt_vocab_size"], size=(B, T)), 2)
    if config["pad_id"] is not None:  # one row ends in padding (at least 2 real tokens)
        src[int(rng.integers(B)), int(rng.integers(2, S)):] = config["pad_id"]
    return params, src, tgt, labels


def _seq2seq_fixtures(impl, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """3.9: two tiny models with weights large enough for layout bugs to show, their logits,
    losses and gradients, the outputs of typical wrong models, and greedy decodes."""
    f: dict[str, np.ndarray] = {}
    sizes, (B, S, T) = _seq2seq_sizes(rng)
    init_seed, smoothing = _seed(rng), float(rng.uniform(0.05, 0.2))
    f.update({"s2s.init_seed": np.array(init_seed), "s2s.smoothing": np.array(smoothing),
              "s2s.fd_seed": np.array(_seed(rng))})
    f["s2s.init.seeds"] = rng.choice(2**31, size=2, replace=False)  # two different seeds
    configs = {name: {**sizes[name], **case} for name, case in SEQ2SEQ_CASES.items()}
    for name, config in configs.items():
        f.update({f"s2s.{name}.config.{k}": np.array(v) for k, v in sizes[name].items()})
        model = impl.Transformer(impl.TransformerConfig(**config),
                                 np.random.default_rng(init_seed))
        # ReLU kinks: redraw until the finite differences of the hidden check agree with
        # the reference's gradient 10 times closer than its tolerance (no ReLU input lies
        # within the check's step of 0).
        for _ in range(100):
            params, src, tgt, labels = _seq2seq_draw(rng, model.params, config, B, S, T)
            model.params = params
            logits = model.forward(src, tgt)
            loss = float(model.loss(src, tgt, labels, label_smoothing=smoothing))
            grads = model.backward()
            if all(np.isclose(analytic, numeric, rtol=1e-6, atol=1e-8)
                   for _, analytic, numeric in _s2s_directional(
                       model, (src, tgt, labels), smoothing, grads, int(f["s2s.fd_seed"]))):
                break
        else:
            raise RuntimeError(f"3.9 fixtures: no draw of the {name} model is smooth enough")
        f.update({f"s2s.{name}.params.{k}": v for k, v in params.items()})
        f.update({f"s2s.{name}.src": src, f"s2s.{name}.tgt": tgt, f"s2s.{name}.labels": labels,
                  f"s2s.{name}.logits": logits, f"s2s.{name}.loss": np.array(loss)})
        f.update({f"s2s.{name}.grads.{k}": v for k, v in grads.items()})

    # post: the logits of two wrong models
    config, prefix = configs["post"], "s2s.post."
    params = {k[len(prefix + "params."):]: v for k, v in f.items()
              if k.startswith(prefix + "params.")}
    src, tgt = f[prefix + "src"], f[prefix + "tgt"]
    unmasked = impl.Transformer(impl.TransformerConfig(**{**config, "pad_id": None}),
                                np.random.default_rng(init_seed))
    unmasked.params = params
    f[prefix + "bug.no_src_mask"] = unmasked.forward(src, tgt)
    model = impl.Transformer(impl.TransformerConfig(**config), np.random.default_rng(init_seed))
    scale = np.sqrt(config["d_model"])  # untied head: unscaled tables == no sqrt(C) factor
    model.params = {**params, "src_embed": params["src_embed"] / scale,
                    "tgt_embed": params["tgt_embed"] / scale}
    f[prefix + "bug.no_scale"] = model.forward(src, tgt)

    # post: greedy decodes by a model whose rows differ and vary (random models with large
    # biases repeat one token, which would hide "argmax of the first position"); EOS ids
    # chosen so one row ends early and the others run to the limit ("mixed"), or every row
    # ends before it ("early")
    bos, max_new = int(rng.integers(1, config["tgt_vocab_size"])), int(rng.integers(6, 15))
    for _ in range(1000):
        found = _greedy_cases(model, src, rng, config, bos, max_new)
        if found:
            break
    else:
        raise RuntimeError("3.9 fixtures: no draw gives a varied greedy decode")
    f.update({"s2s.greedy.bos": np.array(bos), "s2s.greedy.max_new": np.array(max_new)})
    f.update({f"s2s.greedy.params.{k}": v for k, v in model.params.items()})
    for case, (eos, out) in found.items():
        f[f"s2s.greedy.{case}.eos"] = np.array(eos)
        f[f"s2s.greedy.{case}.out"] = out

    # pre: one table used three times; the gradient without the head's or the source's part
    config, prefix = configs["pre"], "s2s.pre."
    params = {k[len(prefix + "params."):]: v for k, v in f.items()
              if k.startswith(prefix + "params.")}
    table = params["tgt_embed"]
    untied = impl.Transformer(impl.TransformerConfig(**{**config, "tie_head": False,
                                                        "share_embeddings": False}),
                              np.random.default_rng(init_seed))
    untied.params = {**params, "src_embed": table, "head.W": table.T.copy(),
                     "head.b": np.zeros(table.shape[0])}
    untied.loss(f[prefix + "src"], f[prefix + "tgt"], f[prefix + "labels"],
                label_smoothing=smoothing)
    parts = untied.backward()
    total = f[prefix + "grads.tgt_embed"]
    f[prefix + "bug.tgt_embed_without_head"] = total - parts["head.W"].T
    f[prefix + "bug.tgt_embed_without_src"] = total - parts["src_embed"]
    return f


def _greedy_cases(model, src, rng, config: dict, bos: int, max_new: int) -> dict:
    """Give `model` plain random weights drawn from `rng` (small biases and LayerNorm shifts,
    gains near 1); return the EOS ids and greedy outputs of the "mixed" and "early" cases, or
    {} when the decodes are too uniform."""
    params = {}
    for key, value in model.params.items():
        last = key.split(".")[-1]
        if last == "gamma":
            params[key] = 1.0 + 0.05 * rng.standard_normal(value.shape)
        elif last == "beta" or last.startswith("b"):
            params[key] = 0.05 * rng.standard_normal(value.shape)
        else:
            params[key] = rng.standard_normal(value.shape) / np.sqrt(
                config["d_model"] if key.endswith("embed") else value.shape[0])
    model.params = params
    free = model.greedy_decode(src, max_new, bos, bos)  # EOS = BOS: rows may end early
    rows = free.tolist()
    if min(len(set(r)) for r in rows) < 3 or len({tuple(r) for r in rows}) < len(rows):
        return {}
    found = {}
    for eos in rng.permutation(config["tgt_vocab_size"]).tolist():  # any id may qualify
        if eos in (bos, config["pad_id"]):
            continue
        out = model.greedy_decode(src, max_new, bos, eos)
        ended = (out == eos).any(axis=1)
        if "mixed" not in found and out.shape[1] == max_new and 0 < ended.sum() < \
                len(ended) and (out[ended] == config["pad_id"]).any():
            found["mixed"] = (eos, out)
        ends = [r.index(eos) for r in out.tolist() if eos in r]
        if "early" not in found and 3 <= out.shape[1] < max_new - 1 and \
                len(set(ends)) > 1:  # every row ends, not all at the same step
            found["early"] = (eos, out)
    return found if len(found) == 2 else {}
