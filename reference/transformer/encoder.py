"""The Transformer encoder layer, forward and backward, pre-norm and post-norm (exercise 3.6).

One layer is two residual sub-layers, a multi-head self-attention (Module 1, exercise 1.7)
and a position-wise feed-forward network (3.4), each with a LayerNorm (3.2) and, in
training, dropout on its output (3.5):

    norm_first=False (post-norm, Vaswani et al.; PyTorch's default):
        h = ln_1(x + drop(attn(x, x)))          out = ln_2(h + drop(ffn(h)))
    norm_first=True (pre-norm, GPT-2 and most language models since):
        h = x + drop(attn(ln_1(x), ln_1(x)))    out = h + drop(ffn(ln_2(h)))

Parameters are one *flat* dict of arrays with prefixed keys (the layout of a PyTorch
``state_dict`` or the GPT-2 checkpoint, and what ``AdamW.step`` and ``clip_grad_norm`` take
as they are)::

    attn.W_q attn.b_q attn.W_k attn.b_k attn.W_v attn.b_v attn.W_o attn.b_o
        (C, C) weights and (C,) biases of the self-attention (Module 1's names after "attn.")
    ln_1.gamma ln_1.beta   (C,)   the first LayerNorm  (PyTorch: norm1)
    ffn.W_1 (C, F)  ffn.b_1 (F,)  ffn.W_2 (F, C)  ffn.b_2 (C,)   (PyTorch: linear1, linear2)
    ln_2.gamma ln_2.beta   (C,)   the second LayerNorm (PyTorch: norm2)

``init_encoder_layer`` builds such a dict; the backward returns the gradients as a dict
with the same keys.
"""

import numpy as np

from ..self_attention.multi_head import (
    PARAM_NAMES as MHA_PARAM_NAMES,
)
from ..self_attention.multi_head import (
    init_mha_params,
    multi_head_attention,
    multi_head_attention_backward,
)
from .dropout import dropout, dropout_backward
from .feed_forward import FFN_PARAM_NAMES, feed_forward, feed_forward_backward, init_feed_forward
from .norms import layer_norm, layer_norm_backward

LN_PARAM_NAMES = ("gamma", "beta")
ENCODER_SUBLAYERS = (("attn", MHA_PARAM_NAMES), ("ln_1", LN_PARAM_NAMES),
                     ("ffn", FFN_PARAM_NAMES), ("ln_2", LN_PARAM_NAMES))
ENCODER_PARAM_NAMES = tuple(f"{prefix}.{name}" for prefix, names in ENCODER_SUBLAYERS
                            for name in names)


# --- given helpers (not exercises) -------------------------------------------------------------
def sublayer_params(params, prefix):
    """The parameters of one sub-layer, without their prefix (given, not an exercise).

    ``sublayer_params(params, "attn")`` is ``{"W_q": params["attn.W_q"], ...}``: the dict
    ``multi_head_attention`` expects. The arrays are the same objects, not copies.
    """
    start = prefix + "."
    return {name[len(start):]: p for name, p in params.items() if name.startswith(start)}


def prefixed(prefix, grads):
    """``{prefix + "." + name: g}``: a sub-layer's gradients under the layer's keys (given)."""
    return {f"{prefix}.{name}": g for name, g in grads.items()}


def init_layer_norm(d_model, dtype=np.float64):
    """LayerNorm parameters at their usual init: ``gamma`` ones, ``beta`` zeros (given)."""
    return {"gamma": np.ones(d_model, dtype=dtype), "beta": np.zeros(d_model, dtype=dtype)}


def check_layer_params(params, names, where):
    """Raise a clear error if params is not a flat dict with exactly these keys (given).

    Shapes are checked by the sub-layers themselves (``multi_head_attention``,
    ``feed_forward``, ``layer_norm``), which name the offending array.
    """
    if not isinstance(params, dict):
        raise TypeError(f"{where}: params must be a dict of arrays, got {type(params).__name__}")
    nested = [k for k, v in params.items() if isinstance(v, dict)]
    if nested:
        raise ValueError(
            f"{where}: params must be a flat dict with prefixed keys such as 'attn.W_q', "
            f"not nested dicts (found {nested})"
        )
    missing = [n for n in names if n not in params]
    extra = sorted(set(params) - set(names))
    if missing or extra:
        raise ValueError(f"{where}: params is missing {missing}, has unexpected keys {extra}")


def check_dropout_args(dropout_p, rng, train, where):
    """Raise a clear error for a bad rate, or a missing generator when one is needed (given)."""
    if not 0.0 <= dropout_p <= 1.0:  # also rejects NaN
        raise ValueError(f"{where}: dropout_p must be in [0, 1], got {dropout_p}")
    if train and 0.0 < dropout_p < 1.0 and not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{where}: train=True with 0 < dropout_p < 1 needs an np.random.Generator, got "
            f"{type(rng).__name__}"
        )


def init_encoder_layer(d_model, n_heads, d_ff, rng, dtype=np.float64, std=0.02):
    """Random parameters of ``encoder_layer`` (given, not an exercise).

    Draws, in this order: the attention's ``W_q W_k W_v W_o`` (``init_mha_params``), then
    the FFN's ``W_1 W_2`` (``init_feed_forward``), all from N(0, std^2); biases are zeros and
    the LayerNorms start at ``gamma = 1``, ``beta = 0``. (PyTorch initialises its layer with
    Xavier-uniform weights instead; only the distribution differs.)

    Args:
        d_model: C, the model width.
        n_heads: H, a divisor of C (checked here, so a bad value fails early).
        d_ff: F, the FFN's inner width (2048 = 4 * 512 in Vaswani et al.).
        rng: a ``np.random.Generator`` (the only source of randomness).
        dtype: dtype of every array.
        std: standard deviation of the weights.

    Returns:
        A flat dict with the keys ``ENCODER_PARAM_NAMES`` (see the module docstring).

    Raises:
        ValueError: if ``d_model`` is not divisible by ``n_heads``.
    """
    if n_heads < 1 or d_model % n_heads != 0:
        raise ValueError(f"init_encoder_layer: d_model = {d_model} is not divisible by "
                         f"n_heads = {n_heads}")
    attn = init_mha_params(d_model, rng, dtype=dtype, std=std)
    ffn = init_feed_forward(d_model, rng, hidden=d_ff, dtype=dtype, std=std)
    params = {**prefixed("attn", attn), **prefixed("ln_1", init_layer_norm(d_model, dtype)),
              **prefixed("ffn", ffn), **prefixed("ln_2", init_layer_norm(d_model, dtype))}
    return {name: params[name] for name in ENCODER_PARAM_NAMES}


def _check_encoder_inputs(x, params, dropout_p, rng, train):
    """Raise a clear error if the inputs of encoder_layer do not fit (given)."""
    if np.ndim(x) != 3:
        raise ValueError(f"encoder_layer: x must be (B, S, C), got shape {np.shape(x)}")
    check_layer_params(params, ENCODER_PARAM_NAMES, "encoder_layer")
    check_dropout_args(dropout_p, rng, train, "encoder_layer")


# --- exercise 3.6 ------------------------------------------------------------------------------
def encoder_layer(x, params, n_heads, mask=None, norm_first=False, dropout_p=0.0, rng=None,
                  train=False, activation="relu", eps=1e-5):
    """One Transformer encoder layer: self-attention then FFN, residuals and LayerNorms
    (exercise 3.6).

    Post-norm (``norm_first=False``, Vaswani et al., ``nn.TransformerEncoderLayer``'s
    default) and pre-norm (``norm_first=True``)::

        post-norm                                  pre-norm
        a = attn(x, x; mask)                       u = ln_1(x);  a = attn(u, u; mask)
        h = ln_1(x + drop(a))                      h = x + drop(a)
        f = ffn(h)                                 v = ln_2(h);  f = ffn(v)
        out = ln_2(h + drop(f))                    out = h + drop(f)

    Dropout (inverted, 3.5) acts on each sub-layer's output before the residual addition,
    only when ``train`` and ``dropout_p > 0``; otherwise it is the identity and ``rng`` is
    not touched. Draw order (one ``rng.random(shape)`` each): the attention output first,
    then the FFN output. (``nn.TransformerEncoderLayer`` also drops the attention weights and
    the FFN's hidden activations, and draws its masks differently: compare with
    ``dropout_p=0``.)

    Args:
        x: ``(B, S, C)``, the source sequence (embeddings or the previous layer's output).
        params: the flat dict of the module docstring (``init_encoder_layer``).
        n_heads: H, a divisor of C.
        mask: optional boolean array broadcastable to ``(B, H, S, S)``, True = may attend;
            typically the source key padding ``padding_mask(lengths, S)[:, None, None, :]``
            ``(B, 1, 1, S)``. No causal mask: the encoder sees the whole source.
        norm_first: True for pre-norm, False for post-norm.
        dropout_p: the dropout rate of both sub-layer outputs, in [0, 1].
        rng: a ``np.random.Generator``, needed only when ``train`` and ``0 < dropout_p < 1``.
        train: False at inference (dropout off).
        activation: the FFN's activation, passed to ``feed_forward``; ``"relu"`` as in
            Vaswani et al. and PyTorch's default.
        eps: the LayerNorms' epsilon (PyTorch's ``layer_norm_eps``, 1e-5).

    Returns:
        out: ``(B, S, C)`` in x's dtype (float32 in -> float32 out); x and params are not
            modified.
        cache: dict for ``encoder_layer_backward``. The reference keeps ``"norm_first"``,
            the sub-layer caches ``"attn"`` (``cache["attn"]["weights"]`` holds the attention
            weights ``(B, H, S, S)``), ``"ffn"``, ``"ln_1"``, ``"ln_2"``, and the dropout
            caches ``"drop_attn"``, ``"drop_ffn"``.

    Raises:
        ValueError / TypeError: for a wrong shape, a missing or unexpected parameter key, a
            rate outside [0, 1], or a missing generator when dropout needs one.
    """
    _check_encoder_inputs(x, params, dropout_p, rng, train)
    ### BEGIN SOLUTION
    attn_p, ffn_p = sublayer_params(params, "attn"), sublayer_params(params, "ffn")
    ln_1_p, ln_2_p = sublayer_params(params, "ln_1"), sublayer_params(params, "ln_2")
    cache = {"norm_first": norm_first}
    if norm_first:
        u, cache["ln_1"] = layer_norm(x, ln_1_p["gamma"], ln_1_p["beta"], eps)  # (B, S, C)
        a, cache["attn"] = multi_head_attention(u, u, attn_p, n_heads, mask)  # (B, S, C)
        a, cache["drop_attn"] = dropout(a, dropout_p, rng, train)
        h = x + a
        v, cache["ln_2"] = layer_norm(h, ln_2_p["gamma"], ln_2_p["beta"], eps)
        f, cache["ffn"] = feed_forward(v, ffn_p, activation)  # (B, S, C), hidden (B, S, F)
        f, cache["drop_ffn"] = dropout(f, dropout_p, rng, train)
        out = h + f
    else:
        a, cache["attn"] = multi_head_attention(x, x, attn_p, n_heads, mask)  # (B, S, C)
        a, cache["drop_attn"] = dropout(a, dropout_p, rng, train)
        h, cache["ln_1"] = layer_norm(x + a, ln_1_p["gamma"], ln_1_p["beta"], eps)
        f, cache["ffn"] = feed_forward(h, ffn_p, activation)  # (B, S, C)
        f, cache["drop_ffn"] = dropout(f, dropout_p, rng, train)
        out, cache["ln_2"] = layer_norm(h + f, ln_2_p["gamma"], ln_2_p["beta"], eps)
    return out, cache
    ### END SOLUTION


def encoder_layer_backward(dout, cache):
    """Gradients of ``encoder_layer``, both placements (exercise 3.6; lecture 3, §8.2-8.3).

    Args:
        dout: dL/d(out), ``(B, S, C)``.
        cache: the cache returned by ``encoder_layer``.

    Returns:
        (dx, dparams): ``dx`` ``(B, S, C)`` and a flat dict with the keys (in the order of)
        ``ENCODER_PARAM_NAMES`` and the parameters' shapes; the inputs' dtype.
    """
    ### BEGIN SOLUTION
    grads = {}
    if cache["norm_first"]:
        df = dropout_backward(dout, cache["drop_ffn"])  # out = h + f
        dv, grads["ffn"] = feed_forward_backward(df, cache["ffn"])
        dh_ln, dgamma_2, dbeta_2 = layer_norm_backward(dv, cache["ln_2"])
        dh = dout + dh_ln  # h feeds the residual and ln_2
        da = dropout_backward(dh, cache["drop_attn"])  # h = x + a
        du_q, du_kv, grads["attn"] = multi_head_attention_backward(da, cache["attn"])
        dx_ln, dgamma_1, dbeta_1 = layer_norm_backward(du_q + du_kv, cache["ln_1"])
        dx = dh + dx_ln  # x feeds the residual and ln_1
    else:
        dz_2, dgamma_2, dbeta_2 = layer_norm_backward(dout, cache["ln_2"])  # z_2 = h + f
        df = dropout_backward(dz_2, cache["drop_ffn"])
        dh_ffn, grads["ffn"] = feed_forward_backward(df, cache["ffn"])
        dh = dz_2 + dh_ffn  # h feeds the residual and the FFN
        dz_1, dgamma_1, dbeta_1 = layer_norm_backward(dh, cache["ln_1"])  # z_1 = x + a
        da = dropout_backward(dz_1, cache["drop_attn"])
        dx_q, dx_kv, grads["attn"] = multi_head_attention_backward(da, cache["attn"])
        dx = dz_1 + dx_q + dx_kv  # x: residual, queries, keys and values
    grads["ln_1"] = {"gamma": dgamma_1, "beta": dbeta_1}
    grads["ln_2"] = {"gamma": dgamma_2, "beta": dbeta_2}
    flat = {}
    for prefix, _ in ENCODER_SUBLAYERS:
        flat.update(prefixed(prefix, grads[prefix]))
    return dx, {name: flat[name] for name in ENCODER_PARAM_NAMES}
    ### END SOLUTION
