"""Mutation tests of 3.9 (The encoder-decoder Transformer): every check of the exercise
fails on a plausible student bug, and its message names the bug.  The harness and its
conventions: `tests/mutation.py`.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)

from grader.course import TRANSFORMER

PACKAGE = TRANSFORMER.package  # mutants edit files of reference/transformer/

FILE = "seq2seq.py"

# Lines of the reference solution, quoted exactly.
STD = "        std = 1.0 / math.sqrt(C)\n"
DRAW = "            return (std * rng.standard_normal(shape)).astype(dtype)\n"
SRC_TABLE = "        if not cfg.share_embeddings:\n            params[\"src_embed\"]"
HEAD_PARAMS = "        if not cfg.tie_head:\n            params[\"head.W\"]"
SCALE = ("        x = tok * math.sqrt(C) + pe  # the paper's scaling: embeddings to the PE's "
         "scale\n")
ENC_MASK = "        mask = self._src_key_mask(src)  # padding keys hidden from every query\n"
MEM_MASK = "        memory_mask = self._src_key_mask(src)\n"
CAUSAL = "        self_mask = causal_mask(tgt.shape[1])  # (T, T)\n"
ENC_LN = "        if cfg.norm_first:  # pre-norm layers leave the residual stream unnormalised\n"
SMOOTHING = "                                               label_smoothing=label_smoothing)\n"
HEAD_GRAD = ("            grads[\"tgt_embed\"] = dW.T  # (C, V) -> (V, C); the lookup's part is "
             "added below\n")
DMEMORY = "            dmemory = dmemory + dmem\n"
SRC_BACKWARD = "        self._embed_backward(dx, enc[\"embed\"], grads)\n"
EMBED_SCALE = ("        dtable = embedding_backward(dx, cache[\"tok\"]) * "
               "math.sqrt(self.config.d_model)\n")
LAST = ("            logits, _ = self._head(h[:, -1:])  # only the last position is new: "
        "(B, 1, V)\n")
FILL = "            token = np.where(finished, fill, logits[:, 0].argmax(axis=-1))  # (B,)\n"
STOP = "            if finished.all():\n                break\n"
RETURN = "        return tgt[:, 1:]\n"

def mutant(id, edits, catches, phrase, status="failed"):
    return Mutant(id, "3.9", FILE, edits, catches, phrase, status)

MUTANTS = [
    # init
    mutant("init_std_0.02", ((STD, "        std = 0.02\n"),), ("seq2seq_init",), "1/sqrt(C)"),
    mutant("init_ignores_rng",
           ((DRAW, "            return (std * np.random.default_rng(0).standard_normal(shape))"
                   ".astype(dtype)\n"),),
           ("seq2seq_init",), "different seeds"),
    mutant("init_src_table_when_shared",
           ((SRC_TABLE, "        if True:\n            params[\"src_embed\"]"),),
           ("seq2seq_init", "seq2seq_forward_values"), "share_embeddings=True"),
    mutant("init_untied_head_always",
           ((HEAD_PARAMS, "        if True:\n            params[\"head.W\"]"),),
           ("seq2seq_init", "seq2seq_forward_values"), "tie_head=True"),
    # forward
    mutant("no_sqrt_c_scale",
           ((SCALE, "        x = tok + pe\n"),),
           ("seq2seq_forward_values", "seq2seq_backward_values"), "sqrt(d_model)"),
    mutant("no_positional_encoding",
           ((SCALE, "        x = tok * math.sqrt(C)\n"),),
           ("seq2seq_forward_values", "seq2seq_backward_values"), "+ PE"),
    mutant("decoder_sees_the_future",
           ((CAUSAL, "        self_mask = np.ones((tgt.shape[1],) * 2, dtype=bool)\n"),),
           ("seq2seq_masks", "seq2seq_forward_values"), "must be causal"),
    mutant("encoder_ignores_padding",
           ((ENC_MASK, "        mask = None\n"),),
           ("seq2seq_masks", "seq2seq_forward_values"), "padding tokens"),
    mutant("cross_attention_ignores_padding",
           ((MEM_MASK, "        memory_mask = None\n"),),
           ("seq2seq_masks", "seq2seq_forward_values"), "padding tokens"),
    mutant("no_padding_masks_at_all",
           ((ENC_MASK, "        mask = None\n"), (MEM_MASK, "        memory_mask = None\n")),
           ("seq2seq_forward_values",), "source padding (pad_id) must be hidden"),
    mutant("no_final_encoder_norm",
           ((ENC_LN, "        if False:\n"),),
           ("seq2seq_forward_values",), "+ encoder.ln]"),
    # loss and backward
    mutant("loss_without_label_smoothing",
           ((SMOOTHING, "                                               label_smoothing=0.0)\n"),),
           ("seq2seq_backward_values", "seq2seq_finite_differences"), "label_smoothing"),
    mutant("tied_head_gradient_dropped",
           ((HEAD_GRAD, "            grads[\"tgt_embed\"] = None\n"),),
           ("seq2seq_backward_values",), "misses the head's"),
    mutant("shared_table_misses_the_source",
           ((SRC_BACKWARD, "        if not cfg.share_embeddings:\n"
                           "            self._embed_backward(dx, enc[\"embed\"], grads)\n"),),
           ("seq2seq_backward_values",), "misses the source lookup's"),
    mutant("dmemory_of_the_last_layer_only",
           ((DMEMORY, "            dmemory = dmem\n"),),
           ("seq2seq_backward_values", "seq2seq_finite_differences"), "sum their dmemory"),
    mutant("embedding_gradient_without_sqrt_c",
           ((EMBED_SCALE, "        dtable = embedding_backward(dx, cache[\"tok\"])\n"),),
           ("seq2seq_backward_values", "seq2seq_finite_differences"), "sqrt(C) times"),
    # greedy decoding
    mutant("greedy_reads_the_first_position",
           ((LAST, "            logits, _ = self._head(h[:, :1])\n"),),
           ("seq2seq_greedy_decode",), "argmax of the last position"),
    mutant("greedy_no_padding_after_eos",
           ((FILL, "            token = logits[:, 0].argmax(axis=-1)\n"),),
           ("seq2seq_greedy_decode",), "hold pad_id"),
    mutant("greedy_never_stops_early", ((STOP, ""),), ("seq2seq_greedy_decode",),
           "stop as soon as every row"),
    mutant("greedy_returns_bos", ((RETURN, "        return tgt\n"),),
           ("seq2seq_greedy_decode",), "BOS is not part"),
]

GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["3.9"], MUTANTS, gaps=GAPS))
