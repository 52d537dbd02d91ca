"""Lecture figures of Module 1 (``python -m demos self_attention --figures DIR``).

Every figure is deterministic: fixed seeds, fixed size and dpi, no timestamp in the PNG.
"""

import math
from pathlib import Path

import numpy as np
from implementation.self_attention.online_softmax import online_softmax_attention
from implementation.self_attention.softmax import softmax

from ..plotting import pyplot, write_png


def save_attention_figure(weights, labels, path, mask=None):
    """Heatmap of attention weights, one panel per head.

    Args:
        weights: ``(H, T_q, T_k)`` attention weights of one sequence.
        labels: T_k token strings (the first T_q also label the queries when T_q == T_k).
        path: where to write the PNG.
        mask: optional boolean ``(T_q, T_k)``; masked cells are drawn grey.
    """
    plt = pyplot()
    n_heads, t_q, t_k = weights.shape
    fig, axes = plt.subplots(1, n_heads, figsize=(3.2 * n_heads + 0.6, 3.4), squeeze=False)
    cmap = plt.get_cmap("Blues").with_extremes(bad="0.85")  # masked cells in grey
    for h, ax in enumerate(axes[0]):
        shown = np.ma.masked_array(weights[h], mask=None if mask is None else ~mask)
        image = ax.imshow(shown, cmap=cmap, vmin=0.0, vmax=1.0)
        for i in range(t_q):
            for j in range(t_k):
                if mask is None or mask[i, j]:
                    w = weights[h, i, j]
                    color = "white" if w > 0.6 else "black"
                    ax.text(j, i, f"{w:.2f}", ha="center", va="center", fontsize=8, color=color)
        ax.set_xticks(range(t_k), labels[:t_k], rotation=45)
        ax.set_yticks(range(t_q), labels[t_k - t_q :] if h == 0 else [])  # shared rows
        ax.set_xlabel("key (attended to)")
        ax.set_title(f"head {h}")
    axes[0, 0].set_ylabel("query")
    fig.colorbar(image, ax=list(axes[0]), shrink=0.8, label="attention weight")
    fig.suptitle("Causal self-attention weights (rows sum to 1)", fontsize=10)
    return write_png(fig, path)


def save_scaling_figure(path):
    """Why scores are divided by sqrt(d_k).

    For q, k with i.i.d. unit-variance entries, q.k has variance d_k: without scaling the
    scores grow like sqrt(d_k) and the softmax saturates towards one-hot (vanishing gradients).
    """
    plt = pyplot()
    rng = np.random.default_rng(0)
    dims = 2 ** np.arange(10)  # d_k = 1 ... 512
    n_queries, n_keys = 256, 32
    std_raw, std_scaled, max_raw, max_scaled = [], [], [], []
    for d in dims:
        q = rng.standard_normal((n_queries, 1, d))
        k = rng.standard_normal((n_queries, n_keys, d))
        scores = np.sum(q * k, axis=-1)  # (n_queries, n_keys), variance d
        std_raw.append(scores.std())
        std_scaled.append((scores / math.sqrt(d)).std())
        max_raw.append(softmax(scores).max(axis=-1).mean())
        max_scaled.append(softmax(scores / math.sqrt(d)).max(axis=-1).mean())

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8.4, 3.3))
    ax1.plot(dims, std_raw, "o-", label=r"$q\cdot k$")
    ax1.plot(dims, std_scaled, "s-", label=r"$q\cdot k/\sqrt{d_k}$")
    ax1.plot(dims, np.sqrt(dims), ":", color="0.5", label=r"$\sqrt{d_k}$")
    ax1.set(xscale="log", yscale="log", xlabel="$d_k$", ylabel="std of the score")
    ax1.set_title("Score spread (unit-variance q, k)", fontsize=10)
    ax1.legend(fontsize=8)
    ax2.plot(dims, max_raw, "o-", label="unscaled")
    ax2.plot(dims, max_scaled, "s-", label=r"scaled by $1/\sqrt{d_k}$")
    ax2.axhline(1 / n_keys, color="0.5", ls=":", label=f"uniform (1/{n_keys})")
    ax2.set(xscale="log", ylim=(0, 1.05), xlabel="$d_k$", ylabel="mean of the largest weight")
    ax2.set_title(f"Softmax over {n_keys} keys saturates without scaling", fontsize=10)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return write_png(fig, path)


def save_online_softmax_figure(path, t_k=24, block_size=6):
    """One query row processed in key blocks: running max, normaliser and output."""
    plt = pyplot()
    rng = np.random.default_rng(1)
    d = 4
    q = rng.standard_normal((1, d))
    k = rng.standard_normal((t_k, d)) * np.linspace(0.5, 2.0, t_k)[:, None]  # later keys louder
    v = rng.standard_normal((t_k, 1))
    s = (q @ k.T)[0] / math.sqrt(d)  # (T_k,) the scores of this query

    ends = np.arange(block_size, t_k + block_size, block_size).clip(max=t_k)
    m = np.maximum.accumulate([s[:e].max() for e in ends])  # running max after each block
    l = np.array([np.exp(s[:e] - m_b).sum() for e, m_b in zip(ends, m, strict=True)])
    out = [online_softmax_attention(q, k[:e], v[:e], block_size=block_size)[0, 0] for e in ends]
    exact_l = np.exp(s - s.max()).sum()
    exact_out = softmax(s) @ v[:, 0]

    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(11, 3.2))
    ax1.plot(np.arange(t_k), s, "o", ms=4, label="score $s_j$")
    starts = ends - block_size
    for b, (a, e) in enumerate(zip(starts, ends, strict=True)):
        ax1.hlines(
            m[b], a - 0.5, e - 0.5, color="C3", lw=2, label="running max $m$" if b == 0 else None
        )
        ax1.axvline(a - 0.5, color="0.7", ls="--", lw=0.8)
    ax1.set(xlabel="key $j$", ylabel="score")
    ax1.set_title(f"Keys in blocks of {block_size}", fontsize=10)
    ax1.legend(fontsize=8)
    blocks = np.arange(1, len(ends) + 1)
    ax2.bar(blocks - 0.2, l, width=0.4, label=r"$\ell$ (w.r.t. current $m$)")
    ax2.bar(blocks + 0.2, l * np.exp(m - m[-1]), width=0.4, label=r"$\ell\,e^{m-m_{final}}$")
    ax2.axhline(exact_l, color="0.3", ls=":", label=r"exact $\sum_j e^{s_j-\max s}$")
    ax2.set(xlabel="after block", ylabel="normaliser", xticks=blocks, ylim=(0, 1.5 * l.max()))
    ax2.set_title(r"Rescaling by $e^{m_{old}-m_{new}}$", fontsize=10)
    ax2.legend(fontsize=7, loc="upper left", ncols=2)
    ax3.plot(blocks, out, "o-", label="acc / $\\ell$ so far")
    ax3.axhline(exact_out, color="0.3", ls=":", label="full softmax attention")
    ax3.set(xlabel="after block", ylabel="output (1-D value)", xticks=blocks)
    ax3.set_title("Output converges to the exact one", fontsize=10)
    ax3.legend(fontsize=8)
    fig.tight_layout()
    return write_png(fig, path)


def save_lecture_figures(directory, weights, labels, mask):
    """Write every Module 1 figure into ``directory`` (created if needed); return the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return [
        save_attention_figure(weights, labels, directory / "attention_weights.png", mask),
        save_scaling_figure(directory / "scaling.png"),
        save_online_softmax_figure(directory / "online_softmax.png"),
    ]
