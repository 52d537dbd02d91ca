"""Mutation tests of 3.7 (Decoder layer with cross-attention): every check of the exercise
fails on a plausible student bug, and its message names the bug.  The harness and its
conventions: `tests/mutation.py`.
"""

from __future__ import annotations

from dataclasses import replace

from mutation import (
    Mutant,
    standard_tests,
)
from transformer_common import DE

from grader import fixtures
from grader.course import TRANSFORMER

PACKAGE = TRANSFORMER.package  # mutants edit files of reference/transformer/

D_IF = "    if norm_first:\n"
D_CAUSAL = ("    if self_mask is None:\n"
            "        self_mask = causal_mask(x.shape[1])  # (T, T), lower triangle\n")
D_PRE_CROSS = ('        c, cache["cross_attn"] = multi_head_attention(w, memory, cross_p, n_heads,'
               " memory_mask)\n")
D_PRE_H2 = "        h_2 = h_1 + c\n"
D_POST_CROSS = ('        c, cache["cross_attn"] = multi_head_attention(h_1, memory, cross_p, '
                "n_heads,\n")
D_POST_SELF_DROP = ('        a, cache["drop_self"] = dropout(a, dropout_p, rng, train)\n'
                    '        h_1, cache["ln_1"]')
D_POST_CROSS_DROP = ('        c, cache["drop_cross"] = dropout(c, dropout_p, rng, train)\n'
                     '        h_2, cache["ln_2"]')
DB_POST_DH2 = "        dh_2 = dz_3 + dh_2_ffn\n"
DB_POST_DC = '        dc = dropout_backward(dz_2, cache["drop_cross"])\n'
DB_POST_DH1 = "        dh_1 = dz_2 + dh_1_q\n"
DB_LN3 = '    grads["ln_3"] = {"gamma": dgamma_3, "beta": dbeta_3}\n'

DEC_T = fixtures.by_name("transformer")["dec.x"].shape[1]  # the decoder's length, drawn
DEC = ("decoder_values", "decoder_backward_values", "decoder_dropout")

MUTANTS = [
    Mutant("dec_norm_placement_swapped", "3.7", DE, ((D_IF, "    if not norm_first:\n"),),
           DEC, "your layer computed the pre-norm layer"),
    Mutant("dec_no_causal_mask_by_default", "3.7", DE, ((D_CAUSAL, ""),),
           ("decoder_values", "decoder_causality", *DEC[1:]), "the self-attention is not causal"),
    Mutant("dec_self_mask_ignored", "3.7", DE,
           ((D_CAUSAL, "    self_mask = causal_mask(x.shape[1])\n"),),
           ("decoder_values",), "the self_mask you were given is ignored"),
    Mutant("dec_memory_mask_ignored", "3.7", DE,
           ((D_POST_CROSS + "                                                      memory_mask)",
             D_POST_CROSS + "                                                      None)"),),
           DEC, "memory_mask is ignored"),
    Mutant("dec_pre_memory_normalised", "3.7", DE,
           ((D_PRE_CROSS, '        m, _ = layer_norm(memory, ln[1]["gamma"], ln[1]["beta"], eps)\n'
                          + D_PRE_CROSS.replace("(w, memory,", "(w, m,")),),
           DEC, "the memory went through ln_2"),
    Mutant("dec_cross_kv_from_x", "3.7", DE,
           ((D_POST_CROSS, D_POST_CROSS.replace("(h_1, memory,", "(h_1, x,")),),
           DEC, "keys and values from x: take them from memory"),
    Mutant("dec_cross_queries_from_memory", "3.7", DE,
           ((D_POST_CROSS, D_POST_CROSS.replace("(h_1, memory,", "(memory, h_1,")),),
           DEC, "takes its queries from the decoder stream"),
    Mutant("dec_pre_no_cross_residual", "3.7", DE, ((D_PRE_H2, "        h_2 = c\n"),),
           DEC, "the residual connection around the cross-attention sub-layer is missing"),
    Mutant("dec_dropout_ignores_train", "3.7", DE,
           ((D_POST_SELF_DROP, D_POST_SELF_DROP.replace("rng, train)", "rng)")),),
           ("decoder_dropout",), "dropout ran in evaluation"),
    Mutant("dec_dropout_draw_order", "3.7", DE,  # the cross-attention's mask drawn first
           ((D_POST_SELF_DROP, '        _, cache["drop_cross"] = dropout(a, dropout_p, rng, '
                               "train)\n" + D_POST_SELF_DROP),
            (D_POST_CROSS_DROP, '        c = dropout_backward(c, cache["drop_cross"])\n'
                                '        h_2, cache["ln_2"]')),
           ("decoder_dropout",), "the dropout masks are drawn in the wrong order"),
    Mutant("dec_bwd_post_no_identity_h1", "3.7", DE, ((DB_POST_DH1, "        dh_1 = dh_1_q\n"),),
           ("decoder_backward_dx", "decoder_backward_values"),
           "the residual's gradient is missing around the cross-attention sub-layer"),
    Mutant("dec_bwd_dmemory_misses_ffn_branch", "3.7", DE,
           ((DB_POST_DH2, "        dh_2 = dz_3\n"),),
           ("decoder_backward_dmemory", "decoder_backward_values"), "dmemory included"),
    Mutant("dec_bwd_ln_grads_swapped", "3.7", DE,
           ((DB_LN3, '    grads["ln_3"] = {"gamma": dbeta_3, "beta": dgamma_3}\n'),),
           ("decoder_backward_values",), "d(ln_3.gamma) and d(ln_3.beta) are swapped"),
    Mutant("dec_bwd_skips_cross_dropout", "3.7", DE, ((DB_POST_DC, "        dc = dz_2\n"),),
           ("decoder_dropout",), "skips the cross-attention sub-layer's dropout"),
]

# defaults, options, dtype, stated errors, the upstream gradient (appended code)
DEC_WRAP = ("_orig_decoder_layer = decoder_layer\n"
            "def decoder_layer(x, memory, params, n_heads, self_mask=None, memory_mask=None, "
            "norm_first=False, dropout_p=0.0, rng=None, train=False, activation='relu', "
            "eps=1e-5):\n")
DEC_CALL = ("    return _orig_decoder_layer(x, memory, params, n_heads, self_mask, memory_mask, "
            "norm_first, dropout_p, rng, train, activation, eps)\n")
DEC_BWD = ("_orig_backward = decoder_layer_backward\n"
           "def decoder_layer_backward(dout, cache):\n")
MUTANTS += [
    Mutant("dec_memory_mask_none_as_causal", "3.7", DE, (), ("decoder_defaults",),
           "memory_mask=None is not treated as no mask",
           diagnosis="memory_mask=None is not treated as no mask",
           append=DEC_WRAP + "    if memory_mask is None:\n"
                             "        memory_mask = np.tril(np.ones((x.shape[1], "
                             "memory.shape[1]), dtype=bool))\n" + DEC_CALL),
    Mutant("dec_eps_not_forwarded", "3.7", DE, (), ("decoder_eps_and_activation",),
           "eps is not passed on", append=DEC_WRAP + DEC_CALL.replace(", eps)", ", 1e-5)"),
           diagnosis="eps is not passed on to the LayerNorms"),
    Mutant("dec_norm_first_default_true", "3.7", DE, (), ("decoder_defaults",),
           "norm_first defaults to True",
           append=DEC_WRAP.replace("norm_first=False", "norm_first=True") + DEC_CALL,
           diagnosis="norm_first defaults to True"),
    Mutant("dec_train_default_true", "3.7", DE, (), ("decoder_defaults",), "Without train",
           append=DEC_WRAP.replace("train=False", "train=True") + DEC_CALL),
    Mutant("dec_activation_ignored", "3.7", DE, (), ("decoder_eps_and_activation",),
           "activation is not passed on", append=DEC_WRAP + DEC_CALL.replace(
               "activation, eps)", "'relu', eps)"),
           diagnosis="activation is not passed on to feed_forward"),
    Mutant("dec_float32_promoted", "3.7", DE, (), ("decoder_float32",), "expected float32",
           append=DEC_WRAP + DEC_CALL.replace("    return ", "    out, cache = ")
                  + "    return out.astype(np.float64), cache\n"),
    Mutant("dec_bwd_ignores_dout", "3.7", DE, (),
           ("decoder_backward_upstream", "decoder_backward_values"),
           "multiplying the upstream gradient by 2.5 did not change",
           append=DEC_BWD + "    return _orig_backward(np.ones_like(dout), cache)\n",
           diagnosis="the backward ignores the upstream gradient"),
    Mutant("dec_bwd_modifies_dout", "3.7", DE, (), ("decoder_backward_upstream",),
           "modified one of its inputs in place",
           append=DEC_BWD + "    result = _orig_backward(dout, cache)\n"
                            "    dout *= 0.5  # reuses the caller's buffer\n"
                            "    return result\n"),
    Mutant("dec_no_input_checks", "3.7", DE, (), ("decoder_raises",), "expected ValueError",
           append="def _check_decoder_inputs(*args):\n    return None\n"),
]

# The cause each mutant's messages state (a known bug's output, matched exactly,
# is stated with expect.cause).
DIAGNOSES = {
    "dec_norm_placement_swapped": "your layer computed the pre-norm layer",
    "dec_no_causal_mask_by_default": "the self-attention is not causal",
    "dec_self_mask_ignored": "the self_mask you were given is ignored",
    "dec_memory_mask_ignored": "memory_mask is ignored",
    "dec_pre_memory_normalised": "the memory went through ln_2",
    "dec_pre_no_cross_residual":
        "the residual connection around the cross-attention sub-layer is missing",
    "dec_dropout_ignores_train": "dropout ran in evaluation",
    "dec_dropout_draw_order": "the dropout masks are drawn in the wrong order",
    "dec_bwd_post_no_identity_h1":
        "the residual's gradient is missing around the cross-attention sub-layer",
    "dec_bwd_dmemory_misses_ffn_branch": "the feed-forward sub-layer's gradient does not reach h_2",
    "dec_bwd_skips_cross_dropout": "skips the cross-attention sub-layer's dropout",
}
MUTANTS = [replace(m, diagnosis=DIAGNOSES.get(m.id, m.diagnosis)) for m in MUTANTS]

GAPS: dict[str, str] = {}

# (mutant, check, phrase the message must contain, phrase it must not contain).
DIAGNOSED = [
    ("dec_cross_kv_from_x", "decoder_values", "(B, H, T, S)", ""),
    ("dec_cross_queries_from_memory", "decoder_values", f"T = {DEC_T}",
     "keys and values from x:"),
    ("dec_bwd_dmemory_misses_ffn_branch", "decoder_backward_dmemory",
     "the feed-forward sub-layer's gradient does not reach h_2", ""),
    ("dec_bwd_skips_cross_dropout", "decoder_dropout", "backward: dmemory", ""),
]

DIAGNOSIS_GAPS: dict[str, str] = {}

# (mutant, check, message that would blame code the mutant left correct).
NOT_BLAMED = [
    ("dec_bwd_skips_cross_dropout", "decoder_backward_values", "is wrong"),
    ("dec_bwd_post_no_identity_h1", "decoder_dropout", "train=True) backward"),
    ("dec_pre_memory_normalised", "decoder_dropout", "train=True) is wrong"),
]

BLAME_GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["3.7"], MUTANTS, gaps=GAPS, diagnosed=DIAGNOSED,
                                diagnosis_gaps=DIAGNOSIS_GAPS, not_blamed=NOT_BLAMED,
                                blame_gaps=BLAME_GAPS))
