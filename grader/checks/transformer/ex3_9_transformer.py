"""Checks of exercise 3.9: The encoder-decoder Transformer."""

from __future__ import annotations

import numpy as np

from ... import expect
from .. import check
from .common import (
    DECODER_KEYS,
    ENCODER_KEYS,
    _close_grad,
    _matches,
    _params,
    _skipped_until,
    fx,
    get,
)

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
                expect.fail(f"{label} differs from the expected logits. {expect.cause(message)}")
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
    _skipped_until(logits, fx()["s2s.post.logits"], "seq2seq_forward_values", "3.9")


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
                    expect.fail("d(tgt_embed) differs from the expected gradient. " + expect.cause(
                        f"d(tgt_embed) misses {message}") + " A table used several times gets "
                        "the sum of every use's gradient.")
        for key in reversed(names):  # backward order: the first mismatch is nearest the bug
            _close_grad(grads[key], fx()[f"s2s.{name}.grads.{key}"],
                        f"d({key}) (norm_first={config['norm_first']})", name=f"d({key})",
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
            expect.fail("3.9: skipped until seq2seq_backward_values passes (this check needs a "
                        "right loss there first, and gives its points only then).")
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
    _skipped_until(model.forward(src, get("s2s.post.tgt")), fx()["s2s.post.logits"],
                   "seq2seq_forward_values", "3.9")
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


# --- defaults and options, config fields, float32, dlogits, stated errors ---------------
def _s2s_inputs(name: str) -> tuple:
    return get(f"s2s.{name}.src"), get(f"s2s.{name}.tgt")


def _s2s_gate(impl, name: str):
    model = _seq2seq(impl, name)
    _skipped_until(model.forward(*_s2s_inputs(name)), fx()[f"s2s.{name}.logits"],
                   "seq2seq_forward_values", "3.9")
    return model


def _s2s_model(impl, name: str, options: dict, params: dict | None = None):
    """The fixtures' model `name` with config `options` (and `params` if given)."""
    config = {**_s2s_config(name), **options}
    model = impl.Transformer(impl.TransformerConfig(**config),
                             np.random.default_rng(int(fx()["s2s.init_seed"])))
    model.params = params or {k: get(f"s2s.{name}.params.{k}") for k in _seq2seq_names(config)}
    return model


@check("3.9")
def seq2seq_config_options(impl):
    """config.eps reaches every LayerNorm, config.activation every FFN"""
    for name in SEQ2SEQ_CASES:
        _s2s_gate(impl, name)
        src, tgt = _s2s_inputs(name)
        for field, value in (("eps", 0.25), ("activation", "gelu")):
            logits = _s2s_model(impl, name, {field: value}).forward(src, tgt)
            label = (f"3.9 Transformer(TransformerConfig({field}={value!r}, "
                     f"norm_first={SEQ2SEQ_CASES[name]['norm_first']})).forward")
            expect.array(logits, label, shape=fx()[f"s2s.{name}.logits"].shape,
                         dtype=np.float64)
            if _matches(logits, f"s2s.{name}.logits"):
                expect.fail(f"{label} gave the logits of the default {field}. " + expect.cause(
                    f"config.{field} is not used: pass it to every encoder_layer and "
                    "decoder_layer" + (" and the final LayerNorms" if field == "eps" else "")))
    # eps exactly: with every decoder sub-layer's output projection zeroed, a post-norm decoder
    # layer is its three LayerNorms, so the logits follow from layer_norm (3.2) alone.
    config, eps = _s2s_config("post"), 0.25
    params = {k: get(f"s2s.post.params.{k}") for k in _seq2seq_names(config)}
    for i in range(config["n_layers"]):
        for key in ("self_attn.W_o", "self_attn.b_o", "cross_attn.W_o", "cross_attn.b_o",
                    "ffn.W_2", "ffn.b_2"):
            params[f"decoder.{i}.{key}"] = np.zeros_like(params[f"decoder.{i}.{key}"])
    src, tgt = _s2s_inputs("post")
    logits = _s2s_model(impl, "post", {"eps": eps}, params).forward(src, tgt)
    C, T = config["d_model"], tgt.shape[1]
    y = np.sqrt(C) * params["tgt_embed"][tgt] + impl.sinusoidal_positional_encoding(T, C)
    for i in range(config["n_layers"]):
        for ln in ("ln_1", "ln_2", "ln_3"):
            y, _ = impl.layer_norm(y, params[f"decoder.{i}.{ln}.gamma"],
                                   params[f"decoder.{i}.{ln}.beta"], eps)
    expect.close(logits, y @ params["head.W"] + params["head.b"],
                 f"3.9 Transformer(TransformerConfig(eps={eps})).forward, decoder sub-layers "
                 "zeroed", hint="config.eps reaches every LayerNorm of every layer.")


@check("3.9")
def seq2seq_defaults_and_dropout(impl):
    """rng=None draws fresh weights; train=True draws every dropout mask from rng, else none"""
    config = _s2s_config("post")
    a, b = (impl.Transformer(impl.TransformerConfig(**config)) for _ in range(2))
    _check_seq2seq_names(a.params, config)
    if np.array_equal(a.params["tgt_embed"], b.params["tgt_embed"]):
        expect.fail("3.9 Transformer(config) without rng built the same weights twice: rng=None "
                    "means np.random.default_rng() (fresh entropy).")
    model = _s2s_gate(impl, "post")
    src, tgt = _s2s_inputs("post")
    labels = get("s2s.post.labels")
    plain = model.forward(src, tgt)
    seed = int(fx()["s2s.fd_seed"])
    rng = np.random.default_rng(seed)
    state = rng.bit_generator.state
    same = model.forward(src, tgt, rng=rng)
    if rng.bit_generator.state != state or not np.array_equal(same, plain):
        expect.fail("3.9 Transformer.forward(src, tgt, rng=...) without train should be the "
                    "evaluation forward: no dropout, the generator untouched.")
    rng = np.random.default_rng(seed)
    first = model.forward(src, tgt, train=True, rng=rng)
    label = "3.9 Transformer.forward(src, tgt, train=True, rng=...)"
    expect.array(first, label, shape=plain.shape, dtype=np.float64)
    if np.allclose(first, plain, **expect.F64):
        expect.fail(f"{label} gave the evaluation logits: with train=True and config.dropout = "
                    f"{config.get('dropout', 0.1)} dropout acts (3.5), drawing from rng.")
    B, S = src.shape
    C, T, L = config["d_model"], tgt.shape[1], config["n_layers"]
    reference = np.random.default_rng(seed)
    for shape in [(B, S, C)] * (1 + 2 * L) + [(B, T, C)] * (1 + 3 * L):
        reference.random(shape)  # the documented draws: embeddings, then each sub-layer
    if rng.bit_generator.state != reference.bit_generator.state:
        expect.fail(f"{label} drew a different amount of random numbers than documented: one "
                    "rng.random(shape) after each embedding (B, S, C) / (B, T, C) and one per "
                    "sub-layer output (two per encoder layer, three per decoder layer).")
    again = model.forward(src, tgt, train=True, rng=np.random.default_rng(seed))
    if not np.array_equal(again, first):
        expect.fail(f"{label} differs between two generators of the same seed: draw every "
                    "dropout mask from the rng given.")
    rng = np.random.default_rng(seed)
    loss = model.loss(src, tgt, labels, train=True, rng=rng)
    if (rng.bit_generator.state != reference.bit_generator.state
            or np.isclose(float(loss), float(model.loss(src, tgt, labels)), rtol=1e-12)):
        expect.fail("3.9 Transformer.loss(..., train=True, rng=...) should be the loss of "
                    "forward(src, tgt, train=True, rng) (pass train and rng on to forward): "
                    "it drew other random numbers, or none.")


@check("3.9")
def seq2seq_loss_default_smoothing(impl):
    """loss without label_smoothing is the one with label_smoothing=0.0"""
    for name in SEQ2SEQ_CASES:
        model = _s2s_gate(impl, name)
        labels = get(f"s2s.{name}.labels")
        loss = float(model.loss(*_s2s_inputs(name), labels))
        want = float(model.loss(*_s2s_inputs(name), labels, label_smoothing=0.0))
        if not np.isclose(loss, want, rtol=1e-12):
            expect.fail(f"3.9 Transformer.loss(src, tgt, labels) is {loss:.10g}, but with "
                        f"label_smoothing=0.0 it is {want:.10g}: without label_smoothing the "
                        "loss is the plain cross-entropy (label_smoothing=0.0).")


@check("3.9")
def seq2seq_backward_dlogits(impl):
    """backward(dlogits) back-propagates the dlogits given, scaled, also after a loss"""
    for name in SEQ2SEQ_CASES:
        model = _s2s_gate(impl, name)
        src, tgt = _s2s_inputs(name)
        labels, smoothing = get(f"s2s.{name}.labels"), _s2s_smoothing()
        names = _seq2seq_names(_s2s_config(name))
        model.loss(src, tgt, labels, label_smoothing=smoothing)
        grads = model.backward()
        if not (isinstance(grads, dict) and all(
                k in grads and _matches(grads[k], f"s2s.{name}.grads.{k}") for k in names)):
            expect.fail("3.9: skipped until seq2seq_backward_values passes (this check needs a "
                        "right backward() first, and gives its points only then).")
        rng = np.random.default_rng(int(fx()["s2s.fd_seed"]))
        dlogits = rng.standard_normal(fx()[f"s2s.{name}.logits"].shape)
        what = (f"3.9 Transformer.backward(dlogits) (norm_first="
                f"{SEQ2SEQ_CASES[name]['norm_first']})")
        model.loss(src, tgt, labels, label_smoothing=smoothing)
        after_loss = model.backward(2.5 * dlogits)
        if not isinstance(after_loss, dict) or sorted(after_loss) != sorted(names):
            expect.fail(f"{what} should return a dict with the keys of params.")
        if all(_matches(after_loss[k], f"s2s.{name}.grads.{k}") for k in names):
            expect.fail(f"{what} after loss(...) returned the loss's gradients. " + expect.cause(
                "backward(dlogits) ignored the dlogits it was given"))
        model.forward(src, tgt)
        grads = model.backward(dlogits)
        for key in reversed(names):
            expect.close(after_loss[key], 2.5 * grads[key], f"{what}: d({key}) of 2.5 * dlogits "
                         "after loss, against 2.5 times that of dlogits after forward",
                         hint="backward(dlogits) back-propagates the given dL/dlogits, after a "
                              "loss as after a forward (a backward is linear in it).")
        # d(sum(dlogits * logits)) along random directions, by central differences of your
        # own (right) forward: the gradient of the dlogits given.
        # A step across one of ReLU's kinks gives a one-sided slope: a gradient must disagree
        # along two directions to fail.
        params = dict(model.params)
        for key in SEQ2SEQ_FD_KEYS[:3]:
            for _attempt in range(2):
                direction = rng.standard_normal(params[key].shape)
                values = []
                for sign in (1, -1):
                    model.params = {**params, key: params[key] + sign * 1e-6 * direction}
                    values.append(float(np.sum(dlogits * model.forward(src, tgt))))
                numeric = (values[0] - values[1]) / 2e-6
                analytic = float(np.sum(grads[key] * direction))
                if np.isclose(analytic, numeric, rtol=1e-5, atol=1e-7):
                    break
            else:
                model.params = params
                expect.fail(f"{what}: d({key}) along a random direction is {analytic:.8g}, but "
                            f"finite differences of sum(dlogits * forward) give {numeric:.8g}.")
        model.params = params


@check("3.9")
def seq2seq_float32(impl):
    """a float32 model: float32 logits, loss and gradients"""
    for name in SEQ2SEQ_CASES:
        _s2s_gate(impl, name)
        config = {**_s2s_config(name), "dtype": "float32"}
        model = impl.Transformer(impl.TransformerConfig(**config),
                                 np.random.default_rng(int(fx()["s2s.init_seed"])))
        model.params = {k: get(f"s2s.{name}.params.{k}").astype(np.float32)
                        for k in _seq2seq_names(config)}
        src, tgt = _s2s_inputs(name)
        label = f"3.9 Transformer.forward of a float32 model (norm_first={config['norm_first']})"
        logits = model.forward(src, tgt)
        expect.array(logits, label, shape=fx()[f"s2s.{name}.logits"].shape, dtype=np.float32)
        expect.close(logits, fx()[f"s2s.{name}.logits"], label, rtol=1e-3, atol=1e-4)
        loss = model.loss(src, tgt, get(f"s2s.{name}.labels"), label_smoothing=_s2s_smoothing())
        if np.asarray(loss).dtype != np.float32:
            expect.fail(f"3.9 Transformer.loss of a float32 model returned a "
                        f"{np.asarray(loss).dtype} loss; expected float32 (the parameters').")
        grads = model.backward()
        if not isinstance(grads, dict):
            expect.fail("3.9 Transformer.backward() should return a dict with the keys of params.")
        for key, grad in grads.items():
            expect.array(grad, f"3.9 Transformer.backward() of a float32 model: d({key})",
                         dtype=np.float32)


@check("3.9")
def seq2seq_raises(impl):
    """the documented errors of forward, loss and backward"""
    model = _s2s_gate(impl, "post")  # the checks are given code: points for a working model
    model = _seq2seq(impl, "post")  # fresh: no forward yet
    config = _s2s_config("post")
    src, tgt = _s2s_inputs("post")
    labels = get("s2s.post.labels")
    expect.raises(model.backward, RuntimeError, "3.9 Transformer.backward() before any forward")
    cases = [
        (TypeError, "float src", (src.astype(np.float64), tgt), {}),
        (ValueError, "src of shape (S,)", (src[0], tgt), {}),
        (ValueError, "src longer than max_len",
         (np.ones((src.shape[0], config["max_len"] + 1), dtype=np.int64), tgt), {}),
        (ValueError, "a tgt id = tgt_vocab_size",
         (src, np.where(tgt == tgt[0, 0], config["tgt_vocab_size"], tgt)), {}),
        (ValueError, "a source row of padding only (pad_id 0)",
         (np.where(np.arange(src.shape[0])[:, None] == 0, 0, src), tgt), {}),
        (ValueError, "src and tgt of different batch sizes", (src[:1], tgt), {}),
        (TypeError, "train=True without rng (config.dropout > 0)", (src, tgt), {"train": True}),
    ]
    for error, what, args, kwargs in cases:
        expect.raises(model.forward, error, f"3.9 Transformer.forward with {what}", *args,
                      **kwargs)
    expect.raises(model.loss, ValueError, "3.9 Transformer.loss with labels of another shape",
                  src, tgt, labels[:, :-1])
    model.forward(src, tgt)
    expect.raises(model.backward, RuntimeError, "3.9 Transformer.backward() after forward (no "
                  "loss)")
    expect.raises(model.backward, ValueError, "3.9 Transformer.backward(dlogits) of a wrong "
                  "shape", np.zeros((1, 1, config["tgt_vocab_size"])))
