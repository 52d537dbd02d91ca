"""Worked example of Module 1: causal multi-head self-attention on five tokens.

Usage:
    python -m demos self_attention                      # on your code (exercises/)
    python -m demos self_attention --target reference   # on the solutions
    python -m demos self_attention --out weights.png
    python -m demos self_attention --target reference --figures lectures/01_self_attention/figures
"""

import numpy as np
from implementation.self_attention.attention import scaled_dot_product_attention
from implementation.self_attention.heads import split_heads
from implementation.self_attention.masks import causal_mask
from implementation.self_attention.multi_head import init_mha_params, multi_head_attention
from implementation.self_attention.online_softmax import online_softmax_attention

from ..run import parser as demo_parser
from ..text import say
from .figures import save_attention_figure, save_lecture_figures

TOKENS = ("the", "cat", "sat", "on", "mats")
D_MODEL, N_HEADS, BLOCK_SIZE = 8, 2, 2


def _table(rows, labels, fmt):
    """Format a (T_q, T_k) grid with token labels on both sides."""
    width = max(6, *(len(t) + 1 for t in labels))
    lines = [" " * width + "".join(f"{t:>{width}}" for t in labels)]
    for label, row in zip(labels, rows, strict=True):
        lines.append(f"{label:>{width}}" + "".join(f"{fmt(x):>{width}}" for x in row))
    return "\n".join(lines)


def run_demo(out_path):
    """Print the worked example and write the heatmap.

    Returns (every check passed, the weights (H, T, T) of the sentence, the causal mask).
    """
    rng = np.random.default_rng(0)
    t = len(TOKENS)
    x = rng.standard_normal((1, t, D_MODEL))  # (B, T, C): one sentence, random embeddings
    # Weights with std 1/sqrt(C) keep q.k of order 1 (GPT-2's 0.02 would give uniform weights).
    params = init_mha_params(D_MODEL, rng, std=1 / np.sqrt(D_MODEL))
    say(f"Causal multi-head self-attention on {t} tokens: {' '.join(TOKENS)}")
    say(f"x (B, T, C) = {x.shape}; {N_HEADS} heads of width {D_MODEL // N_HEADS}")

    q, k, v = (split_heads(x @ params[f"W_{n}"] + params[f"b_{n}"], N_HEADS) for n in "qkv")
    say(f"Q, K, V per head (B, H, T, D): {q.shape} {k.shape} {v.shape}")

    mask = causal_mask(t)
    say("\nCausal mask (1 = query row may attend to key column):")
    say(_table(mask, TOKENS, lambda m: "1" if m else "."))

    out, cache = multi_head_attention(x, x, params, N_HEADS, mask)
    weights = cache["weights"]  # (B, H, T, T)
    say(f"\nOutput (B, T, C) = {out.shape}; attention weights (B, H, T_q, T_k) = {weights.shape}")
    for h in range(N_HEADS):
        say(f"\nHead {h} attention weights (masked keys shown as '-'):")
        shown = np.where(mask, weights[0, h], np.nan)
        say(_table(shown, TOKENS, lambda w: "-" if np.isnan(w) else f"{w:.2f}"))

    ok = True
    row_error = np.max(np.abs(weights.sum(axis=-1) - 1))
    leak = np.max(np.abs(np.where(mask, 0, weights)))
    online = online_softmax_attention(q, k, v, block_size=BLOCK_SIZE, causal=True)
    exact, _ = scaled_dot_product_attention(q, k, v, mask)
    online_error = np.max(np.abs(online - exact))
    say()
    for passed, text in [
        (row_error < 1e-12, f"every row of weights sums to 1 (max error {row_error:.1e})"),
        (leak == 0, f"no weight on future tokens (max masked weight {leak:.1e})"),
        (
            online_error < 1e-12,
            f"online softmax (blocks of {BLOCK_SIZE}) equals scaled_dot_product_attention "
            f"(max difference {online_error:.1e})",
        ),
    ]:
        say(f"[{'ok' if passed else 'FAILED'}] {text}")
        ok &= bool(passed)

    path = save_attention_figure(weights[0], TOKENS, out_path, mask)
    say(f"\nWrote {path}")
    return ok, weights[0], mask


def main(argv=None):
    parser = demo_parser("self_attention", "Worked example of Module 1 (self-attention).")
    parser.add_argument(
        "--out",
        metavar="PATH",
        default="build/figures/attention_weights.png",
        help="where to write the attention heatmap (default: %(default)s)",
    )
    parser.add_argument(
        "--figures", metavar="DIR", help="also regenerate every lecture figure into DIR"
    )
    args = parser.parse_args(argv)
    ok, weights, mask = run_demo(args.out)
    if args.figures:
        for path in save_lecture_figures(args.figures, weights, TOKENS, mask):
            say(f"Wrote {path}")
    return 0 if ok else 1
