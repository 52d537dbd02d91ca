"""Lecture figures of Module 2 (``python -m demos positional_encoding --figures DIR``).

Every figure is deterministic: fixed seeds, fixed size and dpi, no timestamp in the PNG.
"""

from pathlib import Path

import numpy as np
from implementation.positional_encoding.alibi import alibi_bias, alibi_slopes
from implementation.positional_encoding.rope import apply_rope, rope_cos_sin
from implementation.positional_encoding.sinusoidal import sinusoidal_positional_encoding

from ..plotting import pyplot, write_png


def save_encoding_heatmap(path, t=100, d=128):
    """The sinusoidal encoding as an image: positions down, dimensions across.

    Left columns oscillate fast (wavelength 2*pi positions), right columns barely move
    (wavelength up to 2*pi*10000): every row is a distinct "binary-like" code.
    """
    plt = pyplot()
    pe = sinusoidal_positional_encoding(t, d)  # (t, d)
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    image = ax.imshow(pe, cmap="RdBu_r", vmin=-1.0, vmax=1.0, aspect="auto", interpolation="none")
    ax.set(xlabel="dimension (even: sin, odd: cos)", ylabel="position $p$")
    ax.set_title(
        rf"Sinusoidal encoding, $d={d}$: $PE[p, 2i]=\sin(p\,w_i)$, "
        rf"$PE[p, 2i+1]=\cos(p\,w_i)$, $w_i=10000^{{-2i/d}}$",
        fontsize=9,
    )
    fig.colorbar(image, ax=ax, shrink=0.85)
    fig.tight_layout()
    return write_png(fig, path)


def save_dot_vs_distance_figure(path, d=128, head_dim=64, max_k=120):
    """Similarity against distance: sinusoidal PE[p].PE[p+k], and RoPE q.k against n - m.

    Both depend only on the offset, not on where the pair sits: the curves for two different
    starting positions coincide.
    """
    plt = pyplot()
    ks = np.arange(max_k + 1)
    starts = (0, 200)
    pe = sinusoidal_positional_encoding(max(starts) + max_k + 1, d)

    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((2, head_dim))
    positions = np.arange(max(starts) + max_k + 1)
    cos, sin = rope_cos_sin(positions, head_dim)
    rq = apply_rope(np.broadcast_to(q, (len(positions), head_dim)), cos, sin)  # q at every p
    rk = apply_rope(np.broadcast_to(k, (len(positions), head_dim)), cos, sin)
    rk_same = apply_rope(np.broadcast_to(q, (len(positions), head_dim)), cos, sin)

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    for start, style in zip(starts, ("-", "o"), strict=True):
        dots = pe[start] @ pe[start + ks].T  # (len(ks),)
        ax1.plot(ks, dots, style, ms=2.5, label=f"$p = {start}$")
    ax1.set(xlabel="offset $k$", ylabel=r"$PE[p]\cdot PE[p+k]$")
    ax1.set_title(f"Sinusoidal ($d={d}$): depends on $k$ only", fontsize=10)
    ax1.legend(fontsize=8)

    for start, style in zip(starts, ("-", "o"), strict=True):
        ax2.plot(
            ks,
            rq[start] @ rk[start + ks].T,
            style,
            ms=2.5,
            color="C0",
            label=rf"random $q, k$, $m = {start}$",
        )
        ax2.plot(
            ks,
            rq[start] @ rk_same[start + ks].T,
            style,
            ms=2.5,
            color="C1",
            label=rf"$k = q$, $m = {start}$",
        )
    ax2.set(
        xlabel="relative distance $n - m$", ylabel=r"$\mathrm{rope}(q, m)\cdot\mathrm{rope}(k, n)$"
    )
    ax2.set_title(f"RoPE (head_dim {head_dim}): depends on $n - m$ only", fontsize=10)
    ax2.legend(fontsize=7, ncols=2)
    fig.tight_layout()
    return write_png(fig, path)


def save_rope_rotation_figure(path, head_dim=16, pairs=(0, 2, 5), n_positions=8):
    """One 2-D pair of a vector, rotated by RoPE at positions 0, 1, 2, ...: fast pairs spin,
    slow pairs barely move."""
    plt = pyplot()
    half = head_dim // 2
    positions = np.arange(n_positions)
    cos, sin = rope_cos_sin(positions, head_dim)
    theta = np.arctan2(sin[1], cos[1])  # the angle at position 1: theta_i = inv_freq_i
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.9, n_positions))

    fig, axes = plt.subplots(1, len(pairs), figsize=(3.3 * len(pairs), 3.5))
    for ax, i in zip(axes, pairs, strict=True):
        x = np.zeros((n_positions, head_dim))
        x[:, i], x[:, i + half] = 1.0, 0.35  # the same vector at every position
        out = apply_rope(x, cos, sin)  # (n_positions, head_dim)
        ax.add_patch(plt.Circle((0, 0), np.hypot(1.0, 0.35), fill=False, ls=":", color="0.6"))
        for p in positions:
            a, b = out[p, i], out[p, i + half]
            ax.annotate(
                "",
                xy=(a, b),
                xytext=(0, 0),
                arrowprops={"arrowstyle": "->", "color": colors[p], "lw": 1.5},
            )
            ax.text(
                1.15 * a, 1.15 * b, str(p), ha="center", va="center", fontsize=7, color=colors[p]
            )
        ax.set(xlim=(-1.35, 1.35), ylim=(-1.35, 1.35), aspect="equal")
        ax.set_xlabel(f"dim {i}", fontsize=8)
        ax.set_ylabel(f"dim {i + half}", fontsize=8)
        ax.set_title(rf"pair {i}: $\theta_{{{i}}}$ = {theta[i]:.3g} rad / position", fontsize=9)
        ax.tick_params(labelsize=7)
    fig.suptitle(
        f"RoPE rotates each pair (i, i + {half}) by position x theta_i "
        f"(head_dim {head_dim}, positions 0..{n_positions - 1})",
        fontsize=10,
    )
    fig.tight_layout()
    return write_png(fig, path)


def save_alibi_figure(path, n_heads=8, t=12):
    """ALiBi bias per head under a causal mask: each head forgets at its own rate."""
    plt = pyplot()
    bias = alibi_bias(n_heads, t, t)  # (H, t, t)
    slopes = alibi_slopes(n_heads)
    future = np.triu(np.ones((t, t), dtype=bool), k=1)  # masked by the causal mask
    cmap = plt.get_cmap("magma").with_extremes(bad="0.85")
    cols = min(4, n_heads)
    rows = -(-n_heads // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(2.5 * cols + 0.8, 2.5 * rows + 0.4), squeeze=False
    )
    low = bias[~np.broadcast_to(future, bias.shape)].min()
    for h, ax in enumerate(axes.flat):
        if h >= n_heads:
            ax.axis("off")
            continue
        image = ax.imshow(np.ma.masked_array(bias[h], mask=future), cmap=cmap, vmin=low, vmax=0.0)
        ax.set_title(f"head {h}: slope $2^{{{np.log2(slopes[h]):g}}}$", fontsize=9)
        ax.set_xticks([0, t - 1])
        ax.set_yticks([0, t - 1])
        ax.tick_params(labelsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("key $j$", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("query $i$", fontsize=8)
    fig.colorbar(image, ax=list(axes.flat), shrink=0.8, label=r"bias $-m_h\,(i-j)$")
    fig.suptitle(
        f"ALiBi bias for {n_heads} heads (future keys greyed out by the causal mask)", fontsize=10
    )
    return write_png(fig, path)


def save_lecture_figures(directory):
    """Write every Module 2 figure into ``directory`` (created if needed); return the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return [
        save_encoding_heatmap(directory / "encoding_heatmap.png"),
        save_dot_vs_distance_figure(directory / "dot_vs_distance.png"),
        save_rope_rotation_figure(directory / "rope_rotation.png"),
        save_alibi_figure(directory / "alibi_bias.png"),
    ]
