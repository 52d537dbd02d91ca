"""Checks of exercise 3.8: Cross-entropy with label smoothing."""

from __future__ import annotations

import numpy as np

from ... import expect
from .. import check
from .common import _close_grad, _skipped_until, _upstream_probe, fx, get

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
            expect.fail(f"cross_entropy ({name} case) is {float(loss):.10g}, expected "
                        f"{float(expected):.10g}. " + expect.cause(
                            "cross_entropy averages over every position, ignored ones counted "
                            "as 0") + " Leave the ignored targets (ignore_index) out of the mean.")
        if f"ce.{name}.bug.k_minus_1" in fx() and np.isclose(
                loss, fx()[f"ce.{name}.bug.k_minus_1"]):
            expect.fail(f"cross_entropy ({name} case) is {float(loss):.10g}, expected "
                        f"{float(expected):.10g}. " + expect.cause(
                            "label smoothing spreads eps over the K - 1 wrong classes") + " "
                        "PyTorch spreads eps/K over all K classes, the target included.")
        expect.fail(f"cross_entropy ({name} case) is {float(loss):.10g}, expected "
                    f"{float(expected):.10g}.")


@check("3.8", weight=2)
def cross_entropy_backward_values(impl):
    """dlogits = (softmax - target distribution) / N, zero rows for ignored targets"""
    for name in CE_CASES:
        loss, cache = _ce(impl, name)
        dlogits = impl.cross_entropy_backward(1.0, cache)
        expect.array(dlogits, "dlogits", shape=fx()["ce.logits"].shape, dtype=np.float64)
        # The expected dlogits come from the formula, not from the student's loss: a right
        # backward earns its points even while the loss is wrong.  Only when both differ is
        # the backward judged later (it reads the forward's cache).
        if not np.allclose(dlogits, fx()[f"ce.{name}.dlogits"], **expect.F64):
            _skipped_until(np.asarray(loss)[None], fx()[f"ce.{name}.loss"][None],
                           "cross_entropy_values", "3.8")
        hint = {"plain": "dlogits = (softmax(logits) - onehot(target)) / N.",
                "ignored": "Divide by the number of non-ignored targets; ignored rows get 0.",
                "smoothed": "With label smoothing the target distribution is q = (1 - eps) "
                            "onehot + eps / K, so dlogits = (softmax - q) / N."}[name]
        _close_grad(dlogits, fx()[f"ce.{name}.dlogits"], f"dlogits ({name} case)", hint=hint,
                    name="dlogits")
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


# --- ignore_index as an option, the upstream gradient, the stated errors ----------------
def _ce_gate(impl) -> None:
    loss, _ = _ce(impl, "plain")
    _skipped_until(np.asarray(loss)[None], fx()["ce.plain.loss"][None], "cross_entropy_values",
                   "3.8")


@check("3.8")
def cross_entropy_ignore_index_option(impl):
    """an ignore_index other than -100 (a class id no target uses) leaves those positions out"""
    _ce_gate(impl)
    logits, targets = get("ce.logits"), get("ce.ignored.targets")
    kept = targets[targets != -100]
    unused = set(range(logits.shape[-1])) - set(kept.tolist())
    ignored = int(min(unused)) if unused else -1  # an unused class, or else no class at all
    relabelled = np.where(targets == -100, ignored, targets)
    for smoothing in (0.0, float(fx()["ce.smoothed.smoothing"])):
        label = f"3.8 cross_entropy(ignore_index={ignored}, label_smoothing={smoothing:.4g})"
        result = expect.call_pure(impl.cross_entropy, "cross_entropy", logits, relabelled,
                                  ignore_index=ignored, label_smoothing=smoothing)
        loss, cache = expect.pair(result, "cross_entropy")
        # The same positions left out with the default -100: the values of the "ignored" case
        # (its fixtures without smoothing; your own -100 path with it).
        if smoothing == 0.0:
            expected, dexpected = float(fx()["ce.ignored.loss"]), fx()["ce.ignored.dlogits"]
        else:
            base, base_cache = expect.pair(impl.cross_entropy(
                logits, targets, label_smoothing=smoothing), "cross_entropy")
            expected = float(base)
            dexpected = impl.cross_entropy_backward(1.0, base_cache)
        if not np.isclose(float(loss), expected, rtol=1e-9):
            nothing, _ = expect.pair(impl.cross_entropy(logits, relabelled,
                                                        label_smoothing=smoothing),
                                     "cross_entropy")
            if np.isclose(float(loss), float(nothing), rtol=1e-9):
                expect.fail(f"{label} is {float(loss):.10g}, the loss with nothing ignored; "
                            f"expected {expected:.10g}. " + expect.cause(
                                "the ignore_index argument is not used (-100 is hard-coded)"))
            expect.fail(f"{label} is {float(loss):.10g}, expected {expected:.10g}: positions "
                        f"whose target is {ignored} are left out of the mean, as -100 ones are "
                        "by default.")
        expect.close(impl.cross_entropy_backward(1.0, cache), dexpected, f"dlogits of {label}",
                     hint=f"Rows whose target is ignore_index = {ignored} get 0.")


@check("3.8")
def cross_entropy_backward_upstream(impl):
    """dlogits scales with the dloss it is given, and the cache is left unchanged"""
    _ce_gate(impl)

    def run(dloss):
        _, cache = _ce(impl, "smoothed")
        return {"dlogits": expect.call_pure(impl.cross_entropy_backward,
                                            "cross_entropy_backward", dloss, cache)}

    _upstream_probe(run, 1.0, "cross_entropy_backward", "3.8",
                    {"dlogits": fx()["ce.smoothed.dlogits"]}, "cross_entropy_backward_values")


@check("3.8")
def cross_entropy_raises(impl):
    """the documented errors: dtypes, shapes, a target out of range, a bad smoothing, dloss"""
    _ce_gate(impl)  # the checks of the inputs are given code: points only for a working loss
    logits, targets = get("ce.logits"), get("ce.plain.targets")
    k = logits.shape[-1]
    ce = impl.cross_entropy
    expect.raises(ce, TypeError, "3.8 cross_entropy with integer logits",
                  np.round(logits).astype(np.int64), targets)
    expect.raises(ce, TypeError, "3.8 cross_entropy with float targets", logits,
                  targets.astype(np.float64))
    expect.raises(ce, ValueError, "3.8 cross_entropy with targets of another shape", logits,
                  targets[:, :1])
    bad = targets.copy()
    bad.flat[1] = k
    expect.raises(ce, ValueError, f"3.8 cross_entropy with a target {k} (K = {k})", logits, bad)
    expect.raises(ce, ValueError, "3.8 cross_entropy(label_smoothing=1.5)", logits, targets,
                  label_smoothing=1.5)
    _, cache = expect.pair(ce(logits, targets), "cross_entropy")
    expect.raises(impl.cross_entropy_backward, ValueError, "3.8 cross_entropy_backward with "
                  "dloss of shape (2,)", np.ones(2), cache)
