"""Mutation tests of the Module 3 checks: every check fails on a plausible student bug, and
its message names the bug.

The harness of `mutation.py` (shared by every module): each mutant copies `reference/` into
a temporary `submission/`, replaces a line (or a few) of a solution in
`reference/transformer/` with a typical mistake, grades only the affected exercise, and
asserts that (a) the exercise loses points, (b) the named checks fail (or error, when the
bug raises), and (c) the first named check's message contains the phrase that tells the
student what to fix.

Only the exercises of stage A of Module 3 (3.1-3.5, 3.8, 3.10) are covered: the layers,
loss and optimiser.  The models built from them (3.6, 3.7, 3.11) have their mutants in
`test_checks_catch_bugs_module3_models.py`.

`DIAGNOSED` keeps bugs whose message must point at the right fix, and `NOT_BLAMED` bugs in
one function that must not be reported as a bug of another, correct one.  Known grader gaps
(a bug no check catches, a message that points at the wrong fix) are `xfail(strict=True)`
with the reason (`GAPS`, `DIAGNOSIS_GAPS`, `BLAME_GAPS`), so fixing the grader turns them
into an XPASS that asks for the mark to go.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)

from grader import fixtures
from grader.course import TRANSFORMER, select

PACKAGE = TRANSFORMER.package  # mutants edit files of reference/transformer/
STAGE_A = ("3.1", "3.2", "3.3", "3.4", "3.5", "3.8", "3.10")
MODULE_3 = [ex.id for ex in select(None) if ex.module == TRANSFORMER and ex.id in STAGE_A]

# Lines of the reference solutions, quoted exactly.
# 3.1 linear.py
LIN_OUT = "    out = x @ W  # (..., in) @ (in, out) -> (..., out)\n"
LIN_BIAS = ("    if b is not None:\n"
            "        out += b  # (out,) broadcasts over every leading axis; in place: out is new\n")
LIN_DW = "    dW = x_rows.T @ dout_rows  # (in, N) @ (N, out): summed over the N rows\n"
LIN_DB = "    db = dout_rows.sum(axis=0) if cache[\"has_bias\"] else None  # (out,)\n"
LIN_DX = "    dx = dout @ W.T  # (..., out) @ (out, in) -> (..., in)\n"
# 3.2 norms.py
LN_MU = "    mu = x.mean(axis=-1, keepdims=True)  # (..., 1)\n"
LN_VAR = "    var = (xc * xc).mean(axis=-1, keepdims=True)  # (..., 1), biased\n"
LN_RSTD = "    rstd = 1.0 / np.sqrt(var + eps)  # (..., 1); Python floats keep float32 float32\n"
LN_DGAMMA = "    dgamma = dout_xhat.reshape(-1, c).sum(axis=0)  # (C,)\n"
LN_DBETA = "    dbeta = dout.reshape(-1, c).sum(axis=0)  # (C,)\n"
LN_DX = ("    dx = dout * gamma  # g = dL/dxhat, (..., C); then, in place,\n"
         "    dx -= g_mean  # dx = rstd * (g - mean(g) - xhat * mean(g * xhat))\n"
         "    dx -= np.multiply(xhat, gx_mean, out=dout_xhat)  # (reusing dout_xhat's buffer)\n"
         "    dx *= rstd\n")
RMS_MS = "    ms = (x * x).mean(axis=-1, keepdims=True)  # (..., 1) mean square\n"
RMS_R = "    rrms = 1.0 / np.sqrt(ms + eps)  # (..., 1)\n"
RMS_DX = "    dx = rrms * (g - xhat * (g * xhat).mean(axis=-1, keepdims=True))\n"
# 3.3 activations.py
RELU_CACHE = '    return out, {"positive": x > 0}\n'
RELU_BWD = '    return np.where(cache["positive"], dout, 0)\n'
GELU_BRANCH = '    if approximate == "tanh":\n'
GELU_BUFFERS = "        t, out = np.empty(np.shape(x), x.dtype), np.empty(np.shape(x), x.dtype)\n"
GELU_DU = ("            du_dx = xb * xb\n"
           "            du_dx *= 3.0 * GELU_TANH_COEF\n"
           "            du_dx += 1.0\n"
           "            du_dx *= SQRT_2_OVER_PI  # du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2)\n")
GELU_EXACT_BWD = '    return dout * (cache["cdf"] + x * pdf)\n'
SILU_SIG = "    sigmoid = np.where(x >= 0, 1.0, e) / (1.0 + e)\n"
SILU_BWD = "    return dout * (s * (1.0 + x * (1.0 - s)))\n"
# 3.4 feed_forward.py
FFN_FC = '    h, fc_cache = linear(x, params["W_1"], params["b_1"])  # (..., F)\n'
FFN_BWD_FC = '    dx, dW_1, db_1 = linear_backward(dh, cache["fc"])  # dx: (..., C)\n'
FFN_BWD_ACT = '    dh = act_backward(da, cache["act"])  # (..., F)\n'
SW_ACT = "    s, act_cache = silu(g)  # (..., F)\n"
SW_DOWN = '    out, down_cache = linear(s * u, params["W_down"])  # (..., C)\n'
SW_PRODUCT = '    ds, du = dh * cache["u"], dh * cache["s"]  # product rule\n'
SW_DX = '    return dx_gate + dx_up, {"W_gate": dW_gate, "W_up": dW_up, "W_down": dW_down}\n'
# 3.5 dropout.py
DO_EVAL = "    if not train or p == 0:\n"
DO_P1 = ('    if p == 1:\n'
         '        return np.zeros_like(x), {"mask": np.zeros(x.shape, dtype=bool), "scale": 0.0}\n')
DO_MASK = "    mask = rng.random(x.shape) >= p  # True = keep, probability 1 - p\n"
DO_RET = '    return x * mask * scale, {"mask": mask, "scale": scale}\n'
DO_BWD = '    return dout * cache["mask"] * cache["scale"]\n'
# 3.8 cross_entropy.py
CE_MAX = "    logp = z - z.max(axis=-1, keepdims=True)  # (N_all, K), max 0: exp cannot overflow\n"
CE_SMOOTH = "        per_position = (1.0 - eps) * per_position - eps * logp.mean(axis=-1)\n"
CE_MEAN = ("    loss = np.where(valid, per_position, 0).sum() / max(n, 1)"
           "  # all ignored -> 0, not 0/0\n")
CE_CAST = ("    loss = loss.astype(logits.dtype)"
           "  # NumPy 1.x promotes a float32 scalar divided by an int\n")
CE_Q = ("    grad -= eps / k  # minus q: the uniform part ...\n"
        "    grad[np.arange(t.size), t] -= 1.0 - eps  # ... and the one-hot part\n")
CE_SCALE = "    grad *= float(dloss) / max(n, 1)  # a Python float: float32 stays float32\n"
CE_ZERO = "    grad[~valid] = 0.0  # ignored positions contribute nothing\n"
# 3.10 optim.py
ADAM_T = "        self.t += 1\n        beta1, beta2 = self.betas\n"
ADAM_DECAY = ("            p *= 1.0 - lr * self.weight_decay"
              "  # decoupled weight decay, before the update\n")
ADAM_DENOM = ("            denom = np.sqrt(v) / math.sqrt(bias_correction2) + self.eps"
              "  # sqrt(v_hat) + eps\n")
ADAM_UPDATE = ("            p -= (lr / bias_correction1) * m / denom"
               "  # lr * m_hat / (sqrt(v_hat) + eps)\n")
ADAM_LOOP = "        for name, p in params.items():\n            g = grads[name]\n"
CLIP_SCALE = ("        for g in grads.values():\n"
              "            g *= coef  # a Python float: float32 gradients stay float32\n")
CLIP_RET = "    return total\n    ### END SOLUTION\n"
NOAM = "    return float(d_model**-0.5 * min(step**-0.5, step * warmup**-1.5))\n"
COS_WARMUP = "    if step < warmup:\n        return float(max_lr * step / warmup)\n"

LI, NO, AC, FF, DO, CE, OP = ("linear.py", "norms.py", "activations.py", "feed_forward.py",
                              "dropout.py", "cross_entropy.py", "optim.py")
F32 = "expected float32"
# The sizes are drawn with the fixtures: the shape a wrong reduction axis gives, as the
# message states it, is read from the committed ones.
FX = fixtures.load("transformer")
LIN_B, LIN_T, LIN_OUT_SIZE = FX["linear.dout"].shape  # (B, T, out)
LN_B, LN_T, LN_C = FX["ln.x"].shape
FFN_T, FFN_F = FX["ffn.x"].shape[1], FX["ffn.params.b_1"].shape[0]

MUTANTS = [
    # 3.1 linear
    Mutant("lin_bias_always_added", "3.1", LI,  # crashes on b=None
           ((LIN_OUT + LIN_BIAS, "    out = x @ W + b\n"),),
           ("linear_values",), "TypeError", "error"),
    Mutant("lin_fwd_float64", "3.1", LI,
           ((LIN_OUT, "    out = x @ W.astype(float)\n"),),
           ("linear_values",), "linear of float32 inputs has dtype float64"),
    Mutant("lin_dw_per_example", "3.1", LI,  # summed over time, not over the batch
           ((LIN_DW, "    dW = np.swapaxes(x, -1, -2) @ dout  # (B, in, out)\n"),),
           ("linear_backward_values",), "dW has a batch axis"),
    Mutant("lin_db_first_axis_only", "3.1", LI,
           ((LIN_DB, '    db = dout.sum(axis=0) if cache["has_bias"] else None\n'),),
           ("linear_backward_values",),
           f"db has shape {(LIN_T, LIN_OUT_SIZE)}, expected ({LIN_OUT_SIZE},)"),
    Mutant("lin_db_mean", "3.1", LI,
           ((LIN_DB, '    db = dout_rows.mean(axis=0) if cache["has_bias"] else None\n'),),
           ("linear_backward_values", "linear_finite_differences"),
           "db sums dY over batch and time"),
    Mutant("lin_db_without_bias", "3.1", LI,
           ((LIN_DB, "    db = dout_rows.sum(axis=0)\n"),),
           ("linear_backward_values",), "db = None"),
    Mutant("lin_bwd_float64", "3.1", LI,  # a float64 accumulator promotes float32 grads
           ((LIN_DW, "    dW = np.zeros(W.shape)\n    dW += x_rows.T @ dout_rows\n"),),
           ("linear_backward_values",), F32),
    Mutant("lin_dx_transposed_wrong", "3.1", LI,  # dY W instead of dY Wᵀ: shapes do not fit
           ((LIN_DX, "    dx = dout @ W\n"),),
           ("linear_backward_values",), "ValueError", "error"),
    # 3.2 LayerNorm and RMSNorm
    Mutant("ln_eps_outside_sqrt", "3.2", NO,
           ((LN_RSTD, "    rstd = 1.0 / (np.sqrt(var) + eps)\n"),),
           ("layer_norm_values",), "eps outside the square root"),
    Mutant("ln_unbiased_variance", "3.2", NO,
           ((LN_VAR, "    var = (xc * xc).sum(axis=-1, keepdims=True) / (x.shape[-1] - 1)\n"),),
           ("layer_norm_values",), "unbiased variance"),
    Mutant("ln_stats_over_batch", "3.2", NO,  # BatchNorm's axis
           ((LN_MU, "    mu = x.mean(axis=0, keepdims=True)\n"),
            (LN_VAR, "    var = (xc * xc).mean(axis=0, keepdims=True)\n")),
           ("layer_norm_values",), "Normalise over the last axis only"),
    Mutant("ln_fwd_float64", "3.2", NO,  # statistics in float64 "for precision"
           ((LN_MU, "    mu = x.mean(axis=-1, keepdims=True, dtype=np.float64)\n"),),
           ("layer_norm_values",), "layer_norm of float32 inputs has dtype float64"),
    Mutant("ln_dbeta_wrong_axis", "3.2", NO,
           ((LN_DBETA, "    dbeta = dout.sum(axis=-1)\n"),),
           ("layer_norm_backward_values",),
           f"dbeta has shape {(LN_B, LN_T)}, expected ({LN_C},)"),
    Mutant("ln_dgamma_wrong_axis", "3.2", NO,
           ((LN_DGAMMA, "    dgamma = (dout * xhat).sum(axis=-1)\n"),),
           ("layer_norm_backward_values",),
           f"dgamma has shape {(LN_B, LN_T)}, expected ({LN_C},)"),
    Mutant("ln_dgamma_without_xhat", "3.2", NO,
           ((LN_DGAMMA, "    dgamma = dout.reshape(-1, c).sum(axis=0)\n"),),
           ("layer_norm_backward_values", "layer_norm_finite_differences"),
           "dgamma sums dY * x_hat"),
    Mutant("ln_dx_stats_as_constants", "3.2", NO,
           ((LN_DX, "    dx = rstd * (dout * gamma)\n"),),
           ("layer_norm_backward_values", "layer_norm_finite_differences"),
           "dx = (g - mean(g) - x_hat * mean(g * x_hat))"),
    Mutant("ln_dx_missing_var_term", "3.2", NO,
           ((LN_DX, "    dx = rstd * (dout * gamma - g_mean)\n"),),
           ("layer_norm_backward_values", "layer_norm_finite_differences"), "dx is wrong"),
    Mutant("ln_bwd_float64", "3.2", NO,  # a float64 accumulator promotes float32 gradients
           ((LN_DGAMMA, "    dgamma = np.zeros(c)\n    dgamma += (dout * xhat).reshape(-1, c)"
                        ".sum(axis=0)\n"),),
           ("layer_norm_backward_values",), F32),
    Mutant("rms_eps_outside_sqrt", "3.2", NO,
           ((RMS_R, "    rrms = 1.0 / (np.sqrt(ms) + eps)\n"),),
           ("rms_norm_values_and_backward",), "eps outside the square root"),
    Mutant("rms_subtracts_mean", "3.2", NO,
           ((RMS_MS, "    x = x - x.mean(axis=-1, keepdims=True)\n"
                     "    ms = (x * x).mean(axis=-1, keepdims=True)\n"),),
           ("rms_norm_values_and_backward",), "RMSNorm does not subtract the mean"),
    Mutant("rms_dx_stats_as_constants", "3.2", NO,
           ((RMS_DX, "    dx = rrms * g\n"),),
           ("rms_norm_values_and_backward",), "RMSNorm dx is wrong"),
    Mutant("rms_fwd_float64", "3.2", NO,
           ((RMS_MS, "    ms = (x * x).mean(axis=-1, keepdims=True, dtype=np.float64)\n"),),
           ("rms_norm_values_and_backward",), F32),
    # 3.3 activations
    Mutant("gelu_forms_swapped", "3.3", AC,
           ((GELU_BRANCH, GELU_BRANCH.replace('"tanh"', '"none"')),),
           ("activation_values",), "computes the other GELU"),
    Mutant("relu_grad_one_at_zero", "3.3", AC,
           ((RELU_CACHE, '    return out, {"positive": x >= 0}\n'),),
           ("activation_backward_values",), "0 at x = 0"),
    Mutant("relu_bwd_float_mask", "3.3", AC,  # mask.astype(float) promotes float32
           ((RELU_BWD, '    return dout * cache["positive"].astype(float)\n'),),
           ("activation_float32",), "relu_backward of float32 input has dtype float64"),
    Mutant("gelu_tanh_bwd_missing_cubic", "3.3", AC,
           ((GELU_DU, "            du_dx = SQRT_2_OVER_PI\n"),),
           ("activation_backward_values",), "gelu_tanh_backward is wrong"),
    Mutant("gelu_exact_bwd_missing_pdf", "3.3", AC,
           ((GELU_EXACT_BWD, '    return dout * cache["cdf"]\n'),),
           ("activation_backward_values",), "gelu_none_backward is wrong"),
    Mutant("gelu_buffers_float64", "3.3", AC,  # np.empty without a dtype is float64
           ((GELU_BUFFERS, "        t, out = np.empty(np.shape(x)), np.empty(np.shape(x))\n"),),
           ("activation_float32",), "gelu of float32 input has dtype float64"),
    Mutant("silu_naive_sigmoid", "3.3", AC,  # exp(-x) overflows (and warns) for x < -709
           ((SILU_SIG, "    sigmoid = 1.0 / (1.0 + np.exp(-x))\n"),),
           ("activation_float32",), "overflow"),
    Mutant("silu_bwd_missing_term", "3.3", AC,  # only the sigmoid, not x * sigmoid'
           ((SILU_BWD, "    return dout * s\n"),),
           ("activation_backward_values",), "sigmoid(x) * (1 + x * (1 - sigmoid(x)))"),
    Mutant("silu_bwd_sigmoid_derivative_only", "3.3", AC,
           ((SILU_BWD, "    return dout * (x * s * (1.0 - s))\n"),),
           ("activation_backward_values",), "silu_backward is wrong"),
    # 3.4 feed-forward and SwiGLU
    Mutant("ffn_no_first_bias", "3.4", FF,
           ((FFN_FC, '    h, fc_cache = linear(x, params["W_1"])\n'),),
           ("feed_forward_values",), "feed_forward (gelu) is wrong"),
    Mutant("ffn_db1_before_activation", "3.4", FF,  # bias gradient taken before act'
           ((FFN_BWD_FC, FFN_BWD_FC + "    db_1 = da.reshape(-1, da.shape[-1]).sum(axis=0)\n"),),
           ("feed_forward_backward_values",), "db_1 is wrong"),
    Mutant("ffn_db1_not_summed", "3.4", FF,
           ((FFN_BWD_FC, FFN_BWD_FC + "    db_1 = dh.sum(axis=0)\n"),),
           ("feed_forward_backward_values",),
           f"db_1 has shape {(FFN_T, FFN_F)}, expected ({FFN_F},)"),
    Mutant("ffn_bwd_skips_activation", "3.4", FF,
           ((FFN_BWD_ACT, "    dh = da\n"),),
           ("feed_forward_backward_values",), "db_1 is wrong"),
    Mutant("swiglu_gate_on_up_branch", "3.4", FF,
           ((SW_ACT, "    s, act_cache = silu(u)\n"),
            (SW_DOWN, '    out, down_cache = linear(s * g, params["W_down"])\n')),
           ("swiglu_values_and_backward",), "wrong branch"),
    Mutant("swiglu_product_rule_swapped", "3.4", FF,
           ((SW_PRODUCT, '    ds, du = dh * cache["s"], dh * cache["u"]\n'),),
           ("swiglu_values_and_backward",), "Product rule"),
    Mutant("swiglu_dx_one_branch", "3.4", FF,
           ((SW_DX, SW_DX.replace("dx_gate + dx_up", "dx_gate")),),
           ("swiglu_values_and_backward",), "x feeds both branches"),
    # 3.5 dropout
    Mutant("dropout_no_rescale", "3.5", DO, ((DO_RET, DO_RET.replace(" * scale,", ",")),),
           ("dropout_values",), "does not rescale"),
    Mutant("dropout_mask_below_keep_prob", "3.5", DO,  # same law, another mask
           ((DO_MASK, "    mask = rng.random(x.shape) < 1 - p\n"),),
           ("dropout_values",), "rng.random(x.shape) >= p"),
    Mutant("dropout_mask_binomial", "3.5", DO,
           ((DO_MASK, "    mask = rng.binomial(1, 1 - p, size=x.shape).astype(bool)\n"),),
           ("dropout_values",), "rng.random(x.shape) >= p"),
    Mutant("dropout_in_eval", "3.5", DO, ((DO_EVAL, "    if p == 0:\n"),),
           ("dropout_values",), "Evaluation is the identity"),
    Mutant("dropout_p1_divides_by_zero", "3.5", DO, ((DO_P1, ""),),
           ("dropout_values",), "ZeroDivisionError", "error"),
    Mutant("dropout_bwd_fresh_mask", "3.5", DO,
           ((DO_RET, '    return x * mask * scale, {"mask": mask, "scale": scale, "rng": rng, '
                     '"p": p}\n'),
            (DO_BWD, '    return dout * (cache["rng"].random(dout.shape) >= cache["p"]) * '
                     'cache["scale"]\n')),
           ("dropout_backward_values",), "with the forward's mask"),
    Mutant("dropout_bwd_no_rescale", "3.5", DO,
           ((DO_BWD, '    return dout * cache["mask"]\n'),),
           ("dropout_backward_values",), "dx = dout * mask / (1 - p)"),
    Mutant("dropout_scaled_mask_float64", "3.5", DO,  # a float64 mask promotes float32 x
           ((DO_MASK, "    mask = (rng.random(x.shape) >= p) / (1.0 - p)\n"),
            (DO_RET, '    return x * mask, {"mask": mask, "scale": 1.0}\n')),
           ("dropout_backward_values",), F32),
    # 3.8 cross-entropy
    Mutant("ce_smoothing_k_minus_1", "3.8", CE,
           ((CE_SMOOTH, "        per_position = (1.0 - eps) * per_position + eps * ("
                        "-logp.sum(axis=-1) - per_position) / (k - 1)\n"),),
           ("cross_entropy_values",), "K - 1 wrong classes"),
    Mutant("ce_ignored_in_mean", "3.8", CE,
           ((CE_MEAN, "    loss = np.where(valid, per_position, 0).sum() / t.size\n"),),
           ("cross_entropy_values",), "ignored targets"),
    Mutant("ce_no_log_sum_exp", "3.8", CE, ((CE_MAX, "    logp = z.copy()\n"),),
           ("cross_entropy_stable_and_all_ignored",), "log-sum-exp"),
    Mutant("ce_all_ignored_nan", "3.8", CE,
           ((CE_MEAN, "    loss = np.where(valid, per_position, 0).sum() / n\n"),),
           ("cross_entropy_stable_and_all_ignored",), "no NaN"),
    Mutant("ce_bwd_divides_by_all_positions", "3.8", CE,
           ((CE_SCALE, "    grad *= float(dloss) / t.size\n"),),
           ("cross_entropy_backward_values",), "number of non-ignored targets"),
    Mutant("ce_bwd_ignored_rows_kept", "3.8", CE, ((CE_ZERO, ""),),
           ("cross_entropy_backward_values",), "ignored rows get 0"),
    Mutant("ce_bwd_onehot_without_smoothing", "3.8", CE,
           ((CE_Q, "    grad[np.arange(t.size), t] -= 1.0\n"),),
           ("cross_entropy_backward_values",), "dlogits (smoothed case) is wrong"),
    Mutant("ce_fwd_onehot_float64", "3.8", CE,  # np.eye(k) target distribution, no cast back
           ((CE_SMOOTH, "        per_position = -(((1.0 - eps) * np.eye(k)[t] + eps / k) * logp)"
                        ".sum(axis=-1)\n"),
            (CE_CAST, "")),
           ("cross_entropy_backward_values",), "keep float32"),
    Mutant("ce_bwd_eye_float64", "3.8", CE,  # np.eye(k) is float64: float32 logits promote
           ((CE_Q, "    grad = grad - ((1.0 - eps) * np.eye(k)[t] + eps / k)\n"),),
           ("cross_entropy_backward_values",), F32),
    # 3.10 AdamW, clipping, schedules
    Mutant("adamw_l2_in_gradient", "3.10", OP,
           ((ADAM_DECAY, "            g = g + self.weight_decay * p\n"),),
           ("adamw_steps",), "weight decay was added to the gradient (L2)"),
    Mutant("adamw_no_bias_correction", "3.10", OP,
           ((ADAM_DENOM, "            denom = np.sqrt(v) + self.eps\n"),
            (ADAM_UPDATE, "            p -= lr * m / denom\n")),
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
            (ADAM_UPDATE, ADAM_UPDATE.replace("(lr /", "(self.lr /"))),
           ("adamw_steps",), "Step 3 passes lr=... to step(): use it."),
    Mutant("adamw_rebinds_dict_entry", "3.10", OP,  # the model's arrays never change
           ((ADAM_UPDATE, "            params[name] = p - (lr / bias_correction1) * m / denom\n"),),
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

# Mutants no check catches yet (real gaps of the grader, reported, not weakened).
F32_GAP = ("{} has no float32 check: float32 in, float64 out goes unnoticed (the course "
           "promises float32 in -> float32 out)")
INPLACE_GAP = ("{} reads the arrays back from the dict it passed, so replacing a dict entry "
               "passes; the caller's (the model's) arrays are never {}")
GAPS: dict[str, str] = {}  # plausible bugs no check catches; none now

# (mutant, check, phrase the message must contain, phrase it must not contain): bugs whose
# message must point at the right fix.
DIAGNOSED = [
    ("ln_eps_outside_sqrt", "layer_norm_values", "eps outside", "unbiased"),
    ("ln_unbiased_variance", "layer_norm_values", "n - 1", "eps outside"),
    ("rms_eps_outside_sqrt", "rms_norm_values_and_backward", "sqrt(mean(x^2) + eps)", ""),
    ("gelu_forms_swapped", "activation_values", "approximate='tanh' is GPT-2's", ""),
    ("swiglu_gate_on_up_branch", "swiglu_values_and_backward", "silu(x W_gate)", ""),
    ("dropout_no_rescale", "dropout_values", "1 - p", ""),
    ("ce_smoothing_k_minus_1", "cross_entropy_values", "eps/K over all K classes",
     "ignored targets"),
    ("ce_ignored_in_mean", "cross_entropy_values", "ignore_index", "K - 1"),
    ("ce_no_log_sum_exp", "cross_entropy_stable_and_all_ignored", "subtract the row max", ""),
    ("adamw_l2_in_gradient", "adamw_steps", "decouples", "bias-corrected"),
    ("adamw_no_bias_correction", "adamw_steps", "1 - beta1^t", "L2"),
    ("adamw_decay_after_update", "adamw_steps", "decays first", "L2"),
    ("clip_returns_post_clip_norm", "clip_grad_norm_values", "before clipping", ""),
    ("lin_dw_per_example", "linear_backward_values", "sum the per-example products", ""),
    ("relu_grad_one_at_zero", "activation_backward_values", "relu_backward", "gelu"),
    ("silu_bwd_missing_term", "activation_backward_values", "silu_backward", "gelu"),
    ("ce_bwd_onehot_without_smoothing", "cross_entropy_backward_values", "smoothing",
     "non-ignored targets"),
]
DIAGNOSIS_GAPS: dict[str, str] = {}  # messages that point at the wrong fix; none now

# (mutant, check, message that would blame code the mutant left correct): a bug in one
# function must not be reported as a bug of another that is right.  The check may pass, or
# fail saying the other function is not right yet, but not claim the untouched code is wrong.
NOT_BLAMED = [
    ("ln_eps_outside_sqrt", "layer_norm_backward_values", "dx is wrong"),
    ("ln_eps_outside_sqrt", "layer_norm_finite_differences", "(finite differences) is wrong"),
    ("lin_bias_always_added", "linear_finite_differences", "(finite differences) is wrong"),
    ("ln_unbiased_variance", "layer_norm_backward_values", "is wrong"),
    ("rms_eps_outside_sqrt", "rms_norm_values_and_backward", "RMSNorm dx"),
    ("gelu_forms_swapped", "activation_backward_values", "gelu_backward"),
    ("ffn_no_first_bias", "feed_forward_backward_values", "is wrong"),
    ("dropout_no_rescale", "dropout_backward_values", "dropout_backward is wrong"),
    ("dropout_mask_below_keep_prob", "dropout_backward_values", "dropout_backward is wrong"),
    ("ce_smoothing_k_minus_1", "cross_entropy_backward_values", "dlogits (smoothed case)"),
    ("ce_ignored_in_mean", "cross_entropy_backward_values", "dlogits (ignored case)"),
]
BLAME_GAPS: dict[str, str] = {}  # correct code blamed for another bug; none now


def test_stage_a_is_graded():
    """The stage-A ids still name exercises of Module 3 (a renumbering must update them)."""
    assert sorted(MODULE_3, key=lambda i: int(i.split(".")[1])) == list(STAGE_A)


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, MODULE_3, MUTANTS, GAPS, DIAGNOSED, DIAGNOSIS_GAPS,
                                 NOT_BLAMED, BLAME_GAPS))
