"""Length extrapolation: one tiny model trained four times, then tested on longer sequences.

Usage:
    python -m demos extrapolate [--quick] [--figures DIR] [--target T]

It runs on the reference by default: besides Module 2's encodings and Module 1's attention it
needs Module 3's linear layer (3.1), cross-entropy (3.8) and AdamW (3.10).

The task, "latest value". Tokens 0-7 are *values*, tokens 8-15 *fillers*; each position
holds a value with probability 1/4, otherwise a filler. At every position the model must
output the most recent value at or before it -- a register that every value overwrites::

    tokens   3  9 12  5 14  8 11  1 15
    target   3  3  3  5  5  5  5  1  1

The loss and the accuracy count the positions where a value has been seen. Order matters
(the *latest* value: without positions, attention can only average the values seen so far),
and the rule mentions neither the length nor an absolute position, so a model that learned it
on 32 tokens could apply it unchanged to 128.

Why not "output the token k positions back", the classic relative-position task? ALiBi can
only add a bias that *decreases* with distance; it can prefer near keys, or keys whose
content it likes, but it cannot single out "exactly 3 back" among random tokens. Measured
while designing this experiment (k = 3, 3000 steps, 32 tokens): RoPE learns it perfectly,
ALiBi reaches 26 % accuracy with one layer and 82 % with two -- a failure to fit, not to
extrapolate, which would blur the comparison. "The latest value" is what a recency bias does
best, and the other three can express it as well (a score that grows with the key's
position), so all four fit the training length and the comparison is about extrapolation
alone.

The model (forward and backward by hand, float32 while training)::

    x = tok[ids]  (+ pe[:T] for "sinusoidal" | + pos[:T] for "learned")       (B, T, C)
    q, k, v = split_heads(x W_q + b_q), ...                                 (B, H, T, D)
    q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)                 "rope" only
    a = softmax(q k^T / sqrt(D) (+ alibi_bias "alibi" only), causal) v      (B, H, T, D)
    x = x + merge_heads(a) W_o + b_o                  (n_layers times; one by default)
    logits = x W_out + b_out                                                (B, T, V)
    loss = cross_entropy(logits, targets, ignoring the unscored positions)

Adam (``AdamW`` without weight decay) with a fixed learning rate. The four variants share
everything else: the initial weights, the training batches, the evaluation sequences. The
learned table has rows for the longest evaluation length, but only the first ``t_train``
ever receive a gradient (Adam then leaves the others exactly where they started): as in a
model never shown longer inputs.
ALiBi goes through Module 1's ``scaled_dot_product_attention`` as one extra dimension of q
and k (``with_alibi``), which adds exactly ``alibi_bias`` to the scores, up to a constant per
row that softmax ignores.
"""

import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from implementation.positional_encoding.alibi import alibi_bias
from implementation.positional_encoding.embedding import embedding, embedding_backward
from implementation.positional_encoding.rope import apply_rope, apply_rope_backward, rope_cos_sin
from implementation.positional_encoding.sinusoidal import sinusoidal_positional_encoding
from implementation.self_attention.attention import (
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
)
from implementation.self_attention.heads import merge_heads, split_heads
from implementation.self_attention.masks import causal_mask
from implementation.transformer.cross_entropy import cross_entropy, cross_entropy_backward
from implementation.transformer.linear import linear, linear_backward
from implementation.transformer.optim import AdamW

from ..plotting import pyplot, write_png
from ..run import parser as demo_parser
from ..text import say

VARIANTS = ("sinusoidal", "learned", "rope", "alibi")
IGNORE = -100  # the target of a position before the first value: not scored
LAYER_PARAMS = ("W_q", "b_q", "W_k", "b_k", "W_v", "b_v", "W_o", "b_o")


@dataclass(frozen=True)
class Config:
    """Sizes of the task, the model and the training run."""

    n_values: int = 8  # tokens 0 .. n_values-1 are values, the rest fillers
    vocab: int = 16  # V
    p_value: float = 0.25  # probability that a position holds a value
    d_model: int = 64  # C
    n_heads: int = 8  # H (ALiBi's steepest slope is 2^(-8/H): 1/2 for H = 8)
    n_layers: int = 1
    t_train: int = 32
    eval_factors: tuple[int, ...] = (1, 2, 4)
    batch: int = 32
    steps: int = 3000
    lr: float = 3e-3
    eval_sequences: int = 512
    eval_batch: int = 64

    @property
    def eval_lengths(self) -> tuple[int, ...]:
        return tuple(f * self.t_train for f in self.eval_factors)


FULL = Config()
QUICK = replace(FULL, steps=20, eval_sequences=32)


# --- the task ------------------------------------------------------------------------------
def make_batch(rng, batch, t, cfg):
    """Random sequences of the "latest value" task.

    Returns:
        ids: ``(batch, t)`` int64 tokens.
        targets: ``(batch, t)`` the latest value token at or before each position (0 where
            there is none yet).
        scored: ``(batch, t)`` bool, True where a value has been seen (the positions that
            count in the loss and the accuracy).
    """
    is_value = rng.random((batch, t)) < cfg.p_value
    values = rng.integers(0, cfg.n_values, size=(batch, t))
    fillers = rng.integers(cfg.n_values, cfg.vocab, size=(batch, t))
    ids = np.where(is_value, values, fillers)
    last = np.maximum.accumulate(np.where(is_value, np.arange(t), -1), axis=1)  # (batch, t)
    targets = np.where(last >= 0, np.take_along_axis(ids, np.maximum(last, 0), axis=1), 0)
    return ids, targets, last >= 0


# --- the model -----------------------------------------------------------------------------
def init_params(variant, cfg, rng, dtype=np.float32):
    """Parameters of one variant. Every variant draws the shared tensors in the same order
    from the same generator, so they start from identical weights; "learned" then draws its
    position table (rows for the longest evaluation length)."""
    C, V = cfg.d_model, cfg.vocab

    def normal(shape, std):
        return (std * rng.standard_normal(shape)).astype(dtype)

    params = {"tok": normal((V, C), 1.0)}
    for l in range(cfg.n_layers):
        for name in "qkvo":
            params[f"layer{l}.W_{name}"] = normal((C, C), 1.0 / math.sqrt(C))
            params[f"layer{l}.b_{name}"] = np.zeros(C, dtype=dtype)
    params["W_out"] = normal((C, V), 1.0 / math.sqrt(C))
    params["b_out"] = np.zeros(V, dtype=dtype)
    if variant == "learned":  # like the token embeddings; rows past t_train keep these values
        params["pos"] = normal((max(cfg.eval_lengths), C), 1.0)
    return params


def alibi_key_column(n_heads, t, dtype=np.float32):
    """ALiBi as one extra key feature per head: ``(H, T)``, the bias row of the last query.

    ``alibi_bias(H, T, T)[h, i, j] = -m_h (i - j)`` differs from the last query's row
    ``-m_h (T - 1 - j)`` by ``m_h (T - 1 - i)``, a constant along the row, and softmax ignores
    constants added to a row. So every query may use the last row: that is the ``m_h j`` form
    BLOOM computes. ``with_alibi`` turns it into one more dimension of q and k, which lets the
    experiment run on Module 1's ``scaled_dot_product_attention`` unchanged.
    """
    return alibi_bias(n_heads, 1, t)[:, 0, :].astype(dtype)  # (H, T)


def with_alibi(q, k, key_column):
    """Append one dimension to q and k so that ``q' k'^T / sqrt(D+1) = q k^T / sqrt(D) + bias``.

    ``q' = [q sqrt((D+1)/D), 1]`` and ``k' = [k, bias_j sqrt(D+1)]``: the first D dimensions
    give the usual scaled scores (``scaled_dot_product_attention`` divides by sqrt(D+1) now),
    the last one adds ``bias_j = key_column[h, j]`` to every query's score of key j.

    Args:
        q, k: ``(B, H, T, D)``.
        key_column: ``(H, T)`` from ``alibi_key_column``.

    Returns:
        q', k': ``(B, H, T, D+1)``.
    """
    B, H, T, D = q.shape
    ones = np.ones((B, H, T, 1), dtype=q.dtype)
    bias = np.broadcast_to((key_column * math.sqrt(D + 1))[None, :, :, None], (B, H, T, 1))
    q_aug = np.concatenate([q * math.sqrt((D + 1) / D), ones], axis=-1)
    k_aug = np.concatenate([k, bias.astype(k.dtype)], axis=-1)
    return q_aug, k_aug


def positional_inputs(variant, cfg, t, dtype=np.float32):
    """The fixed (not learned) tensors a variant needs for length t, computed once per t."""
    D = cfg.d_model // cfg.n_heads
    inputs = {"mask": causal_mask(t)}  # (T, T), True = may attend
    if variant == "sinusoidal":
        inputs["pe"] = sinusoidal_positional_encoding(t, cfg.d_model).astype(dtype)  # (T, C)
    elif variant == "rope":
        cos, sin = rope_cos_sin(np.arange(t), D)  # (T, D) each
        inputs["cos"], inputs["sin"] = cos.astype(dtype), sin.astype(dtype)
    elif variant == "alibi":
        inputs["alibi"] = alibi_key_column(cfg.n_heads, t, dtype)  # (H, T)
    return inputs


def attention_layer(x, p, n_heads, pos):
    """Causal multi-head self-attention with optional RoPE / ALiBi.

    Args:
        x: ``(B, T, C)``.
        p: dict ``W_q b_q W_k b_k W_v b_v W_o b_o`` (``y = x W + b``).
        n_heads: H.
        pos: ``positional_inputs(...)``: ``mask``, and ``cos``/``sin`` or ``alibi``.

    Returns:
        out ``(B, T, C)`` (the residual is added by the caller), cache.
    """
    projections = {n: linear(x, p[f"W_{n}"], p[f"b_{n}"]) for n in "qkv"}  # (B, T, C) each
    q, k, v = (split_heads(projections[n][0], n_heads) for n in "qkv")  # (B, H, T, D)
    if "cos" in pos:  # RoPE: rotate queries and keys by their positions, in every layer
        q = apply_rope(q, pos["cos"], pos["sin"])
        k = apply_rope(k, pos["cos"], pos["sin"])
    if "alibi" in pos:  # ALiBi: add the bias to the scores, as one more dimension of q and k
        q, k = with_alibi(q, k, pos["alibi"])  # (B, H, T, D+1)
    heads, attn_cache = scaled_dot_product_attention(q, k, v, pos["mask"])  # (B, H, T, D)
    merged = merge_heads(heads)  # (B, T, C)
    out, out_cache = linear(merged, p["W_o"], p["b_o"])
    linear_caches = {n: cache for n, (_, cache) in projections.items()} | {"o": out_cache}
    return out, (pos, attn_cache, linear_caches, n_heads)


def attention_layer_backward(dout, cache):
    """Gradients of ``attention_layer``: returns ``dx`` ``(B, T, C)`` and a dict like ``p``."""
    pos, attn_cache, linear_caches, n_heads = cache
    grads = {}
    dmerged, grads["W_o"], grads["b_o"] = linear_backward(dout, linear_caches["o"])
    dheads = split_heads(dmerged, n_heads)  # (B, H, T, D)
    dq, dk, dv = scaled_dot_product_attention_backward(dheads, attn_cache)
    if "alibi" in pos:  # drop the appended dimension; undo the scaling of q
        D = dv.shape[-1]
        dq, dk = dq[..., :D] * math.sqrt((D + 1) / D), dk[..., :D]
    if "cos" in pos:
        dq = apply_rope_backward(dq, pos["cos"], pos["sin"])
        dk = apply_rope_backward(dk, pos["cos"], pos["sin"])
    dx = 0
    for n, d in zip("qkv", (dq, dk, dv)):
        dx_n, grads[f"W_{n}"], grads[f"b_{n}"] = linear_backward(merge_heads(d),
                                                                 linear_caches[n])
        dx = dx + dx_n  # x fed all three projections
    return dx, grads


def _layer(params, l):
    """The parameters of layer l, without their ``layer{l}.`` prefix."""
    return {name: params[f"layer{l}.{name}"] for name in LAYER_PARAMS}


def model_forward(params, ids, cfg, pos):
    """Logits ``(B, T, V)`` of token ids ``(B, T)``, and the cache for ``model_backward``."""
    T = ids.shape[1]
    x, tok_cache = embedding(ids, params["tok"])  # (B, T, C)
    pos_cache = None
    if "pe" in pos:
        x = x + pos["pe"]
    if "pos" in params:
        p, pos_cache = embedding(np.arange(T), params["pos"])  # (T, C): rows 0 .. T-1
        x = x + p
    layer_caches = []
    for l in range(cfg.n_layers):
        out, cache = attention_layer(x, _layer(params, l), cfg.n_heads, pos)
        x = x + out  # residual
        layer_caches.append(cache)
    logits, out_cache = linear(x, params["W_out"], params["b_out"])  # (B, T, V)
    return logits, (tok_cache, pos_cache, layer_caches, out_cache)


def model_backward(dlogits, params, cache):
    """Gradients of every parameter (same keys as ``params``) from ``dlogits`` ``(B, T, V)``."""
    tok_cache, pos_cache, layer_caches, out_cache = cache
    grads = {}
    dx, grads["W_out"], grads["b_out"] = linear_backward(dlogits, out_cache)  # dx (B, T, C)
    for l in reversed(range(len(layer_caches))):
        dlayer, layer_grads = attention_layer_backward(dx, layer_caches[l])
        dx = dx + dlayer  # the residual passes dx through unchanged
        grads.update({f"layer{l}.{name}": g for name, g in layer_grads.items()})
    grads["tok"] = embedding_backward(dx, tok_cache)
    if pos_cache is not None:
        grads["pos"] = embedding_backward(dx.sum(axis=0), pos_cache)  # rows >= T get 0
    return grads


def scored_targets(targets, scored):
    """The targets with the unscored positions replaced by ``IGNORE``."""
    return np.where(scored, targets, IGNORE)


def loss_and_grads(params, ids, targets, scored, cfg, pos):
    """Forward, loss and backward: ``(loss, grads)``."""
    logits, cache = model_forward(params, ids, cfg, pos)
    loss, ce_cache = cross_entropy(logits, scored_targets(targets, scored), IGNORE)
    dlogits = cross_entropy_backward(np.ones((), logits.dtype), ce_cache)
    return float(loss), model_backward(dlogits, params, cache)


# --- training and evaluation ---------------------------------------------------------------
def train(variant, cfg, seed, log_every=3.0):
    """Train one variant; prints progress every ``log_every`` seconds. Returns the params."""
    params = init_params(variant, cfg, np.random.default_rng([seed, 0]))
    data_rng = np.random.default_rng([seed, 1])  # the same batches for every variant
    pos = positional_inputs(variant, cfg, cfg.t_train)
    optimizer = AdamW(lr=cfg.lr, weight_decay=0.0)
    start = last_log = time.perf_counter()
    recent = []
    for step in range(1, cfg.steps + 1):
        ids, targets, scored = make_batch(data_rng, cfg.batch, cfg.t_train, cfg)
        loss, grads = loss_and_grads(params, ids, targets, scored, cfg, pos)
        optimizer.step(params, grads)
        recent.append(loss)
        now = time.perf_counter()
        if now - last_log >= log_every or step == cfg.steps:
            rate = step / (now - start)
            say(
                f"  [{variant:>10}] step {step:5d}/{cfg.steps}  loss {np.mean(recent):.4f}  "
                f"{rate:6.1f} steps/s  ETA {(cfg.steps - step) / rate:5.1f}s",
                flush=True,
            )
            last_log, recent = now, []
    return params


def evaluate(params, variant, cfg, t, seed):
    """Loss and accuracy on ``cfg.eval_sequences`` fresh sequences of length t, the same
    sequences for every variant.

    Returns:
        ``{"loss": mean over scored positions, "accuracy": likewise}``, and the accuracy at
        each position ``(t,)`` (for the figure: where along the sequence a variant fails).
    """
    rng = np.random.default_rng([seed, 2, t])
    pos = positional_inputs(variant, cfg, t)
    total_loss = 0.0
    hits, scored_count = np.zeros(t), np.zeros(t)  # per position, summed over sequences
    for start in range(0, cfg.eval_sequences, cfg.eval_batch):
        batch = min(cfg.eval_batch, cfg.eval_sequences - start)
        ids, targets, scored = make_batch(rng, batch, t, cfg)
        logits, _ = model_forward(params, ids, cfg, pos)
        loss, _ = cross_entropy(logits, scored_targets(targets, scored), IGNORE)
        total_loss += float(loss) * scored.sum()
        hits += ((logits.argmax(axis=-1) == targets) & scored).sum(axis=0)
        scored_count += scored.sum(axis=0)
    metrics = {
        "loss": float(total_loss / scored_count.sum()),
        "accuracy": float(hits.sum() / scored_count.sum()),
    }
    return metrics, hits / np.maximum(scored_count, 1)


# --- gradient check ------------------------------------------------------------------------
def _gradient_check(variant, seed=0, h=1e-5, entries=6):
    """Float64 central differences of the whole loss against ``model_backward``.

    A tiny instance (B=2, T=5, C=8, H=2, two layers, eval length 10 so the learned table has
    unused rows) with weights of std 0.5 and non-zero biases, so that a wrong axis or RoPE
    layout moves the loss visibly. Checks ``entries`` random entries of every tensor.

    Without RoPE the gradient of ``b_k`` is exactly zero: ``q . b_k`` adds the same number to
    every score of a row, and softmax ignores that. Hence the floor in the error below.

    Returns:
        dict name -> error ``max|analytic - numeric| / max(max|analytic|, 1e-4)`` over the
        checked entries, and ``"pos_unused"`` -> the largest analytic gradient on the learned
        rows past T (must be exactly 0).
    """
    cfg = replace(
        FULL,
        n_values=3,
        vocab=6,
        p_value=0.5,
        d_model=8,
        n_heads=2,
        n_layers=2,
        t_train=5,
        eval_factors=(1, 2),
    )
    rng = np.random.default_rng([seed, 3])
    params = init_params(variant, cfg, rng, dtype=np.float64)
    params = {name: 0.5 * rng.standard_normal(p.shape) for name, p in params.items()}
    ids, targets, scored = make_batch(rng, 2, cfg.t_train, cfg)
    scored[0, -1] = True  # at least one scored position, whatever the draw
    pos = positional_inputs(variant, cfg, cfg.t_train, dtype=np.float64)
    _, grads = loss_and_grads(params, ids, targets, scored, cfg, pos)

    def loss_at():
        logits, _ = model_forward(params, ids, cfg, pos)
        return float(cross_entropy(logits, scored_targets(targets, scored), IGNORE)[0])

    errors = {}
    for name, p in params.items():
        flat = p.reshape(-1)
        analytic, numeric = [], []
        for i in rng.choice(flat.size, size=min(entries, flat.size), replace=False):
            old = flat[i]
            flat[i] = old + h
            plus = loss_at()
            flat[i] = old - h
            minus = loss_at()
            flat[i] = old
            numeric.append((plus - minus) / (2 * h))
            analytic.append(grads[name].reshape(-1)[i])
        analytic, numeric = np.array(analytic), np.array(numeric)
        diff, size = np.abs(analytic - numeric).max(), max(np.abs(analytic).max(), 1e-4)
        errors[name] = float(diff / size)
    if "pos" in grads:
        errors["pos_unused"] = float(np.abs(grads["pos"][cfg.t_train :]).max())
    return errors


# --- report --------------------------------------------------------------------------------
def format_table(results, cfg):
    """The results as a text table: one row per variant, loss and accuracy per length."""
    lengths = cfg.eval_lengths
    head = f"{'variant':<12}" + "".join(f"{f'T={t} loss':>14}{'acc':>8}" for t in lengths)
    lines = [head, "-" * len(head)]
    for variant, by_length in results.items():
        cells = "".join(
            f"{by_length[t]['loss']:>14.4f}{by_length[t]['accuracy']:>8.3f}" for t in lengths
        )
        lines.append(f"{variant:<12}{cells}")
    return "\n".join(lines)


def save_figure(results, by_position, cfg, path):
    """Loss and accuracy against the evaluation length, and the accuracy at each position of
    the longest evaluation; one line per variant."""
    plt = pyplot()

    lengths = cfg.eval_lengths
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for variant, by_length in results.items():
        for ax, key in zip(axes[:2], ("loss", "accuracy")):
            ax.plot(lengths, [by_length[t][key] for t in lengths], marker="o", label=variant)
        axes[2].plot(by_position[variant], linewidth=1.2, label=variant)
    for ax, label in zip(axes[:2], ("mean cross-entropy (nats)", "accuracy")):
        ax.set_xscale("log", base=2)
        ax.set_xticks(lengths, [str(t) for t in lengths])
        ax.minorticks_off()
        ax.set_xlabel("evaluation length")
        ax.set_ylabel(label)
    axes[0].set_yscale("log")
    axes[2].set_xlabel(f"position in the sequence (evaluation length {lengths[-1]})")
    axes[2].set_ylabel("accuracy at that position")
    axes[0].axvline(cfg.t_train, color="0.6", linestyle="--", linewidth=1)
    axes[1].axvline(cfg.t_train, color="0.6", linestyle="--", linewidth=1)
    # positions 0 .. t_train-1 were seen in training: the boundary lies between two of them
    axes[2].axvline(cfg.t_train - 0.5, color="0.6", linestyle="--", linewidth=1)
    for ax in axes:
        ax.grid(alpha=0.3)
    for ax in axes[1:]:
        ax.set_ylim(0, 1.02)
    axes[1].legend(loc="lower left")
    fig.suptitle(
        f'"Latest value" task, trained on {cfg.t_train} tokens (dashed line), '
        f"{cfg.n_layers}-layer model, {cfg.steps} steps"
    )
    fig.tight_layout()
    return write_png(fig, path)


def run(quick: bool = False, out_dir: Path = Path("build/figures"), seed: int = 0) -> dict:
    """Train the four variants, evaluate each at 1x, 2x and 4x the training length, print the
    table and write ``out_dir/extrapolation.png``.

    Args:
        quick: a few steps only (a smoke test: the numbers mean nothing).
        out_dir: where the figure goes.
        seed: seeds the initial weights, the training batches and the evaluation sequences.

    Returns:
        ``{variant: {length: {"loss": float, "accuracy": float}}}``.
    """
    cfg = QUICK if quick else FULL
    say(
        f"Latest-value task, V={cfg.vocab}, C={cfg.d_model}, H={cfg.n_heads}, "
        f"{cfg.n_layers} attention layer(s);\ntraining on T={cfg.t_train}, batch {cfg.batch}, "
        f"{cfg.steps} Adam steps (lr {cfg.lr});\nevaluating at T={cfg.eval_lengths}",
        flush=True,
    )
    start = time.perf_counter()
    results, by_position = {}, {}
    for variant in VARIANTS:
        params = train(variant, cfg, seed)
        results[variant] = {}
        for t in cfg.eval_lengths:
            results[variant][t], accuracy_at = evaluate(params, variant, cfg, t, seed)
        by_position[variant] = accuracy_at  # of the longest evaluation
    say()
    say(format_table(results, cfg))
    path = save_figure(results, by_position, cfg, Path(out_dir) / "extrapolation.png")
    say(f"\nWrote {path} ({time.perf_counter() - start:.0f}s)", flush=True)
    return results


def main(argv=None):
    parser = demo_parser("extrapolate", "Length extrapolation of four position encodings: "
                         "trained on 32 tokens, tested on up to 128.")
    parser.add_argument("--quick", action="store_true",
                        help="a few steps only (a smoke test: the numbers mean nothing)")
    parser.add_argument("--figures", metavar="DIR", default="build/figures",
                        help="where extrapolation.png goes (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the run (default 0)")
    args = parser.parse_args(argv)
    run(quick=args.quick, out_dir=Path(args.figures), seed=args.seed)
    return 0
