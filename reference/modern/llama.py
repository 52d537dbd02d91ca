"""The Llama block and model in NumPy, forward and backward by hand (exercise 5.1).

The architecture of Llama (Touvron et al., 2023), as Hugging Face's ``LlamaForCausalLM``
computes it::

    x = embed_tokens[idx]                                                  (B, T, C)
    for each of the num_hidden_layers blocks (pre-norm, no biases anywhere):
        h = x + o_proj(GQA(rope(q_proj(a)), rope(k_proj(a)), v_proj(a)))   a = RMSNorm_1(x)
        x = h + down_proj(silu(gate_proj(b)) * up_proj(b))                  b = RMSNorm_2(h)
    logits = RMSNorm_f(x) @ lm_head                                        (B, T, V)

What changed since GPT-2 (3.11), each an earlier exercise: RMSNorm for LayerNorm (3.2),
rotary position embedding of the queries and keys for the learned position table (2.3,
half-split layout, base ``rope_theta``), grouped-query attention, ``num_key_value_heads``
key/value heads shared by groups of query heads (4.6's ``repeat_kv`` with Module 1's
attention, 1.4 and 1.5), the SwiGLU MLP for the GELU one (3.4), no biases, and a head that
is its own matrix (``lm_head.weight``) unless ``tie_word_embeddings``. Decoding reuses
Module 4's ``KVCache`` (4.5), built with ``num_key_value_heads`` heads: the new tokens sit at
positions ``L .. L+T-1``, so their RoPE angles are those of these positions.

The parameter names are those of ``LlamaForCausalLM.state_dict()``; the layout is the
course's, ``y = x @ W`` with ``W`` ``(in, out)``, the transpose of the ``(out, in)`` that
``nn.Linear`` stores: ``from_pretrained`` / ``save_pretrained`` transpose every projection
(lecture 5, §2).
"""

from dataclasses import dataclass

import numpy as np

from ..llm.gqa import repeat_kv
from ..llm.kv_cache import KVCache
from ..positional_encoding.embedding import embedding, embedding_backward
from ..positional_encoding.rope import apply_rope, apply_rope_backward, rope_cos_sin
from ..self_attention.attention import (
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
)
from ..self_attention.heads import merge_heads, split_heads
from ..self_attention.masks import causal_mask
from ..transformer.cross_entropy import cross_entropy, cross_entropy_backward
from ..transformer.feed_forward import swiglu, swiglu_backward
from ..transformer.hf_checkpoint import read_config, read_safetensors, write_checkpoint
from ..transformer.linear import linear, linear_backward
from ..transformer.norms import rms_norm, rms_norm_backward

INITIALIZER_RANGE = 0.02  # HF's initializer_range: projections and embedding ~ N(0, 0.02^2)

# One block's parameters, named as in LlamaForCausalLM after "model.layers.{i}.", in the
# order of its state_dict.
BLOCK_PARAMS = (
    "self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
    "self_attn.o_proj.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight",
    "mlp.down_proj.weight", "input_layernorm.weight", "post_attention_layernorm.weight",
)
# swiglu's (3.4) names for the MLP's weights
SWIGLU_NAMES = {"W_gate": "mlp.gate_proj.weight", "W_up": "mlp.up_proj.weight",
                "W_down": "mlp.down_proj.weight"}


def _llama_positive_int(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, np.integer)) and value >= 1


@dataclass
class LlamaConfig:
    """Sizes of a Llama model (given, not an exercise).

    The names and defaults are those of Hugging Face's ``LlamaConfig`` (Llama-2-7B's sizes:
    6.74B parameters; pass small sizes for anything you run in NumPy).
    ``LlamaConfig.from_hf(...)`` reads a ``transformers.LlamaConfig`` or the dict of a
    ``config.json``; ``to_hf()`` writes one.

    Attributes:
        vocab_size: V, rows of ``model.embed_tokens.weight``.
        hidden_size: C, the model width.
        intermediate_size: F, the width of the SwiGLU MLP.
        num_hidden_layers: number of blocks.
        num_attention_heads: H, query heads; must divide ``hidden_size``.
        num_key_value_heads: H_kv, key/value heads, dividing H (``None``: H, i.e. MHA;
            1 is multi-query attention).
        max_position_embeddings: the longest sequence (RoPE has no table, but the model
            was trained up to here: longer inputs are refused).
        rms_norm_eps: eps of every RMSNorm (inside the sqrt).
        rope_theta: RoPE's base (10000 in Llama 1/2, 500000 in Llama 3).
        tie_word_embeddings: the head reuses the embedding (``logits = x @ embed^T``, no
            ``lm_head.weight``), as in small Llamas; False (Llama 2's 7B) gives the head its
            own ``(C, V)`` matrix.
        dtype: dtype of the parameters made by ``Llama(config)`` (``"float32"``; ``"float64"``
            for gradient checks).

    ``head_dim`` (read-only) is ``hidden_size / num_attention_heads``; it must be even (RoPE
    turns pairs of dimensions).
    """

    vocab_size: int = 32000
    hidden_size: int = 4096
    intermediate_size: int = 11008
    num_hidden_layers: int = 32
    num_attention_heads: int = 32
    num_key_value_heads: int | None = None
    max_position_embeddings: int = 2048
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    tie_word_embeddings: bool = False
    dtype: str = "float32"

    def __post_init__(self):
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        for name in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                     "num_attention_heads", "num_key_value_heads", "max_position_embeddings"):
            if not _llama_positive_int(getattr(self, name)):
                raise ValueError(f"LlamaConfig: {name} must be a positive integer, got "
                                 f"{getattr(self, name)!r}")
        H, H_kv = self.num_attention_heads, self.num_key_value_heads
        if self.hidden_size % H:
            raise ValueError(f"LlamaConfig: hidden_size = {self.hidden_size} must be divisible "
                             f"by num_attention_heads = {H}")
        if H % H_kv:
            raise ValueError(f"LlamaConfig: num_key_value_heads = {H_kv} must divide "
                             f"num_attention_heads = {H} (each kv head serves a group of "
                             "query heads)")
        if self.head_dim % 2:
            raise ValueError(f"LlamaConfig: head_dim = hidden_size / num_attention_heads = "
                             f"{self.head_dim} must be even (RoPE rotates pairs)")
        if not self.rms_norm_eps >= 0:
            raise ValueError(f"LlamaConfig: rms_norm_eps must be >= 0, got {self.rms_norm_eps}")
        if not self.rope_theta > 0:
            raise ValueError(f"LlamaConfig: rope_theta must be > 0, got {self.rope_theta}")
        if not isinstance(self.tie_word_embeddings, (bool, np.bool_)):
            raise ValueError(f"LlamaConfig: tie_word_embeddings must be a bool, got "
                             f"{self.tie_word_embeddings!r}")
        if not np.issubdtype(np.dtype(self.dtype), np.floating):
            raise ValueError(f"LlamaConfig: dtype must be a floating dtype, got {self.dtype!r}")

    @property
    def head_dim(self):
        """D = hidden_size / num_attention_heads, the width of every head (read-only)."""
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def from_hf(cls, config, dtype="float32"):
        """A ``LlamaConfig`` from a Hugging Face ``LlamaConfig`` or a ``config.json`` dict.

        ``rope_theta`` is read from ``rope_parameters`` (transformers 5) or at the top level
        (older files). Options this model does not implement are refused rather than
        silently ignored: RoPE scaling, an activation other than SiLU, attention or MLP
        biases, a ``head_dim`` other than ``hidden_size / num_attention_heads``. Dropout is
        ignored (eval mode).
        """
        get = config.get if isinstance(config, dict) else (lambda k, d=None: getattr(config, k, d))
        rope = get("rope_parameters") or {}
        scaling = get("rope_scaling") or {}
        rope_type = rope.get("rope_type") or scaling.get("rope_type") or scaling.get("type")
        hidden, heads = get("hidden_size", 4096), get("num_attention_heads", 32)
        refused = {
            "rope_type": (rope_type, (None, "default")),
            "hidden_act": (get("hidden_act", "silu"), ("silu",)),
            "attention_bias": (get("attention_bias", False), (False,)),
            "mlp_bias": (get("mlp_bias", False), (False,)),
            "head_dim": (get("head_dim"), (None, hidden // heads if heads else None)),
        }
        for key, (value, allowed) in refused.items():
            if value not in allowed:
                raise ValueError(f"LlamaConfig.from_hf: {key}={value!r} is not supported "
                                 f"(supported: {allowed})")
        theta = rope.get("rope_theta", get("rope_theta", 10000.0))
        return cls(vocab_size=get("vocab_size", 32000), hidden_size=hidden,
                   intermediate_size=get("intermediate_size", 11008),
                   num_hidden_layers=get("num_hidden_layers", 32), num_attention_heads=heads,
                   num_key_value_heads=get("num_key_value_heads"),
                   max_position_embeddings=get("max_position_embeddings", 2048),
                   rms_norm_eps=get("rms_norm_eps", 1e-6), rope_theta=float(theta),
                   tie_word_embeddings=bool(get("tie_word_embeddings", False)), dtype=dtype)

    def to_hf(self, dtype=None):
        """The ``config.json`` dict of ``LlamaForCausalLM`` for this config (``from_hf``'s
        inverse); ``dtype`` names the saved tensors' dtype (default: ``self.dtype``)."""
        return {
            "architectures": ["LlamaForCausalLM"], "model_type": "llama",
            "vocab_size": self.vocab_size, "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads, "head_dim": self.head_dim,
            "max_position_embeddings": self.max_position_embeddings,
            "rms_norm_eps": self.rms_norm_eps, "hidden_act": "silu",
            "rope_parameters": {"rope_type": "default", "rope_theta": self.rope_theta},
            "rope_theta": self.rope_theta,  # where transformers 4 reads it
            "attention_bias": False, "mlp_bias": False,
            "tie_word_embeddings": bool(self.tie_word_embeddings),
            "dtype": np.dtype(dtype or self.dtype).name,
        }


def llama_block_shapes(C, F, n_heads, n_kv_heads, head_dim):
    """``{name: shape}`` of one block's parameters, names after ``model.layers.{i}.``, in
    ``BLOCK_PARAMS``' order, layout ``(in, out)`` (given)."""
    shapes = {
        "self_attn.q_proj.weight": (C, n_heads * head_dim),
        "self_attn.k_proj.weight": (C, n_kv_heads * head_dim),
        "self_attn.v_proj.weight": (C, n_kv_heads * head_dim),
        "self_attn.o_proj.weight": (n_heads * head_dim, C),
        "mlp.gate_proj.weight": (C, F), "mlp.up_proj.weight": (C, F),
        "mlp.down_proj.weight": (F, C),
        "input_layernorm.weight": (C,), "post_attention_layernorm.weight": (C,),
    }
    return {name: shapes[name] for name in BLOCK_PARAMS}


def llama_param_shapes(config):
    """``{name: shape}`` of every parameter of ``Llama(config)``, in the order of HF's
    state_dict, layout ``(in, out)`` (given). ``lm_head.weight`` ``(C, V)`` only when the
    head is not tied."""
    C, V = config.hidden_size, config.vocab_size
    block = llama_block_shapes(C, config.intermediate_size, config.num_attention_heads,
                               config.num_key_value_heads, config.head_dim)
    shapes = {"model.embed_tokens.weight": (V, C)}
    for i in range(config.num_hidden_layers):
        shapes.update({f"model.layers.{i}.{name}": shape for name, shape in block.items()})
    shapes["model.norm.weight"] = (C,)
    if not config.tie_word_embeddings:
        shapes["lm_head.weight"] = (C, V)
    return shapes


def _check_block_inputs(x, params, cos, sin, n_heads, n_kv_heads, kv_cache, layer, where):
    """Raise a clear error if the inputs of ``llama_block`` do not fit together (given)."""
    if np.ndim(x) != 3 or not np.issubdtype(np.asarray(x).dtype, np.floating):
        raise ValueError(f"{where}: x must be a floating (B, T, C) array, got "
                         f"{np.asarray(x).dtype} {np.shape(x)}")
    for name, value in (("n_heads", n_heads), ("n_kv_heads", n_kv_heads)):
        if not _llama_positive_int(value):
            raise ValueError(f"{where}: {name} must be a positive integer, got {value!r}")
    if n_heads % n_kv_heads:
        raise ValueError(f"{where}: n_kv_heads = {n_kv_heads} must divide n_heads = {n_heads}")
    if not isinstance(params, dict) or set(params) != set(BLOCK_PARAMS):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(f"{where}: params must be a dict with exactly the keys "
                         f"{list(BLOCK_PARAMS)}, got {got}")
    C, HD = x.shape[-1], np.shape(params["self_attn.q_proj.weight"])[-1]
    if HD % n_heads or (HD // n_heads) % 2:
        raise ValueError(f"{where}: q_proj.weight has {HD} columns, which must be n_heads = "
                         f"{n_heads} heads of an even width")
    D, F = HD // n_heads, np.shape(params["mlp.gate_proj.weight"])[-1]
    for name, shape in llama_block_shapes(C, F, n_heads, n_kv_heads, D).items():
        if np.shape(params[name]) != shape:
            raise ValueError(f"{where}: params[{name!r}] has shape {np.shape(params[name])}, "
                             f"expected {shape} (C = {C}, F = {F}, n_heads = {n_heads}, "
                             f"n_kv_heads = {n_kv_heads}, head_dim = {D}; layout (in, out))")
    T = x.shape[1]
    for name, table in (("cos", cos), ("sin", sin)):
        if np.shape(table) != (T, D):
            raise ValueError(f"{where}: {name} must be (T, head_dim) = {(T, D)}, the RoPE table "
                             f"of the T positions of x, got {np.shape(table)}")
    if kv_cache is not None and (isinstance(layer, bool)
                                 or not isinstance(layer, (int, np.integer))):
        raise ValueError(f"{where}: with a kv_cache, layer must be the block's index (an int), "
                         f"got {layer!r}")


def llama_block(x, params, cos, sin, n_heads, n_kv_heads, eps, mask=None, kv_cache=None,
                layer=None):
    """One Llama decoder block, pre-norm, no biases (exercise 5.1)::

        a = rms_norm(x, input_layernorm.weight, eps)
        q, k, v = a @ q_proj, a @ k_proj, a @ v_proj          split into heads
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        heads = GQA(q, k, v, mask)        n_heads query heads, n_kv_heads kv heads
        h = x + merged heads @ o_proj
        out = h + swiglu(rms_norm(h, post_attention_layernorm.weight, eps))

    GQA: query head ``j`` attends with kv head ``j // (n_heads / n_kv_heads)``: a group of
    adjacent query heads shares one kv head (``repeat_kv``, 4.6, then Module 1's attention).

    Args:
        x: ``(B, T, C)``; not modified.
        params: the block's weights, named as ``LlamaForCausalLM``'s after
            ``model.layers.{i}.`` (``BLOCK_PARAMS``), layout ``(in, out)``:
            ``self_attn.q_proj.weight`` ``(C, H*D)``, ``self_attn.k_proj.weight`` and
            ``self_attn.v_proj.weight`` ``(C, H_kv*D)``, ``self_attn.o_proj.weight``
            ``(H*D, C)``, ``mlp.gate_proj.weight`` / ``mlp.up_proj.weight`` ``(C, F)``,
            ``mlp.down_proj.weight`` ``(F, C)``, ``input_layernorm.weight`` and
            ``post_attention_layernorm.weight`` ``(C,)``. Not modified.
        cos, sin: ``(T, D)``, ``rope_cos_sin(positions, D, theta)`` of the T positions of
            ``x`` (``L .. L+T-1`` after ``L`` cached ones).
        n_heads: H, query heads. n_kv_heads: H_kv, key/value heads, dividing H.
        eps: the RMSNorms' eps.
        mask: the attention's boolean mask (True = may attend), ``(T, T_k)`` or
            broadcastable to ``(B, H, T, T_k)``: ``causal_mask(T)`` for a whole sequence,
            ``causal_mask(T, L + T)`` after L cached positions; None attends everywhere.
        kv_cache: None (training), or a ``KVCache`` (4.5) with H_kv heads of width D: the
            rotated keys and the values of the T new positions are written into it with
            ``kv_cache.update(layer, k, v)`` and the queries attend to all ``L + T``
            positions it returns. ``kv_cache.advance`` is the caller's, once per model
            forward.
        layer: this block's index in the cache (an int; only with kv_cache).

    Returns:
        out: ``(B, T, C)`` in x's dtype (float32 in -> float32 out).
        cache: for ``llama_block_backward`` (of a forward without kv_cache: decoding needs
            no gradient).

    Raises:
        ValueError: if the shapes, names or head counts do not fit, or a kv_cache comes
            without its layer.
    """
    _check_block_inputs(x, params, cos, sin, n_heads, n_kv_heads, kv_cache, layer,
                        "llama_block")
    ### BEGIN SOLUTION
    n_rep = n_heads // n_kv_heads
    a, norm_1 = rms_norm(x, params["input_layernorm.weight"], eps)  # (B, T, C)
    q, q_proj = linear(a, params["self_attn.q_proj.weight"])  # (B, T, H*D)
    k, k_proj = linear(a, params["self_attn.k_proj.weight"])  # (B, T, H_kv*D)
    v, v_proj = linear(a, params["self_attn.v_proj.weight"])
    q = apply_rope(split_heads(q, n_heads), cos, sin)  # (B, H, T, D), turned by position
    k = apply_rope(split_heads(k, n_kv_heads), cos, sin)  # (B, H_kv, T, D)
    v = split_heads(v, n_kv_heads)
    if kv_cache is not None:  # decoding: attend to the cached past and the new positions
        k, v = kv_cache.update(layer, k, v)  # (B, H_kv, L+T, D)
    # query head j uses kv head j // n_rep: copies of one kv head are adjacent
    heads, attn = scaled_dot_product_attention(q, repeat_kv(k, n_rep), repeat_kv(v, n_rep),
                                               mask)  # (B, H, T, D)
    y, o_proj = linear(merge_heads(heads), params["self_attn.o_proj.weight"])  # (B, T, C)
    h = x + y  # the residual stream (a new array: the caller's x is left alone)
    b, norm_2 = rms_norm(h, params["post_attention_layernorm.weight"], eps)
    f, mlp = swiglu(b, {ours: params[theirs] for ours, theirs in SWIGLU_NAMES.items()})
    cache = {"norm_1": norm_1, "q_proj": q_proj, "k_proj": k_proj, "v_proj": v_proj,
             "cos": cos, "sin": sin, "attn": attn, "o_proj": o_proj, "norm_2": norm_2,
             "mlp": mlp, "n_heads": n_heads, "n_kv_heads": n_kv_heads}
    return h + f, cache
    ### END SOLUTION


def llama_block_backward(dout, cache):
    """Gradients of ``llama_block`` (exercise 5.1; lecture 5, §2).

    Args:
        dout: dL/d(out), ``(B, T, C)``.
        cache: the cache returned by ``llama_block`` (called without kv_cache).

    Returns:
        (dx, dparams): ``dx`` ``(B, T, C)``, and a dict with the keys of the block's params
        (``BLOCK_PARAMS``' order) and their shapes; the inputs' dtype. The RoPE tables and
        the mask get no gradient.
    """
    ### BEGIN SOLUTION
    H, H_kv = cache["n_heads"], cache["n_kv_heads"]
    cos, sin = cache["cos"], cache["sin"]
    grads = {}
    # out = h + swiglu(rms_norm(h)): the residual passes dout on, the branch adds to it
    db, dmlp = swiglu_backward(dout, cache["mlp"])
    grads.update({theirs: dmlp[ours] for ours, theirs in SWIGLU_NAMES.items()})
    dh, grads["post_attention_layernorm.weight"] = rms_norm_backward(db, cache["norm_2"])
    dh = dh + dout  # a new array: the caller's dout is left alone
    # h = x + o_proj(attention(...))
    dmerged, grads["self_attn.o_proj.weight"], _ = linear_backward(dh, cache["o_proj"])
    dq, dk, dv = scaled_dot_product_attention_backward(split_heads(dmerged, H), cache["attn"])
    # repeat_kv copied kv head g to the n_rep query heads of its group: their gradients add up
    B, _, T_k, D = dk.shape
    dk = dk.reshape(B, H_kv, H // H_kv, T_k, D).sum(axis=2)  # (B, H_kv, T, D)
    dv = dv.reshape(B, H_kv, H // H_kv, T_k, D).sum(axis=2)
    dq, dk = apply_rope_backward(dq, cos, sin), apply_rope_backward(dk, cos, sin)
    da = np.zeros_like(dh)
    for name, dpart in (("q_proj", dq), ("k_proj", dk), ("v_proj", dv)):
        da_part, grads[f"self_attn.{name}.weight"], _ = linear_backward(merge_heads(dpart),
                                                                        cache[name])
        da += da_part
    dx, grads["input_layernorm.weight"] = rms_norm_backward(da, cache["norm_1"])
    dx += dh
    return dx, {name: grads[name] for name in BLOCK_PARAMS}
    ### END SOLUTION


class Llama:
    """A Llama language model: ``forward``, ``loss`` and ``backward`` by hand (exercise 5.1).

    Attributes:
        config: the ``LlamaConfig``.
        params: ``dict[str, np.ndarray]`` named as ``LlamaForCausalLM.state_dict()`` (see
            ``llama_param_shapes``): ``model.embed_tokens.weight`` ``(V, C)``; per block
            ``model.layers.{i}.`` + the names of ``llama_block``; ``model.norm.weight``
            ``(C,)``; ``lm_head.weight`` ``(C, V)`` unless the head is tied (then
            ``logits = x @ embed_tokens.weight^T``). Layout ``(in, out)``: ``y = x @ W``.
            You may replace the arrays: every pass reads ``self.params`` afresh and computes
            in its dtype.

    The last ``forward`` keeps its activations for ``backward``; ``loss`` runs ``forward`` and
    keeps the cross-entropy's cache too. Do not modify the parameters in place between a
    forward and its backward.
    """

    def __init__(self, config, rng=None, params=None):
        """Random Llama parameters, or the given ones (given, not an exercise).

        Hugging Face's init: the embedding and every projection ~ N(0, 0.02^2), RMSNorm
        weights 1. Drawn in float64 as ``0.02 * rng.standard_normal(shape)``, one draw per
        matrix in the order of ``llama_param_shapes``, then cast to ``config.dtype``.

        Args:
            config: a ``LlamaConfig``.
            rng: a ``np.random.Generator``; ``None``: fresh entropy.
            params: ``None`` for the random init; else ``{name: array}`` with exactly the
                names and shapes of ``llama_param_shapes(config)``, copied as contiguous
                arrays of ``config.dtype`` (no random numbers are drawn then).

        Raises:
            ValueError: if ``params`` misses a name, has an extra one, or a wrong shape.
        """
        if not isinstance(config, LlamaConfig):
            raise TypeError(f"Llama: config must be a LlamaConfig, got {type(config).__name__}")
        self.config = config
        if params is None:
            self.params = _random_llama_params(config, rng)
        else:
            self.params = _checked_llama_params(params, config)
        self._cache = None  # the last forward's activations
        self._loss_cache = None  # the last loss's cross-entropy cache

    @classmethod
    def from_pretrained(cls, path, dtype="float32"):
        """A Llama with the weights of a Hugging Face Llama directory (given, not an exercise).

        ``path`` holds ``config.json`` and ``model.safetensors`` as
        ``LlamaForCausalLM.save_pretrained`` (or ours) writes them. Every projection is
        stored as ``nn.Linear`` does, ``(out, in)``, and transposed here to ``(in, out)``;
        ``lm_head.weight`` ``(V, C)`` becomes ``(C, V)``. With a tied head the file has no
        ``lm_head.weight`` (one that is stored must equal the embedding).

        Args:
            path: the directory.
            dtype: the parameters' dtype, ``"float32"`` (default) or ``"float64"``.

        Returns:
            the ``Llama``; its logits are ``LlamaForCausalLM``'s.

        Raises:
            FileNotFoundError: no config.json or no safetensors file.
            ValueError: an unsupported config option, a missing or misshapen tensor (named).
        """
        hf_config = read_config(path, model_type="llama")
        config = LlamaConfig.from_hf(hf_config, dtype=np.dtype(dtype).name)
        params = params_from_hf(read_safetensors(path, model_type="llama"),
                                config.tie_word_embeddings)
        try:
            return cls(config, params=params)
        except ValueError as exc:
            raise ValueError(f"{path}: the checkpoint does not fit its config.json: "
                             f"{exc}") from None

    def save_pretrained(self, path):
        """Write ``config.json`` and ``model.safetensors`` to the directory ``path`` (given).

        The files ``LlamaForCausalLM.save_pretrained`` writes: HF's names and layout
        (``(out, in)``; no ``lm_head.weight`` when tied), the parameters' dtype. HF's
        ``LlamaForCausalLM.from_pretrained(path)`` loads them, and so does ours, exactly.
        """
        dtype = self.params["model.embed_tokens.weight"].dtype
        write_checkpoint(path, self.config.to_hf(dtype), params_to_hf(self.params), prefix="")

    def num_parameters(self):
        """Number of scalars in ``params`` (a tied table counted once), as HF's
        ``LlamaForCausalLM(...).num_parameters()`` (given)."""
        return sum(int(p.size) for p in self.params.values())

    def new_kv_cache(self, batch_size, max_len=None):
        """A ``KVCache`` (4.5) for this model's decoding (given): one layer per block,
        ``num_key_value_heads`` heads of width ``head_dim``, the parameters' dtype, room for
        ``max_len`` positions (default ``max_position_embeddings``)."""
        cfg = self.config
        return KVCache(cfg.num_hidden_layers, batch_size, cfg.num_key_value_heads,
                       cfg.max_position_embeddings if max_len is None else max_len,
                       cfg.head_dim, self.params["model.embed_tokens.weight"].dtype)

    def free_activations(self):
        """Forget the last forward's activations (given); ``backward`` then needs a new one."""
        self._cache = None
        self._loss_cache = None

    def block_params(self, i):
        """Block i's parameters under ``llama_block``'s names (the part after
        ``model.layers.{i}.``) (given)."""
        return {name: self.params[f"model.layers.{i}.{name}"] for name in BLOCK_PARAMS}

    def head_weight(self):
        """The head's ``(C, V)`` matrix: ``lm_head.weight``, or ``embed_tokens.weight^T`` when
        tied (a view) (given)."""
        if self.config.tie_word_embeddings:
            return self.params["model.embed_tokens.weight"].T
        return self.params["lm_head.weight"]

    def _check_idx(self, idx, where, start=0):
        """idx as an integer (B, T) array, T >= 1, start + T <= max_position_embeddings,
        ids in [0, V) (given)."""
        idx = np.asarray(idx)
        cfg = self.config
        if not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(f"Llama.{where}: idx must be integer token ids, got dtype "
                            f"{idx.dtype}")
        if idx.ndim != 2 or idx.shape[1] < 1 or idx.shape[0] < 1:
            raise ValueError(f"Llama.{where}: idx must be (B, T) with B, T >= 1, got "
                             f"{idx.shape}")
        if start + idx.shape[1] > cfg.max_position_embeddings:
            raise ValueError(
                f"Llama.{where}: positions up to {start + idx.shape[1]} ({start} cached + T = "
                f"{idx.shape[1]}) exceed max_position_embeddings = "
                f"{cfg.max_position_embeddings} (crop the input to its last tokens)")
        bad = (idx < 0) | (idx >= cfg.vocab_size)
        if np.any(bad):
            raise ValueError(f"Llama.{where}: token id {idx[bad].flat[0]} is out of range for "
                             f"vocab_size = {cfg.vocab_size}")
        return idx

    def _check_kv_cache(self, kv_cache, batch_size):
        """The cache must fit the model and the batch (given)."""
        cfg, dtype = self.config, self.params["model.embed_tokens.weight"].dtype
        fits = {"n_layer": cfg.num_hidden_layers, "batch_size": batch_size,
                "n_kv_heads": cfg.num_key_value_heads, "head_dim": cfg.head_dim,
                "dtype": dtype}
        for name, want in fits.items():
            if getattr(kv_cache, name, None) != want:
                raise ValueError(f"Llama.forward: the kv_cache has {name} = "
                                 f"{getattr(kv_cache, name, None)}, the model and batch need "
                                 f"{want} (model.new_kv_cache(B) makes one that fits)")

    def forward(self, idx, kv_cache=None):
        """Logits of the next token at every position (exercise 5.1).

        Args:
            idx: integer token ids ``(B, T)``, ``T >= 1``.
            kv_cache: ``None`` for the training forward. A ``KVCache`` (4.5; e.g.
                ``model.new_kv_cache(B)``) decodes instead: ``idx`` are the tokens at
                positions ``L .. L+T-1`` after the ``L = kv_cache.length`` cached ones; each
                block writes their keys and values into the cache and attends to all
                ``L + T`` positions (causal: query i sees keys ``j <= L + i``); RoPE turns them
                by their true positions; then ``kv_cache.advance(T)``. The logits equal those
                of ``forward`` on the whole sequence at these positions. No activations are
                kept (a following ``backward`` needs a forward without cache).

        Returns:
            logits: ``(B, T, V)`` in the parameters' dtype. ``logits[b, t]`` scores the token
            after ``idx[b, :t+1]`` (and the cached past).

        Raises:
            TypeError: if idx is not integer.
            ValueError: if idx is not ``(B, T)``, ``L + T > max_position_embeddings``, an id
                is outside ``[0, V)``, or the kv_cache does not fit (or overflows).
        """
        start = 0 if kv_cache is None else kv_cache.length
        idx = self._check_idx(idx, "forward", start)
        if kv_cache is not None:
            self._check_kv_cache(kv_cache, idx.shape[0])
        self._cache = self._loss_cache = None  # a backward needs this forward's activations
        ### BEGIN SOLUTION
        cfg, p = self.config, self.params
        B, T = idx.shape
        x, embed = embedding(idx, p["model.embed_tokens.weight"])  # (B, T, C)
        # RoPE of the true positions: after L cached ones they are L .. L+T-1
        cos, sin = rope_cos_sin(np.arange(start, start + T), cfg.head_dim, cfg.rope_theta)
        mask = causal_mask(T, start + T)  # (T, L+T): query i sees keys j <= L + i
        blocks = []
        for i in range(cfg.num_hidden_layers):
            x, block = llama_block(x, self.block_params(i), cos, sin, cfg.num_attention_heads,
                                   cfg.num_key_value_heads, cfg.rms_norm_eps, mask, kv_cache,
                                   i if kv_cache is not None else None)
            blocks.append(block)
        x, norm = rms_norm(x, p["model.norm.weight"], cfg.rms_norm_eps)
        logits, head = linear(x, self.head_weight())  # (B, T, V)
        if kv_cache is not None:
            kv_cache.advance(T)  # once per forward: every block wrote the same T positions
        else:
            self._cache = {"embed": embed, "blocks": blocks, "norm": norm, "head": head,
                           "shape": (B, T)}
        return logits
        ### END SOLUTION

    def loss(self, idx, targets):
        """Mean cross-entropy of ``forward(idx)`` against ``targets`` (exercise 5.1).

        As ``GPT.loss`` (3.11): the targets are already shifted, ``targets[b, t]`` is the
        token after ``idx[b, :t+1]``; -100 marks a position without a loss. HF's
        ``LlamaForCausalLM(input_ids, labels=...)`` shifts inside: its loss equals
        ``loss(idx[:, :-1], idx[:, 1:])``.

        Args:
            idx: ``(B, T)`` token ids, as for ``forward``.
            targets: integer ``(B, T)``, ids in ``[0, V)`` or -100 (ignored).

        Returns:
            A scalar of the parameters' dtype: the mean over the non-ignored positions.
            Keeps what ``backward()`` needs.

        Raises:
            ValueError / TypeError: as ``forward``, and if targets do not fit.
        """
        idx = self._check_idx(idx, "loss")
        targets = np.asarray(targets)
        if targets.shape != idx.shape:
            raise ValueError(f"Llama.loss: targets must have idx's shape {idx.shape} (already "
                             f"shifted, one target per position), got {targets.shape}")
        ### BEGIN SOLUTION
        logits = self.forward(idx)  # (B, T, V)
        loss, self._loss_cache = cross_entropy(logits, targets, ignore_index=-100)
        return loss
        ### END SOLUTION

    def backward(self, dlogits=None):
        """Gradients of every parameter (exercise 5.1).

        ``backward()`` after ``loss`` differentiates the loss; ``backward(dlogits)`` after
        ``forward`` (or ``loss``) back-propagates a given ``dL/dlogits`` ``(B, T, V)``. A tied
        embedding receives the head's gradient and the lookup's, summed.

        Returns:
            grads: dict with exactly the keys of ``params`` (same order, shapes and dtype).

        Raises:
            RuntimeError: if there was no forward without kv_cache (or, without dlogits, no
                loss) before.
            ValueError: if dlogits is not ``(B, T, V)`` of the last forward.
        """
        if self._cache is None:
            raise RuntimeError("Llama.backward: call forward(idx) (without kv_cache) or "
                               "loss(idx, targets) first")
        if dlogits is None and self._loss_cache is None:
            raise RuntimeError("Llama.backward(): no loss to differentiate; call loss(idx, "
                               "targets) first, or pass dlogits after forward(idx)")
        expected = (*self._cache["shape"], self.config.vocab_size)
        if dlogits is not None and np.shape(dlogits) != expected:
            raise ValueError(f"Llama.backward: dlogits must be (B, T, V) = {expected}, got "
                             f"{np.shape(dlogits)}")
        ### BEGIN SOLUTION
        cache, cfg = self._cache, self.config
        if dlogits is None:
            dlogits = cross_entropy_backward(1.0, self._loss_cache)  # (B, T, V)
        grads = {}
        dx, dhead, _ = linear_backward(dlogits, cache["head"])  # (B, T, C), (C, V)
        dx, grads["model.norm.weight"] = rms_norm_backward(dx, cache["norm"])
        for i in reversed(range(cfg.num_hidden_layers)):
            dx, dblock = llama_block_backward(dx, cache["blocks"][i])
            grads.update({f"model.layers.{i}.{name}": g for name, g in dblock.items()})
        grads["model.embed_tokens.weight"] = embedding_backward(dx, cache["embed"])
        if cfg.tie_word_embeddings:  # the table is the head too: its (C, V) gradient, transposed
            grads["model.embed_tokens.weight"] += dhead.T
        else:
            grads["lm_head.weight"] = dhead
        return {name: grads[name] for name in self.params}
        ### END SOLUTION


def _is_projection(name):
    """An ``nn.Linear`` weight: stored ``(out, in)`` by HF, ``(in, out)`` here."""
    return name.endswith("_proj.weight") or name == "lm_head.weight"


def params_from_hf(state, tied):
    """Our ``params`` from the tensors of a ``LlamaForCausalLM`` checkpoint (given): every
    projection transposed to ``(in, out)`` (a contiguous copy); RoPE's ``inv_freq`` buffers of
    old checkpoints dropped; with ``tied``, a stored ``lm_head.weight`` must equal the
    embedding and is dropped. Names and shapes are checked by ``Llama(config, params=...)``.

    Raises:
        ValueError: if a tied head's stored ``lm_head.weight`` differs from the embedding.
    """
    params = {}
    for name, value in state.items():
        if name.endswith("rotary_emb.inv_freq"):
            continue
        params[name] = np.ascontiguousarray(value.T) if _is_projection(name) else value
    if tied and "lm_head.weight" in params:
        head, embed = params.pop("lm_head.weight"), params.get("model.embed_tokens.weight")
        if embed is None or head.shape != embed.shape[::-1] or not np.array_equal(head.T, embed):
            raise ValueError("checkpoint: config.json says tie_word_embeddings=true but the "
                             "stored lm_head.weight differs from model.embed_tokens.weight")
    return params


def params_to_hf(params):
    """HF's tensors from our ``params`` (given): projections transposed back to ``(out, in)``,
    contiguous; the names are already HF's."""
    return {name: np.ascontiguousarray(p.T) if _is_projection(name) else p
            for name, p in params.items()}


def _random_llama_params(config, rng):
    """HF's initialisation (see ``Llama.__init__``), in the order of ``llama_param_shapes``."""
    if rng is None:
        rng = np.random.default_rng()
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"Llama: rng must be an np.random.Generator, got {type(rng).__name__}")
    dtype = np.dtype(config.dtype)
    params = {}
    for name, shape in llama_param_shapes(config).items():
        if name.endswith("norm.weight"):
            params[name] = np.ones(shape, dtype=dtype)
        else:
            params[name] = (INITIALIZER_RANGE * rng.standard_normal(shape)).astype(dtype)
    return params


def _checked_llama_params(params, config):
    """``params`` as contiguous arrays of ``config.dtype``, in the order of
    ``llama_param_shapes(config)``; a ValueError names a missing, extra or misshapen one."""
    shapes = llama_param_shapes(config)
    for name in params:
        if name not in shapes:
            why = (" (the head is tied: tie_word_embeddings=True uses embed_tokens.weight)"
                   if name == "lm_head.weight" else "")
            raise ValueError(f"Llama: params has {name!r}, which is not a parameter of this "
                             f"Llama{why}")
    for name, shape in shapes.items():
        if name not in params:
            raise ValueError(f"Llama: params misses {name!r} (shape {shape})")
        if np.shape(params[name]) != shape:
            hint = (" (transposed: nn.Linear's (out, in) layout; this model's is (in, out))"
                    if np.shape(params[name]) == shape[::-1] else "")
            raise ValueError(f"Llama: params[{name!r}] has shape {np.shape(params[name])}, "
                             f"expected {shape}{hint}")
    return {name: np.ascontiguousarray(params[name], dtype=config.dtype) for name in shapes}

