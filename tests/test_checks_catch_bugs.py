"""Mutation tests of the Module 1 checks: every check fails on a plausible student bug, and
its message names the bug.

Each mutant copies `reference/` into a temporary `submission/`, replaces a line (or a few)
of a solution in `reference/self_attention/` with a typical mistake, grades only the
affected exercise, and asserts that (a) the exercise loses points, (b) the named checks fail
(or error, when the bug raises), and (c) the first named check's message contains the phrase
that tells the student what to fix.  The harness is `mutation.py`, shared by every module.

`DIAGNOSED` keeps bugs whose message once pointed the student at the wrong fix, so the
diagnosis stays right.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)

from grader.course import SELF_ATTENTION, select

PACKAGE = SELF_ATTENTION.package  # mutants edit files of reference/self_attention/
MODULE_1 = [ex.id for ex in select(None) if ex.module == SELF_ATTENTION]

# Lines of the reference solutions, quoted exactly.
SM_MAX = "    x_max = np.max(x, axis=axis, keepdims=True)\n"
SM_GUARD = "    x_max = np.where(np.isneginf(x_max), 0, x_max)\n"
SM_EXP = ("    e = x - x_max  # a new array (x is not modified), exponentiated in place\n"
          "    np.exp(e, out=e)\n")
SM_SUM = "    total = np.sum(e, axis=axis, keepdims=True)\n"
SM_BWD = ("    dx = dout - np.sum(dout * out, axis=axis, keepdims=True)\n"
          "    dx *= out  # in place: dx is a new array\n"
          "    return dx\n")
CAUSAL = "    return j <= i + (t_k - t_q)\n"
PADDING = "    return np.arange(t)[None, :] < lengths[:, None]  # (1, t) < (B, 1) -> (B, t)\n"
SCALE = "    scale = 1.0 / math.sqrt(q.shape[-1])  # a Python float, so float32 stays float32\n"
SCORES = "    scores = q @ np.swapaxes(k, -1, -2)  # (..., T_q, D) @ (..., D, T_k)\n"
SCORES_SCALE = "    scores *= scale  # in place: scores is a new array\n"
MASK = ("        scores = np.where(mask, scores, -np.inf)"
        "  # exp(-inf) = 0: masked keys get no weight\n")
SOFTMAX = "    weights = softmax(scores, axis=-1)  # (..., T_q, T_k)\n"
CACHE = '    cache = {"q": q, "k": k, "v": v, "weights": weights, "scale": scale}\n'
LOAD = ('    q, k, v, weights, scale = (cache[name] for name in '
        '("q", "k", "v", "weights", "scale"))\n')
DV = "    dv = np.swapaxes(weights, -1, -2) @ dout  # (..., T_k, T_q) @ (..., T_q, D_v)\n"
DSCORES = "    dscores = softmax_backward(dweights, weights, axis=-1)  # (..., T_q, T_k)\n"
DSCALE = "    dscores *= scale  # in place: dscores is a new array\n"
DK = "    dk = np.swapaxes(dscores, -1, -2) @ q  # (..., T_k, T_q) @ (..., T_q, D)\n"
SPLIT = ("    return x.reshape(B, T, n_heads, C // n_heads).transpose(0, 2, 1, 3)"
         "  # -> (B, H, T, D)\n")
MERGE = "    return x.transpose(0, 2, 1, 3).reshape(B, T, H * D)  # (B, T, H, D) -> (B, T, C)\n"
PROJ_Q = '    q = x_q @ params["W_q"] + params["b_q"]  # (B, T_q, C)\n'
HEADS = "    heads, attn_cache = scaled_dot_product_attention(q, k, v, mask)  # (B, H, T_q, D)\n"
PROJ_O = '    out = merged @ params["W_o"] + params["b_o"]  # (B, T_q, C)\n'
LINEAR = "        return x.reshape(-1, C).T @ dy.reshape(-1, C), dy.sum(axis=(0, 1))\n"
DMERGED = '    dmerged = dout @ params["W_o"].T  # (B, T_q, C)\n'
DX_KV = ('    dx_kv = dk @ params["W_k"].T + dv @ params["W_v"].T'
         "  # keys and values both read x_kv\n")
MHA_RET = "    return dx_q, dx_kv, {name: dparams[name] for name in PARAM_NAMES}\n"
ACC0 = "    acc = np.zeros((*batch, t_q, d_v), dtype)  # running sum of exp(s - m) v\n"
LOOP = "    for start in range(0, t_k, block_size):\n"
BLOCK = "        s = (q @ np.swapaxes(k[..., start:stop, :], -1, -2)) * scale  # (..., T_q, Bk)\n"
SAFE = "        m_new_safe = np.where(np.isneginf(m_new), 0, m_new)\n"
RESCALE = "        rescale = np.exp(m - m_new_safe)  # exp(m_old - m_new): 0 while m_old is -inf\n"
P = "        p = np.exp(s - m_new_safe)  # (..., T_q, Bk), unnormalised block weights\n"
L = "        l = rescale * l + p.sum(axis=-1, keepdims=True)\n"
ACC = "        acc = rescale * acc + p @ v[..., start:stop, :]  # (..., T_q, Bk) @ (..., Bk, D_v)\n"

S, MK, A, HD, MH, ON = ("softmax.py", "masks.py", "attention.py", "heads.py", "multi_head.py",
                        "online_softmax.py")
JACOBIAN = (
    "    s, g = np.moveaxis(out, axis, -1), np.moveaxis(dout, axis, -1)\n"
    "    eye = np.eye(s.shape[-1], dtype=s.dtype)\n"
    "    jac = s[..., :, None] * eye - s[..., :, None] * s[..., None, :]  # (..., n, n)\n"
    "    return np.moveaxis(np.einsum('...ij,...j->...i', jac, g), -1, axis)\n")
F32 = "float32 in, float32 out"

MUTANTS = [
    # 1.1 softmax
    Mutant("softmax_no_max", "1.1", S, ((SM_EXP, "    e = np.exp(x)\n"),),
           ("softmax_stable_and_masked",), "subtract the maximum"),
    Mutant("softmax_axis_hardcoded", "1.1", S,
           ((SM_MAX, SM_MAX.replace("axis=axis", "axis=-1")),
            (SM_SUM, SM_SUM.replace("axis=axis", "axis=-1"))),
           ("softmax_values",), "wrong axis"),
    Mutant("softmax_in_place", "1.1", S, ((SM_EXP, "    x -= x_max\n    e = np.exp(x)\n"),),
           ("softmax_values", "softmax_invariants"), "in place"),
    Mutant("softmax_all_neginf_row_nan", "1.1", S, ((SM_GUARD, ""),),
           ("softmax_stable_and_masked",), "all -inf row must give zeros"),
    Mutant("softmax_float64", "1.1", S,
           ((SM_MAX, "    x = np.asarray(x, dtype=np.float64)\n" + SM_MAX),),
           ("softmax_invariants",), F32),
    # 1.2 softmax backward
    Mutant("softmax_bwd_no_keepdims", "1.2", S, ((SM_BWD, SM_BWD.replace(", keepdims=True", "")),),
           ("softmax_backward_values", "softmax_backward_properties",
            "softmax_backward_no_jacobian"), "could not be broadcast", "error"),
    Mutant("softmax_bwd_axis_hardcoded", "1.2", S,
           ((SM_BWD, SM_BWD.replace("axis=axis", "axis=-1")),),
           ("softmax_backward_values",), "along the same axis"),
    Mutant("softmax_bwd_no_subtraction", "1.2", S, ((SM_BWD, "    return out * dout\n"),),
           ("softmax_backward_values", "softmax_backward_properties",
            "softmax_backward_no_jacobian"), "Subtract <dout, out>"),
    Mutant("softmax_bwd_full_jacobian", "1.2", S, ((SM_BWD, JACOBIAN),),
           ("softmax_backward_no_jacobian",), "Jacobian"),
    Mutant("softmax_bwd_float64", "1.2", S,
           ((SM_BWD, SM_BWD.replace("dx = dout -", "dx = np.float64(1.0) * dout -")),),
           ("softmax_backward_properties",), F32),
    # 1.3 masks
    Mutant("causal_top_left", "1.3", MK,
           ((CAUSAL, "    return np.tril(np.ones((t_q, t_k), dtype=bool))\n"),),
           ("causal_mask_alignment",), "top-left"),
    Mutant("causal_float_tril", "1.3", MK,
           ((CAUSAL, "    return np.tril(np.ones((t_q, t_k)), 0)\n"),),
           ("causal_mask_alignment",), "expected bool"),
    Mutant("causal_inverted", "1.3", MK, ((CAUSAL, "    return j > i + (t_k - t_q)\n"),),
           ("causal_mask_alignment",), "inverted"),
    Mutant("causal_off_by_one", "1.3", MK, ((CAUSAL, "    return j < i + (t_k - t_q)\n"),),
           ("causal_mask_alignment",), "at or before the query's position"),
    Mutant("padding_le", "1.3", MK, ((PADDING, PADDING.replace(" < lengths", " <= lengths")),),
           ("padding_mask_values",), "j < lengths[b]"),
    # 1.4 scaled dot-product attention
    Mutant("attn_no_scale", "1.4", A, ((SCALE, "    scale = 1.0\n"),),
           ("attention_values", "attention_masks", "attention_batched_float32"), "1/sqrt(d_k)"),
    Mutant("attn_divide_by_d", "1.4", A, ((SCALE, "    scale = 1.0 / q.shape[-1]\n"),),
           ("attention_values",), "divided by d_k instead of sqrt(d_k)"),
    Mutant("attn_softmax_over_queries", "1.4", A, ((SOFTMAX, SOFTMAX.replace("-1", "-2")),),
           ("attention_values", "attention_masks", "attention_batched_float32"), "axis -1"),
    Mutant("attn_mask_large_negative", "1.4", A, ((MASK, MASK.replace("-np.inf", "-1e9")),),
           ("attention_masks",), "-inf"),
    Mutant("attn_mask_after_softmax", "1.4", A,
           ((MASK, "        pass\n"),
            (SOFTMAX, SOFTMAX + "    if mask is not None:\n"
                                "        weights = np.where(mask, weights, 0.0)\n")),
           ("attention_masks", "attention_batched_float32"), "sum to 1 over the keys"),
    Mutant("attn_mask_inverted", "1.4", A, ((MASK, MASK.replace("(mask,", "(~mask,")),),
           ("attention_masks", "attention_batched_float32"), "must get exactly 0"),
    Mutant("attn_k_transpose_3d_only", "1.4", A,
           ((SCORES, SCORES.replace("np.swapaxes(k, -1, -2)", "k.transpose(0, 2, 1)")),),
           ("attention_batched_float32",), "axes don't match", "error"),
    Mutant("attn_fully_masked_row_nan", "1.4", A,
           ((SOFTMAX, "    e = np.exp(scores - scores.max(axis=-1, keepdims=True))\n"
                      "    weights = e / e.sum(axis=-1, keepdims=True)\n"),),
           ("attention_masks",), "fully masked row"),
    Mutant("attn_numpy_sqrt_float64", "1.4", A,  # (in place, *= would hide the float64)
           ((SCALE, "    scale = 1.0 / np.sqrt(q.shape[-1])\n"),
            (SCORES_SCALE, "    scores = scores * scale\n")),
           ("attention_batched_float32",), F32),
    Mutant("attn_no_weights_in_cache", "1.4", A, ((CACHE, CACHE.replace('"weights":', '"p":')),),
           ("attention_values", "attention_masks", "attention_batched_float32"),
           "cache['weights']"),
    # 1.5 attention backward
    Mutant("attn_bwd_dk_transposed", "1.5", A,
           ((DK, "    dk = np.swapaxes(q, -1, -2) @ dscores\n"),),
           ("attention_backward_values", "attention_backward_finite_differences",
            "attention_backward_masked_rows_float32"),
           "dk has shape (2, 4, 5), expected (2, 5, 4)"),
    Mutant("attn_bwd_dv_uses_dout_T", "1.5", A,
           ((DV, "    dv = np.swapaxes(dout, -1, -2) @ weights\n"),),
           ("attention_backward_values", "attention_backward_finite_differences"),
           "dv has shape (2, 6, 5), expected (2, 5, 6)"),
    Mutant("attn_bwd_dq_unscaled", "1.5", A,
           ((DSCALE, ""), (DK, DK.replace("@ q", "@ q * scale"))),
           ("attention_backward_values", "attention_backward_finite_differences"),
           "dq = scale * dS @ k"),
    Mutant("attn_bwd_no_softmax_backward", "1.5", A,
           ((DSCORES + DSCALE, "    dscores = dweights * scale\n"),),
           ("attention_backward_values", "attention_backward_finite_differences",
            "attention_backward_masked_rows_float32"), "softmax backward of dP"),
    Mutant("attn_bwd_mask_forgotten", "1.5", A,  # masked entries get a gradient
           ((LOAD, LOAD + "    weights = softmax(q @ np.swapaxes(k, -1, -2) * scale, axis=-1)\n"),),
           ("attention_backward_values", "attention_backward_finite_differences",
            "attention_backward_masked_rows_float32"), "(causal case)"),
    Mutant("attn_bwd_numpy_sqrt_float64", "1.5", A,
           ((DSCORES + DSCALE, "    dscores = softmax_backward(dweights, weights)"
                      " / np.sqrt(q.shape[-1])\n"),),
           ("attention_backward_masked_rows_float32",), F32),
    # 1.6 heads
    Mutant("split_interleaved", "1.6", HD,
           ((SPLIT, "    return x.reshape(B, T, C // n_heads, n_heads).transpose(0, 3, 1, 2)\n"),),
           ("split_heads_layout",), "contiguous block of columns"),
    Mutant("split_no_transpose", "1.6", HD,
           ((SPLIT, "    return x.reshape(B, T, n_heads, C // n_heads)\n"),),
           ("split_heads_layout",), "transpose axes 1 and 2"),
    Mutant("merge_no_transpose", "1.6", HD, ((MERGE, "    return x.reshape(B, T, H * D)\n"),),
           ("merge_heads_inverse",), "Transpose back"),
    # 1.7 multi-head attention
    Mutant("mha_scale_by_model_width", "1.7", MH,  # 1/sqrt(D) / sqrt(H) = 1/sqrt(C)
           ((HEADS, HEADS.replace("(q, k, v, mask)", "(q / n_heads**0.5, k, v, mask)")),),
           ("mha_values", "mha_float32_and_inputs"), "the head size"),
    Mutant("mha_no_output_projection", "1.7", MH, ((PROJ_O, "    out = merged\n"),),
           ("mha_values", "mha_float32_and_inputs"), "output projection W_o"),
    Mutant("mha_no_output_bias", "1.7", MH, ((PROJ_O, '    out = merged @ params["W_o"]\n'),),
           ("mha_values", "mha_float32_and_inputs"), "W_o, b_o"),
    Mutant("mha_mask_dropped", "1.7", MH,
           ((HEADS, HEADS.replace("(q, k, v, mask)", "(q, k, v)")),),
           ("mha_causal_invariance", "mha_values"), "leaks the future"),
    Mutant("mha_params_in_place", "1.7", MH,  # folds the scale into W_q: applied twice
           ((PROJ_Q, '    params["W_q"] *= (x_q.shape[-1] // n_heads) ** -0.5\n' + PROJ_Q),),
           ("mha_float32_and_inputs", "mha_values"), "modified its input `W_q` in place"),
    # 1.8 multi-head attention backward
    Mutant("mha_bwd_dW_mean_over_batch", "1.8", MH,
           ((LINEAR, "        return (np.swapaxes(x, -1, -2) @ dy).mean(axis=0), "
                     "dy.sum(axis=(0, 1))\n"),),
           ("mha_backward_values", "mha_backward_finite_differences"),
           "summed over batch and time"),
    Mutant("mha_bwd_db_wrong_axis", "1.8", MH,
           ((LINEAR, LINEAR.replace("dy.sum(axis=(0, 1))", "dy.sum(axis=1)")),),
           ("mha_backward_values", "mha_backward_finite_differences"), "axis you reduced"),
    Mutant("mha_bwd_dx_kv_no_value_path", "1.8", MH,
           ((DX_KV, '    dx_kv = dk @ params["W_k"].T\n'),),
           ("mha_backward_values", "mha_backward_finite_differences",
            "mha_backward_self_attention"), "both paths"),
    Mutant("mha_bwd_no_W_o", "1.8", MH, ((DMERGED, "    dmerged = dout\n"),),
           ("mha_backward_values", "mha_backward_finite_differences",
            "mha_backward_self_attention"), "dout @ W_o^T"),
    Mutant("mha_bwd_self_attention_summed", "1.8", MH,
           ((MHA_RET, "    if x_kv is x_q:\n        dx_q = dx_kv = dx_q + dx_kv\n" + MHA_RET),),
           ("mha_backward_self_attention",), "let the caller add them"),
    # 1.9 online softmax
    Mutant("online_no_rescale", "1.9", ON,
           ((L, L.replace("rescale * l", "l")), (ACC, ACC.replace("rescale * acc", "acc"))),
           ("online_equals_attention", "online_stable_and_masked"), "exp(m_old - m_new)"),
    Mutant("online_skips_last_block", "1.9", ON,
           ((LOOP, LOOP.replace("range(0, t_k,", "range(0, t_k - block_size + 1,")),),
           ("online_equals_attention", "online_stable_and_masked"), "block_size=2"),
    Mutant("online_fully_masked_row_nan", "1.9", ON, ((SAFE, "        m_new_safe = m_new\n"),),
           ("online_stable_and_masked",), "fully masked row"),
    Mutant("online_full_score_matrix", "1.9", ON,
           ((LOOP, "    scores = (q @ np.swapaxes(k, -1, -2)) * scale  # (..., T_q, T_k)\n" + LOOP),
            (BLOCK, "        s = scores[..., start:stop]\n")),
           ("online_memory",), "full score matrix"),
    Mutant("online_no_max_subtraction", "1.9", ON,
           ((RESCALE, "        rescale = 1.0\n"), (P, "        p = np.exp(s)\n")),
           ("online_stable_and_masked",), "overflow in exp"),
    Mutant("online_acc_float64", "1.9", ON, ((ACC0, ACC0.replace(", dtype)", ")")),),
           ("online_equals_attention",), "expected float32"),
    Mutant("mha_bwd_db_float64", "1.8", MH,
           ((LINEAR, "        db = np.zeros(C)  # accumulated over every (b, t) row\n"
                     "        db += dy.sum(axis=(0, 1))\n"
                     "        return x.reshape(-1, C).T @ dy.reshape(-1, C), db\n"),),
           ("mha_backward_float32",), "expected float32"),
]

# (mutant, check, phrase the message must contain, phrase it must not contain): bugs whose
# first message once pointed at the wrong fix; kept so the diagnosis stays right.
DIAGNOSED = [
    ("attn_mask_inverted", "attention_masks", "True = may attend", ""),
    ("attn_mask_after_softmax", "attention_masks", "before the softmax", ""),
    ("causal_float_tril", "causal_mask_alignment", "masks are boolean", F32),
    ("mha_params_in_place", "mha_causal_invariance", "in place", "leaks the future"),
    ("mha_bwd_no_W_o", "mha_backward_values", "dout @ W_o^T", ""),
    ("online_skips_last_block", "online_equals_attention", "last, shorter block", ""),
]


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, MODULE_1, MUTANTS, diagnosed=DIAGNOSED))
