"""Mutation tests of 3.10 (AdamW, clipping, schedules): every check of the exercise fails on
a plausible student bug, and its message names the bug.  The harness and its conventions:
`tests/mutation.py`.
"""

from __future__ import annotations

from dataclasses import replace

from mutation import (
    Mutant,
    standard_tests,
)
from transformer_common import OP

from grader.course import TRANSFORMER

PACKAGE = TRANSFORMER.package  # mutants edit files of reference/transformer/

ADAM_T = "        self.t += 1\n        beta1, beta2 = self.betas\n"
ADAM_DECAY = ("            p *= 1.0 - lr * self.weight_decay"
              "  # decoupled weight decay, before the update\n")
ADAM_DENOM = ("            denom *= 1.0 / math.sqrt(bias_correction2)\n")
ADAM_SCALE = ("            update *= lr / bias_correction1"
              "  # lr * m_hat / (sqrt(v_hat) + eps)\n")
ADAM_UPDATE = ADAM_SCALE + "            p -= update\n"
ADAM_LOOP = "        for name, p in params.items():\n            g = grads[name]\n"
CLIP_SCALE = ("        for g in grads.values():\n"
              "            g *= coef  # a Python float: float32 gradients stay float32\n")
CLIP_RET = "    return total\n    ### END SOLUTION\n"
NOAM = "    return float(d_model**-0.5 * min(step**-0.5, step * warmup**-1.5))\n"
COS_WARMUP = "    if step < warmup:\n        return float(max_lr * step / warmup)\n"

MUTANTS = [
    Mutant("adamw_l2_in_gradient", "3.10", OP,
           ((ADAM_DECAY, "            g = g + self.weight_decay * p\n"),),
           ("adamw_steps",), "weight decay was added to the gradient (L2)"),
    Mutant("adamw_no_bias_correction", "3.10", OP,
           ((ADAM_DENOM, ""),
            (ADAM_SCALE, "            update *= lr\n")),
           ("adamw_steps",), "not bias-corrected"),
    Mutant("adamw_decay_after_update", "3.10", OP,
           ((ADAM_DECAY, ""), (ADAM_UPDATE, ADAM_UPDATE + ADAM_DECAY)),
           ("adamw_steps",), "applied after the Adam update"),
    Mutant("adamw_step_count_per_parameter", "3.10", OP,
           ((ADAM_T, "        beta1, beta2 = self.betas\n"),
            (ADAM_LOOP, ADAM_LOOP + "            self.t += 1\n"
                                    "            bias_correction1 = 1.0 - beta1**self.t\n"
                                    "            bias_correction2 = 1.0 - beta2**self.t\n")),
           ("adamw_steps",), "keeping m, v and the step count per parameter"),
    Mutant("adamw_ignores_step_lr", "3.10", OP,
           ((ADAM_DECAY, ADAM_DECAY.replace("lr *", "self.lr *")),
            (ADAM_SCALE, ADAM_SCALE.replace("*= lr /", "*= self.lr /"))),
           ("adamw_steps",), "Step 3 passes lr=... to step(): use it."),
    Mutant("adamw_rebinds_dict_entry", "3.10", OP,  # the model's arrays never change
           ((ADAM_UPDATE, ADAM_SCALE + "            params[name] = p - update\n"),),
           ("adamw_steps",), "in place"),
    Mutant("clip_returns_post_clip_norm", "3.10", OP,
           ((CLIP_RET, "    return math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))\n"
                       "    ### END SOLUTION\n"),),
           ("clip_grad_norm_values",), "(before clipping)"),
    Mutant("clip_scales_a_local_copy", "3.10", OP,
           ((CLIP_SCALE, "        for g in grads.values():\n            g = g * coef\n"),),
           ("clip_grad_norm_values",), "Scale in place"),
    Mutant("clip_rebinds_dict_entries", "3.10", OP,  # the caller's arrays are not clipped
           ((CLIP_SCALE, "        for name, g in grads.items():\n"
                         "            grads[name] = g * coef\n"),),
           ("clip_grad_norm_values",), "in place"),
    Mutant("clip_always_scales", "3.10", OP,
           ((CLIP_SCALE, "        pass\n    for g in grads.values():\n        g *= coef\n"),),
           ("clip_grad_norm_values",), "left unchanged"),
    Mutant("noam_off_by_one", "3.10", OP,
           ((NOAM, "    step += 1\n" + NOAM),),
           ("schedules",), "d^-0.5 * min(step^-0.5, step * warmup^-1.5)"),
    Mutant("cosine_without_warmup", "3.10", OP, ((COS_WARMUP, ""),),
           ("schedules",), "cosine_schedule(1, max_lr="),
    Mutant("cosine_nanogpt_warmup", "3.10", OP,  # (s + 1) / warmup: one step early
           ((COS_WARMUP, COS_WARMUP.replace("max_lr * step / warmup",
                                            "max_lr * (step + 1) / warmup")),),
           ("schedules",), "cosine_schedule(1, max_lr="),
]

# eps where it matters, the stated errors (appended code: a whole AdamW.step)
STEP = """
def _step(self, params, grads, lr=None):
    _check_arrays(params, grads, "AdamW.step")
    lr = self.lr if lr is None else float(lr)
    self.t += 1
    beta1, beta2 = self.betas
    c1, c2 = 1.0 - beta1**self.t, 1.0 - beta2**self.t
    for name, p in params.items():
        g = grads[name]
        if name not in self.m:
            self.m[name], self.v[name] = np.zeros_like(p), np.zeros_like(p)
        m, v = self.m[name], self.v[name]
        p *= 1.0 - lr * self.weight_decay
        m *= beta1
        m += (1.0 - beta1) * g
        v *= beta2
        v += (1.0 - beta2) * (g * g)
        DENOM
        p -= (lr / c1) * m / denom
AdamW.step = _step
"""
MUTANTS += [
    Mutant("adamw_eps_inside_sqrt", "3.10", OP, (), ("adamw_tiny_gradients", "adamw_steps"),
           "eps is added inside the square root",
           append=STEP.replace("DENOM", "denom = np.sqrt(v / c2 + self.eps)"),
           diagnosis="eps is added inside the square root"),
    Mutant("adamw_eps_before_correction", "3.10", OP, (),
           ("adamw_tiny_gradients", "adamw_steps"),
           "eps is added before the bias correction",
           append=STEP.replace("DENOM", "denom = (np.sqrt(v) + self.eps) / math.sqrt(c2)"),
           diagnosis="eps is added before the bias correction"),
    Mutant("adamw_no_input_checks", "3.10", OP, (), ("optim_raises",), "expected ValueError",
           append=STEP.replace("DENOM", "denom = np.sqrt(v / c2) + self.eps").replace(
               '    _check_arrays(params, grads, "AdamW.step")\n', "")),
]

# The cause each mutant's messages state (a known bug's output, matched exactly,
# is stated with expect.cause).
DIAGNOSES = {
    "adamw_l2_in_gradient": "weight decay was added to the gradient (L2)",
    "adamw_no_bias_correction": "not bias-corrected",
    "adamw_decay_after_update": "applied after the Adam update",
}
MUTANTS = [replace(m, diagnosis=DIAGNOSES.get(m.id, m.diagnosis)) for m in MUTANTS]

GAPS: dict[str, str] = {}

# (mutant, check, phrase the message must contain, phrase it must not contain): bugs whose
# message must point at the right fix.
DIAGNOSED = [
    ("adamw_l2_in_gradient", "adamw_steps", "decouples", "bias-corrected"),
    ("adamw_no_bias_correction", "adamw_steps", "1 - beta1^t", "L2"),
    ("adamw_decay_after_update", "adamw_steps", "decays first", "L2"),
    ("clip_returns_post_clip_norm", "clip_grad_norm_values", "before clipping", ""),
]

DIAGNOSIS_GAPS: dict[str, str] = {}

BLAME_GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["3.10"], MUTANTS, gaps=GAPS, diagnosed=DIAGNOSED,
                                diagnosis_gaps=DIAGNOSIS_GAPS, blame_gaps=BLAME_GAPS))
