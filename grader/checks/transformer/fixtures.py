"""The instructor-only recipe of Module 3's fixtures (`python -m grader.fixtures`).

Never shipped to students; `build_fixtures(impl, rng)` runs the reference through the sandbox
and returns every input with the reference's outputs, each key prefixed by the id of the
exercise that reads it (`exercise_of`).
"""

from __future__ import annotations

import numpy as np

from ... import fixtures
from .common import DECODER_KEYS, ENCODER_KEYS, PLACEMENTS, SUBLAYERS
from .ex3_3_activations import ACTIVATIONS, _act_key
from .ex3_4_feed_forward import SWIGLU_KEYS
from .ex3_9_transformer import SEQ2SEQ_CASES, _s2s_directional
from .ex3_11_gpt import GPT_CONFIG, GPT_DLOGITS_GRADS, GPT_FORWARD_BUGS, GPT_SIZES

EXERCISE_OF = {"linear": "3.1", "ln": "3.2", "rms": "3.2", "act": "3.3", "ffn": "3.4",
               "swiglu": "3.4", "dropout": "3.5", "enc": "3.6", "dec": "3.7", "ce": "3.8",
               "s2s": "3.9", "adamw": "3.10", "clip": "3.10", "sched": "3.10", "gpt": "3.11"}


def exercise_of(name: str) -> str:
    """The exercise whose checks read fixture `name`: "ln.x" -> "3.2"."""
    return EXERCISE_OF[name.split(".")[0]]


FIXTURE_SEED = 20261128  # the committed fixtures; `make gradescope` draws its own


def _sizes(rng: np.random.Generator, n: int, low: int, high: int) -> list[int]:
    """`n` distinct sizes in low .. high - 1 (distinct: a transposed axis fails on shape)."""
    return [int(v) for v in rng.choice(np.arange(low, high), size=n, replace=False)]


def _seed(rng: np.random.Generator) -> int:
    """The seed of a generator of its own (a dropout's, a model init's), drawn from `rng`."""
    return int(rng.integers(2**31))


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _lengths(rng: np.random.Generator, batch: int, length: int) -> np.ndarray:
    """Sequence lengths in 2 .. `length` (`length` >= 3), at least one row padded (shorter
    than `length`); never 1, where attention to a single key ignores its queries."""
    lengths = rng.integers(2, length + 1, size=batch)
    lengths[rng.integers(batch)] = rng.integers(2, length)
    return lengths


def _ignore(rng: np.random.Generator, targets: np.ndarray, most: int) -> np.ndarray:
    """A copy of `targets` with 1 .. `most` random positions ignored (-100)."""
    out = targets.copy()
    count = int(rng.integers(1, max(1, most) + 1))
    np.put(out, rng.choice(out.size, size=count, replace=False), -100)
    return out


def _dropout_seed(rng: np.random.Generator, p: float, shape: tuple, n_masks: int) -> int:
    """A seed whose first `n_masks` keep-masks `random(shape) >= p` each keep and drop units
    and differ from one another, so that every dropout bug changes the output."""
    while True:
        seed = _seed(rng)
        draws = np.random.default_rng(seed)
        masks = [draws.random(shape) >= p for _ in range(n_masks)]
        if all(m.any() and not m.all() for m in masks) and all(
                not np.array_equal(a, b) for i, a in enumerate(masks) for b in masks[:i]):
            return seed


LAYER_WIDTHS = ((8, 2), (8, 4), (9, 3), (10, 2), (12, 2), (12, 3), (12, 4))  # (C, heads)


def _layer_sizes(rng: np.random.Generator) -> tuple[int, ...]:
    """(B, C, heads, F, encoder length, decoder length T, memory length S) of 3.6 / 3.7: the
    lengths differ from every other size, and S is not even a digit of one, so that a shape
    error naming S points at the cross-attention (`_explain_shape_error`)."""
    while True:
        C, heads = LAYER_WIDTHS[int(rng.integers(len(LAYER_WIDTHS)))]
        B, F = int(rng.integers(2, 4)), int(rng.integers(10, 19))
        T_enc, T, S = int(rng.integers(3, 7)), int(rng.integers(3, 7)), int(rng.integers(5, 9))
        others = (B, C, F, heads, C // heads)
        if (F != C and T_enc not in others and T not in others and T != S
                and not any(str(S) in str(v) for v in (*others, T, T_enc))):
            return B, C, heads, F, T_enc, T, S


GPT_WIDTHS = ((16, 2), (16, 4), (18, 3), (20, 2), (24, 2), (24, 3), (24, 4))  # (C, heads)


def _gpt_sizes(rng: np.random.Generator) -> tuple[dict, tuple[int, int]]:
    """The GPTConfig fields of 3.11 and the (B, T) of its batch, distinct sizes."""
    while True:
        C, heads = GPT_WIDTHS[int(rng.integers(len(GPT_WIDTHS)))]
        V, block = int(rng.integers(30, 46)), int(rng.integers(12, 21))
        B, T = int(rng.integers(2, 4)), int(rng.integers(5, 10))
        if len({V, block, C, 4 * C, T}) == 5 and T not in (B, heads, C // heads):
            return ({"vocab_size": V, "block_size": block, "n_head": heads, "n_embd": C,
                     **GPT_CONFIG}, (B, T))


def build_fixtures(impl, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return fixtures.with_ids(_build(impl, rng), exercise_of)


def _build(impl, rng: np.random.Generator) -> dict[str, np.ndarray]:
    f: dict[str, np.ndarray] = {}
    # Stage A: batch, time, width, hidden width, linear outputs and classes, all distinct.
    B, T, C, F, O, K = _sizes(rng, 6, 2, 10)

    x, W, b = rng.standard_normal((B, T, C)), rng.standard_normal((C, O)), \
        rng.standard_normal(O)
    out, cache = impl.linear(x, W, b)
    dout = rng.standard_normal(out.shape)
    dx, dW, db = impl.linear_backward(dout, cache)
    f.update({"linear.x": x, "linear.W": W, "linear.b": b, "linear.out": out,
              "linear.dout": dout, "linear.dx": dx, "linear.dW": dW, "linear.db": db})

    # Small variance and a large eps, so eps placement and n vs n-1 change the output.
    x = rng.standard_normal((B, T, C)) * rng.uniform(0.07, 0.15) + rng.uniform(-2.0, 2.0)
    gamma, beta = rng.standard_normal(C), rng.standard_normal(C)
    eps = _log_uniform(rng, 5e-3, 2e-2)
    out, cache = impl.layer_norm(x, gamma, beta, eps=eps)
    dout = rng.standard_normal(x.shape)
    dx, dgamma, dbeta = impl.layer_norm_backward(dout, cache)
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    f.update({"ln.x": x, "ln.gamma": gamma, "ln.beta": beta, "ln.eps": np.array(eps),
              "ln.out": out, "ln.dout": dout, "ln.dx": dx, "ln.dgamma": dgamma,
              "ln.dbeta": dbeta,
              "ln.bug.eps_outside": (x - mu) / (np.sqrt(var) + eps) * gamma + beta,
              "ln.bug.unbiased": (x - mu) / np.sqrt(var * C / (C - 1) + eps) * gamma + beta})
    # Small inputs, so that the default eps = 1e-6 and its place matter.
    x = rng.standard_normal((B, T, C)) * _log_uniform(rng, 5e-3, 2e-2)
    gamma = rng.standard_normal(C)
    out, cache = impl.rms_norm(x, gamma)
    dout = rng.standard_normal(x.shape)
    dx, dgamma = impl.rms_norm_backward(dout, cache)
    ms = np.mean(x * x, -1, keepdims=True)
    f.update({"rms.x": x, "rms.gamma": gamma, "rms.out": out, "rms.dout": dout, "rms.dx": dx,
              "rms.dgamma": dgamma,
              "rms.bug.eps_outside": x / (np.sqrt(ms) + 1e-6) * gamma})

    # Values over [-6, 6] with the special points 0 (ReLU's kink: its derivative there is 0)
    # and +-tiny, in a random order; `far`: |x| >= 100, where exp(|x|) overflows float32.
    rows, cols = int(rng.integers(2, 4)), int(rng.integers(9, 16))
    tiny = _log_uniform(rng, 1e-4, 1e-2)
    x = np.concatenate([[0.0, tiny, -tiny], rng.uniform(-6.0, 6.0, rows * cols - 3)])
    x = rng.permutation(x).reshape(rows, cols)
    dout = rng.standard_normal(x.shape)
    f["act.x"], f["act.dout"] = x, dout
    f["act.far"] = rng.uniform(100.0, 1000.0, 4) * rng.permutation([-1.0, -1.0, 1.0, 1.0])
    for name, kwargs in ACTIVATIONS:
        out, cache = getattr(impl, name)(x, **kwargs)
        key = _act_key(name, kwargs)
        f[key + ".out"], f[key + ".dx"] = out, getattr(impl, f"{name}_backward")(dout, cache)

    x = rng.standard_normal((B, T, C))
    dout = rng.standard_normal(x.shape)
    ffn = {"W_1": rng.standard_normal((C, F)) * 0.5, "b_1": rng.standard_normal(F) * 0.5,
           "W_2": rng.standard_normal((F, C)) * 0.5, "b_2": rng.standard_normal(C) * 0.5}
    f.update({"ffn.x": x, "ffn.dout": dout})
    f.update({f"ffn.params.{k}": v for k, v in ffn.items()})
    for activation in ("gelu", "relu"):
        out, cache = impl.feed_forward(x, ffn, activation=activation)
        f[f"ffn.{activation}.out"] = out
        if activation == "gelu":
            dx, dparams = impl.feed_forward_backward(dout, cache)
            f["ffn.dx"] = dx
            f.update({f"ffn.grads.{k}": v for k, v in dparams.items()})
    sw = {k: rng.standard_normal((C, F) if k != "W_down" else (F, C)) * 0.5
          for k in SWIGLU_KEYS}
    out, cache = impl.swiglu(x, sw)
    dx, dparams = impl.swiglu_backward(dout, cache)
    up_silu, _ = impl.silu(x @ sw["W_up"])
    f.update({f"swiglu.params.{k}": v for k, v in sw.items()})
    f.update({"swiglu.out": out, "swiglu.dx": dx,
              "swiglu.bug.silu_on_up": ((x @ sw["W_gate"]) * up_silu) @ sw["W_down"]})
    f.update({f"swiglu.grads.{k}": v for k, v in dparams.items()})

    x, p = rng.standard_normal((B, T, C)), float(rng.uniform(0.2, 0.4))
    seed = _dropout_seed(rng, p, x.shape, 1)
    f["dropout.eval_seed"] = np.array(_seed(rng))
    out, cache = impl.dropout(x, p, np.random.default_rng(seed))
    dout = rng.standard_normal(x.shape)
    keep = np.random.default_rng(seed).random(x.shape) >= p
    f.update({"dropout.x": x, "dropout.p": np.array(p), "dropout.seed": np.array(seed),
              "dropout.out": out, "dropout.dout": dout,
              "dropout.dx": impl.dropout_backward(dout, cache),
              "dropout.bug.no_rescale": x * keep})

    logits = rng.standard_normal((B, T, K)) * 2
    plain = rng.integers(0, K, size=(B, T))
    ignored = _ignore(rng, plain, B * T // 2)
    eps_s = float(rng.uniform(0.05, 0.3))
    f["ce.logits"] = logits
    for name, targets, smoothing in (("plain", plain, 0.0), ("ignored", ignored, 0.0),
                                     ("smoothed", ignored, eps_s)):
        loss, cache = impl.cross_entropy(logits, targets, label_smoothing=smoothing)
        f[f"ce.{name}.targets"] = targets
        f[f"ce.{name}.loss"] = np.asarray(loss, dtype=np.float64)
        f[f"ce.{name}.dlogits"] = impl.cross_entropy_backward(1.0, cache)
        if smoothing:
            f[f"ce.{name}.smoothing"] = np.array(smoothing)
    logp = logits - logits.max(-1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
    valid = ignored != -100
    nll = -np.take_along_axis(logp, np.where(valid, ignored, 0)[..., None], -1)[..., 0]
    f["ce.ignored.bug.over_all"] = np.array((nll * valid).sum() / valid.size)
    others = (-logp.sum(-1) - nll) / (K - 1)
    f["ce.smoothed.bug.k_minus_1"] = np.array((((1 - eps_s) * nll + eps_s * others)
                                               * valid).sum() / valid.sum())
    big_scale = _log_uniform(rng, 5e3, 2e4)  # logits of size 1e4: exp overflows
    big_loss, _ = impl.cross_entropy(logits * big_scale, plain)
    f["ce.big.scale"] = np.array(big_scale)
    f["ce.big.loss"] = np.asarray(big_loss, dtype=np.float64)

    n_in, n_out = _sizes(rng, 2, 2, 7)
    params = {"w": rng.standard_normal((n_in, n_out)), "b": rng.standard_normal(n_out)}
    # lr^2 * wd stays well above the tolerance: decaying after the update is visible.
    lr, wd = _log_uniform(rng, 5e-3, 2e-2), float(rng.uniform(0.08, 0.2))
    lr3 = lr * float(rng.uniform(0.2, 0.5))
    beta1, beta2 = float(rng.uniform(0.8, 0.95)), float(rng.uniform(0.95, 0.999))
    eps_adam = _log_uniform(rng, 1e-9, 1e-7)
    f.update({"adamw.lr": np.array(lr), "adamw.wd": np.array(wd), "adamw.lr_step3": np.array(lr3),
              "adamw.betas": np.array([beta1, beta2]), "adamw.eps": np.array(eps_adam)})
    f.update({f"adamw.params.{k}": v.copy() for k, v in params.items()})
    opt = impl.AdamW(lr=lr, betas=(beta1, beta2), eps=eps_adam, weight_decay=wd)
    grads_seq = [{k: rng.standard_normal(v.shape) for k, v in params.items()} for _ in range(3)]
    for step, grads in enumerate(grads_seq):
        f.update({f"adamw.grads{step}.{k}": v for k, v in grads.items()})
        opt.step(params, grads, **({"lr": lr3} if step == 2 else {}))
        f.update({f"adamw.after{step}.{k}": v.copy() for k, v in params.items()})
    for bug in ("l2", "no_bias_correction", "decay_after"):
        p_bug = {k: f[f"adamw.params.{k}"].copy() for k in params}
        m = {k: np.zeros_like(v) for k, v in p_bug.items()}
        v2 = {k: np.zeros_like(v) for k, v in p_bug.items()}
        for step, grads in enumerate(grads_seq):
            t, step_lr = step + 1, (lr3 if step == 2 else lr)
            for k in p_bug:
                g = grads[k] + (wd * p_bug[k] if bug == "l2" else 0.0)
                if bug not in ("l2", "decay_after"):
                    p_bug[k] *= 1 - step_lr * wd
                m[k] = beta1 * m[k] + (1 - beta1) * g
                v2[k] = beta2 * v2[k] + (1 - beta2) * g * g
                mh, vh = (m[k], v2[k]) if bug == "no_bias_correction" else (
                    m[k] / (1 - beta1**t), v2[k] / (1 - beta2**t))
                p_bug[k] -= step_lr * mh / (np.sqrt(vh) + eps_adam)
                if bug == "decay_after":  # decays the already-updated parameter
                    p_bug[k] -= step_lr * wd * p_bug[k]
                f[f"adamw.bug.{bug}.after{step}.{k}"] = p_bug[k].copy()

    rows, cols, n = _sizes(rng, 3, 2, 7)
    grads = {"a": rng.standard_normal((rows, cols)), "c": rng.standard_normal(n)}
    norm = float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))
    max_norm = norm * float(rng.uniform(0.3, 0.8))  # below the total norm: clipped
    f.update({f"clip.grads.{k}": v.copy() for k, v in grads.items()})
    f["clip.max_norm"] = np.array(max_norm)
    f["clip.loose_max_norm"] = np.array(norm * float(rng.uniform(2.0, 20.0)))  # not clipped
    f["clip.total"] = np.array(float(impl.clip_grad_norm(grads, max_norm)))
    f.update({f"clip.clipped.{k}": v for k, v in grads.items()})

    # Schedules: step 1, the steps around the end of the warmup and of the decay, and
    # one step inside each phase.
    d_model, warmup = int(rng.integers(64, 1025)), int(rng.integers(20, 1001))
    total = warmup + int(rng.integers(2 * warmup, 8 * warmup))
    max_lr = _log_uniform(rng, 1e-4, 3e-3)
    min_lr = max_lr * float(rng.uniform(0.005, 0.2))
    steps = np.array([1, int(rng.integers(2, warmup - 1)), warmup - 1, warmup, warmup + 1,
                      int(rng.integers(warmup + 2, total - 1)), total - 1, total,
                      total + int(rng.integers(1, total))])
    f.update({"sched.steps": steps, "sched.d_model": np.array(d_model),
              "sched.warmup": np.array(warmup), "sched.total": np.array(total),
              "sched.max_lr": np.array(max_lr), "sched.min_lr": np.array(min_lr)})
    f["sched.noam"] = np.array([impl.noam_schedule(int(s), d_model, warmup) for s in steps])
    f["sched.cosine"] = np.array([impl.cosine_schedule(int(s), max_lr, min_lr, warmup, total)
                                  for s in steps])
    # 3.6 / 3.7: distinct sizes, weights std 0.3 so that every path moves the output.
    B, d, n_heads, d_ff, T_enc, T, S = _layer_sizes(rng)

    def layer_params(keys, d, d_ff):
        out = {}
        for key in keys:
            name = key.split(".")[-1]
            if name.startswith("W_") and name[2:] in ("q", "k", "v", "o"):
                shape = (d, d)
            elif name == "W_1":
                shape = (d, d_ff)
            elif name == "W_2":
                shape = (d_ff, d)
            elif name == "b_1":
                shape = (d_ff,)
            else:
                shape = (d,)
            value = rng.standard_normal(shape) * 0.3
            out[key] = value + 1.0 if name == "gamma" else value
        return out

    def layer_variant(layer, params, x, memory, masks, norm_first, bugs=(), keeps=None, p=0.0,
                      dout=None):
        """(out, dx, dmemory) of an encoder or decoder layer composed from the reference's
        sub-layers, with known bugs switched on by name (the fixture names of
        `_forward_bugs`, `_dropout_bugs` and `_backward_bugs`); `keeps`: each sub-layer's
        dropout keep-mask."""
        scale = 1.0 / (1.0 - p) if keeps else 1.0
        dmemory = []

        def part(prefix):
            return {k.split(".", 1)[1]: v for k, v in params.items()
                    if k.startswith(prefix + ".")}

        def drop(y, sub):
            return y * keeps[sub] * scale if keeps else y

        def run(sub, inp, ln):
            if sub == "ffn":
                return impl.feed_forward(inp, part("ffn"), activation="relu")
            kv = inp
            if sub == "cross_attn":
                kv = impl.layer_norm(memory, *ln)[0] if "memory_normed" in bugs else memory
            return impl.multi_head_attention(inp, kv, part(sub), n_heads, mask=masks[sub])

        def back(sub, cache, dy):
            if sub == "ffn":
                return impl.feed_forward_backward(dy, cache)[0]
            dq, dkv, _ = impl.multi_head_attention_backward(dy, cache)
            if sub == "cross_attn":
                dmemory.append(dkv)
                return dq
            return dq if "bwd_no_kv" in bugs else dq + dkv

        h, caches = x, []
        for sub, ln_name, _, _ in SUBLAYERS[layer]:
            ln = (params[ln_name + ".gamma"], params[ln_name + ".beta"])
            residual = not {"no_residual", f"no_residual_{sub}"} & set(bugs)
            if norm_first:
                u, ln_cache = impl.layer_norm(h, *ln)
                y, cache = run(sub, u, ln)
                base = u if "residual_from_ln" in bugs else h
                if "after_residual" in bugs:
                    h_new = drop(base + y, sub)
                else:
                    h_new = base + drop(y, sub) if residual else drop(y, sub)
            else:
                y, cache = run(sub, h, ln)
                if "after_residual" in bugs:
                    z = drop(h + y, sub)
                else:
                    z = h + drop(y, sub) if residual else drop(y, sub)
                h_new, ln_cache = impl.layer_norm(z, *ln)
            caches.append((sub, ln_cache, cache))
            h = h_new
        if dout is None:
            return h, None, None
        dh = dout
        for sub, ln_cache, cache in reversed(caches):
            skip_drop = not keeps or f"no_drop_bwd_{sub}" in bugs
            if norm_first:
                dy = dh if skip_drop else dh * keeps[sub] * scale
                d_branch = impl.layer_norm_backward(back(sub, cache, dy), ln_cache)[0]
                d_identity = dh
            else:
                d_identity = impl.layer_norm_backward(dh, ln_cache)[0]
                dy = d_identity if skip_drop else d_identity * keeps[sub] * scale
                d_branch = back(sub, cache, dy)
            dh = ((0 if f"bwd_no_identity_{sub}" in bugs else d_identity)
                  + (0 if f"bwd_no_branch_{sub}" in bugs else d_branch))
        return h, dh, (dmemory[0] if dmemory else None)

    def layer_fixtures(layer, placement, params, x, memory, masks, dout, reference, backward,
                       p, seed):
        """A layer's known wrong forwards and backwards for one placement, and its dropout
        case (rate `p`, generator seed `seed`); `reference(**kwargs)` runs the reference
        layer with these inputs."""
        from itertools import permutations

        norm_first, base = placement == "pre", f"{layer}.{placement}."
        subs = [s[0] for s in SUBLAYERS[layer]]
        out, dx, dmemory = layer_variant(layer, params, x, memory, masks, norm_first, dout=dout)
        assert np.allclose(out, f[base + "out"]) and np.allclose(dx, f[base + "dx"])
        bugs = ["no_residual", *(f"no_residual_{s}" for s in subs)]
        bugs += ["residual_from_ln"] + (["memory_normed"] if layer == "dec" else [])
        for bug in bugs if norm_first else bugs[:len(subs) + 1]:
            f[base + f"bug.{bug}"] = layer_variant(layer, params, x, memory, masks, norm_first,
                                                   (bug,))[0]
        f[base + "bug.ffn_gelu"] = reference(activation="gelu")[0]
        bugs = [f"bwd_no_{kind}_{s}" for kind in ("identity", "branch") for s in subs]
        for bug in [*bugs, "bwd_no_kv"]:
            _, dx, dmemory = layer_variant(layer, params, x, memory, masks, norm_first, (bug,),
                                           dout=dout)
            f[base + f"bug.{bug}.dx"] = dx
            if dmemory is not None and not np.allclose(dmemory, f[base + "dmemory"]):
                f[base + f"bug.{bug}.dmemory"] = dmemory
        # Training: dropout on each sub-layer's output, one draw each in forward order.
        f[f"{layer}.drop.p"], f[f"{layer}.drop.seed"] = np.array(p), np.array(seed)
        draws = np.random.default_rng(seed)
        keep = [draws.random(x.shape) >= p for _ in subs]
        out, cache = reference(dropout_p=p, rng=np.random.default_rng(seed), train=True)
        grads = backward(dout, cache)
        variant = layer_variant(layer, params, x, memory, masks, norm_first,
                                keeps=dict(zip(subs, keep)), p=p, dout=dout)
        assert all(np.allclose(a, b) for a, b in zip(variant, (out, *grads)))
        f.update({base + "drop.out": out, base + "drop.dx": grads[0]})
        if layer == "dec":
            f[base + "drop.dmemory"] = grads[1]
        for perm in permutations(range(len(subs))):
            if list(perm) != sorted(perm):
                keeps = dict(zip(subs, (keep[i] for i in perm)))
                f[base + "drop.bug.order_" + "".join(map(str, perm))] = layer_variant(
                    layer, params, x, memory, masks, norm_first, keeps=keeps, p=p)[0]
        f[base + "drop.bug.same_mask"] = layer_variant(
            layer, params, x, memory, masks, norm_first, keeps=dict.fromkeys(subs, keep[0]),
            p=p)[0]
        f[base + "drop.bug.after_residual"] = layer_variant(
            layer, params, x, memory, masks, norm_first, ("after_residual",),
            keeps=dict(zip(subs, keep)), p=p)[0]
        for s in subs:
            _, dx, dmemory = layer_variant(layer, params, x, memory, masks, norm_first,
                                           (f"no_drop_bwd_{s}",), keeps=dict(zip(subs, keep)),
                                           p=p, dout=dout)
            f[base + f"drop.bug.no_drop_bwd_{s}.dx"] = dx
            if dmemory is not None and not np.allclose(dmemory, f[base + "drop.dmemory"]):
                f[base + f"drop.bug.no_drop_bwd_{s}.dmemory"] = dmemory

    x = rng.standard_normal((B, T_enc, d))
    mask = impl.padding_mask(_lengths(rng, B, T_enc), T_enc)[:, None, None, :]
    enc = layer_params(ENCODER_KEYS, d, d_ff)
    dout = rng.standard_normal(x.shape)
    p = float(rng.uniform(0.15, 0.35))
    seed = _dropout_seed(rng, p, x.shape, len(SUBLAYERS["enc"]))
    f.update({"enc.x": x, "enc.mask": mask, "enc.dout": dout, "enc.n_heads": np.array(n_heads)})
    f.update({f"enc.params.{k}": v for k, v in enc.items()})
    for placement, norm_first in PLACEMENTS:
        out, cache = impl.encoder_layer(x, enc, n_heads, mask=mask, norm_first=norm_first)
        dx, dparams = impl.encoder_layer_backward(dout, cache)
        f.update({f"enc.{placement}.out": out, f"enc.{placement}.dx": dx})
        f.update({f"enc.{placement}.grads.{k}": v for k, v in dparams.items()})
        f[f"enc.{placement}.bug.no_mask"] = impl.encoder_layer(
            x, enc, n_heads, mask=None, norm_first=norm_first)[0]
        layer_fixtures("enc", placement, enc, x, None, {"attn": mask}, dout,
                       lambda nf=norm_first, **kw: impl.encoder_layer(
                           x, enc, n_heads, mask=mask, norm_first=nf, **kw),
                       lambda d, c: impl.encoder_layer_backward(d, c)[:1], p, seed)

    x, memory = rng.standard_normal((B, T, d)), rng.standard_normal((B, S, d))
    memory_mask = impl.padding_mask(_lengths(rng, B, S), S)[:, None, None, :]
    dec = layer_params(DECODER_KEYS, d, d_ff)
    dout = rng.standard_normal(x.shape)
    p = float(rng.uniform(0.15, 0.35))
    seed = _dropout_seed(rng, p, x.shape, len(SUBLAYERS["dec"]))
    f.update({"dec.x": x, "dec.memory": memory, "dec.memory_mask": memory_mask,
              "dec.dout": dout, "dec.n_heads": np.array(n_heads)})
    f.update({f"dec.params.{k}": v for k, v in dec.items()})
    self_mask = (impl.causal_mask(T)[None, None]
                 & impl.padding_mask(_lengths(rng, B, T), T)[:, None, None, :])  # (B, 1, T, T)
    f["dec.self_mask"] = self_mask
    f["dec.post.self_mask.out"] = impl.decoder_layer(x, memory, dec, n_heads,
                                                     self_mask=self_mask,
                                                     memory_mask=memory_mask)[0]
    for placement, norm_first in PLACEMENTS:
        out, cache = impl.decoder_layer(x, memory, dec, n_heads, memory_mask=memory_mask,
                                        norm_first=norm_first)
        dx, dmemory, dparams = impl.decoder_layer_backward(dout, cache)
        f.update({f"dec.{placement}.out": out, f"dec.{placement}.dx": dx,
                  f"dec.{placement}.dmemory": dmemory})
        f.update({f"dec.{placement}.grads.{k}": v for k, v in dparams.items()})
        f[f"dec.{placement}.bug.no_memory_mask"] = impl.decoder_layer(
            x, memory, dec, n_heads, norm_first=norm_first)[0]
        layer_fixtures("dec", placement, dec, x, memory,
                       {"self_attn": impl.causal_mask(T), "cross_attn": memory_mask}, dout,
                       lambda nf=norm_first, **kw: impl.decoder_layer(
                           x, memory, dec, n_heads, memory_mask=memory_mask, norm_first=nf,
                           **kw),
                       lambda d, c: impl.decoder_layer_backward(d, c)[:2], p, seed)
        no_causal, _ = impl.decoder_layer(x, memory, dec, n_heads,
                                          self_mask=np.ones((T, T), dtype=bool),
                                          memory_mask=memory_mask, norm_first=norm_first)
        kv_from_x, _ = impl.decoder_layer(x, x, dec, n_heads, norm_first=norm_first)
        f[f"dec.{placement}.bug.no_causal"] = no_causal
        f[f"dec.{placement}.bug.kv_from_x"] = kv_from_x
    f.update(_seq2seq_fixtures(impl, rng))
    # 3.11: a tiny GPT-2 with weights large enough for layout bugs to show.
    cfg, (B, T) = _gpt_sizes(rng)
    init_seed = _seed(rng)
    f.update({f"gpt.config.{k}": np.array(cfg[k]) for k in GPT_SIZES})
    f.update({"gpt.init_seed": np.array(init_seed), "gpt.fd_seed": np.array(_seed(rng))})
    model = impl.GPT(impl.GPTConfig(**cfg), np.random.default_rng(init_seed))
    names = list(model.params)
    params = {}
    for name, value in model.params.items():
        shape = value.shape
        if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name == "ln_f.weight":
            params[name] = 1.0 + 0.3 * rng.standard_normal(shape)
        elif name.endswith(".bias"):
            params[name] = 0.3 * rng.standard_normal(shape)
        elif name in ("wte.weight", "wpe.weight"):
            params[name] = rng.standard_normal(shape)
        else:
            params[name] = rng.standard_normal(shape) / np.sqrt(shape[0])
    model.params = params
    idx = rng.integers(0, cfg["vocab_size"], size=(B, T))
    targets = _ignore(rng, rng.integers(0, cfg["vocab_size"], size=(B, T)), 2)
    f["gpt.names"] = np.array(names)
    f.update({f"gpt.params.{k}": v for k, v in params.items()})
    f.update({"gpt.idx": idx, "gpt.targets": targets, "gpt.logits": model.forward(idx)})
    f["gpt.loss"] = np.array(float(model.loss(idx, targets)))

    def gpt_variant(bugs=()):
        """(logits, the head's input rows) of the GPT above composed from the reference's
        parts, with the known bugs of `GPT_FORWARD_BUGS` switched on by name."""
        (B, T), C, H = idx.shape, cfg["n_embd"], cfg["n_head"]
        x = impl.embedding(idx, params["wte.weight"])[0]
        if "no_wpe" not in bugs:
            x = x + impl.embedding(np.arange(T), params["wpe.weight"])[0]
        x = x.reshape(B * T, C)
        mask = None if "no_causal" in bugs else impl.causal_mask(T)
        order = next((bug[4:] for bug in bugs if bug.startswith("qkv_")), "qkv")
        for i in range(cfg["n_layer"]):
            p = {k[len(f"h.{i}."):]: v for k, v in params.items() if k.startswith(f"h.{i}.")}
            a = impl.layer_norm(x, p["ln_1.weight"], p["ln_1.bias"])[0]
            qkv = impl.linear(a, p["attn.c_attn.weight"], p["attn.c_attn.bias"])[0]
            qkv = qkv.reshape(B, T, 3 * C)
            part = {name: impl.split_heads(qkv[:, :, j * C:(j + 1) * C], H)
                    for j, name in enumerate(order)}
            q = part["q"] * np.sqrt(C // H) if "no_scale" in bugs else part["q"]
            y = impl.merge_heads(impl.scaled_dot_product_attention(q, part["k"], part["v"],
                                                                   mask)[0])
            y = y.reshape(B * T, C)
            if "no_attn_c_proj" not in bugs:
                w = p["attn.c_proj.weight"]
                y = impl.linear(y, w.T if "c_proj_transposed" in bugs else w,
                                p["attn.c_proj.bias"])[0]
            x = (a if "residual_from_ln" in bugs else x) + y
            a = impl.layer_norm(x, p["ln_2.weight"], p["ln_2.bias"])[0]
            mlp = {"W_1": p["mlp.c_fc.weight"], "b_1": p["mlp.c_fc.bias"],
                   "W_2": p["mlp.c_proj.weight"], "b_2": p["mlp.c_proj.bias"]}
            x = x + impl.feed_forward(a, mlp, activation="gelu_exact" if "gelu_exact" in bugs
                                      else "gelu")[0]
        if "no_ln_f" not in bugs:
            x = impl.layer_norm(x, params["ln_f.weight"], params["ln_f.bias"])[0]
        return (x @ params["wte.weight"].T).reshape(B, T, -1), x

    logits, hidden = gpt_variant()
    assert np.allclose(logits, f["gpt.logits"])
    f.update({f"gpt.bug.logits.{bug}": gpt_variant((bug,))[0] for bug in GPT_FORWARD_BUGS})
    for bug, bad_targets in (("ignored_as_token_0", np.where(targets == -100, 0, targets)),
                             ("shifted_again", targets[:, 1:])):
        f[f"gpt.bug.loss.{bug}"] = np.array(float(impl.cross_entropy(
            logits[:, :bad_targets.shape[1]], bad_targets)[0]))
    dlogits = impl.cross_entropy_backward(1.0, impl.cross_entropy(logits, targets)[1])
    head = dlogits.reshape(-1, cfg["vocab_size"]).T @ hidden  # the head's part of d(wte)
    f["gpt.bug.grads.wte_head_only"] = head
    f["gpt.bug.grads.wte_lookup_only"] = model.backward()["wte.weight"] - head
    f["gpt.dlogits"] = rng.standard_normal(logits.shape) * 0.1
    given = model.backward(f["gpt.dlogits"])  # right after the loss: dlogits wins
    f.update({f"gpt.dlogits.grads.{k}": given[k] for k in GPT_DLOGITS_GRADS})
    f.update({f"gpt.grads.{k}": v for k, v in model.backward().items()})
    return f


SEQ2SEQ_WIDTHS = ((8, 2), (12, 2), (12, 3), (12, 4), (16, 2), (16, 4))  # (C, heads)


def _seq2seq_sizes(rng: np.random.Generator) -> tuple[dict, tuple[int, int, int]]:
    """The drawn TransformerConfig sizes of each 3.9 model ({name: sizes}) and the batch,
    source and target lengths (B, S, T) they share; sizes distinct within a model."""
    while True:
        B, S, T = 3, int(rng.integers(5, 9)), int(rng.integers(4, 7))
        sizes = {}
        for name, case in SEQ2SEQ_CASES.items():
            C, heads = SEQ2SEQ_WIDTHS[int(rng.integers(len(SEQ2SEQ_WIDTHS)))]
            src_vocab = int(rng.integers(10, 17))
            tgt_vocab = src_vocab if case["share_embeddings"] else int(rng.integers(9, 16))
            sizes[name] = {"src_vocab_size": src_vocab, "tgt_vocab_size": tgt_vocab,
                           "d_model": C, "n_heads": heads, "d_ff": int(rng.integers(14, 25))}
        distinct = [[B, S, T, v["d_model"], v["d_ff"], *{v["src_vocab_size"],
                                                        v["tgt_vocab_size"]}]
                    for v in sizes.values()]
        if all(len(set(values)) == len(values) for values in distinct):
            return sizes, (B, S, T)


def _seq2seq_draw(rng: np.random.Generator, shapes: dict, config: dict, B: int, S: int,
                  T: int) -> tuple:
    """Weights (of the shapes of `shapes`, large enough for layout bugs to show) and
    (src, tgt, labels) for a 3.9 model of `config`."""
    C, params = config["d_model"], {}
    for key, value in shapes.items():
        last = key.split(".")[-1]
        if last == "gamma":
            params[key] = 1.0 + 0.3 * rng.standard_normal(value.shape)
        elif last == "beta" or last.startswith("b"):
            params[key] = 0.3 * rng.standard_normal(value.shape)
        elif key.endswith("embed"):
            params[key] = rng.standard_normal(value.shape) / np.sqrt(C)
        else:
            params[key] = rng.standard_normal(value.shape) / np.sqrt(value.shape[0])
    src = rng.integers(1, config["src_vocab_size"], size=(B, S))
    tgt = rng.integers(1, config["tgt_vocab_size"], size=(B, T))
    labels = _ignore(rng, rng.integers(0, config["tgt_vocab_size"], size=(B, T)), 2)
    if config["pad_id"] is not None:  # one row ends in padding (at least 2 real tokens)
        src[int(rng.integers(B)), int(rng.integers(2, S)):] = config["pad_id"]
    return params, src, tgt, labels


def _seq2seq_fixtures(impl, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """3.9: two tiny models with weights large enough for layout bugs to show, their logits,
    losses and gradients, the outputs of typical wrong models, and greedy decodes."""
    f: dict[str, np.ndarray] = {}
    sizes, (B, S, T) = _seq2seq_sizes(rng)
    init_seed, smoothing = _seed(rng), float(rng.uniform(0.05, 0.2))
    f.update({"s2s.init_seed": np.array(init_seed), "s2s.smoothing": np.array(smoothing),
              "s2s.fd_seed": np.array(_seed(rng))})
    f["s2s.init.seeds"] = rng.choice(2**31, size=2, replace=False)  # two different seeds
    configs = {name: {**sizes[name], **case} for name, case in SEQ2SEQ_CASES.items()}
    for name, config in configs.items():
        f.update({f"s2s.{name}.config.{k}": np.array(v) for k, v in sizes[name].items()})
        model = impl.Transformer(impl.TransformerConfig(**config),
                                 np.random.default_rng(init_seed))
        # ReLU kinks: redraw until the finite differences of the hidden check agree with
        # the reference's gradient 10 times closer than its tolerance (no ReLU input lies
        # within the check's step of 0).
        for _ in range(100):
            params, src, tgt, labels = _seq2seq_draw(rng, model.params, config, B, S, T)
            model.params = params
            logits = model.forward(src, tgt)
            loss = float(model.loss(src, tgt, labels, label_smoothing=smoothing))
            grads = model.backward()
            if all(np.isclose(analytic, numeric, rtol=1e-6, atol=1e-8)
                   for _, analytic, numeric in _s2s_directional(
                       model, (src, tgt, labels), smoothing, grads, int(f["s2s.fd_seed"]))):
                break
        else:
            raise RuntimeError(f"3.9 fixtures: no draw of the {name} model is smooth enough")
        f.update({f"s2s.{name}.params.{k}": v for k, v in params.items()})
        f.update({f"s2s.{name}.src": src, f"s2s.{name}.tgt": tgt, f"s2s.{name}.labels": labels,
                  f"s2s.{name}.logits": logits, f"s2s.{name}.loss": np.array(loss)})
        f.update({f"s2s.{name}.grads.{k}": v for k, v in grads.items()})

    # post: the logits of two wrong models
    config, prefix = configs["post"], "s2s.post."
    params = {k[len(prefix + "params."):]: v for k, v in f.items()
              if k.startswith(prefix + "params.")}
    src, tgt = f[prefix + "src"], f[prefix + "tgt"]
    unmasked = impl.Transformer(impl.TransformerConfig(**{**config, "pad_id": None}),
                                np.random.default_rng(init_seed))
    unmasked.params = params
    f[prefix + "bug.no_src_mask"] = unmasked.forward(src, tgt)
    model = impl.Transformer(impl.TransformerConfig(**config), np.random.default_rng(init_seed))
    scale = np.sqrt(config["d_model"])  # untied head: unscaled tables == no sqrt(C) factor
    model.params = {**params, "src_embed": params["src_embed"] / scale,
                    "tgt_embed": params["tgt_embed"] / scale}
    f[prefix + "bug.no_scale"] = model.forward(src, tgt)

    # post: greedy decodes by a model whose rows differ and vary (random models with large
    # biases repeat one token, which would hide "argmax of the first position"); EOS ids
    # chosen so one row ends early and the others run to the limit ("mixed"), or every row
    # ends before it ("early")
    bos, max_new = int(rng.integers(1, config["tgt_vocab_size"])), int(rng.integers(6, 15))
    for _ in range(1000):
        found = _greedy_cases(model, src, rng, config, bos, max_new)
        if found:
            break
    else:
        raise RuntimeError("3.9 fixtures: no draw gives a varied greedy decode")
    f.update({"s2s.greedy.bos": np.array(bos), "s2s.greedy.max_new": np.array(max_new)})
    f.update({f"s2s.greedy.params.{k}": v for k, v in model.params.items()})
    for case, (eos, out) in found.items():
        f[f"s2s.greedy.{case}.eos"] = np.array(eos)
        f[f"s2s.greedy.{case}.out"] = out

    # pre: one table used three times; the gradient without the head's or the source's part
    config, prefix = configs["pre"], "s2s.pre."
    params = {k[len(prefix + "params."):]: v for k, v in f.items()
              if k.startswith(prefix + "params.")}
    table = params["tgt_embed"]
    untied = impl.Transformer(impl.TransformerConfig(**{**config, "tie_head": False,
                                                        "share_embeddings": False}),
                              np.random.default_rng(init_seed))
    untied.params = {**params, "src_embed": table, "head.W": table.T.copy(),
                     "head.b": np.zeros(table.shape[0])}
    untied.loss(f[prefix + "src"], f[prefix + "tgt"], f[prefix + "labels"],
                label_smoothing=smoothing)
    parts = untied.backward()
    total = f[prefix + "grads.tgt_embed"]
    f[prefix + "bug.tgt_embed_without_head"] = total - parts["head.W"].T
    f[prefix + "bug.tgt_embed_without_src"] = total - parts["src_embed"]
    return f


def _greedy_cases(model, src, rng, config: dict, bos: int, max_new: int) -> dict:
    """Give `model` plain random weights drawn from `rng` (small biases and LayerNorm shifts,
    gains near 1); return the EOS ids and greedy outputs of the "mixed" and "early" cases, or
    {} when the decodes are too uniform."""
    params = {}
    for key, value in model.params.items():
        last = key.split(".")[-1]
        if last == "gamma":
            params[key] = 1.0 + 0.05 * rng.standard_normal(value.shape)
        elif last == "beta" or last.startswith("b"):
            params[key] = 0.05 * rng.standard_normal(value.shape)
        else:
            params[key] = rng.standard_normal(value.shape) / np.sqrt(
                config["d_model"] if key.endswith("embed") else value.shape[0])
    model.params = params
    free = model.greedy_decode(src, max_new, bos, bos)  # EOS = BOS: rows may end early
    rows = free.tolist()
    if min(len(set(r)) for r in rows) < 3 or len({tuple(r) for r in rows}) < len(rows):
        return {}
    found = {}
    for eos in rng.permutation(config["tgt_vocab_size"]).tolist():  # any id may qualify
        if eos in (bos, config["pad_id"]):
            continue
        out = model.greedy_decode(src, max_new, bos, eos)
        ended = (out == eos).any(axis=1)
        if "mixed" not in found and out.shape[1] == max_new and 0 < ended.sum() < \
                len(ended) and (out[ended] == config["pad_id"]).any():
            found["mixed"] = (eos, out)
        ends = [r.index(eos) for r in out.tolist() if eos in r]
        if "early" not in found and 3 <= out.shape[1] < max_new - 1 and \
                len(set(ends)) > 1:  # every row ends, not all at the same step
            found["early"] = (eos, out)
    return found if len(found) == 2 else {}
