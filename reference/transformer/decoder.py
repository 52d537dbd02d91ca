"""The Transformer decoder layer, forward and backward, pre-norm and post-norm (exercise 3.7).

Three residual sub-layers, each with a LayerNorm and, in training, dropout on its output:
a masked (causal) self-attention over the target, a cross-attention whose queries come from
the target and whose keys and values come from the encoder output (the *memory*), and a
position-wise feed-forward network::

    norm_first=False (post-norm, Vaswani et al.; PyTorch's default):
        h_1 = ln_1(x + drop(self_attn(x, x)))
        h_2 = ln_2(h_1 + drop(cross_attn(h_1, memory)))
        out = ln_3(h_2 + drop(ffn(h_2)))
    norm_first=True (pre-norm):
        h_1 = x + drop(self_attn(ln_1(x), ln_1(x)))
        h_2 = h_1 + drop(cross_attn(ln_2(h_1), memory))      (the memory is not normalised)
        out = h_2 + drop(ffn(ln_3(h_2)))

Parameters are one *flat* dict of arrays with prefixed keys, like ``encoder_layer``'s::

    self_attn.W_q ... self_attn.b_o     the masked self-attention  (PyTorch: self_attn)
    ln_1.gamma ln_1.beta                                           (PyTorch: norm1)
    cross_attn.W_q ... cross_attn.b_o   the cross-attention        (PyTorch: multihead_attn)
    ln_2.gamma ln_2.beta                                           (PyTorch: norm2)
    ffn.W_1 ffn.b_1 ffn.W_2 ffn.b_2                                (PyTorch: linear1, linear2)
    ln_3.gamma ln_3.beta                                           (PyTorch: norm3)

with Module 1's eight attention names (``W_q b_q W_k b_k W_v b_v W_o b_o``) after each
attention prefix. ``init_decoder_layer`` builds such a dict; the backward returns the
gradients as a dict with the same keys.
"""

import numpy as np

from ..self_attention.masks import causal_mask
from ..self_attention.multi_head import (
    PARAM_NAMES as MHA_PARAM_NAMES,
)
from ..self_attention.multi_head import (
    init_mha_params,
    multi_head_attention,
    multi_head_attention_backward,
)
from .dropout import dropout, dropout_backward
from .encoder import (
    LN_PARAM_NAMES,
    check_dropout_args,
    check_layer_params,
    init_layer_norm,
    prefixed,
    sublayer_params,
)
from .feed_forward import FFN_PARAM_NAMES, feed_forward, feed_forward_backward, init_feed_forward
from .norms import layer_norm, layer_norm_backward

DECODER_SUBLAYERS = (("self_attn", MHA_PARAM_NAMES), ("ln_1", LN_PARAM_NAMES),
                     ("cross_attn", MHA_PARAM_NAMES), ("ln_2", LN_PARAM_NAMES),
                     ("ffn", FFN_PARAM_NAMES), ("ln_3", LN_PARAM_NAMES))
DECODER_PARAM_NAMES = tuple(f"{prefix}.{name}" for prefix, names in DECODER_SUBLAYERS
                            for name in names)


def init_decoder_layer(d_model, n_heads, d_ff, rng, dtype=np.float64, std=0.02):
    """Random parameters of ``decoder_layer`` (given, not an exercise).

    Draws, in this order: the self-attention's ``W_q W_k W_v W_o``, the cross-attention's
    (``init_mha_params`` twice), then the FFN's ``W_1 W_2`` (``init_feed_forward``), all from
    N(0, std^2); biases are zeros and the three LayerNorms start at ``gamma = 1``,
    ``beta = 0``.

    Args:
        d_model: C, the model width (of the target states and of the memory).
        n_heads: H, a divisor of C (checked here).
        d_ff: F, the FFN's inner width.
        rng: a ``np.random.Generator``.
        dtype: dtype of every array.
        std: standard deviation of the weights.

    Returns:
        A flat dict with the keys ``DECODER_PARAM_NAMES`` (see the module docstring).

    Raises:
        ValueError: if ``d_model`` is not divisible by ``n_heads``.
    """
    if n_heads < 1 or d_model % n_heads != 0:
        raise ValueError(f"init_decoder_layer: d_model = {d_model} is not divisible by "
                         f"n_heads = {n_heads}")
    self_attn = init_mha_params(d_model, rng, dtype=dtype, std=std)
    cross_attn = init_mha_params(d_model, rng, dtype=dtype, std=std)
    ffn = init_feed_forward(d_model, rng, hidden=d_ff, dtype=dtype, std=std)
    params = {**prefixed("self_attn", self_attn), **prefixed("cross_attn", cross_attn),
              **prefixed("ffn", ffn)}
    for prefix in ("ln_1", "ln_2", "ln_3"):
        params.update(prefixed(prefix, init_layer_norm(d_model, dtype)))
    return {name: params[name] for name in DECODER_PARAM_NAMES}


def _check_decoder_inputs(x, memory, params, dropout_p, rng, train):
    """Raise a clear error if the inputs of decoder_layer do not fit (given)."""
    if np.ndim(x) != 3 or np.ndim(memory) != 3:
        raise ValueError(
            f"decoder_layer: x must be (B, T, C) and memory (B, S, C), got {np.shape(x)} "
            f"and {np.shape(memory)}"
        )
    (b, _, c), (b_m, _, c_m) = np.shape(x), np.shape(memory)
    if b != b_m or c != c_m:
        raise ValueError(
            f"decoder_layer: x {np.shape(x)} and memory {np.shape(memory)} must share B and C "
            "(memory is the encoder's output for the same batch)"
        )
    check_layer_params(params, DECODER_PARAM_NAMES, "decoder_layer")
    check_dropout_args(dropout_p, rng, train, "decoder_layer")


# --- exercise 3.7 ------------------------------------------------------------------------------
def decoder_layer(x, memory, params, n_heads, self_mask=None, memory_mask=None,
                  norm_first=False, dropout_p=0.0, rng=None, train=False, activation="relu",
                  eps=1e-5):
    """One Transformer decoder layer: masked self-attention, cross-attention to the memory,
    FFN, each with a residual and a LayerNorm (exercise 3.7).

        post-norm (norm_first=False)               pre-norm (norm_first=True)
        a = self_attn(x, x; self_mask)             u = ln_1(x); a = self_attn(u, u; self_mask)
        h_1 = ln_1(x + drop(a))                    h_1 = x + drop(a)
        c = cross_attn(h_1, memory; memory_mask)   w = ln_2(h_1); c = cross_attn(w, memory; ..)
        h_2 = ln_2(h_1 + drop(c))                  h_2 = h_1 + drop(c)
        f = ffn(h_2)                               v = ln_3(h_2); f = ffn(v)
        out = ln_3(h_2 + drop(f))                  out = h_2 + drop(f)

    **Masks.** When ``self_mask`` is None the self-attention uses the causal mask
    ``causal_mask(T)`` of Module 1 (bottom-right aligned, which for ``T`` queries and ``T``
    keys is the lower triangle): target position t sees positions ``<= t`` only, so no
    output row depends on a later target token. A ``self_mask`` you pass is used *as it is*,
    like PyTorch's ``tgt_mask``: to add target padding, pass
    ``causal_mask(T) & padding_mask(lengths, T)[:, None, None, :]``. The cross-attention has
    no causal mask; ``memory_mask`` (typically the source padding, ``(B, 1, 1, S)``) is
    optional. Both are boolean, True = may attend.

    Dropout (inverted, 3.5) acts on each sub-layer's output before the residual addition,
    only when ``train`` and ``dropout_p > 0``; otherwise ``rng`` is not touched. Draw order
    (one ``rng.random(shape)`` each): self-attention, cross-attention, FFN.

    Args:
        x: ``(B, T, C)``, the target-side states (shifted target embeddings, or the previous
            decoder layer's output).
        memory: ``(B, S, C)``, the encoder's output; S may differ from T.
        params: the flat dict of the module docstring (``init_decoder_layer``).
        n_heads: H, a divisor of C (both attentions).
        self_mask: None (causal) or a boolean array broadcastable to ``(B, H, T, T)``.
        memory_mask: None or a boolean array broadcastable to ``(B, H, T, S)``.
        norm_first: True for pre-norm, False for post-norm.
        dropout_p, rng, train: as in ``encoder_layer``.
        activation: the FFN's activation (``"relu"``, Vaswani et al.).
        eps: the LayerNorms' epsilon (1e-5).

    Returns:
        out: ``(B, T, C)`` in the inputs' dtype (float32 in -> float32 out); x, memory and
            params are not modified.
        cache: dict for ``decoder_layer_backward``. The reference keeps ``"norm_first"``,
            the sub-layer caches ``"self_attn"``, ``"cross_attn"`` (each with its attention
            weights under ``"weights"``: ``(B, H, T, T)`` and ``(B, H, T, S)``), ``"ffn"``,
            ``"ln_1"``, ``"ln_2"``, ``"ln_3"``, and the dropout caches ``"drop_self"``,
            ``"drop_cross"``, ``"drop_ffn"``.

    Raises:
        ValueError / TypeError: for a wrong shape, a missing or unexpected parameter key, a
            rate outside [0, 1], or a missing generator when dropout needs one.
    """
    _check_decoder_inputs(x, memory, params, dropout_p, rng, train)
    ### BEGIN SOLUTION
    if self_mask is None:
        self_mask = causal_mask(x.shape[1])  # (T, T), lower triangle
    self_p, cross_p = sublayer_params(params, "self_attn"), sublayer_params(params, "cross_attn")
    ffn_p = sublayer_params(params, "ffn")
    ln = [sublayer_params(params, f"ln_{i}") for i in (1, 2, 3)]
    cache = {"norm_first": norm_first}
    if norm_first:
        u, cache["ln_1"] = layer_norm(x, ln[0]["gamma"], ln[0]["beta"], eps)  # (B, T, C)
        a, cache["self_attn"] = multi_head_attention(u, u, self_p, n_heads, self_mask)
        a, cache["drop_self"] = dropout(a, dropout_p, rng, train)
        h_1 = x + a
        w, cache["ln_2"] = layer_norm(h_1, ln[1]["gamma"], ln[1]["beta"], eps)
        c, cache["cross_attn"] = multi_head_attention(w, memory, cross_p, n_heads, memory_mask)
        c, cache["drop_cross"] = dropout(c, dropout_p, rng, train)
        h_2 = h_1 + c
        v, cache["ln_3"] = layer_norm(h_2, ln[2]["gamma"], ln[2]["beta"], eps)
        f, cache["ffn"] = feed_forward(v, ffn_p, activation)
        f, cache["drop_ffn"] = dropout(f, dropout_p, rng, train)
        out = h_2 + f
    else:
        a, cache["self_attn"] = multi_head_attention(x, x, self_p, n_heads, self_mask)
        a, cache["drop_self"] = dropout(a, dropout_p, rng, train)
        h_1, cache["ln_1"] = layer_norm(x + a, ln[0]["gamma"], ln[0]["beta"], eps)
        c, cache["cross_attn"] = multi_head_attention(h_1, memory, cross_p, n_heads,
                                                      memory_mask)  # (B, T, C)
        c, cache["drop_cross"] = dropout(c, dropout_p, rng, train)
        h_2, cache["ln_2"] = layer_norm(h_1 + c, ln[1]["gamma"], ln[1]["beta"], eps)
        f, cache["ffn"] = feed_forward(h_2, ffn_p, activation)
        f, cache["drop_ffn"] = dropout(f, dropout_p, rng, train)
        out, cache["ln_3"] = layer_norm(h_2 + f, ln[2]["gamma"], ln[2]["beta"], eps)
    return out, cache
    ### END SOLUTION


def decoder_layer_backward(dout, cache):
    """Gradients of ``decoder_layer`` (exercise 3.7; lecture 3, §9.4-9.5).

    ``dmemory`` is this layer's gradient w.r.t. the memory (a model whose decoder layers all
    read the same memory adds up their ``dmemory``; the layer returns its own).

    Args:
        dout: dL/d(out), ``(B, T, C)``.
        cache: the cache returned by ``decoder_layer``.

    Returns:
        (dx, dmemory, dparams): ``dx`` ``(B, T, C)``, ``dmemory`` ``(B, S, C)`` and a flat
        dict with the keys (in the order of) ``DECODER_PARAM_NAMES`` and the parameters'
        shapes; the inputs' dtype.
    """
    ### BEGIN SOLUTION
    grads = {}
    if cache["norm_first"]:
        df = dropout_backward(dout, cache["drop_ffn"])  # out = h_2 + f
        dv, grads["ffn"] = feed_forward_backward(df, cache["ffn"])
        dh_2_ln, dgamma_3, dbeta_3 = layer_norm_backward(dv, cache["ln_3"])
        dh_2 = dout + dh_2_ln
        dc = dropout_backward(dh_2, cache["drop_cross"])  # h_2 = h_1 + c
        dw, dmemory, grads["cross_attn"] = multi_head_attention_backward(dc, cache["cross_attn"])
        dh_1_ln, dgamma_2, dbeta_2 = layer_norm_backward(dw, cache["ln_2"])
        dh_1 = dh_2 + dh_1_ln
        da = dropout_backward(dh_1, cache["drop_self"])  # h_1 = x + a
        du_q, du_kv, grads["self_attn"] = multi_head_attention_backward(da, cache["self_attn"])
        dx_ln, dgamma_1, dbeta_1 = layer_norm_backward(du_q + du_kv, cache["ln_1"])
        dx = dh_1 + dx_ln
    else:
        dz_3, dgamma_3, dbeta_3 = layer_norm_backward(dout, cache["ln_3"])  # z_3 = h_2 + f
        df = dropout_backward(dz_3, cache["drop_ffn"])
        dh_2_ffn, grads["ffn"] = feed_forward_backward(df, cache["ffn"])
        dh_2 = dz_3 + dh_2_ffn
        dz_2, dgamma_2, dbeta_2 = layer_norm_backward(dh_2, cache["ln_2"])  # z_2 = h_1 + c
        dc = dropout_backward(dz_2, cache["drop_cross"])
        dh_1_q, dmemory, grads["cross_attn"] = multi_head_attention_backward(
            dc, cache["cross_attn"])
        dh_1 = dz_2 + dh_1_q
        dz_1, dgamma_1, dbeta_1 = layer_norm_backward(dh_1, cache["ln_1"])  # z_1 = x + a
        da = dropout_backward(dz_1, cache["drop_self"])
        dx_q, dx_kv, grads["self_attn"] = multi_head_attention_backward(da, cache["self_attn"])
        dx = dz_1 + dx_q + dx_kv
    grads["ln_1"] = {"gamma": dgamma_1, "beta": dbeta_1}
    grads["ln_2"] = {"gamma": dgamma_2, "beta": dbeta_2}
    grads["ln_3"] = {"gamma": dgamma_3, "beta": dbeta_3}
    flat = {}
    for prefix, _ in DECODER_SUBLAYERS:
        flat.update(prefixed(prefix, grads[prefix]))
    return dx, dmemory, {name: flat[name] for name in DECODER_PARAM_NAMES}
    ### END SOLUTION
