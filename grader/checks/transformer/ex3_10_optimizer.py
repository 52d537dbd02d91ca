"""Checks of exercise 3.10: AdamW, clipping, schedules."""

from __future__ import annotations

import numpy as np

from ... import expect
from .. import check
from .common import _matches, _params, _skipped_until, fx


def _first_step(p, g, lr: float, beta2: float, eps: float, wd: float, where: str = "right"):
    """AdamW's first step in closed form (t = 1: m_hat = g, v_hat = g^2), and where two known
    slips put eps (`where`): the check needs no more than the first step to tell them."""
    denom = {"right": np.abs(g) + eps,
             "inside_sqrt": np.sqrt(g * g + eps),
             "before_correction": np.abs(g) + eps / np.sqrt(1 - beta2)}[where]
    return p * (1 - lr * wd) - lr * g / denom


def _eps_probe(value, step: int, key: str, label: str) -> None:
    """Fail naming the slip when `value`, after the fixture's first step, is exactly what eps
    in the wrong place gives (its sizes make the difference small but far above rounding)."""
    if step != 0:
        return
    beta2 = float(fx()["adamw.betas"][1])
    args = (fx()[f"adamw.params.{key}"], fx()[f"adamw.grads0.{key}"], float(fx()["adamw.lr"]),
            beta2, float(fx()["adamw.eps"]), float(fx()["adamw.wd"]))
    for where, why in EPS_SLIPS.items():
        if np.allclose(value, _first_step(*args, where=where), rtol=1e-12, atol=0):
            expect.fail(f"{label} differs from the expected value. {expect.cause(why)}")


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
                    cause, _, advice = message.partition(". ")
                    expect.fail(f"after step {step + 1}, {key} differs from the expected value. "
                                f"{expect.cause(cause)} {advice}")
            _eps_probe(value, step, key, f"{key} after step {step + 1}")
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


# --- eps where it matters (tiny gradients), the stated errors ---------------------------
EPS_SLIPS = {"inside_sqrt": "eps is added inside the square root, sqrt(v_hat + eps); it is "
                            "added after it: sqrt(v_hat) + eps",
             "before_correction": "eps is added before the bias correction, (sqrt(v) + eps) / "
                                  "sqrt(1 - beta2^t); it is added to sqrt(v_hat)"}


@check("3.10")
def adamw_tiny_gradients(impl):
    """gradients of size 1e-8, where eps shows: p -= lr * m_hat / (sqrt(v_hat) + eps)"""
    beta1, beta2 = (float(b) for b in fx()["adamw.betas"])
    lr, eps, wd = float(fx()["adamw.lr"]), 1e-8, float(fx()["adamw.wd"])
    params = _params("adamw.params.")
    grads = {k: 1e-8 * g for k, g in _params("adamw.grads0.").items()}
    impl.AdamW(lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=wd).step(params, grads)
    for key, value in params.items():
        label = f"3.10 AdamW(eps=1e-8): {key} after one step of gradients ~1e-8"
        args = (fx()[f"adamw.params.{key}"], grads[key], lr, beta2, eps, wd)
        expected = _first_step(*args)
        if np.allclose(value, expected, rtol=1e-12, atol=0):
            continue
        for where, why in EPS_SLIPS.items():
            if np.allclose(value, _first_step(*args, where=where), rtol=1e-12, atol=0):
                expect.fail(f"{label} differs from the expected value. {expect.cause(why)}")
        expect.close(value, expected, label, rtol=1e-12, atol=0,
                     hint="With gradients this small sqrt(v_hat) is about eps: check where eps "
                          "enters the update, p -= lr * m_hat / (sqrt(v_hat) + eps).")


@check("3.10")
def optim_raises(impl):
    """the documented errors of AdamW.step, clip_grad_norm and the schedules"""
    params, grads = _params("adamw.params."), _params("adamw.grads0.")
    # The checks of the arguments are given code: points only once the functions work.
    beta1, beta2 = (float(b) for b in fx()["adamw.betas"])
    first = _params("adamw.params.")
    impl.AdamW(lr=float(fx()["adamw.lr"]), betas=(beta1, beta2), eps=float(fx()["adamw.eps"]),
               weight_decay=float(fx()["adamw.wd"])).step(first, grads)
    for key, value in first.items():
        _skipped_until(value, fx()[f"adamw.after0.{key}"], "adamw_steps", "3.10")
    total = impl.clip_grad_norm(_params("clip.grads."), float(fx()["clip.max_norm"]))
    _skipped_until(np.asarray([float(total)]), fx()["clip.total"][None],
                   "clip_grad_norm_values", "3.10")
    step = int(fx()["sched.steps"][0])
    for got, key in ((impl.noam_schedule(step, int(fx()["sched.d_model"]),
                                         int(fx()["sched.warmup"])), "sched.noam"),
                     (impl.cosine_schedule(step, float(fx()["sched.max_lr"]),
                                           float(fx()["sched.min_lr"]), int(fx()["sched.warmup"]),
                                           int(fx()["sched.total"])), "sched.cosine")):
        _skipped_until(np.asarray([float(got)]), fx()[key][:1], "schedules", "3.10")
    opt = impl.AdamW()
    expect.raises(opt.step, ValueError, "3.10 AdamW.step with a gradient missing",
                  params, {k: g for k, g in grads.items() if k != "b"})
    expect.raises(opt.step, ValueError, "3.10 AdamW.step with a gradient of another shape",
                  params, {**grads, "b": grads["b"][:1]})
    expect.raises(opt.step, TypeError, "3.10 AdamW.step with an integer parameter",
                  {**params, "b": np.zeros(params["b"].shape, dtype=np.int64)}, grads)
    expect.raises(impl.clip_grad_norm, ValueError, "3.10 clip_grad_norm(grads, max_norm=0)",
                  _params("clip.grads."), 0.0)
    expect.raises(impl.noam_schedule, ValueError, "3.10 noam_schedule(step=0, ...)", 0, 16, 4)
    expect.raises(impl.cosine_schedule, ValueError, "3.10 cosine_schedule(step=-1, ...)",
                  -1, 1.0, 0.1, 2, 10)
    expect.raises(impl.cosine_schedule, ValueError, "3.10 cosine_schedule(total < warmup)",
                  3, 1.0, 0.1, 5, 4)
