"""Worked example of Module 2: telling a model where each token is.

Usage:
    python -m demos positional_encoding                      # on your code (exercises/)
    python -m demos positional_encoding --target reference   # on the solutions
    python -m demos positional_encoding --target reference \
        --figures lectures/02_positional_encoding/figures    # the lecture's figures
    python -m demos extrapolate [--quick]   # the length-extrapolation experiment
"""

import numpy as np
from implementation.positional_encoding.alibi import alibi_bias, alibi_slopes
from implementation.positional_encoding.embedding import embedding, embedding_backward
from implementation.positional_encoding.rope import apply_rope, apply_rope_backward, rope_cos_sin
from implementation.positional_encoding.rope_interleaved import (
    apply_rope_interleaved,
    interleave_permutation,
)
from implementation.positional_encoding.sinusoidal import (
    sinusoidal_positional_encoding,
)

from ..run import parser as demo_parser
from ..text import say
from .figures import save_lecture_figures

D_MODEL, HEAD_DIM = 8, 8


def sinusoidal_shift_matrix(k, d, base=10000.0):
    """The matrix M_k with ``PE[p + k] = M_k @ PE[p]`` for every position p.

    Shifting by k positions adds ``k * w_i`` to every angle, and by the addition theorems

        sin((p+k) w) =  cos(k w) sin(p w) + sin(k w) cos(p w)
        cos((p+k) w) = -sin(k w) sin(p w) + cos(k w) cos(p w)

    so M_k is block diagonal with one 2x2 rotation ``[[c, s], [-s, c]]`` (``c = cos(k w_i)``,
    ``s = sin(k w_i)``) per column pair. It does not depend on p: a relative offset is a
    linear map of the encodings, which is why Vaswani et al. hoped attention could learn to
    use relative positions. (Not an exercise: it illustrates the lecture.)

    Args:
        k: the offset (any real number; negative shifts backwards).
        d: the encoding width, even (for odd d the last column has no cos partner).
        base: as in ``sinusoidal_positional_encoding``.

    Returns:
        ``(d, d)`` float64 orthogonal matrix.

    Raises:
        ValueError: if ``d`` is odd or < 2.
    """
    if d < 2 or d % 2:
        raise ValueError(f"sinusoidal_shift_matrix: d must be even and >= 2, got {d}")
    w = base ** (-np.arange(0, d, 2) / d)  # (d/2,)
    c, s = np.cos(k * w), np.sin(k * w)
    m = np.zeros((d, d))
    i = np.arange(0, d, 2)
    m[i, i], m[i, i + 1] = c, s  # new sin = c sin + s cos
    m[i + 1, i], m[i + 1, i + 1] = -s, c  # new cos = -s sin + c cos
    return m


def _powers_of_two(slopes):
    """Slopes as powers of two, e.g. ``2^-1 2^-1.5``."""
    return " ".join(f"2^{np.log2(s):g}" for s in slopes)


def run_demo():
    """Print the worked example; return True when every check passed."""
    rng = np.random.default_rng(0)
    checks = []  # (passed, text), printed at the end

    def check(passed, text):
        checks.append((bool(passed), text))

    # 2.1 sinusoidal encoding and its linear-shift property
    say("2.1  Sinusoids, d = 4, positions 0..4 (columns sin w0, cos w0, sin w1, cos w1):")
    with np.printoptions(precision=3, suppress=True, floatmode="fixed"):
        say(sinusoidal_positional_encoding(5, 4))
        say("     Shift matrix M_1 (one 2x2 rotation per pair, the same for every p):")
        say(sinusoidal_shift_matrix(1, 4))
    pe = sinusoidal_positional_encoding(32, D_MODEL)
    error = np.abs(pe[:-1] @ sinusoidal_shift_matrix(1, D_MODEL).T - pe[1:]).max()
    check(
        error < 1e-12,
        f"M_1 @ PE[p] == PE[p + 1] for p = 0..30, d = {D_MODEL} (max error {error:.1e})",
    )

    # 2.2 token + learned position embeddings, as GPT-2 builds its input
    ids = np.array([[2, 0, 2, 1]])  # (B, T) token ids; id 2 appears twice
    wte, wpe = rng.standard_normal((3, D_MODEL)), rng.standard_normal((4, D_MODEL))
    tokens, cache = embedding(ids, wte)
    x = tokens + embedding(np.arange(ids.shape[1]), wpe)[0]  # (B, T, C)
    counts = embedding_backward(np.ones_like(tokens), cache)[:, 0]
    say(f"\n2.2  Token + learned position embeddings of ids {ids.tolist()}: x {x.shape}")
    check(
        np.array_equal(counts, [1, 1, 2]),
        "embedding_backward accumulates repeated ids "
        f"(dout of ones gives {counts.tolist()} for ids 0, 1, 2)",
    )

    # 2.3 RoPE: norms kept, scores depend only on the distance, backward = inverse
    t = 16
    cos, sin = rope_cos_sin(np.arange(t), HEAD_DIM)
    q, k = rng.standard_normal((2, HEAD_DIM))
    rq = apply_rope(np.broadcast_to(q, (t, HEAD_DIM)), cos, sin)  # q at positions 0 .. t-1
    rk = apply_rope(np.broadcast_to(k, (t, HEAD_DIM)), cos, sin)
    say(f"\n2.3  RoPE, head_dim {HEAD_DIM}: one q and one k placed at positions 0..{t - 1}")
    say(
        f"     q.k at (m, n) = (2, 5): {rq[2] @ rk[5]:+.6f}   (10, 13): "
        f"{rq[10] @ rk[13]:+.6f}\n     without RoPE: {q @ k:+.6f}"
    )
    error = np.abs(np.linalg.norm(rq, axis=-1) - np.linalg.norm(q)).max()
    check(error < 1e-12, f"RoPE preserves norms (max change {error:.1e})")
    scores = rq @ rk.T  # scores[m, n]: q at m, k at n
    spread = max(np.ptp(np.diagonal(scores, offset)) for offset in range(1 - t, t))
    check(
        spread < 1e-12,
        f"q.k after RoPE depends only on n - m (max spread along a diagonal {spread:.1e})",
    )
    error = np.abs(apply_rope_backward(rq, cos, sin) - q).max()
    check(
        error < 1e-12,
        "apply_rope_backward undoes apply_rope: the transpose of a rotation "
        f"is its inverse (max error {error:.1e})",
    )

    # 2.4 the interleaved layout is the half-split one, permuted
    xs = rng.standard_normal((t, HEAD_DIM))
    perm = interleave_permutation(HEAD_DIM)
    via_half_split = apply_rope(xs[:, perm], cos, sin)[:, np.argsort(perm)]
    error = np.abs(apply_rope_interleaved(xs, cos, sin) - via_half_split).max()
    say(f"\n2.4  Interleaved layout; P (even dims first) = {perm.tolist()}")
    check(
        error < 1e-12,
        f"apply_rope_interleaved(x) == P^T apply_rope(P x) (max difference {error:.1e})",
    )

    # 2.5 ALiBi
    say("\n2.5  ALiBi slopes")
    for n in (8, 12):
        say(f"     {n:2d} heads: {_powers_of_two(alibi_slopes(n))}", indent=15)
    bias = alibi_bias(2, 3, 5)  # (H, t_q, t_k): the 3 newest queries over 5 keys
    say("     alibi_bias(2, t_q=3, t_k=5)[0]: query i sits at position i + 2; the")
    say("     positive entries are future keys, which the causal mask removes:")
    with np.printoptions(precision=4, suppress=True):
        say(bias[0])
    check(
        bias[0, -1, -1] == 0 and bias[0, -1, 0] == -4 * alibi_slopes(2)[0],
        "the last query sits at the last key: bias 0 there, -4 x slope at key 0",
    )

    # 2.6 context extension by 2: the slowest pair's angle
    pos = np.arange(0, 4096, 1024)
    plain = rope_cos_sin(pos, HEAD_DIM)[0]
    halved = rope_cos_sin(pos / 2, HEAD_DIM)[0]
    linear = rope_cos_sin(pos, HEAD_DIM, scaling={"type": "linear", "factor": 2.0})[0]
    ntk = rope_cos_sin(pos, HEAD_DIM, scaling={"type": "ntk", "factor": 2.0})[0]
    slow = HEAD_DIM // 2 - 1
    say("\n2.6  Context extension x2: cos of the slowest angle")
    say(f"     {'positions':9s}: {pos.tolist()}")
    for name, table in (("none", plain), ("linear", linear), ("ntk", ntk)):
        say(f"     {name:9s}: {np.round(table[:, slow], 4).tolist()}")
    check(
        np.abs(linear - halved).max() < 1e-12,
        "linear scaling by 2 gives the tables of positions / 2",
    )
    check(
        np.allclose(ntk[:, slow], halved[:, slow]) and np.allclose(ntk[:, 0], plain[:, 0]),
        "NTK scaling interpolates the slowest pair and leaves the fastest pair alone",
    )

    say()
    for passed, text in checks:
        say(f"[{'ok' if passed else 'FAILED'}] {text}")
    return all(passed for passed, _ in checks)


def main(argv=None):
    parser = demo_parser("positional_encoding",
                         "Worked example of Module 2 (positional encoding).")
    parser.add_argument("--figures", metavar="DIR",
                        help="also regenerate every lecture figure into DIR")
    args = parser.parse_args(argv)
    ok = run_demo()
    if args.figures:
        for path in save_lecture_figures(args.figures):
            say(f"Wrote {path}")
    return 0 if ok else 1
