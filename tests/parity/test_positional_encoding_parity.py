"""Module 2 reference vs Hugging Face transformers / PyTorch: learned embeddings, RoPE tables,
application and backward (LLaMA), linear and NTK context extension, the interleaved layout
(Meta's original complex-number LLaMA code), and ALiBi (BLOOM).

Precision policy. Everything we compute is float64 and compared tightly (1e-12), with one
exception: Hugging Face builds RoPE tables in float32 whatever the model dtype
(``LlamaRotaryEmbedding.forward`` calls ``.float()``; ``inv_freq`` is a float32 buffer), and
BLOOM computes ALiBi slopes in float32. Those comparisons allow float32 rounding of the
angle, ``|error| <= 2 eps32 (|angle| + 1)`` (measured: at most 0.43 eps32 |angle|), or
``rtol = 1e-6`` for slopes. A layout or formula bug moves these numbers by O(1) (asserted
once below), so the float32 tolerance hides no bug. Applying RoPE (``apply_rotary_pos_emb``,
its autograd backward) is compared in float64 on identical tables, tightly.

Inputs are scaled up (std 3) and dimensions differ (B=2, H=3, H_kv=2, T, head_dims 2..48)
so that a transposed axis or a swapped layout fails loudly.
"""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import LlamaConfig
from transformers.models.bloom.modeling_bloom import build_alibi_tensor
from transformers.models.llama.modeling_llama import (
    LlamaRotaryEmbedding,
    apply_rotary_pos_emb,
    rotate_half,
)

from reference.positional_encoding import alibi, embedding, rope, rope_interleaved, rope_scaling
from reference.self_attention.masks import causal_mask
from reference.self_attention.softmax import softmax

# The functions under test, from the files that hold them (the packages import nothing).
FILES = (alibi, embedding, rope, rope_interleaved, rope_scaling)
ref = SimpleNamespace(**{name: getattr(file, name) for file in FILES for name in dir(file)
                         if not name.startswith("_")})

RTOL, ATOL = 1e-10, 1e-12
EPS32 = float(np.finfo(np.float32).eps)
B, H, H_KV = 2, 3, 2

# (hidden_size, num_attention_heads) -> head_dim = hidden_size // num_attention_heads
ROPE_CONFIGS = {
    "head_dim 8": (24, 3, 10000.0),
    "head_dim 16, theta 5e5": (64, 4, 500000.0),
    "head_dim 48": (96, 2, 10000.0),
    "head_dim 2": (6, 3, 10000.0),
}
SEQ_LENS = (1, 5, 64)


def assert_close(actual, expected, what, rtol=RTOL, atol=ATOL):
    if isinstance(expected, torch.Tensor):
        expected = expected.detach().numpy()
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


def assert_tables_close(ours, theirs, angles, what):
    """RoPE tables against Hugging Face's float32-computed ones (see the module docstring)."""
    theirs = theirs.detach().numpy()
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != {theirs.shape}"
    bound = 2 * EPS32 * (np.abs(angles) + 1)  # elementwise, from float32 angle rounding
    error = np.abs(ours - theirs)
    worst = np.unravel_index(np.argmax(error - bound), error.shape)
    assert np.all(error <= bound), (
        f"{what}: differs by {error[worst]:.3g} at {worst}, more than float32 rounding of "
        f"the angle allows ({bound[worst]:.3g})"
    )


def llama_config(hidden, heads, theta, max_positions=128, **rope):
    return LlamaConfig(
        hidden_size=hidden,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        num_hidden_layers=1,
        intermediate_size=8,
        vocab_size=16,
        max_position_embeddings=max_positions,
        rope_parameters={"rope_type": "default", "rope_theta": theta, **rope},
    )


def hf_tables(config, position_ids):
    """cos, sin of LlamaRotaryEmbedding for position_ids (B, T), in float64 (from float32)."""
    rotary = LlamaRotaryEmbedding(config)
    x = torch.zeros(1, dtype=torch.float64)  # only its dtype and device are used
    return rotary(x, torch.as_tensor(position_ids)), rotary


def our_angles(positions, head_dim, base):
    """The exact angles (T, head_dim) in float64, half-split: to size the float32 bound."""
    inv_freq = 1.0 / base ** (np.arange(0, head_dim, 2) / head_dim)
    freqs = np.asarray(positions, dtype=np.float64)[:, None] * inv_freq
    return np.concatenate([freqs, freqs], axis=-1)


def random_positions(rng, t):
    """Positions of two sequences: 0..t-1 (prefill) and sorted ones with gaps (a KV cache)."""
    gaps = np.sort(rng.choice(4 * t + 40, size=t, replace=False))
    return np.stack([np.arange(t), gaps])  # (B, T)


# --- 2.2 embedding ---------------------------------------------------------------------------
@pytest.mark.parametrize("ids_shape", [(7,), (2, 5), (2, 3, 4)])
def test_embedding_and_backward_match_torch_embedding(ids_shape):
    rng = np.random.default_rng(0)
    table = rng.standard_normal((6, 5))
    ids = rng.integers(0, 4, size=ids_shape)  # ids 4, 5 never occur: their gradient is 0
    dout = rng.standard_normal(ids_shape + (5,))

    out, cache = ref.embedding(ids, table)
    table_t = torch.tensor(table, requires_grad=True)
    out_t = F.embedding(torch.tensor(ids), table_t)
    out_t.backward(torch.tensor(dout))
    assert_close(out, out_t, "embedding")
    assert_close(ref.embedding_backward(dout, cache), table_t.grad, "embedding_backward")


# --- 2.3 RoPE tables, application, backward --------------------------------------------------
@pytest.mark.parametrize("t", SEQ_LENS)
@pytest.mark.parametrize("name", list(ROPE_CONFIGS))
def test_rope_tables_match_llama_rotary_embedding(name, t):
    hidden, heads, theta = ROPE_CONFIGS[name]
    config = llama_config(hidden, heads, theta)
    head_dim = hidden // heads
    positions = random_positions(np.random.default_rng(t), t)
    (cos_t, sin_t), _ = hf_tables(config, positions)  # (B, T, head_dim)
    for b in range(B):
        cos, sin = ref.rope_cos_sin(positions[b], head_dim, base=theta)
        assert cos.dtype == sin.dtype == np.float64
        angles = our_angles(positions[b], head_dim, theta)
        assert_tables_close(cos, cos_t[b], angles, f"{name}, T={t}, sequence {b}: cos")
        assert_tables_close(sin, sin_t[b], angles, f"{name}, T={t}, sequence {b}: sin")


def test_float32_table_tolerance_still_catches_the_interleaved_table():
    """The float32 bound is ~1e-5 here; the wrong (repeat-interleave) layout is off by O(1)."""
    config = llama_config(96, 2, 10000.0)
    positions = np.arange(64)
    (cos_t, _), _ = hf_tables(config, positions[None])
    cos, _ = ref.rope_cos_sin(positions, 48)
    wrong = np.repeat(cos[:, :24], 2, axis=1)
    assert np.abs(wrong - cos_t[0].numpy()).max() > 0.5
    with pytest.raises(AssertionError):
        assert_tables_close(wrong, cos_t[0], our_angles(positions, 48, 10000.0), "interleaved")


@pytest.mark.parametrize("t", SEQ_LENS)
@pytest.mark.parametrize("name", list(ROPE_CONFIGS))
def test_apply_rope_matches_apply_rotary_pos_emb(name, t):
    hidden, heads, theta = ROPE_CONFIGS[name]
    head_dim = hidden // heads
    rng = np.random.default_rng(10 + t)
    positions = random_positions(rng, t)
    q = 3 * rng.standard_normal((B, H, t, head_dim))
    k = 3 * rng.standard_normal((B, H_KV, t, head_dim))

    # Our tables, per sequence, through Hugging Face's application: float64 end to end.
    tables = [ref.rope_cos_sin(positions[b], head_dim, base=theta) for b in range(B)]
    cos = np.stack([c for c, _ in tables])  # (B, T, head_dim), as HF passes them
    sin = np.stack([s for _, s in tables])
    q_t, k_t = apply_rotary_pos_emb(*map(torch.tensor, (q, k, cos, sin)))  # unsqueeze_dim=1
    for b in range(B):
        assert_close(ref.apply_rope(q[b], cos[b], sin[b]), q_t[b], f"{name}: q, sequence {b}")
        assert_close(ref.apply_rope(k[b], cos[b], sin[b]), k_t[b], f"{name}: k, sequence {b}")
    # Per-sequence tables broadcast as (B, 1, T, D), as Hugging Face's unsqueeze(1) does.
    assert_close(ref.apply_rope(q, cos[:, None], sin[:, None]), q_t, f"{name}: batched tables")
    assert_close(ref.rotate_half(q), rotate_half(torch.tensor(q)), "rotate_half")

    # Hugging Face's own (float32-built) tables, used by both sides: identical application.
    (cos_hf, sin_hf), _ = hf_tables(llama_config(hidden, heads, theta), positions)
    q_t, k_t = apply_rotary_pos_emb(torch.tensor(q), torch.tensor(k), cos_hf, sin_hf)
    cos_np, sin_np = cos_hf.numpy()[:, None], sin_hf.numpy()[:, None]
    assert_close(ref.apply_rope(q, cos_np, sin_np), q_t, f"{name}: q with HF's tables")
    assert_close(ref.apply_rope(k, cos_np, sin_np), k_t, f"{name}: k with HF's tables")


@pytest.mark.parametrize("t", SEQ_LENS)
@pytest.mark.parametrize("name", list(ROPE_CONFIGS))
def test_apply_rope_backward_matches_autograd(name, t):
    hidden, heads, theta = ROPE_CONFIGS[name]
    head_dim = hidden // heads
    rng = np.random.default_rng(20 + t)
    positions = rng.permutation(3 * t)[:t]  # any positions, not sorted
    cos, sin = ref.rope_cos_sin(positions, head_dim, base=theta)
    q = 3 * rng.standard_normal((B, H, t, head_dim))
    k = 3 * rng.standard_normal((B, H_KV, t, head_dim))
    dq_out, dk_out = rng.standard_normal(q.shape), rng.standard_normal(k.shape)

    q_t = torch.tensor(q, requires_grad=True)
    k_t = torch.tensor(k, requires_grad=True)
    cos_t, sin_t = torch.tensor(cos)[None], torch.tensor(sin)[None]  # (1, T, D)
    q_out, k_out = apply_rotary_pos_emb(q_t, k_t, cos_t, sin_t)
    torch.autograd.backward([q_out, k_out], [torch.tensor(dq_out), torch.tensor(dk_out)])
    assert_close(ref.apply_rope_backward(dq_out, cos, sin), q_t.grad, f"{name}: dq")
    assert_close(ref.apply_rope_backward(dk_out, cos, sin), k_t.grad, f"{name}: dk")


def test_apply_rope_float32_matches_hugging_face_in_float32():
    config = llama_config(64, 4, 10000.0)
    rng = np.random.default_rng(3)
    positions = random_positions(rng, 9)
    q = (3 * rng.standard_normal((B, H, 9, 16))).astype(np.float32)
    k = (3 * rng.standard_normal((B, H_KV, 9, 16))).astype(np.float32)
    rotary = LlamaRotaryEmbedding(config)
    cos_t, sin_t = rotary(torch.tensor(q), torch.tensor(positions))  # float32 tables
    q_t, k_t = apply_rotary_pos_emb(torch.tensor(q), torch.tensor(k), cos_t, sin_t)
    for b in range(B):
        cos, sin = ref.rope_cos_sin(positions[b], 16)  # float64 tables, cast inside
        for x, x_t, what in ((q, q_t, "q"), (k, k_t, "k")):
            out = ref.apply_rope(x[b], cos, sin)
            assert out.dtype == np.float32, f"{what}: float32 in must give float32 out"
            assert_close(out, x_t[b], f"float32 {what}, sequence {b}", rtol=1e-5, atol=1e-5)


# --- 2.6 context extension -------------------------------------------------------------------
@pytest.mark.parametrize("factor", [1.0, 2.0, 4.0, 8.0])
@pytest.mark.parametrize("name", ["head_dim 8", "head_dim 16, theta 5e5", "head_dim 48"])
def test_linear_scaling_matches_hugging_face_linear_rope(name, factor):
    """Hugging Face divides inv_freq by the factor; we divide the positions: same angles.

    The scaling dict is Hugging Face's own ``config.rope_parameters`` (``rope_type``,
    ``factor``, ``rope_theta``): the alias and the ignored extra key are exercised too.
    """
    hidden, heads, theta = ROPE_CONFIGS[name]
    head_dim = hidden // heads
    config = llama_config(hidden, heads, theta, rope_type="linear", factor=factor)
    positions = random_positions(np.random.default_rng(4), 64)
    (cos_t, sin_t), _ = hf_tables(config, positions)
    for b in range(B):
        cos, sin = ref.rope_cos_sin(
            positions[b], head_dim, base=theta, scaling=dict(config.rope_parameters)
        )
        angles = our_angles(positions[b] / factor, head_dim, theta)
        assert_tables_close(cos, cos_t[b], angles, f"{name}, linear x{factor:g}: cos")
        assert_tables_close(sin, sin_t[b], angles, f"{name}, linear x{factor:g}: sin")


@pytest.mark.parametrize("factor", [2.0, 4.0, 8.0])
@pytest.mark.parametrize("name", ["head_dim 8", "head_dim 16, theta 5e5", "head_dim 48"])
def test_ntk_base_equals_hugging_face_dynamic_ntk_where_they_coincide(name, factor):
    """Hugging Face's "dynamic" type rescales the base for the current length L:

        base' = base * (factor * L / M - (factor - 1)) ** (d / (d - 2))     (M: trained length)

    At ``L = M * (2 - 1 / factor)`` the bracket is exactly ``factor``, so base' is the static
    NTK-aware base ``base * factor ** (d / (d - 2))``; with M = 16 that L is an integer for
    the factors used. There both must give the same tables (HF's are float32).
    """
    hidden, heads, theta = ROPE_CONFIGS[name]
    head_dim = hidden // heads
    m = 16
    length = round(m * (2 - 1 / factor))
    assert factor * length / m - (factor - 1) == factor  # exactly, in floating point
    config = llama_config(hidden, heads, theta, max_positions=m, rope_type="dynamic", factor=factor)
    positions = np.arange(length)[None]  # Hugging Face takes L = max(position_ids) + 1
    (cos_t, sin_t), rotary = hf_tables(config, positions)

    ntk = {"rope_type": "ntk", "factor": factor}
    scaled_positions, base = ref.rope_scaling(positions[0], head_dim, theta, ntk)
    assert base == pytest.approx(theta * factor ** (head_dim / (head_dim - 2)), rel=1e-15)
    np.testing.assert_array_equal(scaled_positions, positions[0])
    inv_freq = 1.0 / base ** (np.arange(0, head_dim, 2) / head_dim)
    assert_close(inv_freq.astype(np.float32), rotary.inv_freq, "inv_freq", rtol=4 * EPS32, atol=0)

    cos, sin = ref.rope_cos_sin(positions[0], head_dim, base=theta, scaling=ntk)
    angles = our_angles(positions[0], head_dim, base)
    assert_tables_close(cos, cos_t[0], angles, f"{name}, NTK x{factor:g}: cos")
    assert_tables_close(sin, sin_t[0], angles, f"{name}, NTK x{factor:g}: sin")


# --- 2.4 interleaved layout ------------------------------------------------------------------
def meta_precompute_freqs_cis(dim, positions, theta=10000.0):
    """Meta's original LLaMA ``precompute_freqs_cis``, in float64 and for given positions."""
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float64)[: dim // 2] / dim))
    freqs = torch.outer(torch.as_tensor(positions, dtype=torch.float64), freqs)
    return torch.polar(torch.ones_like(freqs), freqs)  # complex128 (T, dim/2)


def meta_apply_rotary_emb(x, freqs_cis):
    """Meta's original ``apply_rotary_emb`` for one tensor ``(B, T, H, D)`` (float64)."""
    x_ = torch.view_as_complex(x.reshape(*x.shape[:-1], -1, 2))  # pairs (2i, 2i+1) -> complex
    freqs_cis = freqs_cis[None, :, None, :]  # reshape_for_broadcast: (1, T, 1, D/2)
    return torch.view_as_real(x_ * freqs_cis).flatten(3)


def hf_permute(w, n_heads):
    """The row permutation of Hugging Face's ``convert_llama_weights_to_hf.py`` (the script
    is not in the wheel; this is its ``permute``): per head, rows (2i, 2i+1) -> (i, i + D/2)."""
    dim1, dim2 = w.shape
    return w.view(n_heads, dim1 // n_heads // 2, 2, dim2).transpose(1, 2).reshape(dim1, dim2)


@pytest.mark.parametrize("t", SEQ_LENS)
@pytest.mark.parametrize("head_dim, theta", [(2, 10000.0), (8, 10000.0), (16, 500000.0)])
def test_interleaved_matches_meta_complex_rope(head_dim, theta, t):
    rng = np.random.default_rng(30 + t)
    positions = rng.permutation(2 * t)[:t]
    x = 3 * rng.standard_normal((B, t, H, head_dim))  # Meta's layout (B, T, H, D)
    expected = meta_apply_rotary_emb(
        torch.tensor(x), meta_precompute_freqs_cis(head_dim, positions, theta)
    )
    cos, sin = ref.rope_cos_sin(positions, head_dim, base=theta)
    ours = ref.apply_rope_interleaved(x.transpose(0, 2, 1, 3), cos, sin)  # (B, H, T, D)
    assert_close(ours.transpose(0, 2, 1, 3), expected, f"head_dim {head_dim}, T={t}")

    x32 = x.astype(np.float32).transpose(0, 2, 1, 3)
    out32 = ref.apply_rope_interleaved(x32, cos, sin)
    assert out32.dtype == np.float32
    assert_close(out32.astype(np.float64).transpose(0, 2, 1, 3), expected, "float32", 1e-5, 1e-5)


def test_meta_checkpoint_with_permuted_weights_gives_hugging_face_scores():
    """Meta's W_q, W_k with interleaved RoPE == HF's permuted W_q, W_k with half-split RoPE:
    the same attention scores, and per head ``P^T apply_rope(P q) == apply_rope_interleaved(q)``.
    """
    rng = np.random.default_rng(5)
    t, c, head_dim = 7, 24, 8  # H = 3 heads
    x = rng.standard_normal((B, t, c))
    w_q, w_k = (
        torch.tensor(0.5 * rng.standard_normal((c, c))) for _ in range(2)
    )  # torch (out, in)
    positions = np.arange(t)
    cos, sin = ref.rope_cos_sin(positions, head_dim)

    def heads(w):  # x @ W^T split into (B, H, T, D)
        return (torch.tensor(x) @ w.T).numpy().reshape(B, t, H, head_dim).transpose(0, 2, 1, 3)

    q_meta = ref.apply_rope_interleaved(heads(w_q), cos, sin)
    k_meta = ref.apply_rope_interleaved(heads(w_k), cos, sin)
    q_hf = ref.apply_rope(heads(hf_permute(w_q, H)), cos, sin)
    k_hf = ref.apply_rope(heads(hf_permute(w_k, H)), cos, sin)
    scores = q_meta @ k_meta.swapaxes(-1, -2)
    assert_close(scores, q_hf @ k_hf.swapaxes(-1, -2), "attention scores, Meta vs HF weights")
    perm = ref.interleave_permutation(head_dim)
    assert_close(q_hf[..., np.argsort(perm)], q_meta, "P^T apply_rope(P q)")
    q_meta_t = meta_apply_rotary_emb(
        torch.tensor(heads(w_q).transpose(0, 2, 1, 3).copy()),
        meta_precompute_freqs_cis(head_dim, positions),
    )
    assert_close(q_meta.transpose(0, 2, 1, 3), q_meta_t, "Meta's apply_rotary_emb")


# --- 2.5 ALiBi -------------------------------------------------------------------------------
ALIBI_HEADS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)


def bloom_alibi(n_heads, t_k):
    """BLOOM's bias for one unpadded sequence: ``slope_h * j`` for key j, shape (H, 1, T_k)."""
    mask = torch.ones(1, t_k, dtype=torch.int64)
    return build_alibi_tensor(mask, n_heads, torch.float64).numpy()  # float32 slopes, cast


@pytest.mark.parametrize("n_heads", ALIBI_HEADS)
def test_alibi_slopes_match_bloom(n_heads):
    slopes = ref.alibi_slopes(n_heads)
    assert slopes.dtype == np.float64 and slopes.shape == (n_heads,)
    bloom = bloom_alibi(n_heads, 2)[:, 0, 1]  # slope * 1
    np.testing.assert_allclose(slopes, bloom, rtol=1e-6, atol=0, err_msg="float32 in BLOOM")


@pytest.mark.parametrize("t_q, t_k", [(6, 6), (1, 6), (3, 8)])
@pytest.mark.parametrize("n_heads", ALIBI_HEADS)
def test_alibi_attention_weights_equal_bloom_under_a_causal_mask(n_heads, t_q, t_k):
    """BLOOM adds ``slope * j``; we add ``-slope * (i + t_k - t_q - j)``. They differ by
    ``-slope * (i + t_k - t_q)``, constant along each row, and softmax ignores a per-row
    constant: under the (bottom-right) causal mask the attention weights are equal."""
    rng = np.random.default_rng(n_heads + 100 * t_q)
    scores = 3 * rng.standard_normal((B, n_heads, t_q, t_k))
    mask = causal_mask(t_q, t_k)

    ours = softmax(np.where(mask, scores + ref.alibi_bias(n_heads, t_q, t_k), -np.inf))
    bloom = bloom_alibi(n_heads, t_k)  # (H, 1, T_k), broadcast over queries
    scores_t = torch.tensor(scores) + torch.tensor(bloom)
    theirs = torch.softmax(scores_t.masked_fill(~torch.tensor(mask), -torch.inf), dim=-1)
    assert_close(ours, theirs, f"{n_heads} heads, t_q={t_q}, t_k={t_k}", rtol=1e-6, atol=1e-9)

    # The difference is -slope * (i + t_k - t_q): constant along each row (up to BLOOM's
    # float32 slopes).
    difference = ref.alibi_bias(n_heads, t_q, t_k) - bloom
    row_start = np.broadcast_to(difference[..., :1], difference.shape)
    assert_close(difference, row_start, "per-row shift", rtol=0, atol=1e-6 * t_k)
    expected = -ref.alibi_slopes(n_heads)[:, None] * (np.arange(t_q) + t_k - t_q)
    assert_close(difference[..., 0], expected, "the shift is -slope * (i + t_k - t_q)")
