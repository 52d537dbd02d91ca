"""Checks of exercise 5.1: the Llama block and model.

Where the expected values come from:

- ``llama_block``: the reference's output on fixture inputs (``grader/data/modern.npz``, keys
  ``5.1/llama.block.*``: B=2, distinct sizes, GQA with 2 or more query heads per kv head,
  positions that do not start at 0), next to the outputs of known wrong blocks composed from
  the reference's parts (``fixtures.py``), to name a bug. Its backward is checked against
  central finite differences of the student's own block in float64, for x and every
  parameter, with the gradients of known wrong backwards (fixtures) to name a bug.
- ``Llama``: a tiny float64 model of two blocks (drawn sizes, GQA, weights ~ 1/sqrt(fan_in)
  rather than 0.02, a large ``rms_norm_eps`` and a small ``rope_theta`` so that slips in
  either show), tied and untied: the reference's logits, loss and gradients, and the
  logits of known wrong models; the gradient also along random directions by finite
  differences of the student's own loss.
- Decoding with Module 4's ``KVCache``: the full forward's logits, for a prefill then one
  token per step and for a chunked prefill, with the logits of known wrong decoders.
- ``from_pretrained`` / ``save_pretrained``: directories this check writes itself as
  ``LlamaForCausalLM.save_pretrained`` does (HF's names, ``nn.Linear``'s ``(out, in)``
  layout, no ``lm_head.weight`` when tied).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from contextlib import contextmanager

import numpy as np

from ... import expect
from .. import check
from .common import fx, get

N_LAYER = 2

# (hidden_size C, num_attention_heads H, num_key_value_heads H_kv): head_dim even, and at
# least two kv heads of at least two query heads each, so that tiled and repeated kv heads
# differ
WIDTHS = ((16, 4, 2), (24, 6, 2), (24, 6, 3), (24, 4, 2), (32, 8, 2), (32, 8, 4), (36, 6, 3))

BLOCK_PARAMS = (
    "self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
    "self_attn.o_proj.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight",
    "mlp.down_proj.weight", "input_layernorm.weight", "post_attention_layernorm.weight",
)

MODELS = ("tied", "untied")  # tie_word_embeddings True / False


def schedules(T: int) -> dict[str, tuple[int, ...]]:
    """Decoding schedules for T tokens: tokens per forward with the cache (T >= 6)."""
    return {"prefill": (T,), "decode": (3,) + (1,) * (T - 3), "chunked": (3, 2, T - 5)}


# A known wrong block: fixture llama.block.bug.<name> (and llama.<model>.bug.<name> for the
# whole model) -> (the mistake, what to do).  Matching one exactly is the probe.
BLOCK_BUGS = {
    "kv_tiled": ("the kv heads are tiled: query head j used kv head j % n_kv_heads",
                 "Query heads g*n_rep .. g*n_rep + n_rep - 1 share kv head g (n_rep = "
                 "n_heads / n_kv_heads): repeat each kv head in place (repeat_kv, 4.6), not "
                 "np.tile."),
    "rope_interleaved": ("RoPE rotated adjacent pairs (2i, 2i+1), the interleaved layout",
                         "Llama's RoPE is half-split: dimension i turns with dimension i + D/2 "
                         "(apply_rope, 2.3), the layout of Hugging Face's checkpoints."),
    "no_rope": ("the queries and keys are not rotated (no RoPE)",
                "Turn q and k (not v) by their positions' angles: apply_rope(q, cos, sin) "
                "after splitting the heads."),
    "post_norm": ("the block is post-norm: each RMSNorm comes after its residual add",
                  "Llama is pre-norm: h = x + attn(rms_norm(x)), out = h + mlp(rms_norm(h)); "
                  "the residual stream itself is never normalised."),
    "residual_from_norm": ("the residuals add the normalised input",
                           "h = x + attn(rms_norm(x)): add the branch to x itself, not to "
                           "rms_norm(x) (the same for the MLP)."),
    "gate_up_swapped": ("SiLU gates up_proj's output instead of gate_proj's",
                        "The MLP is down_proj(silu(b @ gate_proj) * (b @ up_proj)): "
                        "gate_proj is swiglu's W_gate, up_proj its W_up."),
    "eps_outside_sqrt": ("eps is added outside the square root of the RMSNorm",
                         "rms = sqrt(mean(x^2) + eps), as rms_norm (3.2) and HF's "
                         "LlamaRMSNorm compute it."),
    "mask_ignored": ("the attention is not causal: the mask is not passed on to the attention",
                     "Masked (query, key) pairs get no weight: pass mask to the attention."),
}

MODEL_BUGS = {
    **{name: bug for name, bug in BLOCK_BUGS.items() if name != "mask_ignored"},
    "no_causal": ("the attention is not causal: no causal mask reaches it, a leak of the "
                  "future",
                  "Every block attends with causal_mask(T): position t sees positions <= t."),
    "no_final_norm": ("the final RMSNorm (model.norm) is missing",
                      "logits = rms_norm(x, model.norm.weight, eps) @ head, after the last "
                      "block."),
    "theta_default": ("config.rope_theta is not used: the RoPE tables have base 10000",
                      "Build the tables with rope_cos_sin(positions, head_dim, "
                      "config.rope_theta)."),
    "eps_default": ("config.rms_norm_eps is not used (every RMSNorm has eps = 1e-6)",
                    "Every RMSNorm (input_layernorm, post_attention_layernorm, model.norm) "
                    "takes config.rms_norm_eps."),
}

DECODE_BUGS = {
    "restart_positions": ("the new tokens were rotated as positions 0..T-1: RoPE's positions "
                          "restarted at 0 instead of continuing after the cache",
                          "After L = kv_cache.length cached tokens the new ones sit at "
                          "positions L .. L+T-1: rope_cos_sin(np.arange(L, L + T), ...)."),
    "mask_top_left": ("the causal mask is aligned top-left (as np.tril(ones(T, L+T)))",
                      "The T new queries are the LAST T positions: query i sees keys "
                      "j <= L + i, causal_mask(T, L + T)."),
    "no_past": ("the new queries attend to the new keys/values alone, not to the cached "
                "past that kv_cache.update returns",
                "Attend to all L + T keys and values that kv_cache.update(layer, k, v) "
                "returns."),
}

# Known wrong block backwards: fixture llama.block.gradbug.<name>.<param> -> (mistake, fix)
GRAD_BUGS = {
    "group_mean": ("the gradients of a kv head's n_rep copies were averaged, not summed",
                   "repeat_kv sends kv head g to the n_rep query heads of its group, so each "
                   "copy's gradient flows back into g: sum them (reshape to (B, H_kv, n_rep, "
                   "T, D), sum over the n_rep axis)."),
    "group_first": ("only the first query head of each group sent its gradient to the kv head",
                    "All n_rep copies of kv head g were used, so all n_rep gradients flow back "
                    "into g: sum them (reshape to (B, H_kv, n_rep, T, D), sum over the n_rep "
                    "axis)."),
    "group_tiled": ("the gradients of the kv heads' copies were summed in tiled order (head j "
                    "into kv head j % n_kv_heads)",
                    "The copies of kv head g are the ADJACENT heads g*n_rep .. g*n_rep + "
                    "n_rep - 1: reshape to (B, H_kv, n_rep, T, D) and sum over the n_rep "
                    "axis."),
    "rope_forward": ("the gradient was rotated forward (apply_rope) instead of back",
                     "The backward of a rotation by theta turns dout by -theta: "
                     "apply_rope_backward (2.3)."),
}
GRAD_BUG_PARAMS = ("self_attn.q_proj.weight", "self_attn.k_proj.weight",
                   "self_attn.v_proj.weight")


def _same(actual, expected) -> bool:
    return (isinstance(actual, np.ndarray) and actual.shape == np.shape(expected)
            and bool(np.allclose(actual, expected, **expect.F64)))


def _known_bug(actual, keys: dict[str, tuple[str, str]], label: str, part=()) -> None:
    """Fail naming the mistake when `actual` equals exactly the fixture of a known wrong
    computation (`keys`: fixture key -> (mistake, what to do)), or its `part` (an index)."""
    for key, (cause, advice) in keys.items():
        if key in fx() and _same(actual, fx()[key][part]):
            expect.fail(f"{label} is that of a known mistake. {advice} " + expect.cause(cause))


def _skipped_until(check_name: str, what: str) -> None:
    expect.fail(f"5.1: {what}: skipped until {check_name} passes (this check needs a right "
                "answer there first, and gives its points only then).")


# --- the block -----------------------------------------------------------------------------


def _block_inputs(dtype=np.float64) -> tuple:
    """(x, params, cos, sin, n_heads, n_kv_heads, eps, mask) of the fixture's block."""
    p = {name: get(f"llama.block.params.{name}").astype(dtype) for name in BLOCK_PARAMS}
    x = get("llama.block.x").astype(dtype)
    T = x.shape[1]
    return (x, p, get("llama.block.cos"), get("llama.block.sin"),
            int(fx()["llama.block.n_heads"]), int(fx()["llama.block.n_kv_heads"]),
            float(fx()["llama.block.eps"]), np.tril(np.ones((T, T), dtype=bool)))


def _block_out(impl, args, label: str, dtype=np.float64):
    result = expect.pair(expect.call_pure(impl.llama_block, "llama_block", *args), "llama_block")
    return expect.array(result[0], label, shape=fx()["llama.block.out"].shape, dtype=dtype), \
        result[1]


@check("5.1", weight=2)
def llama_block_values(impl):
    """llama_block: pre-norm, RoPE on q and k, grouped kv heads, SwiGLU; float32 stays float32"""
    args = _block_inputs()
    label = "5.1 llama_block(x, params, cos, sin, n_heads, n_kv_heads, eps, causal mask)"
    out, _ = _block_out(impl, args, label)
    if not _same(out, fx()["llama.block.out"]):
        _known_bug(out, {f"llama.block.bug.{name}": bug for name, bug in BLOCK_BUGS.items()},
                   label)
        expect.close(out, fx()["llama.block.out"], label, hint=(
            "a = rms_norm(x); q, k, v = a @ q_proj, a @ k_proj, a @ v_proj split into "
            "n_heads, n_kv_heads, n_kv_heads heads; q, k rotated (apply_rope); attention with "
            "each kv head repeated for its group (repeat_kv); h = x + merged @ o_proj; out = "
            "h + swiglu(rms_norm(h))."))
    x32, p32, *rest = _block_inputs(np.float32)
    out32, _ = _block_out(impl, (x32, p32, *rest), f"{label} in float32", dtype=np.float32)
    expect.close(out32, fx()["llama.block.out"], f"{label} in float32", **expect.F32)
    # without a mask (the default) every query attends to every key
    x, p, cos, sin, n_heads, n_kv, eps, _ = _block_inputs()
    label = "5.1 llama_block(x, params, cos, sin, n_heads, n_kv_heads, eps), no mask"
    out, _ = _block_out(impl, (x, p, cos, sin, n_heads, n_kv, eps), label)
    expect.close(out, fx()["llama.block.bug.mask_ignored"], label,
                 hint="mask=None (the default) masks nothing: every query sees every key.")


@check("5.1")
def llama_block_with_kv_cache(impl):
    """llama_block(..., kv_cache, layer): the rotated keys and the values go into the cache's
    layer, the queries attend to every cached position"""
    x, p, cos, sin, n_heads, n_kv, eps, _ = _block_inputs()
    if not _same(impl.llama_block(x, p, cos, sin, n_heads, n_kv, eps,
                                  np.tril(np.ones((x.shape[1],) * 2, dtype=bool)))[0],
                 fx()["llama.block.out"]):
        _skipped_until("llama_block_values", "the block with a KV cache")
    B, T, _ = x.shape
    D = cos.shape[-1]
    cache = impl.KVCache(2, B, n_kv, T + 2, D, np.float64)  # the block writes layer 1
    outs, start = [], 0
    for end in (2, T):  # 2 positions, then the T - 2 others after them
        t_new = end - start
        mask = np.arange(end)[None, :] <= np.arange(t_new)[:, None] + start  # causal, offset
        label = (f"5.1 llama_block(x[:, {start}:{end}], ..., kv_cache, layer=1) after {start} "
                 "cached positions")
        out = impl.llama_block(x[:, start:end], p, cos[start:end], sin[start:end], n_heads,
                               n_kv, eps, mask, cache, 1)
        outs.append(expect.array(expect.pair(out, "llama_block")[0], label,
                                 shape=(B, t_new, x.shape[2]), dtype=np.float64))
        if cache.length != start:
            expect.fail(f"{label}: kv_cache.length moved from {start} to {cache.length}: "
                        "llama_block only writes its layer (kv_cache.update); advance is the "
                        "model's, once per forward after the last block.")
        cache.advance(t_new)
        start = end
    if np.any(np.asarray(cache.k)[0]) or np.any(np.asarray(cache.v)[0]):
        expect.fail("5.1 llama_block(..., kv_cache, layer=1) wrote into layer 0 of the cache: "
                    "write the keys and values of block `layer` with kv_cache.update(layer, "
                    "k, v).")
    expect.close(np.concatenate(outs, axis=1), fx()["llama.block.out"],
                 "5.1 llama_block with a KV cache, 2 positions then the rest (outputs joined)",
                 hint="With a cache, the new keys/values are written with kv_cache.update(layer, "
                      "k, v) and the queries attend to all the positions it returns (the mask "
                      "given is (T_new, L + T_new)).")


@check("5.1", weight=3, timeout=30)
def llama_block_backward_finite_differences(impl):
    """llama_block_backward: dx and every parameter's gradient agree with finite differences
    of your llama_block (along random directions)"""
    args = _block_inputs()
    out, cache = _block_out(impl, args, "5.1 llama_block")
    if not _same(out, fx()["llama.block.out"]):
        _skipped_until("llama_block_values", "the block's backward")
    dout = get("llama.block.dout")
    result = expect.call_pure(impl.llama_block_backward, "llama_block_backward", dout, cache)
    if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict)):
        expect.fail("5.1 llama_block_backward should return (dx, dparams), dparams a dict with "
                    "the keys of params.")
    dx, grads = result
    if sorted(grads) != sorted(BLOCK_PARAMS):
        expect.fail(f"5.1 llama_block_backward: dparams should have exactly the keys of params "
                    f"{list(BLOCK_PARAMS)}, got {sorted(grads)}.")
    x, params, rest = args[0], args[1], args[2:]
    rng = np.random.default_rng(int(fx()["llama.block.fd_seed"]))

    def loss(x_, params_) -> float:
        return float(np.sum(dout * impl.llama_block(x_, params_, *rest)[0]))

    def disagrees(grad, value, perturbed) -> tuple | None:
        """(analytic, numeric) along a random direction when they differ, else None."""
        direction = rng.standard_normal(value.shape)
        h = 1e-5
        plus, minus = perturbed(value + h * direction), perturbed(value - h * direction)
        numeric, analytic = (plus - minus) / (2 * h), float(np.sum(grad * direction))
        return None if np.isclose(analytic, numeric, **expect.GRAD) else (analytic, numeric)

    order = BLOCK_BACKWARD_ORDER  # the first wrong gradient is nearest the bug
    hints = {
        "post_attention_layernorm.weight": "The MLP branch's input gradient goes through the "
            "second RMSNorm's backward.",
        "self_attn.o_proj.weight": "o_proj receives dout plus the MLP branch's gradient: the "
            "residual out = h + mlp(h) passes dout on unchanged and the branch adds to it.",
        "self_attn.v_proj.weight": "Each kv head was repeated for the n_rep query heads of its "
            "group: the n_rep gradients of its copies add up.",
        "self_attn.k_proj.weight": "The keys' gradient: the attention backward, the copies of "
            "each kv head summed, then RoPE's backward (apply_rope_backward).",
        "self_attn.q_proj.weight": "The queries' gradient goes back through RoPE "
            "(apply_rope_backward) before q_proj's backward.",
        "input_layernorm.weight": "input_layernorm receives the sum of the three projections' "
            "input gradients.",
    }
    for name in order:
        label = f"5.1 llama_block_backward: d({name})"
        grad = expect.array(grads[name], label, shape=params[name].shape, dtype=np.float64)
        for _ in range(2):
            found = disagrees(grad, params[name],
                              lambda value, n=name: loss(x, {**params, n: value}))
            if found is None:
                continue
            if name in GRAD_BUG_PARAMS:
                _known_bug(grad, {f"llama.block.gradbug.{bug}.{name}": why
                                  for bug, why in GRAD_BUGS.items()}, label)
            expect.fail(f"{label} disagrees with finite differences of your llama_block along "
                        f"a random direction: {found[0]:.10g} vs {found[1]:.10g}. The "
                        "gradients your backward computes before it are right, so the error "
                        f"enters here. {hints.get(name, '')}".rstrip())
    dx = expect.array(dx, "5.1 llama_block_backward: dx", shape=x.shape, dtype=np.float64)
    x32, p32, *rest32 = _block_inputs(np.float32)
    dx32, grads32 = impl.llama_block_backward(dout.astype(np.float32),
                                              impl.llama_block(x32, p32, *rest32)[1])
    for name, value in [("dx", dx32), *((f"d({n})", g) for n, g in grads32.items())]:
        expect.array(value, f"5.1 llama_block_backward of a float32 block: {name}",
                     dtype=np.float32)
    for _ in range(2):
        found = disagrees(dx, x, lambda value: loss(value, params))
        if found is not None:
            expect.fail(f"5.1 llama_block_backward: dx disagrees with finite differences of "
                        f"your llama_block along a random direction: {found[0]:.10g} vs "
                        f"{found[1]:.10g}. dx = dh (the residual) + input_layernorm's backward "
                        "of the sum of the projections' input gradients.")


# --- the model -----------------------------------------------------------------------------


def _config(impl, kind: str, **changes):
    sizes = {name: fx()[f"llama.config.{name}"].item() for name in CONFIG_FIELDS}
    return impl.LlamaConfig(**{**sizes, "tie_word_embeddings": kind == "tied",
                               "dtype": "float64", **changes})


CONFIG_FIELDS = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                 "num_attention_heads", "num_key_value_heads", "max_position_embeddings",
                 "rms_norm_eps", "rope_theta")


def _names(kind: str) -> list[str]:
    return [str(n) for n in fx()[f"llama.{kind}.names"]]


def _params(kind: str, dtype=np.float64) -> dict:
    return {n: get(f"llama.{kind}.params.{n}").astype(dtype) for n in _names(kind)}


def _model(impl, kind: str, dtype=np.float64, **changes):
    """The tiny Llama of the fixtures, its parameters replaced by the fixture's."""
    model = impl.Llama(_config(impl, kind, **changes), np.random.default_rng(0))
    params = model.params
    if not isinstance(params, dict) or sorted(params) != sorted(_names(kind)):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        expect.fail(f"5.1 Llama({kind} head).params should be named as LlamaForCausalLM's "
                    f"state_dict: expected {_names(kind)[:3]}..., got {str(got)[:200]}.")
    model.params = _params(kind, dtype)
    return model


def _forward_gate(impl, kind: str = "tied"):
    """The model, once its forward is right (else a skip that names llama_forward_values)."""
    model = _model(impl, kind)
    logits = model.forward(get("llama.idx"))
    if not _same(logits, fx()[f"llama.{kind}.logits"]):
        _skipped_until("llama_forward_values", f"the {kind} model")
    return model


@check("5.1", weight=3)
def llama_forward_values(impl):
    """Llama.forward: the logits of a tiny model, head tied and untied (Hugging Face's layout)"""
    idx = get("llama.idx")
    for kind in MODELS:
        model = _model(impl, kind)
        label = f"5.1 Llama.forward(idx) ({kind} head)"
        logits = expect.call_pure(model.forward, "Llama.forward", idx)
        expected = fx()[f"llama.{kind}.logits"]
        expect.array(logits, label, shape=expected.shape, dtype=np.float64)
        if _same(logits, expected):
            continue
        _known_bug(logits, {f"llama.{kind}.bug.{name}": bug for name, bug in MODEL_BUGS.items()},
                   label)
        changed = idx.copy()
        changed[:, -1] = (changed[:, -1] + 1) % int(fx()["llama.config.vocab_size"])
        later = model.forward(changed)
        if isinstance(later, np.ndarray) and later.shape == logits.shape and not np.allclose(
                later[:, :-1], logits[:, :-1], **expect.F64):
            expect.fail(f"{label}: changing only the last token changed the logits of earlier "
                        "positions: the attention is not causal (a leak of the future). Each "
                        "position may attend to itself and earlier positions only.")
        head = ("logits = rms_norm(x, model.norm.weight) @ embed_tokens.weightᵀ (tied)"
                if kind == "tied" else "logits = rms_norm(x, model.norm.weight) @ "
                "lm_head.weight (untied, (C, V))")
        expect.close(logits, expected, label, hint=(
            "x = embed_tokens.weight[idx]; RoPE tables rope_cos_sin(arange(T), head_dim, "
            "config.rope_theta); every block with causal_mask(T) and config.rms_norm_eps; "
            f"then {head}."))


# one block's parameters in the order its backward reaches them
BLOCK_BACKWARD_ORDER = (
    "mlp.down_proj.weight", "mlp.up_proj.weight", "mlp.gate_proj.weight",
    "post_attention_layernorm.weight", "self_attn.o_proj.weight", "self_attn.v_proj.weight",
    "self_attn.k_proj.weight", "self_attn.q_proj.weight", "input_layernorm.weight",
)


def _backward_order(kind: str) -> list[str]:
    """The model's parameters in the order backward reaches them: the head, the final norm,
    the blocks from the last, the embedding."""
    order = ["lm_head.weight"] if kind == "untied" else []
    order.append("model.norm.weight")
    for i in reversed(range(N_LAYER)):
        order += [f"model.layers.{i}.{name}" for name in BLOCK_BACKWARD_ORDER]
    return [*order, "model.embed_tokens.weight"]


def _grads(grads, kind: str, expected: str, what: str) -> None:
    """Every gradient against the fixtures `llama.{kind}.{expected}.{name}`, in backward order."""
    names = _names(kind)
    if not isinstance(grads, dict) or sorted(grads) != sorted(names):
        expect.fail(f"5.1 {what} should return a dict with exactly the keys of params.")
    for name in _backward_order(kind):
        key = f"llama.{kind}.{expected}.{name}"
        if key not in fx():
            continue
        label = f"5.1 {what} ({kind} head): d({name})"
        grad = expect.array(grads[name], label, shape=fx()[key].shape, dtype=np.float64)
        if _same(grad, fx()[key]):
            continue
        if name == "model.embed_tokens.weight" and kind == "tied":
            _known_bug(grad, {
                f"llama.tied.{expected}.bug.lookup_only": (
                    "the tied head's gradient is not added to the embedding's",
                    "With tie_word_embeddings the table is also the head (logits = x @ "
                    "embed_tokens.weightᵀ): add the head's gradient, transposed, to the "
                    "lookup's scatter-add."),
                f"llama.tied.{expected}.bug.head_only": (
                    "the embedding lookup's gradient is missing",
                    "d(embed_tokens.weight) = scatter-add of dx at the input tokens + the "
                    "head's gradient, transposed.")}, label)
        hint = ("The gradients your backward computes before it are right, so the error "
                "enters here." if name != _backward_order(kind)[0] else "")
        expect.close(grad, fx()[key], label, hint=hint, **expect.GRAD)


@check("5.1", weight=3)
def llama_loss_and_backward(impl):
    """loss and every parameter's gradient (tied and untied), also vs finite differences"""
    idx, targets = get("llama.idx"), get("llama.targets")
    for kind in MODELS:
        model = _forward_gate(impl, kind)
        loss = model.loss(idx, targets)
        expected = float(fx()[f"llama.{kind}.loss"])
        if not np.isclose(float(loss), expected, rtol=1e-9):
            expect.fail(f"5.1 Llama.loss ({kind} head) is {float(loss):.10g}, expected "
                        f"{expected:.10g}: the mean cross-entropy of the logits over the "
                        "targets that are not -100 (already shifted: compare logits[:, t] with "
                        "targets[:, t]).")
        _grads(model.backward(), kind, "grads", "Llama.backward()")
        grads = model.backward(get("llama.dlogits"))
        if isinstance(grads, dict) and all(
                _same(grads.get(n), fx()[f"llama.{kind}.grads.{n}"]) for n in _names(kind)):
            expect.fail("5.1 Llama.backward(dlogits) after loss(...) returned the loss's "
                        "gradients: backward() differentiates the last loss, backward(dlogits) "
                        "back-propagates the dL/dlogits you pass. "
                        + expect.cause("backward(dlogits) ignored the dlogits it was given"))
        _grads(grads, kind, "dlogits.grads", "Llama.backward(dlogits) after loss(...)")
    # the gradient of the student's own loss along random directions (untied: lm_head too)
    model = _model(impl, "untied")
    params = _params("untied")
    model.loss(idx, targets)
    grads = model.backward()
    rng = np.random.default_rng(int(fx()["llama.fd_seed"]))
    for name in ("model.embed_tokens.weight", "model.layers.0.self_attn.k_proj.weight",
                 "model.layers.1.mlp.gate_proj.weight", "model.norm.weight", "lm_head.weight"):
        direction = rng.standard_normal(params[name].shape)
        h, values = 1e-5, []
        for sign in (1, -1):
            model.params = {**params, name: params[name] + sign * h * direction}
            values.append(float(model.loss(idx, targets)))
        numeric = (values[0] - values[1]) / (2 * h)
        analytic = float(np.sum(grads[name] * direction))
        if not np.isclose(analytic, numeric, **expect.GRAD):
            expect.fail(f"5.1 Llama.backward(): d({name}) disagrees with finite differences of "
                        f"your loss along a random direction: {analytic:.8g} vs {numeric:.8g}.")


@contextmanager
def _tmpdir(impl):
    """An empty folder the student's code may read and write: the sandbox's scratch space when
    the code runs sandboxed, else a fresh temporary folder."""
    scratch = getattr(type(impl), "scratch_dir", None)
    if scratch is not None:
        path = str(scratch(impl, "grader-5.1-"))
    else:
        path = tempfile.mkdtemp(prefix="grader-5.1-")
        os.chmod(path, stat.S_IRWXU | stat.S_IRWXG | stat.S_IRWXO)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _is_projection(name: str) -> bool:
    return name.endswith("_proj.weight") or name == "lm_head.weight"


def _hf_config(kind: str) -> dict:
    """The config.json LlamaForCausalLM.save_pretrained writes for the fixture's model."""
    sizes = {name: fx()[f"llama.config.{name}"].item() for name in CONFIG_FIELDS}
    theta = float(sizes.pop("rope_theta"))
    C, H = int(sizes["hidden_size"]), int(sizes["num_attention_heads"])
    return {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
            **{k: (float(v) if k == "rms_norm_eps" else int(v)) for k, v in sizes.items()},
            "head_dim": C // H, "hidden_act": "silu", "attention_bias": False,
            "mlp_bias": False, "attention_dropout": 0.0, "initializer_range": 0.02,
            "rope_parameters": {"rope_theta": theta, "rope_type": "default"},
            "tie_word_embeddings": kind == "tied", "dtype": "float64", "use_cache": True}


def _write_hf(path: str, kind: str, dtype=np.float64) -> None:
    """A LlamaForCausalLM directory of the fixture's model: HF's names, nn.Linear's (out, in)
    layout, no lm_head.weight when tied."""
    from safetensors.numpy import save_file

    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "x") as f:
        json.dump(_hf_config(kind), f, indent=2)
    tensors = {n: np.ascontiguousarray(p.T if _is_projection(n) else p, dtype=dtype)
               for n, p in _params(kind).items()}
    save_file(tensors, os.path.join(path, "model.safetensors"), metadata={"format": "pt"})


def _load(impl, path: str, dtype: str, label: str):
    """impl.Llama.from_pretrained(path, dtype=dtype); an error it raises is explained."""
    try:
        return impl.Llama.from_pretrained(path, dtype=dtype)
    except Exception as exc:  # noqa: BLE001 — explained below, unless it is the stub's own
        name = getattr(exc, "type_name", type(exc).__name__)
        if name == "NotImplementedError":
            raise
        message = str(getattr(exc, "message", exc))
        advice = ""
        if "transposed" in message:
            advice = (". HF's nn.Linear stores every projection (out, in); the model's layout is "
                      "(in, out): transpose them when loading. "
                      + expect.cause("the projections were not transposed"))
        expect.fail(f"{label} raised {name}: {message}{advice}")


@check("5.1")
def llama_from_pretrained(impl):
    """from_pretrained reads HF's files (transposing every projection); save_pretrained writes
    them; float32 is kept"""
    _forward_gate(impl)
    idx = get("llama.idx")
    with _tmpdir(impl) as root:
        for kind in MODELS:
            path = os.path.join(root, kind)
            _write_hf(path, kind)
            label = (f"5.1 Llama.from_pretrained(dir, dtype='float64') of a {kind}-head "
                     "LlamaForCausalLM directory")
            model = _load(impl, path, "float64", label)
            logits = expect.array(model.forward(idx), f"{label}: forward(idx)",
                                  shape=fx()[f"llama.{kind}.logits"].shape, dtype=np.float64)
            if not _same(logits, fx()[f"llama.{kind}.logits"]):
                loaded = model.params
                stored = _params(kind)
                square = [n for n in stored if _is_projection(n)
                          and stored[n].shape[0] == stored[n].shape[1]]
                if square and all(_same(loaded.get(n), stored[n].T) for n in square):
                    expect.fail(f"{label}: {square[0]} was loaded as stored, (out, in). "
                                "Transpose every nn.Linear weight to the model's (in, out). "
                                + expect.cause("the projections were not transposed"))
                expect.close(logits, fx()[f"llama.{kind}.logits"], f"{label}: forward(idx)",
                             hint="The loaded parameters should be the directory's, each "
                                  "projection transposed to (in, out).")
            model32 = _load(impl, path, "float32", label.replace("float64", "float32"))
            for name, value in model32.params.items():
                expect.array(value, f"5.1 Llama.from_pretrained(dir, dtype='float32'): "
                             f"params[{name!r}]", dtype=np.float32)
            # save_pretrained writes what LlamaForCausalLM writes: read it back here
            out = os.path.join(root, f"{kind}-saved")
            model.save_pretrained(out)
            from safetensors.numpy import load_file

            saved = load_file(os.path.join(out, "model.safetensors"))
            want = {n: (p.T if _is_projection(n) else p) for n, p in _params(kind).items()}
            if sorted(saved) != sorted(want):
                expect.fail(f"5.1 Llama.save_pretrained ({kind} head) wrote the tensors "
                            f"{sorted(saved)[:4]}...; expected HF's names {sorted(want)[:4]}... "
                            "(no lm_head.weight when the head is tied).")
            for name, value in want.items():
                expect.close(saved[name], value, f"5.1 Llama.save_pretrained ({kind} head): "
                             f"{name} in the file (HF's (out, in) layout)")
            with open(os.path.join(out, "config.json")) as f:
                config = json.load(f)
            for key, value in _hf_config(kind).items():
                if key in ("num_key_value_heads", "rms_norm_eps", "tie_word_embeddings",
                           "hidden_size", "model_type") and config.get(key) != value:
                    expect.fail(f"5.1 Llama.save_pretrained ({kind} head): config.json has "
                                f"{key} = {config.get(key)!r}, expected {value!r}.")


@check("5.1", weight=2)
def llama_kv_cache_decoding(impl):
    """decoding with a KVCache (n_kv_heads heads) gives the full forward's logits, RoPE
    positions offset by the cache length: one token per step, and a chunked prefill"""
    model = _forward_gate(impl)
    idx = get("llama.idx")
    B, T = idx.shape
    full = fx()["llama.tied.logits"]
    C, H = int(fx()["llama.config.hidden_size"]), int(fx()["llama.config.num_attention_heads"])
    H_kv = int(fx()["llama.config.num_key_value_heads"])
    for schedule, chunks in schedules(T).items():
        cache = impl.KVCache(N_LAYER, B, H_kv, T + 1, C // H, np.float64)
        start = 0
        for t_new in chunks:
            end = start + t_new
            label = (f"5.1 Llama.forward(idx[:, {start}:{end}], kv_cache) after {start} cached "
                     f"positions ({' then '.join(map(str, chunks))} tokens per forward)")
            logits = expect.array(model.forward(idx[:, start:end], kv_cache=cache),
                                  label, shape=(B, t_new, full.shape[-1]), dtype=np.float64)
            if cache.length != end:
                expect.fail(f"{label}: kv_cache.length is {cache.length}, expected {end} "
                            f"({start} cached + {t_new} new): call kv_cache.advance(T) once per "
                            "forward, after the last block.")
            if not _same(logits, full[:, start:end]):
                _known_bug(logits, {f"llama.decode.{schedule}.bug.{name}": bug
                                    for name, bug in DECODE_BUGS.items()}, label,
                           part=np.s_[:, start:end])
                expect.close(logits, full[:, start:end], label, hint=(
                    "The logits of the new positions must equal those of the full forward "
                    "(llama.forward(idx) without a cache) at these positions."))
            start = end
        buffers = cache.k
        want = fx()["llama.decode.k"]
        if not _same(np.asarray(buffers)[:, :, :, :T], want):
            expect.fail("5.1 decoding: kv_cache.k should hold every block's ROTATED keys of "
                        "the T positions (RoPE is applied before the keys are cached, so a "
                        "cached key never has to be turned again).")


@check("5.1")
def llama_float32(impl):
    """a float32 model: float32 logits, loss and gradients, close to float64's"""
    _forward_gate(impl)
    model = impl.Llama(_config(impl, "untied", dtype="float32"), np.random.default_rng(0))
    if any(getattr(p, "dtype", None) != np.float32 for p in model.params.values()):
        expect.fail("5.1 Llama(LlamaConfig(dtype='float32')).params should all be float32.")
    model.params = _params("untied", np.float32)
    idx = get("llama.idx")
    label = "5.1 Llama.forward(idx) of a float32 model"
    logits = expect.array(model.forward(idx), label, shape=fx()["llama.untied.logits"].shape,
                          dtype=np.float32)
    expect.close(logits, fx()["llama.untied.logits"], label, rtol=1e-3, atol=1e-4)
    loss = model.loss(idx, get("llama.targets"))
    if np.asarray(loss).dtype != np.float32:
        expect.fail(f"5.1 Llama.loss of a float32 model returned a {np.asarray(loss).dtype} "
                    "loss; expected float32 (the parameters' dtype).")
    for name, grad in model.backward().items():
        expect.array(grad, f"5.1 Llama.backward() of a float32 model: d({name})",
                     dtype=np.float32)
    cache = model.new_kv_cache(idx.shape[0])
    step = expect.array(model.forward(idx[:, :3], kv_cache=cache),
                        "5.1 Llama.forward(idx, kv_cache) of a float32 model", dtype=np.float32)
    expect.close(step, fx()["llama.untied.logits"][:, :3], "5.1 float32 prefill with a cache",
                 rtol=1e-3, atol=1e-4)


@check("5.1")
def llama_raises(impl):
    """the documented errors: config, idx, positions beyond max_position_embeddings, backward"""
    model = _forward_gate(impl)  # the errors are given code: points only for a working model
    cfg = {name: fx()[f"llama.config.{name}"].item() for name in CONFIG_FIELDS}
    C, H = int(cfg["hidden_size"]), int(cfg["num_attention_heads"])
    expect.raises(impl.LlamaConfig, ValueError, f"5.1 LlamaConfig(hidden_size={C}, "
                  f"num_attention_heads={C + 1})", hidden_size=C, num_attention_heads=C + 1)
    expect.raises(impl.LlamaConfig, ValueError, f"5.1 LlamaConfig(num_attention_heads={H}, "
                  f"num_key_value_heads={H - 1})", hidden_size=C, num_attention_heads=H,
                  num_key_value_heads=H - 1)
    idx = get("llama.idx")
    bad = idx.copy()
    bad[0, 0] = int(cfg["vocab_size"])
    expect.raises(model.forward, ValueError, "5.1 Llama.forward with an id = vocab_size", bad)
    expect.raises(model.forward, TypeError, "5.1 Llama.forward with float idx",
                  idx.astype(np.float64))
    too_long = np.zeros((1, int(cfg["max_position_embeddings"]) + 1), dtype=np.int64)
    expect.raises(model.forward, ValueError, "5.1 Llama.forward with T > max_position_embeddings",
                  too_long)
    fresh = _model(impl, "tied")
    expect.raises(fresh.backward, RuntimeError, "5.1 Llama.backward() before any forward")
    fresh.forward(idx)
    expect.raises(fresh.backward, RuntimeError, "5.1 Llama.backward() after forward (no loss)")
    expect.raises(fresh.backward, ValueError, "5.1 Llama.backward(dlogits) of a wrong shape",
                  get("llama.dlogits")[:, :-1])
    expect.raises(fresh.loss, ValueError, "5.1 Llama.loss with targets of another shape", idx,
                  get("llama.targets")[:, :-1])
    expect.raises(fresh.loss, TypeError, "5.1 Llama.loss with float idx",
                  idx.astype(np.float64), get("llama.targets"))
    x, p, cos, sin, n_heads, n_kv, eps, mask = _block_inputs()
    expect.raises(impl.llama_block, ValueError,
                  f"5.1 llama_block with n_heads={n_heads}, n_kv_heads={n_heads - 1}",
                  x, p, cos, sin, n_heads, n_heads - 1, eps, mask)
    cache = impl.KVCache(N_LAYER, idx.shape[0], int(cfg["num_key_value_heads"]),
                         int(cfg["max_position_embeddings"]) + 4, C // H, np.float64)
    model.forward(idx, kv_cache=cache)
    rest = int(cfg["max_position_embeddings"]) - idx.shape[1] + 1
    expect.raises(model.forward, ValueError, f"5.1 Llama.forward of {rest} tokens after "
                  f"{idx.shape[1]} cached (beyond max_position_embeddings)",
                  np.zeros((idx.shape[0], rest), dtype=np.int64), kv_cache=cache)
