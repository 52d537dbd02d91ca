"""Mutation tests of 3.6 (Encoder layer (post- and pre-norm)): every check of the exercise
fails on a plausible student bug, and its message names the bug.  The harness and its
conventions: `tests/mutation.py`.
"""

from __future__ import annotations

from dataclasses import replace

from mutation import (
    Mutant,
    standard_tests,
)
from transformer_common import EN

from grader.course import TRANSFORMER

PACKAGE = TRANSFORMER.package  # mutants edit files of reference/transformer/

E_IF = "    if norm_first:\n"
E_PRE_ATTN_DROP = ('        a, cache["drop_attn"] = dropout(a, dropout_p, rng, train)\n'
                   "        h = x + a\n")
E_PRE_FFN_DROP = ('        f, cache["drop_ffn"] = dropout(f, dropout_p, rng, train)\n'
                  "        out = h + f\n")
E_PRE_LN1 = ('        u, cache["ln_1"] = layer_norm(x, ln_1_p["gamma"], ln_1_p["beta"], eps)'
             "  # (B, S, C)\n")
E_POST_ATTN = ('        a, cache["attn"] = multi_head_attention(x, x, attn_p, n_heads, mask)'
               "  # (B, S, C)\n")
E_POST_ATTN_DROP = ('        a, cache["drop_attn"] = dropout(a, dropout_p, rng, train)\n'
                    '        h, cache["ln_1"]')
E_POST_LN1 = '        h, cache["ln_1"] = layer_norm(x + a, ln_1_p["gamma"], ln_1_p["beta"], eps)\n'
E_POST_FFN = "        f, cache[\"ffn\"] = feed_forward(h, ffn_p, activation)  # (B, S, C)\n"
EB_PRE_DF = '        df = dropout_backward(dout, cache["drop_ffn"])  # out = h + f\n'
EB_PRE_DH = "        dh = dout + dh_ln  # h feeds the residual and ln_2\n"
EB_POST_DX = "        dx = dz_1 + dx_q + dx_kv  # x: residual, queries, keys and values\n"
EB_LN1 = '    grads["ln_1"] = {"gamma": dgamma_1, "beta": dbeta_1}\n'

ENC = ("encoder_values", "encoder_backward_values", "encoder_dropout")

MUTANTS = [
    Mutant("enc_norm_placement_swapped", "3.6", EN, ((E_IF, "    if not norm_first:\n"),),
           ENC, "your layer computed the pre-norm layer"),
    Mutant("enc_pre_no_ffn_residual", "3.6", EN,
           ((E_PRE_FFN_DROP, E_PRE_FFN_DROP.replace("out = h + f", "out = f")),),
           ENC, "the residual connection around the feed-forward sub-layer is missing"),
    Mutant("enc_post_no_attn_residual", "3.6", EN,
           ((E_POST_LN1, E_POST_LN1.replace("layer_norm(x + a,", "layer_norm(a,")),),
           ENC, "the residual connection around the self-attention sub-layer is missing"),
    Mutant("enc_pre_residual_from_ln", "3.6", EN,  # adds to ln_1(x) / ln_2(h), not x / h
           ((E_PRE_ATTN_DROP, E_PRE_ATTN_DROP.replace("h = x + a", "h = u + a")),
            (E_PRE_FFN_DROP, E_PRE_FFN_DROP.replace("out = h + f", "out = v + f"))),
           ENC, "the residuals add the normalised input"),
    Mutant("enc_post_mask_dropped", "3.6", EN,
           ((E_POST_ATTN, E_POST_ATTN.replace("n_heads, mask)", "n_heads)")),),
           ENC, "the padding mask is not applied"),
    Mutant("enc_activation_not_passed", "3.6", EN,  # feed_forward's default is GELU
           ((E_POST_FFN, E_POST_FFN.replace("ffn_p, activation)", "ffn_p)")),),
           ENC, "ran with GELU: pass `activation` on"),
    Mutant("enc_dropout_draw_order", "3.6", EN,  # masks drawn up front, the FFN's first
           ((E_PRE_ATTN_DROP, '        _, cache["drop_ffn"] = dropout(a, dropout_p, rng, train)\n'
                              + E_PRE_ATTN_DROP),
            (E_PRE_FFN_DROP, '        f = dropout_backward(f, cache["drop_ffn"])\n'
                             "        out = h + f\n")),
           ("encoder_dropout",), "the dropout masks are drawn in the wrong order"),
    Mutant("enc_dropout_same_mask", "3.6", EN,
           ((E_PRE_FFN_DROP, '        f = dropout_backward(f, cache["drop_attn"])\n'
                             '        cache["drop_ffn"] = cache["drop_attn"]\n'
                             "        out = h + f\n"),),
           ("encoder_dropout",), "one dropout mask is reused for several sub-layers"),
    Mutant("enc_dropout_after_residual", "3.6", EN,
           ((E_PRE_ATTN_DROP, '        h, cache["drop_attn"] = dropout(x + a, dropout_p, rng, '
                              "train)\n"),
            (E_PRE_FFN_DROP, '        out, cache["drop_ffn"] = dropout(h + f, dropout_p, rng, '
                             "train)\n")),
           ("encoder_dropout",), "dropout acts after the residual addition"),
    Mutant("enc_dropout_on_sublayer_input", "3.6", EN,  # drops ln_1(x), not attn's output
           ((E_PRE_LN1, E_PRE_LN1 + '        u, cache["drop_attn"] = dropout(u, dropout_p, rng, '
                                    "train)\n"),
            (E_PRE_ATTN_DROP, "        h = x + a\n")),
           ("encoder_dropout",), "acts on each sub-layer's output before its residual add"),
    Mutant("enc_dropout_ignores_train", "3.6", EN,  # dropout's default train=True
           ((E_POST_ATTN_DROP, E_POST_ATTN_DROP.replace("rng, train)", "rng)")),),
           ("encoder_dropout",), "dropout ran in evaluation"),
    Mutant("enc_bwd_post_no_identity_x", "3.6", EN,
           ((EB_POST_DX, "        dx = dx_q + dx_kv\n"),),
           ("encoder_backward_dx",),  # dx only: every parameter gradient keeps its points
           "the residual's gradient is missing around the self-attention sub-layer"),
    Mutant("enc_bwd_pre_no_identity_h", "3.6", EN, ((EB_PRE_DH, "        dh = dh_ln\n"),),
           ("encoder_backward_dx", "encoder_backward_values", "encoder_finite_differences"),
           "the residual's gradient is missing around the feed-forward sub-layer"),
    Mutant("enc_bwd_post_no_dx_kv", "3.6", EN, ((EB_POST_DX, "        dx = dz_1 + dx_q\n"),),
           ("encoder_backward_dx",), "its gradient adds dx_q and dx_kv"),
    Mutant("enc_bwd_ln_grads_swapped", "3.6", EN,
           ((EB_LN1, '    grads["ln_1"] = {"gamma": dbeta_1, "beta": dgamma_1}\n'),),
           ("encoder_backward_values", "encoder_finite_differences"),
           "d(ln_1.gamma) and d(ln_1.beta) are swapped"),
    Mutant("enc_bwd_skips_ffn_dropout", "3.6", EN, ((EB_PRE_DF, "        df = dout\n"),),
           ("encoder_dropout",), "skips the feed-forward sub-layer's dropout"),
]

# defaults, options, dtype, stated errors, the upstream gradient (appended code)
ENC_WRAP = ("_orig_encoder_layer = encoder_layer\n"
            "def encoder_layer(x, params, n_heads, mask=None, norm_first=False, dropout_p=0.0, "
            "rng=None, train=False, activation='relu', eps=1e-5):\n")
ENC_CALL = ("    return _orig_encoder_layer(x, params, n_heads, mask, norm_first, dropout_p, rng, "
            "train, activation, eps)\n")
MUTANTS += [
    Mutant("enc_eps_not_forwarded", "3.6", EN, (), ("encoder_eps_and_activation",),
           "eps is not passed on", append=ENC_WRAP + ENC_CALL.replace(", eps)", ", 1e-5)"),
           diagnosis="eps is not passed on to the LayerNorms"),
    Mutant("enc_eps_default_1e-6", "3.6", EN, (), ("encoder_values",), "is wrong at index",
           append=ENC_WRAP.replace("eps=1e-5", "eps=1e-6") + ENC_CALL),
    Mutant("enc_norm_first_default_true", "3.6", EN, (), ("encoder_defaults",),
           "norm_first defaults to True",
           append=ENC_WRAP.replace("norm_first=False", "norm_first=True") + ENC_CALL,
           diagnosis="norm_first defaults to True"),
    Mutant("enc_train_default_true", "3.6", EN, (), ("encoder_defaults",), "Without train",
           append=ENC_WRAP.replace("train=False", "train=True") + ENC_CALL),
    Mutant("enc_mask_none_as_causal", "3.6", EN, (), ("encoder_defaults",),
           "mask=None is not treated as no mask", diagnosis="mask=None is not treated as no mask",
           append=ENC_WRAP + "    if mask is None:\n"
                             "        mask = np.tril(np.ones((x.shape[1],) * 2, dtype=bool))\n"
                  + ENC_CALL),
    Mutant("enc_activation_ignored", "3.6", EN, (), ("encoder_eps_and_activation",),
           "activation is not passed on", append=ENC_WRAP + ENC_CALL.replace(
               "activation, eps)", "'relu', eps)"),
           diagnosis="activation is not passed on to feed_forward"),
    Mutant("enc_float32_promoted", "3.6", EN, (), ("encoder_float32",), "expected float32",
           append=ENC_WRAP + "    out, cache = _orig_encoder_layer(x, params, n_heads, mask, "
                  "norm_first, dropout_p, rng, train, activation, eps)\n"
                  "    return out.astype(np.float64), cache\n"),
    Mutant("enc_bwd_ignores_dout", "3.6", EN, (),
           ("encoder_backward_upstream", "encoder_backward_values"),
           "multiplying the upstream gradient by 2.5 did not change",
           append="_orig_backward = encoder_layer_backward\n"
                  "def encoder_layer_backward(dout, cache):\n"
                  "    return _orig_backward(np.ones_like(dout), cache)\n",
           diagnosis="the backward ignores the upstream gradient"),
    Mutant("enc_bwd_modifies_dout", "3.6", EN, (), ("encoder_backward_upstream",),
           "modified one of its inputs in place",
           append="_orig_backward = encoder_layer_backward\n"
                  "def encoder_layer_backward(dout, cache):\n"
                  "    result = _orig_backward(dout, cache)\n"
                  "    dout *= 0.5  # reuses the caller's buffer\n"
                  "    return result\n"),
    Mutant("enc_no_input_checks", "3.6", EN, (), ("encoder_raises",), "expected ValueError",
           append="def _check_encoder_inputs(*args):\n    return None\n"),
]

# The cause each mutant's messages state (a known bug's output, matched exactly,
# is stated with expect.cause).
DIAGNOSES = {
    "enc_norm_placement_swapped": "your layer computed the pre-norm layer",
    "enc_pre_no_ffn_residual":
        "the residual connection around the feed-forward sub-layer is missing",
    "enc_post_no_attn_residual":
        "the residual connection around the self-attention sub-layer is missing",
    "enc_pre_residual_from_ln": "the residuals add the normalised input",
    "enc_post_mask_dropped": "the padding mask is not applied",
    "enc_activation_not_passed": "ran with GELU: pass `activation` on",
    "enc_dropout_draw_order": "the dropout masks are drawn in the wrong order",
    "enc_dropout_same_mask": "one dropout mask is reused for several sub-layers",
    "enc_dropout_after_residual": "dropout acts after the residual addition",
    "enc_dropout_ignores_train": "dropout ran in evaluation",
    "enc_bwd_post_no_identity_x":
        "the residual's gradient is missing around the self-attention sub-layer",
    "enc_bwd_pre_no_identity_h":
        "the residual's gradient is missing around the feed-forward sub-layer",
    "enc_bwd_post_no_dx_kv": "its gradient adds dx_q and dx_kv",
    "enc_bwd_skips_ffn_dropout": "skips the feed-forward sub-layer's dropout",
}
MUTANTS = [replace(m, diagnosis=DIAGNOSES.get(m.id, m.diagnosis)) for m in MUTANTS]

GAPS: dict[str, str] = {}

# (mutant, check, phrase the message must contain, phrase it must not contain).
DIAGNOSED = [
    ("enc_norm_placement_swapped", "encoder_values", "norm_first=False is post-norm", ""),
    ("enc_pre_no_ffn_residual", "encoder_values", "3.6 encoder_layer(norm_first=True)",
     "self-attention sub-layer"),
]

DIAGNOSIS_GAPS: dict[str, str] = {}

# (mutant, check, message that would blame code the mutant left correct).
NOT_BLAMED = [
    ("enc_dropout_ignores_train", "encoder_values", "is wrong"),
    ("enc_bwd_skips_ffn_dropout", "encoder_backward_values", "is wrong"),
    ("enc_bwd_pre_no_identity_h", "encoder_values", "is wrong"),
    ("enc_bwd_post_no_identity_x", "encoder_dropout", "train=True) backward"),
    ("enc_pre_no_ffn_residual", "encoder_dropout", "train=True) is wrong"),
]

BLAME_GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["3.6"], MUTANTS, gaps=GAPS, diagnosed=DIAGNOSED,
                                diagnosis_gaps=DIAGNOSIS_GAPS, not_blamed=NOT_BLAMED,
                                blame_gaps=BLAME_GAPS))
