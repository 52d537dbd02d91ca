"""Mutation tests of 3.9 (The encoder-decoder Transformer): every check of the exercise
fails on a plausible student bug, and its message names the bug.  The harness and its
conventions: `tests/mutation.py`.
"""

from __future__ import annotations

from dataclasses import replace

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

# defaults and options, config fields, float32, dlogits, stated errors (appended code)
def appended(id, catches, phrase, append, diagnosis=""):
    return Mutant(id, "3.9", FILE, (), catches, phrase, append=append, diagnosis=diagnosis)


def fixed_config(field, value):
    """forward runs with config.<field> = value, whatever the config says."""
    return (f"_orig_forward = Transformer.forward\n"
            f"def _forward(self, src, tgt, train=False, rng=None):\n"
            f"    kept, self.config.{field} = self.config.{field}, {value!r}\n"
            f"    try:\n"
            f"        return _orig_forward(self, src, tgt, train, rng)\n"
            f"    finally:\n"
            f"        self.config.{field} = kept\n"
            f"Transformer.forward = _forward\n")


MUTANTS += [
    appended("config_eps_ignored", ("seq2seq_config_options",), "config.eps is not used",
             fixed_config("eps", 1e-5), diagnosis="config.eps is not used"),
    appended("config_activation_ignored", ("seq2seq_config_options",),
             "config.activation is not used", fixed_config("activation", "relu"),
             diagnosis="config.activation is not used"),
    appended("init_rng_none_fixed_seed", ("seq2seq_defaults_and_dropout",),
             "without rng built the same weights twice",
             "_orig_init = Transformer.__init__\n"
             "def _init(self, config, rng=None):\n"
             "    _orig_init(self, config, np.random.default_rng(0) if rng is None else rng)\n"
             "Transformer.__init__ = _init\n"),
    appended("no_embedding_dropout", ("seq2seq_defaults_and_dropout",),
             "drew a different amount of random numbers",
             "_orig_embed = Transformer._embed\n"
             "def _embed(self, ids, table_name, train, rng):\n"
             "    return _orig_embed(self, ids, table_name, False, rng)\n"
             "Transformer._embed = _embed\n"),
    appended("loss_ignores_train", ("seq2seq_defaults_and_dropout",), "pass train and rng on",
             "_orig_loss = Transformer.loss\n"
             "def _loss(self, src, tgt, labels, label_smoothing=0.0, train=False, rng=None):\n"
             "    return _orig_loss(self, src, tgt, labels, label_smoothing)\n"
             "Transformer.loss = _loss\n"),
    appended("loss_default_smoothing_0.1", ("seq2seq_loss_default_smoothing",),
             "without label_smoothing the loss is the plain cross-entropy",
             "_orig_loss = Transformer.loss\n"
             "def _loss(self, src, tgt, labels, label_smoothing=0.1, train=False, rng=None):\n"
             "    return _orig_loss(self, src, tgt, labels, label_smoothing, train, rng)\n"
             "Transformer.loss = _loss\n"),
    appended("backward_ignores_dlogits", ("seq2seq_backward_dlogits",),
             "returned the loss's gradients",
             "_orig_backward = Transformer.backward\n"
             "def _backward(self, dlogits=None):\n"
             "    return _orig_backward(self, None if self._loss_cache else dlogits)\n"
             "Transformer.backward = _backward\n",
             diagnosis="backward(dlogits) ignored the dlogits it was given"),
    appended("float32_model_float64_logits", ("seq2seq_float32",), "expected float32",
             "_orig_forward = Transformer.forward\n"
             "def _forward(self, src, tgt, train=False, rng=None):\n"
             "    return _orig_forward(self, src, tgt, train, rng).astype(np.float64)\n"
             "Transformer.forward = _forward\n"),
    appended("backward_without_loss_is_zero", ("seq2seq_raises",),
             "backward() after forward (no loss): expected RuntimeError",
             "_orig_backward = Transformer.backward\n"
             "def _backward(self, dlogits=None):\n"
             "    if dlogits is None and self._loss_cache is None and self._cache:\n"
             "        dlogits = np.zeros((*self._cache['shape'], self.config.tgt_vocab_size))\n"
             "    return _orig_backward(self, dlogits)\n"
             "Transformer.backward = _backward\n"),
]

# The cause each mutant's messages state (a known bug's output, matched exactly,
# is stated with expect.cause).
DIAGNOSES = {
    "embedding_gradient_without_sqrt_c":
        "d(tgt_embed) is exactly 1/sqrt(12) times the right gradient",
    "no_sqrt_c_scale": "sqrt(d_model)",
    "no_padding_masks_at_all": "source padding (pad_id) must be hidden",
    "tied_head_gradient_dropped": "misses the head's",
    "shared_table_misses_the_source": "misses the source lookup's",
}
MUTANTS = [replace(m, diagnosis=DIAGNOSES.get(m.id, m.diagnosis)) for m in MUTANTS]

GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["3.9"], MUTANTS, gaps=GAPS))
