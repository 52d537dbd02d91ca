"""Checks of exercise 3.10: AdamW, clipping, schedules."""

from __future__ import annotations

import numpy as np

from ... import expect
from .. import check
from .common import _matches, _params, fx


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
