"""Checks of exercise 3.9: The encoder-decoder Transformer."""

from __future__ import annotations

import numpy as np

from ... import expect
from .. import check
from .common import DECODER_KEYS, ENCODER_KEYS, _matches, _params, fx, get

# Two tiny float64 models with distinct sizes, drawn with the fixtures (`s2s.<name>.config.*`,
# see `_s2s_config`); what each case is about is fixed:
# "post": post-norm, untied head, padding id 0;  "pre": pre-norm, tied head, one shared table.
SEQ2SEQ_CASES = {
    "post": {"n_layers": 2, "max_len": 16, "norm_first": False, "tie_head": False,
             "share_embeddings": False, "pad_id": 0, "dtype": "float64"},
    "pre": {"n_layers": 2, "max_len": 16, "norm_first": True, "tie_head": True,
            "share_embeddings": True, "pad_id": None, "dtype": "float64"},
}


SEQ2SEQ_SIZES = ("src_vocab_size", "tgt_vocab_size", "d_model", "n_heads", "d_ff")


SEQ2SEQ_GRAD_HINTS = {  # by the first part of a parameter's name
    "encoder": "The memory feeds every decoder layer: sum their dmemory before the encoder's "
               "backward (and through encoder.ln when pre-norm).",
    "tgt_embed": "A table gets sqrt(C) times the scatter-add of dX_0 (after dropout's "
                 "backward), plus the head's dlogitsᵀ h when tied.",
    "src_embed": "A table gets sqrt(C) times the scatter-add of dX_0 (after dropout's "
                 "backward).",
}


def _s2s_config(name: str) -> dict:
    """The TransformerConfig fields of the fixtures' model `name`: its drawn sizes and the
    structure of its case."""
    sizes = {k: int(fx()[f"s2s.{name}.config.{k}"]) for k in SEQ2SEQ_SIZES}
    return {**sizes, **SEQ2SEQ_CASES[name]}


def _s2s_smoothing() -> float:
    return float(fx()["s2s.smoothing"])


def _seq2seq_names(config: dict) -> list[str]:
    """The parameter names the lecture and the docstring promise for `config`."""
    names = [] if config.get("share_embeddings") else ["src_embed"]
    names.append("tgt_embed")
    for stack, keys in (("encoder", ENCODER_KEYS), ("decoder", DECODER_KEYS)):
        names += [f"{stack}.{i}.{k}" for i in range(config["n_layers"]) for k in keys]
        if config.get("norm_first"):
            names += [f"{stack}.ln.gamma", f"{stack}.ln.beta"]
    if not config.get("tie_head", True):
        names += ["head.W", "head.b"]
    return names


def _check_seq2seq_names(params, config: dict) -> None:
    if not isinstance(params, dict):
        expect.fail("Transformer(config).params should be a flat dict of arrays.")
    expected = _seq2seq_names(config)
    what = (f"Transformer(TransformerConfig(norm_first={config['norm_first']}, "
            f"tie_head={config['tie_head']}, share_embeddings={config['share_embeddings']}))")
    if config["tie_head"] and "head.W" in params:
        expect.fail(f"{what}.params has head.W: with tie_head=True the logits reuse the target "
                    "embedding (logits = h @ tgt_embedᵀ), there is no separate head.")
    if not config["tie_head"] and "head.W" not in params:
        expect.fail(f"{what}.params has no head.W: with tie_head=False the output projection "
                    "is its own linear layer, head.W (C, V_tgt) and head.b (V_tgt,).")
    if config["share_embeddings"] and "src_embed" in params:
        expect.fail(f"{what}.params has src_embed: with share_embeddings=True the source "
                    "uses tgt_embed too (one table).")
    missing, extra = [n for n in expected if n not in params], sorted(set(params) - set(expected))
    if missing or extra:
        expect.fail(f"{what}.params: missing {missing[:4]}, unexpected {extra[:4]} (see the "
                    "parameter list in the module docstring: encoder.{{i}}.attn.W_q ..., "
                    "encoder.ln.* and decoder.ln.* only when norm_first).")


def _seq2seq(impl, name: str):
    """A tiny Transformer of configuration `name` holding the fixture's weights."""
    config = _s2s_config(name)
    model = impl.Transformer(impl.TransformerConfig(**config),
                             np.random.default_rng(int(fx()["s2s.init_seed"])))
    _check_seq2seq_names(model.params, config)
    model.params = {k: get(f"s2s.{name}.params.{k}") for k in _seq2seq_names(config)}
    return model


@check("3.9", weight=2)
def seq2seq_init(impl):
    """the parameters: names, shapes, dtype and initial values, drawn from rng"""
    seed, other_seed = (int(s) for s in fx()["s2s.init.seeds"])
    for base in map(_s2s_config, SEQ2SEQ_CASES):
        config = {**base, "d_model": 32, "n_heads": 4, "src_vocab_size": 200,
                  "tgt_vocab_size": 200 if base["share_embeddings"] else 150,
                  "dtype": "float32"}
        C, F, V_tgt = config["d_model"], config["d_ff"], config["tgt_vocab_size"]
        params = impl.Transformer(impl.TransformerConfig(**config),
                                  np.random.default_rng(seed)).params
        _check_seq2seq_names(params, config)
        shapes = {"src_embed": (config["src_vocab_size"], C), "tgt_embed": (V_tgt, C),
                  "head.W": (C, V_tgt), "head.b": (V_tgt,)}
        for key, value in params.items():
            last = key.split(".")[-1]
            shape = shapes.get(key) or {"W_1": (C, F), "b_1": (F,), "W_2": (F, C)}.get(
                last, (C, C) if last.startswith("W_") else (C,))
            expect.array(value, f"params[{key!r}]", shape=shape, dtype=np.float32)
            if last == "gamma" and not np.all(value == 1):
                expect.fail(f"params[{key!r}] should start at ones (LayerNorm gain).")
            if (last == "beta" or last.startswith("b")) and not np.all(value == 0):
                expect.fail(f"params[{key!r}] should start at zeros.")
        for key in ("tgt_embed", "encoder.0.attn.W_q", "decoder.1.ffn.W_2"):
            std = float(np.std(params[key]))
            if not 0.85 < std * np.sqrt(C) < 1.15:
                expect.fail(f"params[{key!r}] has std {std:.4f}; expected about 1/sqrt(C) = "
                            f"{1 / np.sqrt(C):.4f} (embeddings: sqrt(C)·E[id] then has "
                            "variance 1, the scale of the positional encoding).")
        again = impl.Transformer(impl.TransformerConfig(**config), np.random.default_rng(seed))
        other = impl.Transformer(impl.TransformerConfig(**config),
                                 np.random.default_rng(other_seed))
        if not np.array_equal(again.params["tgt_embed"], params["tgt_embed"]):
            expect.fail("Two Transformers built with generators of the same seed differ: draw "
                        "every weight from the rng you are given.")
        if np.array_equal(other.params["tgt_embed"], params["tgt_embed"]):
            expect.fail("Transformers built with different seeds are equal: draw the weights "
                        "from the rng you are given.")


@check("3.9", weight=3)
def seq2seq_forward_values(impl):
    """logits of both models (post-norm with padding and an untied head; pre-norm, tied, shared)"""
    for name in SEQ2SEQ_CASES:
        config = _s2s_config(name)
        model = _seq2seq(impl, name)
        logits = model.forward(get(f"s2s.{name}.src"), get(f"s2s.{name}.tgt"))
        label = f"Transformer.forward (norm_first={config['norm_first']})"
        expected = fx()[f"s2s.{name}.logits"]
        expect.array(logits, label, shape=expected.shape, dtype=np.float64)
        diagnoses = {
            "no_scale": "the embeddings are not multiplied by sqrt(d_model) before the "
                        "positional encoding is added.",
            "no_src_mask": "source padding (pad_id) must be hidden from the encoder's "
                           "self-attention and from every cross-attention.",
        }
        for bug, message in diagnoses.items():
            if f"s2s.{name}.bug.{bug}" in fx() and _matches(logits, f"s2s.{name}.bug.{bug}"):
                expect.fail(f"{label}: {message}")
        expect.close(logits, expected, label,
                     hint="X_0 = sqrt(C)·E[src] + PE, the encoder layers (3.6) [+ encoder.ln]; "
                          "Y_0 likewise from tgt, the decoder layers (3.7) reading that memory "
                          "[+ decoder.ln]; then the head. Check 3.6 and 3.7 first.")


@check("3.9")
def seq2seq_masks(impl):
    """no target position sees a later one; source padding changes nothing"""
    model = _seq2seq(impl, "post")
    src, tgt = get("s2s.post.src"), get("s2s.post.tgt")
    logits = model.forward(src, tgt)
    expect.array(logits, "Transformer.forward", shape=fx()["s2s.post.logits"].shape)
    changed = tgt.copy()
    changed[:, 2:] = (changed[:, 2:] + 3) % (_s2s_config("post")["tgt_vocab_size"] - 1) + 1
    leak = np.abs(model.forward(src, changed)[:, :2] - logits[:, :2]).max()
    if not leak < 1e-12:
        expect.fail(f"changing target tokens 2.. moved the logits of positions 0 and 1 by "
                    f"{leak:.3g}: the decoder's self-attention must be causal (position t "
                    "sees tgt[:, :t+1] only).")
    padded = np.concatenate([src, np.zeros((src.shape[0], 3), dtype=src.dtype)], axis=1)
    moved = np.abs(model.forward(padded, tgt) - logits).max()
    if not moved < 1e-10:
        expect.fail(f"appending 3 padding tokens (pad_id 0) to every source moved the logits by "
                    f"{moved:.3g}: padded source positions must be masked as keys in the "
                    "encoder's self-attention and in every cross-attention.")
    expect.require_correct(logits, fx()["s2s.post.logits"], "Transformer.forward", "3.9")


@check("3.9", weight=3)
def seq2seq_backward_values(impl):
    """the loss (label smoothing, ignored labels) and the gradient of every parameter"""
    for name in SEQ2SEQ_CASES:
        config = _s2s_config(name)
        model = _seq2seq(impl, name)
        loss = model.loss(get(f"s2s.{name}.src"), get(f"s2s.{name}.tgt"),
                          get(f"s2s.{name}.labels"), label_smoothing=_s2s_smoothing())
        expected = float(fx()[f"s2s.{name}.loss"])
        if not np.isclose(float(loss), expected, rtol=1e-9):
            expect.fail(f"Transformer.loss is {float(loss):.10g}, expected {expected:.10g} "
                        "(cross_entropy of the logits against labels, ignore_index=-100, with "
                        "the given label_smoothing).")
        grads = model.backward()
        names = _seq2seq_names(config)
        if not isinstance(grads, dict) or sorted(grads) != sorted(names):
            expect.fail("Transformer.backward() should return a dict with the keys of params.")
        if name == "pre":  # one table, three uses: head, target lookup, source lookup
            for part, message in (("head", "the head's dlogitsᵀ h (tied head)"),
                                  ("src", "the source lookup's scatter-add (shared table)")):
                if _matches(grads["tgt_embed"], f"s2s.pre.bug.tgt_embed_without_{part}"):
                    expect.fail(f"d(tgt_embed) misses {message}: a table used several times "
                                "gets the sum of every use's gradient.")
        for key in reversed(names):  # backward order: the first mismatch is nearest the bug
            expect.close(grads[key], fx()[f"s2s.{name}.grads.{key}"],
                         f"d({key}) (norm_first={config['norm_first']})",
                         hint=SEQ2SEQ_GRAD_HINTS.get(key.split(".")[0], ""))


SEQ2SEQ_FD_KEYS = ("tgt_embed", "encoder.0.attn.W_k", "decoder.0.cross_attn.W_v",
                   "decoder.1.ln_3.gamma")


def _s2s_directional(model, args, smoothing: float, grads, seed: int) -> list[tuple]:
    """(key, analytic, numeric) directional derivatives of `model.loss(*args)` along random
    directions (a generator of `seed`), numeric by central differences of step 1e-5; the
    parameters are restored afterwards."""
    params, rng, found = dict(model.params), np.random.default_rng(seed), []
    for key in SEQ2SEQ_FD_KEYS:
        direction = rng.standard_normal(params[key].shape)
        values = []
        for sign in (1, -1):
            model.params = {**params, key: params[key] + sign * 1e-5 * direction}
            values.append(float(model.loss(*args, label_smoothing=smoothing)))
        found.append((key, float(np.sum(grads[key] * direction)),
                       (values[0] - values[1]) / 2e-5))
    model.params = params
    return found


@check("3.9", weight=1, hidden=True, timeout=30)
def seq2seq_finite_differences(impl):
    """the whole-model gradient agrees with finite differences of your own loss"""
    for name in SEQ2SEQ_CASES:
        model = _seq2seq(impl, name)
        args = (get(f"s2s.{name}.src"), get(f"s2s.{name}.tgt"), get(f"s2s.{name}.labels"))
        loss = model.loss(*args, label_smoothing=_s2s_smoothing())
        if not np.isclose(float(loss), float(fx()[f"s2s.{name}.loss"]), rtol=1e-9):
            expect.fail("Transformer.loss is not right yet (see the other checks of 3.9).")
        grads = model.backward()
        for key, analytic, numeric in _s2s_directional(model, args, _s2s_smoothing(), grads,
                                                       int(fx()["s2s.fd_seed"])):
            if not np.isclose(analytic, numeric, rtol=1e-5, atol=1e-7):
                expect.fail(f"d({key}) disagrees with finite differences of your loss "
                            f"(norm_first={SEQ2SEQ_CASES[name]['norm_first']}): "
                            f"directional derivative {analytic:.8g}, numeric {numeric:.8g}.")


@check("3.9", weight=1)
def seq2seq_greedy_decode(impl):
    """greedy decoding: argmax of the last position, EOS ends a row, padding after it"""
    model = _seq2seq(impl, "post")
    src = get("s2s.post.src")
    expect.require_correct(model.forward(src, get("s2s.post.tgt")), fx()["s2s.post.logits"],
                           "Transformer.forward", "3.9")
    model.params = _params("s2s.greedy.params.")
    max_new, bos = int(fx()["s2s.greedy.max_new"]), int(fx()["s2s.greedy.bos"])
    for case in ("mixed", "early"):
        eos = int(fx()[f"s2s.greedy.{case}.eos"])
        out = model.greedy_decode(src, max_new, bos, eos)
        expected = fx()[f"s2s.greedy.{case}.out"]
        label = f"greedy_decode(src, max_new_tokens={max_new}, bos_id={bos}, eos_id={eos})"
        expect.array(out, label, finite=False)
        if not np.issubdtype(out.dtype, np.integer):
            expect.fail(f"{label} should return integer token ids, got dtype {out.dtype}.")
        if out.shape != expected.shape:
            expect.fail(f"{label} returned shape {out.shape}, expected {expected.shape}: stop "
                        "as soon as every row has produced EOS, else after max_new_tokens; "
                        "BOS is not part of the output.")
        if not np.array_equal(out, expected):
            expect.fail(f"{label} returned {out.tolist()}, expected {expected.tolist()}. Each "
                        "step appends the argmax of the last position's logits; after a row's "
                        "EOS its positions hold pad_id.")
