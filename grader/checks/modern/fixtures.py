"""The instructor-only recipe of Module 5's fixtures (`python -m grader.fixtures`).

Never shipped to students; `build_fixtures(impl, rng)` runs the reference through the sandbox
and returns every input with the reference's outputs, each key prefixed by the id of the
exercise that reads it (`exercise_of`).  Each exercise draws from its own stream, so a change
to one exercise's fixtures leaves the others' as they were.
"""

from __future__ import annotations

import numpy as np

from ... import expect, fixtures
from .ex5_1_llama import (
    BLOCK_BUGS,
    BLOCK_PARAMS,
    CONFIG_FIELDS,
    DECODE_BUGS,
    GRAD_BUGS,
    MODEL_BUGS,
    MODELS,
    N_LAYER,
    WIDTHS,
    schedules,
)

EXERCISE_OF = {"llama": "5.1", "lora": "5.2", "moe": "5.3", "spec": "5.4", "grpo": "5.5"}


def exercise_of(name: str) -> str:
    """The exercise whose checks read fixture `name`: "llama.logits" -> "5.1"."""
    return EXERCISE_OF[name.split(".")[0]]


FIXTURE_SEED = 20261206  # the committed fixtures; `make gradescope` draws its own


def build_fixtures(impl, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """5.1's Llama runs, 5.2's LoRA cases, 5.3's routing cases: one stream each."""
    llama_rng, lora_rng, moe_rng, spec_rng, grpo_rng = rng.spawn(5)
    arrays = {**_llama_fixtures(impl, llama_rng), **_lora_fixtures(impl, lora_rng),
              **_moe_fixtures(impl, moe_rng), **_speculative_fixtures(impl, spec_rng),
              **_grpo_fixtures(impl, grpo_rng)}
    return fixtures.with_ids(arrays, exercise_of)


# --- 5.1 The Llama block and model -----------------------------------------------------------


def _llama_fixtures(impl, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Keys "llama.*": 5.1's block case (with the outputs and gradients of known wrong
    blocks), a tiny Llama tied and untied (logits, loss, gradients, logits of known wrong
    models) and its cached decoding (logits of known wrong decoders)."""
    return {**_llama_block_fixtures(impl, rng), **_llama_model_fixtures(impl, rng)}


def _llama_sizes(rng: np.random.Generator) -> dict:
    """C, H, H_kv from `WIDTHS`, and an MLP width F unlike them (a swapped axis fails on
    shape)."""
    C, H, H_kv = WIDTHS[int(rng.integers(len(WIDTHS)))]
    F = int(rng.choice([f for f in range(20, 41) if f not in (C, 2 * C, C // H)]))
    return {"C": C, "H": H, "H_kv": H_kv, "F": F}


def _llama_weights(rng: np.random.Generator, shapes: dict) -> dict[str, np.ndarray]:
    """Weights large enough for layout bugs to show: matrices ~ N(0, 1/fan_in), the embedding
    ~ N(0, 1), RMSNorm weights ~ 1 + 0.3 N(0, 1)."""
    params = {}
    for name, shape in shapes.items():
        if name.endswith("norm.weight"):
            params[name] = 1.0 + 0.3 * rng.standard_normal(shape)
        elif name == "model.embed_tokens.weight":
            params[name] = rng.standard_normal(shape)
        else:
            params[name] = rng.standard_normal(shape) / np.sqrt(shape[0])
    return params


def _rms(impl, x, gamma, eps, bugs):
    if "eps_outside_sqrt" in bugs:  # a hand-written RMSNorm with eps outside the sqrt
        return x / (np.sqrt((x * x).mean(axis=-1, keepdims=True)) + eps) * gamma
    return impl.rms_norm(x, gamma, 1e-6 if "eps_default" in bugs else eps)[0]


def _llama_block_variant(impl, x, p, cos, sin, H, H_kv, eps, mask, bugs=(), past=None):
    """(out, parts) of llama_block composed from the reference's parts, with the known bugs of
    `BLOCK_BUGS` / `MODEL_BUGS` / `DECODE_BUGS` switched on by name. `past`: the [k, v] of
    the cached positions, (B, H_kv, L, D) each, extended in place (a concatenating cache)."""
    B, T, C = x.shape
    n_rep = H // H_kv
    a = _rms(impl, x, p["input_layernorm.weight"], eps, bugs)
    q = impl.split_heads(a @ p["self_attn.q_proj.weight"], H)
    k = impl.split_heads(a @ p["self_attn.k_proj.weight"], H_kv)
    v = impl.split_heads(a @ p["self_attn.v_proj.weight"], H_kv)
    if "rope_interleaved" in bugs:
        q, k = impl.apply_rope_interleaved(q, cos, sin), impl.apply_rope_interleaved(k, cos, sin)
    elif "no_rope" not in bugs:
        q, k = impl.apply_rope(q, cos, sin), impl.apply_rope(k, cos, sin)
    if past is not None:
        past[0], past[1] = (np.concatenate([past[0], k], axis=2),
                            np.concatenate([past[1], v], axis=2))
        if "no_past" in bugs:  # the new keys alone, causal among themselves
            mask = None if mask is None else mask[:, -T:]
        else:
            k, v = past
    if "kv_tiled" in bugs:
        k_rep, v_rep = np.tile(k, (1, n_rep, 1, 1)), np.tile(v, (1, n_rep, 1, 1))
    else:
        k_rep, v_rep = impl.repeat_kv(k, n_rep), impl.repeat_kv(v, n_rep)
    if "mask_ignored" in bugs or "no_causal" in bugs:
        mask = None
    heads, attn = impl.scaled_dot_product_attention(q, k_rep, v_rep, mask)
    y = impl.merge_heads(heads) @ p["self_attn.o_proj.weight"]
    if "post_norm" in bugs:
        h = _rms(impl, x + y, p["input_layernorm.weight"], eps, bugs)
        b = h
    else:
        h = (a if "residual_from_norm" in bugs else x) + y
        b = _rms(impl, h, p["post_attention_layernorm.weight"], eps, bugs)
    gate, up = p["mlp.gate_proj.weight"], p["mlp.up_proj.weight"]
    if "gate_up_swapped" in bugs:
        gate, up = up, gate
    f = impl.swiglu(b, {"W_gate": gate, "W_up": up, "W_down": p["mlp.down_proj.weight"]})[0]
    if "post_norm" in bugs:
        return _rms(impl, h + f, p["post_attention_layernorm.weight"], eps, bugs), None
    out = (b if "residual_from_norm" in bugs else h) + f
    return out, {"q": q, "k": k, "v": v, "attn": attn, "a": a, "h": h}


def _llama_block_grad_variant(impl, dout, x, p, cos, sin, H, H_kv, eps, mask, bug):
    """The q/k/v projections' gradients of llama_block under a known backward bug
    (`GRAD_BUGS`): everything from dout to the attention's input gradients is right."""
    out, parts = _llama_block_variant(impl, x, p, cos, sin, H, H_kv, eps, mask)
    b, mlp = impl.rms_norm(parts["h"], p["post_attention_layernorm.weight"], eps)
    _, mlp_cache = impl.swiglu(b, {"W_gate": p["mlp.gate_proj.weight"],
                                   "W_up": p["mlp.up_proj.weight"],
                                   "W_down": p["mlp.down_proj.weight"]})
    db = impl.swiglu_backward(dout, mlp_cache)[0]
    dh = dout + impl.rms_norm_backward(db, mlp)[0]
    dmerged = dh @ p["self_attn.o_proj.weight"].T
    dq, dk, dv = impl.scaled_dot_product_attention_backward(impl.split_heads(dmerged, H),
                                                            parts["attn"])
    B, _, T, D = dk.shape
    n_rep = H // H_kv
    grouped = {"group_mean": lambda g: g.reshape(B, H_kv, n_rep, T, D).mean(axis=2),
               "group_first": lambda g: g.reshape(B, H_kv, n_rep, T, D)[:, :, 0],
               "group_tiled": lambda g: g.reshape(B, n_rep, H_kv, T, D).sum(axis=1)}
    dk, dv = ((grouped[bug](g) if bug in grouped
               else g.reshape(B, H_kv, n_rep, T, D).sum(axis=2)) for g in (dk, dv))
    rope = impl.apply_rope if bug == "rope_forward" else impl.apply_rope_backward
    dq, dk = rope(dq, cos, sin), rope(dk, cos, sin)
    a = parts["a"]
    rows = a.reshape(-1, a.shape[-1])
    return {f"self_attn.{name}_proj.weight": rows.T @ impl.merge_heads(g).reshape(len(rows), -1)
            for name, g in (("q", dq), ("k", dk), ("v", dv))}


def _llama_block_fixtures(impl, rng: np.random.Generator) -> dict[str, np.ndarray]:
    s = _llama_sizes(rng)
    C, H, H_kv, F = s["C"], s["H"], s["H_kv"], s["F"]
    B, T, D = 2, int(rng.integers(3, 6)), C // H
    shapes = {"self_attn.q_proj.weight": (C, H * D), "self_attn.k_proj.weight": (C, H_kv * D),
              "self_attn.v_proj.weight": (C, H_kv * D), "self_attn.o_proj.weight": (H * D, C),
              "mlp.gate_proj.weight": (C, F), "mlp.up_proj.weight": (C, F),
              "mlp.down_proj.weight": (F, C), "input_layernorm.weight": (C,),
              "post_attention_layernorm.weight": (C,)}
    p = _llama_weights(rng, shapes)
    x = rng.standard_normal((B, T, C))
    start = int(rng.integers(2, 7))  # positions after `start` cached ones: not from 0
    theta = float(np.exp(rng.uniform(np.log(20.0), np.log(200.0))))
    cos, sin = impl.rope_cos_sin(np.arange(start, start + T), D, theta)
    eps = float(rng.uniform(0.05, 0.3))  # large: an eps slip shows
    mask = np.tril(np.ones((T, T), dtype=bool))
    out, _ = impl.llama_block(x, p, cos, sin, H, H_kv, eps, mask)
    f = {"llama.block.x": x, "llama.block.cos": cos, "llama.block.sin": sin,
         "llama.block.n_heads": np.array(H), "llama.block.n_kv_heads": np.array(H_kv),
         "llama.block.eps": np.array(eps), "llama.block.out": out,
         "llama.block.dout": rng.standard_normal(out.shape),
         "llama.block.fd_seed": np.array(int(rng.integers(2**31)))}
    f.update({f"llama.block.params.{name}": value for name, value in p.items()})
    args = (x, p, cos, sin, H, H_kv, eps, mask)
    assert np.allclose(_llama_block_variant(impl, *args)[0], out, rtol=1e-12, atol=1e-12)
    for bug in BLOCK_BUGS:
        wrong = _llama_block_variant(impl, *args, bugs=(bug,))[0]
        assert not np.allclose(wrong, out, **expect.F64), bug  # every bug shows
        f[f"llama.block.bug.{bug}"] = wrong
    right = _llama_block_grad_variant(impl, f["llama.block.dout"], *args, bug=None)
    _, cache = impl.llama_block(*args)
    grads = impl.llama_block_backward(f["llama.block.dout"], cache)[1]
    for name, value in right.items():
        assert np.allclose(value, grads[name], rtol=1e-10, atol=1e-12), name
    for bug in GRAD_BUGS:
        wrong = _llama_block_grad_variant(impl, f["llama.block.dout"], *args, bug=bug)
        for name, value in wrong.items():
            if not np.allclose(value, grads[name], **expect.GRAD):  # only where it shows
                f[f"llama.block.gradbug.{bug}.{name}"] = value
    return f


def _llama_variant(impl, params, cfg, idx, bugs=(), chunks=None):
    """Logits of the Llama `params` (config dict `cfg`) composed from the reference's parts,
    with known bugs switched on; `chunks`: decode chunk by chunk through a concatenating
    cache (`DECODE_BUGS` apply there)."""
    B, T = idx.shape
    H, H_kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D, eps = cfg["hidden_size"] // H, cfg["rms_norm_eps"]
    theta = 10000.0 if "theta_default" in bugs else cfg["rope_theta"]
    head = (params["lm_head.weight"] if "lm_head.weight" in params
            else params["model.embed_tokens.weight"].T)
    past = [[np.zeros((B, H_kv, 0, D))] * 2 for _ in range(cfg["num_hidden_layers"])]
    out, start = [], 0
    for t_new in chunks or (T,):
        end = start + t_new
        x = params["model.embed_tokens.weight"][idx[:, start:end]]
        positions = np.arange(t_new) if "restart_positions" in bugs else np.arange(start, end)
        cos, sin = impl.rope_cos_sin(positions, D, theta)
        mask = (np.tril(np.ones((t_new, end), dtype=bool)) if "mask_top_left" in bugs
                else impl.causal_mask(t_new, end))
        for i in range(cfg["num_hidden_layers"]):
            p = {name: params[f"model.layers.{i}.{name}"] for name in BLOCK_PARAMS}
            x = _llama_block_variant(impl, x, p, cos, sin, H, H_kv, eps, mask, bugs,
                                     past=past[i] if chunks else None)[0]
        if "no_final_norm" not in bugs:
            x = _rms(impl, x, params["model.norm.weight"], eps, bugs)
        out.append(x @ head)
        start = end
    return np.concatenate(out, axis=1)


def _llama_model_fixtures(impl, rng: np.random.Generator) -> dict[str, np.ndarray]:
    s = _llama_sizes(rng)
    while True:
        V, max_pos = int(rng.integers(30, 46)), int(rng.integers(12, 21))
        B, T = int(rng.integers(2, 4)), int(rng.integers(6, 10))
        if len({V, max_pos, s["C"], s["F"], T}) == 5 and T not in (B, s["H"], s["H_kv"]):
            break
    cfg = {"vocab_size": V, "hidden_size": s["C"], "intermediate_size": s["F"],
           "num_hidden_layers": N_LAYER, "num_attention_heads": s["H"],
           "num_key_value_heads": s["H_kv"], "max_position_embeddings": max_pos,
           "rms_norm_eps": float(rng.uniform(0.05, 0.3)),
           "rope_theta": float(np.exp(rng.uniform(np.log(20.0), np.log(200.0))))}
    f = {f"llama.config.{name}": np.array(cfg[name]) for name in CONFIG_FIELDS}
    idx = rng.integers(0, V, size=(B, T))
    targets = rng.integers(0, V, size=(B, T))
    targets.flat[rng.choice(B * T, size=2, replace=False)] = -100
    dlogits = 0.1 * rng.standard_normal((B, T, V))
    f.update({"llama.idx": idx, "llama.targets": targets, "llama.dlogits": dlogits,
              "llama.fd_seed": np.array(int(rng.integers(2**31)))})
    for kind in MODELS:
        config = impl.LlamaConfig(**cfg, tie_word_embeddings=kind == "tied", dtype="float64")
        model = impl.Llama(config, np.random.default_rng(0))
        params = _llama_weights(rng, {n: v.shape for n, v in model.params.items()})
        model.params = params
        f[f"llama.{kind}.names"] = np.array(list(params))
        f.update({f"llama.{kind}.params.{n}": v for n, v in params.items()})
        logits = model.forward(idx)
        f[f"llama.{kind}.logits"] = logits
        assert np.allclose(_llama_variant(impl, params, cfg, idx), logits, rtol=1e-10,
                           atol=1e-12)
        for bug in MODEL_BUGS:
            wrong = _llama_variant(impl, params, cfg, idx, (bug,))
            assert not np.allclose(wrong, logits, **expect.F64), bug
            f[f"llama.{kind}.bug.{bug}"] = wrong
        f[f"llama.{kind}.loss"] = np.array(float(model.loss(idx, targets)))
        grads = model.backward()
        f.update({f"llama.{kind}.grads.{n}": g for n, g in grads.items()})
        f.update({f"llama.{kind}.dlogits.grads.{n}": g
                  for n, g in model.backward(dlogits).items()})
        if kind == "tied":  # the embedding's two gradients, each alone
            hidden = _llama_hidden(impl, params, cfg, idx).reshape(-1, s["C"])
            ce = impl.cross_entropy(logits, targets)[1]
            for expected, dl in (("grads", impl.cross_entropy_backward(1.0, ce)),
                                 ("dlogits.grads", dlogits)):
                head = dl.reshape(-1, V).T @ hidden  # (V, C): the head's part
                total = f[f"llama.tied.{expected}.model.embed_tokens.weight"]
                f[f"llama.tied.{expected}.bug.head_only"] = head
                f[f"llama.tied.{expected}.bug.lookup_only"] = total - head
            cache = impl.KVCache(N_LAYER, B, s["H_kv"], T + 1, s["C"] // s["H"], np.float64)
            model.forward(idx, kv_cache=cache)
            f["llama.decode.k"] = np.asarray(cache.k)[:, :, :, :T]
            for schedule, chunks in schedules(T).items():
                assert np.allclose(_llama_variant(impl, params, cfg, idx, chunks=chunks),
                                   logits, rtol=1e-10, atol=1e-12)
                for bug in DECODE_BUGS:
                    wrong = _llama_variant(impl, params, cfg, idx, (bug,), chunks)
                    if not np.allclose(wrong, logits, **expect.F64):  # only bugs that show
                        f[f"llama.decode.{schedule}.bug.{bug}"] = wrong
    return f


def _llama_hidden(impl, params, cfg, idx):
    """The head's input (the final RMSNorm's output) of the model `params`."""
    head = {"lm_head.weight": np.eye(cfg["hidden_size"])}
    body = {n: v for n, v in params.items() if n != "lm_head.weight"}
    return _llama_variant(impl, {**body, **head}, cfg, idx)


# --- 5.2 LoRA --------------------------------------------------------------------------------


def _lora_fixtures(impl, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Keys "lora.*": one adapted layer's inputs, its sizes drawn too (the checks compute the
    expected values from the definition, in float64).  Distinct sizes (B=2, T=3, in 7-9,
    out 5-6, r 2-4), so that a transposed A or B fails on shape; B is random (not the zero of
    an init), so the update shows; the scale s = alpha / r lies in (r + 0.5, r + 2.5), so
    that s, alpha = s * r, s**2, alpha / sqrt(r) and 1 all differ (s**2 = alpha iff s = r)."""
    n_in, n_out, r = int(rng.integers(7, 10)), int(rng.integers(5, 7)), int(rng.integers(2, 5))
    f = {"lora.x": rng.standard_normal((2, 3, n_in)),
         "lora.W": rng.standard_normal((n_in, n_out)),
         "lora.b": rng.standard_normal(n_out),
         "lora.A": rng.standard_normal((n_in, r)),
         "lora.B": rng.standard_normal((r, n_out)),
         "lora.alpha": np.array(round(r * float(rng.uniform(r + 0.5, r + 2.5)), 2)),
         "lora.dout": rng.standard_normal((2, 3, n_out))}
    return f


# --- 5.3 Mixture of experts ------------------------------------------------------------------


def _moe_fixtures(impl, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Keys "moe.*": none. 5.3's checks compute every expected value from their own float64
    formulas, hand-worked cases and finite differences (see ex5_3_moe.py)."""
    return {}


# --- 5.4 Speculative decoding ----------------------------------------------------------------


def _speculative_fixtures(impl, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Keys "spec.*": none. 5.4's checks replay the documented algorithm in float64 on the
    student's own models, with twin generators (see ex5_4_speculative.py)."""
    return {}


# --- 5.5 GRPO --------------------------------------------------------------------------------


def _grpo_fixtures(impl, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Keys "grpo.*": none. 5.5's checks compute every expected value from the definitions
    (hand-computed cases and finite differences of the grader's own formulas)."""
    return {}
