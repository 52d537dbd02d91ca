"""GPT-2 in NumPy: the decoder-only Transformer, forward and backward by hand (exercise 3.11).

The architecture of Radford et al. (2019), as Hugging Face's ``GPT2LMHeadModel`` and
nanoGPT's ``GPT`` compute it::

    x = wte[idx] + wpe[:T]                                          (B, T, C)
    for each of the n_layer blocks (pre-norm):
        x = x + attn(ln_1(x))      causal self-attention, fused q|k|v projection c_attn
        x = x + mlp(ln_2(x))       c_fc -> GELU (tanh form) -> c_proj
    logits = ln_f(x) @ wte^T                                        (B, T, V), tied head

Everything is composed of the earlier exercises: ``linear`` (3.1), ``layer_norm`` (3.2),
``feed_forward`` with the tanh GELU (3.3, 3.4), ``cross_entropy`` (3.8), Module 1's
``split_heads`` / ``merge_heads`` / ``causal_mask`` / ``scaled_dot_product_attention``
(1.3-1.6) and Module 2's ``embedding`` (2.2). There is no dropout: the model is what HF
computes in ``eval()`` mode (or with every dropout probability 0), the setting of the parity
tests.

The parameter names are those of the Hugging Face GPT-2 checkpoint (``GPT2LMHeadModel.
state_dict()``) without its ``transformer.`` prefix, so loading pretrained weights is a
renaming-free copy (``params[name] = state_dict["transformer." + name]``); there is no
``lm_head.weight``: the head reuses ``wte.weight`` (HF ties the two; its state_dict lists the
same tensor under both names).
"""

import math
from dataclasses import dataclass

import numpy as np

from ..positional_encoding.embedding import embedding, embedding_backward
from ..self_attention.attention import (
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
)
from ..self_attention.heads import merge_heads, split_heads
from ..self_attention.masks import causal_mask
from .cross_entropy import cross_entropy, cross_entropy_backward
from .feed_forward import feed_forward, feed_forward_backward
from .hf_checkpoint import gpt_state_dict, read_config, read_safetensors, write_checkpoint
from .linear import linear, linear_backward
from .norms import layer_norm, layer_norm_backward

INIT_STD = 0.02  # GPT-2 / nanoGPT: every weight matrix and embedding table ~ N(0, 0.02^2)


@dataclass
class GPTConfig:
    """Sizes of a GPT-2 model (given, not an exercise).

    The defaults are GPT-2 small (124M parameters). The names are those of Hugging Face's
    ``GPT2Config`` where one exists (``vocab_size``, ``n_layer``, ``n_head``, ``n_embd``,
    ``layer_norm_epsilon``), except ``block_size`` (nanoGPT's name): HF calls the context
    length ``n_positions`` (``n_ctx`` in old configs). ``config.n_positions`` reads it under
    HF's name, and ``GPTConfig.from_hf(...)`` builds a config from a ``GPT2Config`` or the
    dict of a ``config.json``, accepting either name.

    Attributes:
        vocab_size: V, rows of ``wte.weight``.
        block_size: T_max, the longest sequence (rows of ``wpe.weight``).
        n_layer: number of Transformer blocks.
        n_head: H, attention heads per block; must divide ``n_embd``.
        n_embd: C, the model width (head width D = C / H; MLP width 4C).
        layer_norm_epsilon: eps of every LayerNorm (inside the sqrt).
        dtype: dtype of the parameters made by ``GPT(config)`` (``"float32"``: the fast path;
            ``"float64"`` for gradient checks). The computation runs in the dtype of
            ``model.params``.
    """

    vocab_size: int = 50257
    block_size: int = 1024
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    layer_norm_epsilon: float = 1e-5
    dtype: str = "float32"

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"GPTConfig: {name} must be a positive integer, got {value!r}")
        if self.n_embd % self.n_head != 0:
            raise ValueError(
                f"GPTConfig: n_embd = {self.n_embd} must be divisible by n_head = {self.n_head}"
            )
        if not self.layer_norm_epsilon >= 0:
            raise ValueError(
                f"GPTConfig: layer_norm_epsilon must be >= 0, got {self.layer_norm_epsilon}"
            )
        if not np.issubdtype(np.dtype(self.dtype), np.floating):
            raise ValueError(f"GPTConfig: dtype must be a floating dtype, got {self.dtype!r}")

    @property
    def n_positions(self):
        """Hugging Face's name for ``block_size`` (read-only)."""
        return self.block_size

    @classmethod
    def from_hf(cls, config, dtype="float32"):
        """A ``GPTConfig`` from a Hugging Face ``GPT2Config`` or a ``config.json`` dict.

        ``n_positions`` (or ``n_ctx``, or ``block_size``) gives ``block_size``. Options this
        model does not implement are refused rather than silently ignored: an activation
        other than the tanh GELU (``gelu_new``), ``scale_attn_by_inverse_layer_idx``,
        ``reorder_and_upcast_attn``, unscaled attention, or an ``n_inner`` other than 4C.
        Dropout probabilities are ignored (there is no dropout here: HF's eval mode).
        """
        get = config.get if isinstance(config, dict) else (lambda k, d=None: getattr(config, k, d))
        n_embd = get("n_embd", 768)
        block_size = next((get(k) for k in ("n_positions", "n_ctx", "block_size") if get(k)), 1024)
        refused = {
            "activation_function": (get("activation_function", "gelu_new"),
                                    ("gelu_new", "gelu_pytorch_tanh")),
            "scale_attn_weights": (get("scale_attn_weights", True), (True,)),
            "scale_attn_by_inverse_layer_idx": (get("scale_attn_by_inverse_layer_idx", False),
                                                (False,)),
            "reorder_and_upcast_attn": (get("reorder_and_upcast_attn", False), (False,)),
            "n_inner": (get("n_inner"), (None, 4 * n_embd)),
        }
        for key, (value, allowed) in refused.items():
            if value not in allowed:
                raise ValueError(f"GPTConfig.from_hf: {key}={value!r} is not supported "
                                 f"(supported: {allowed})")
        return cls(vocab_size=get("vocab_size", 50257), block_size=block_size,
                   n_layer=get("n_layer", 12), n_head=get("n_head", 12), n_embd=n_embd,
                   layer_norm_epsilon=get("layer_norm_epsilon", 1e-5), dtype=dtype)

    def to_hf(self, dtype=None):
        """The ``config.json`` dict of ``GPT2LMHeadModel`` for this config (``from_hf``'s
        inverse); ``dtype`` names the saved tensors' dtype (default: ``self.dtype``)."""
        return {
            "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
            "vocab_size": self.vocab_size, "n_positions": self.block_size,
            "n_ctx": self.block_size, "n_embd": self.n_embd, "n_layer": self.n_layer,
            "n_head": self.n_head, "n_inner": None,
            "layer_norm_epsilon": self.layer_norm_epsilon, "activation_function": "gelu_new",
            "tie_word_embeddings": True, "dtype": np.dtype(dtype or self.dtype).name,
        }


def gpt_param_shapes(config):
    """``{name: shape}`` of every parameter, in the order of HF's state_dict (given)."""
    V, T, C = config.vocab_size, config.block_size, config.n_embd
    shapes = {"wte.weight": (V, C), "wpe.weight": (T, C)}
    block = {  # in the order of HF's state_dict within one block
        "ln_1.weight": (C,), "ln_1.bias": (C,),
        "attn.c_attn.weight": (C, 3 * C), "attn.c_attn.bias": (3 * C,),
        "attn.c_proj.weight": (C, C), "attn.c_proj.bias": (C,),
        "ln_2.weight": (C,), "ln_2.bias": (C,),
        "mlp.c_fc.weight": (C, 4 * C), "mlp.c_fc.bias": (4 * C,),
        "mlp.c_proj.weight": (4 * C, C), "mlp.c_proj.bias": (C,),
    }
    for i in range(config.n_layer):
        shapes.update({f"h.{i}.{suffix}": shape for suffix, shape in block.items()})
    shapes.update({"ln_f.weight": (C,), "ln_f.bias": (C,)})
    return shapes


class GPT:
    """GPT-2 language model: ``forward``, ``loss`` and ``backward`` by hand (exercise 3.11).

    Attributes:
        config: the ``GPTConfig``.
        params: ``dict[str, np.ndarray]`` named as the Hugging Face GPT-2 checkpoint without
            the ``transformer.`` prefix (see ``gpt_param_shapes``): ``wte.weight`` ``(V, C)``,
            ``wpe.weight`` ``(T_max, C)``; per block ``h.{i}.ln_1.weight/.bias`` ``(C,)``,
            ``h.{i}.attn.c_attn.weight`` ``(C, 3C)`` (the fused q|k|v projection, columns
            ``0:C`` = q, ``C:2C`` = k, ``2C:3C`` = v) and ``.bias`` ``(3C,)``,
            ``h.{i}.attn.c_proj.weight`` ``(C, C)`` + ``.bias``, ``h.{i}.ln_2.*``,
            ``h.{i}.mlp.c_fc.weight`` ``(C, 4C)`` + ``.bias``, ``h.{i}.mlp.c_proj.weight``
            ``(4C, C)`` + ``.bias``; then ``ln_f.weight/.bias``. Weights are HF's ``Conv1D``
            layout ``(in, out)``: ``y = x @ W + b``. The head is tied: ``logits = x @
            wte.weight^T`` (no ``lm_head.weight``). You may replace the arrays (e.g. load a
            checkpoint, or switch to float64): every pass reads ``self.params`` afresh and
            computes in its dtype.

    The last ``forward`` keeps its activations (references, not copies) for ``backward``;
    ``loss`` runs ``forward`` and keeps the cross-entropy's cache too. Do not modify the
    parameters in place between a forward and its backward.
    """

    def __init__(self, config, rng=None, params=None):
        """Random GPT-2 parameters, or the given ones (given, not an exercise).

        The init of GPT-2 / nanoGPT: every weight matrix and both embedding tables
        ~ N(0, 0.02^2), except the residual projections (``attn.c_proj.weight`` and
        ``mlp.c_proj.weight``), ~ N(0, (0.02 / sqrt(2 n_layer))^2) so that the variance of the
        residual stream does not grow with depth; biases 0, LayerNorm weights 1. Drawn in
        float64 as ``std * rng.standard_normal(shape)``, one draw per weight in the order of
        ``gpt_param_shapes``, then cast to ``config.dtype`` (so a float32 and a float64 model
        from the same seed agree up to rounding).

        Args:
            config: a ``GPTConfig``.
            rng: a ``np.random.Generator``; ``None`` means ``np.random.default_rng()``
                (fresh entropy: pass a generator for reproducible weights).
            params: ``None`` for the random init; else ``{name: array}`` with exactly the
                names and shapes of ``gpt_param_shapes(config)`` (e.g. a checkpoint's),
                copied in that order as contiguous arrays of ``config.dtype``; no random
                numbers are drawn then.

        Raises:
            ValueError: if ``params`` misses a name, has an extra one, or a wrong shape.
        """
        if not isinstance(config, GPTConfig):
            raise TypeError(f"GPT: config must be a GPTConfig, got {type(config).__name__}")
        self.config = config
        if params is None:
            self.params = _random_params(config, rng)
        else:
            self.params = _checked_params(params, config)
        self._cache = None  # the last forward's activations
        self._loss_cache = None  # the last loss's cross-entropy cache (None after a forward)

    @classmethod
    def from_pretrained(cls, path, dtype="float32"):
        """A GPT with the weights of a Hugging Face GPT-2 directory (given, not an exercise).

        ``path`` holds ``config.json`` and ``model.safetensors``, as ``save_pretrained`` (HF's
        or ours) writes them, or as ``huggingface-cli download gpt2 config.json
        model.safetensors`` fetches them. The names are ours (a ``transformer.`` prefix is
        stripped), the layout too (``Conv1D`` ``(in, out)``); the tied ``lm_head.weight``, if
        stored, must equal ``wte.weight``. The files are read by ``hf_checkpoint.py``.

        Args:
            path: the directory.
            dtype: the parameters' dtype, ``"float32"`` (default) or ``"float64"``.

        Returns:
            the ``GPT``; its logits are ``GPT2LMHeadModel``'s in eval mode.

        Raises:
            FileNotFoundError: no config.json, or no safetensors file (e.g. only
                ``pytorch_model.bin``: the message says what to download).
            ValueError: an unsupported config option, a missing or misshapen tensor (named).
        """
        hf_config = read_config(path)
        config = GPTConfig.from_hf(hf_config, dtype=np.dtype(dtype).name)
        params = gpt_state_dict(read_safetensors(path),
                                tied=hf_config.get("tie_word_embeddings", True))
        try:
            return cls(config, params=params)  # no random init: 124M draws only to replace
        except ValueError as exc:
            raise ValueError(f"{path}: the checkpoint does not fit its config.json: "
                             f"{exc}") from None

    def save_pretrained(self, path):
        """Write ``config.json`` and ``model.safetensors`` to the directory ``path`` (given).

        The files are those ``GPT2LMHeadModel.save_pretrained`` writes (names with the
        ``transformer.`` prefix, the tied head left out): HF's
        ``GPT2LMHeadModel.from_pretrained(path)`` loads them, and so does
        ``GPT.from_pretrained(path)``, exactly (the parameters' dtype is kept).
        """
        dtype = self.params["wte.weight"].dtype
        write_checkpoint(path, self.config.to_hf(dtype), self.params)

    def num_parameters(self):
        """Number of scalars in ``params`` (the tied table counted once): 124,439,808 for the
        default config, HF's ``GPT2LMHeadModel(...).num_parameters()`` (given)."""
        return sum(int(p.size) for p in self.params.values())

    def free_activations(self):
        """Forget the last forward's activations, kept for ``backward``, to free their memory
        (given); a ``backward`` needs a new forward after this."""
        self._cache = None
        self._loss_cache = None

    def _check_idx(self, idx, where):
        """idx as an integer (B, T) array with 1 <= T <= block_size and ids in [0, V) (given)."""
        idx = np.asarray(idx)
        if not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(f"GPT.{where}: idx must be integer token ids, got dtype {idx.dtype}")
        if idx.ndim != 2 or idx.shape[1] < 1 or idx.shape[0] < 1:
            raise ValueError(f"GPT.{where}: idx must be (B, T) with B, T >= 1, got {idx.shape}")
        if idx.shape[1] > self.config.block_size:
            raise ValueError(
                f"GPT.{where}: sequence length T = {idx.shape[1]} exceeds block_size = "
                f"{self.config.block_size} (wpe.weight has one row per position; crop the "
                "input to its last block_size tokens)"
            )
        bad = (idx < 0) | (idx >= self.config.vocab_size)
        if np.any(bad):
            raise ValueError(f"GPT.{where}: token id {idx[bad].flat[0]} is out of range for "
                             f"vocab_size = {self.config.vocab_size}")
        return idx

    def forward(self, idx, kv_cache=None):
        """Logits of the next token at every position (exercise 3.11).

        Args:
            idx: integer token ids ``(B, T)``, ``1 <= T <= block_size``.
            kv_cache: ``None`` for the training forward (3.11). A ``KVCache`` (exercise 4.5)
                decodes instead: ``idx`` are the next T tokens after the ``kv_cache.length``
                already cached, and the logits are those of ``forward`` on the whole sequence
                at these positions; no activations are kept for ``backward``. Any object
                with a method ``forward(model, idx)`` returning these logits will do: the
                cached forward is Module 4's, and this module needs nothing of it.

        Returns:
            logits: ``(B, T, V)`` in the parameters' dtype (float32 by default).
            ``logits[b, t]`` scores the token after ``idx[b, :t+1]`` (causal: it does not
            depend on ``idx[b, t+1:]``). The activations are kept for ``backward``.

        Raises:
            TypeError: if idx is not integer.
            ValueError: if idx is not ``(B, T)``, ``T > block_size``, or an id is outside
                ``[0, V)``.
        """
        idx = self._check_idx(idx, "forward")
        if kv_cache is not None:  # decoding: the cache runs it (4.5, llm/kv_cache.py)
            return kv_cache.forward(self, idx)
        self._loss_cache = None  # a following backward() needs dlogits, or a new loss
        ### BEGIN SOLUTION
        p, cfg = self.params, self.config
        B, T = idx.shape
        C = cfg.n_embd
        tok, tok_cache = embedding(idx, p["wte.weight"])  # (B, T, C)
        pos, pos_cache = embedding(np.arange(T), p["wpe.weight"])  # (T, C)
        x = (tok + pos).reshape(B * T, C)  # (N, C): every linear layer sees 2-D rows
        mask = causal_mask(T)  # (T, T), True = may attend
        blocks = []
        for i in range(cfg.n_layer):
            x, block_cache = self.block_forward(x, i, B, T, mask)
            blocks.append(block_cache)
        x, ln_f_cache = layer_norm(x, p["ln_f.weight"], p["ln_f.bias"], cfg.layer_norm_epsilon)
        logits, head_cache = linear(x, p["wte.weight"].T)  # (N, C) @ (C, V): the tied head
        self._cache = {"B": B, "T": T, "tok": tok_cache, "pos": pos_cache, "blocks": blocks,
                       "ln_f": ln_f_cache, "head": head_cache}
        return logits.reshape(B, T, cfg.vocab_size)
        ### END SOLUTION

    def block_forward(self, x, i, B, T, mask, attention=scaled_dot_product_attention):
        """Block i, pre-norm, on the rows ``x`` of B sequences of T tokens (part of 3.11)::

            x = x + c_proj(merge_heads(attention(split_heads(c_attn(ln_1(x))), mask)))
            x = x + mlp(ln_2(x))

        Args:
            x: ``(N, C)`` with N = B*T rows, or ``(C,)`` when B*T = 1; not modified.
            i: the block's index, ``0 <= i < n_layer`` (its parameters are ``h.{i}.*``).
            B, T: the batch and the number of positions of ``x``.
            mask: the attention's boolean mask (``causal_mask(T)`` in ``forward``) or None.
            attention: ``attention(q, k, v, mask) -> (heads, cache)`` with q, k, v
                ``(B, H, T, D)``: ``scaled_dot_product_attention`` (1.4) by default. The
                cached forward (4.5) passes one that adds k, v to a KV cache and attends to
                every cached position.

        Returns:
            ``(x_out, cache)``: ``x_out`` with the shape of ``x``; ``cache`` for ``backward``.
        """
        ### BEGIN SOLUTION
        p, eps, H = self.params, self.config.layer_norm_epsilon, self.config.n_head
        h = f"h.{i}."
        C = x.shape[-1]
        a, ln_1 = layer_norm(x, p[h + "ln_1.weight"], p[h + "ln_1.bias"], eps)  # (N, C)
        qkv, c_attn = linear(a, p[h + "attn.c_attn.weight"], p[h + "attn.c_attn.bias"])  # (N, 3C)
        qkv = qkv.reshape(B, T, 3 * C)
        q, k, v = (split_heads(qkv[:, :, j * C:(j + 1) * C], H) for j in range(3))  # (B,H,T,D)
        heads, attn = attention(q, k, v, mask)  # (B, H, T, D)
        merged = merge_heads(heads).reshape(x.shape)  # (N, C), rows like x
        y, c_proj = linear(merged, p[h + "attn.c_proj.weight"], p[h + "attn.c_proj.bias"])
        x = x + y  # the residual stream (a new array: the caller's x is left alone)
        a, ln_2 = layer_norm(x, p[h + "ln_2.weight"], p[h + "ln_2.bias"], eps)
        y, mlp = feed_forward(a, self._mlp_params(i), activation="gelu")  # (N, C)
        x += y  # in place: x is ours, and no cache refers to it (LayerNorm keeps xhat)
        return x, {"ln_1": ln_1, "c_attn": c_attn, "attn": attn, "c_proj": c_proj,
                   "ln_2": ln_2, "mlp": mlp}
        ### END SOLUTION

    def _mlp_params(self, i):
        """Block i's MLP weights under ``feed_forward``'s names (given)."""
        p, h = self.params, f"h.{i}.mlp."
        return {"W_1": p[h + "c_fc.weight"], "b_1": p[h + "c_fc.bias"],
                "W_2": p[h + "c_proj.weight"], "b_2": p[h + "c_proj.bias"]}

    def loss(self, idx, targets):
        """Mean cross-entropy of ``forward(idx)`` against ``targets`` (exercise 3.11).

        The targets are already shifted (nanoGPT style): ``targets[b, t]`` is the token that
        should follow ``idx[b, :t+1]``, usually ``idx`` shifted left by one (``get_batch``,
        4.2). HF's ``GPT2LMHeadModel(input_ids, labels=...)`` shifts inside instead: its
        ``labels`` are the inputs, and its loss equals ``loss(idx[:, :-1], idx[:, 1:])`` on
        logits of the full input.

        Args:
            idx: ``(B, T)`` token ids, as for ``forward``.
            targets: integer ``(B, T)``, ids in ``[0, V)`` or -100 (ignored, e.g. padding).

        Returns:
            A scalar of the parameters' dtype: the mean over the non-ignored positions (0
            when all are ignored, see ``cross_entropy``). Keeps what ``backward()`` needs.

        Raises:
            ValueError / TypeError: as ``forward``, and if targets do not fit.
        """
        idx = self._check_idx(idx, "loss")
        targets = np.asarray(targets)
        if targets.shape != idx.shape:
            raise ValueError(f"GPT.loss: targets must have idx's shape {idx.shape} (already "
                             f"shifted, one target per position), got {targets.shape}")
        ### BEGIN SOLUTION
        logits = self.forward(idx)  # (B, T, V)
        loss, self._loss_cache = cross_entropy(logits, targets, ignore_index=-100)
        return loss
        ### END SOLUTION

    def backward(self, dlogits=None):
        """Gradients of every parameter (exercise 3.11).

        ``backward()`` after ``loss`` differentiates the loss; ``backward(dlogits)`` after
        ``forward`` (or ``loss``) back-propagates a given ``dL/dlogits`` ``(B, T, V)``. Both
        use the activations of the last forward.

        The tied ``wte.weight`` receives the sum of the head's and the embedding lookup's
        contributions (lecture 3, §13.5). ``wpe.weight`` rows beyond T get 0.

        Returns:
            grads: dict with exactly the keys of ``params`` (same order, shapes and dtype).

        Raises:
            RuntimeError: if there was no forward (or, without dlogits, no loss) before.
            ValueError: if dlogits is not ``(B, T, V)`` of the last forward.
        """
        if self._cache is None:
            raise RuntimeError("GPT.backward: call forward(idx) or loss(idx, targets) first")
        if dlogits is None and self._loss_cache is None:
            raise RuntimeError("GPT.backward(): no loss to differentiate; call loss(idx, "
                               "targets) first, or pass dlogits after forward(idx)")
        expected = (self._cache["B"], self._cache["T"], self.config.vocab_size)
        if dlogits is not None and np.shape(dlogits) != expected:
            raise ValueError(f"GPT.backward: dlogits must be (B, T, V) = {expected}, got "
                             f"{np.shape(dlogits)}")
        ### BEGIN SOLUTION
        cache, cfg = self._cache, self.config
        B, T, C = cache["B"], cache["T"], cfg.n_embd
        if dlogits is None:
            dlogits = cross_entropy_backward(1.0, self._loss_cache)  # (B, T, V)
        grads = {}
        dx, dW_head, _ = linear_backward(dlogits.reshape(B * T, -1), cache["head"])  # (N, C)
        dx, grads["ln_f.weight"], grads["ln_f.bias"] = layer_norm_backward(dx, cache["ln_f"])
        for i in reversed(range(cfg.n_layer)):
            dx = self._block_backward(dx, i, B, T, cache["blocks"][i], grads)
        dx = dx.reshape(B, T, C)
        # the tied table: the embedding's scatter-add plus the head's (C, V) gradient, transposed
        grads["wte.weight"] = embedding_backward(dx, cache["tok"])
        grads["wte.weight"] += dW_head.T  # in place: the (V, C) array is new
        grads["wpe.weight"] = embedding_backward(dx.sum(axis=0), cache["pos"])  # (T_max, C)
        return {name: grads[name] for name in self.params}
        ### END SOLUTION

    def _block_backward(self, dx, i, B, T, cache, grads):
        """Gradient through block i: ``dx`` ``(N, C)`` in, ``dx`` ``(N, C)`` out; writes the
        block's parameter gradients into ``grads`` (part of exercise 3.11)."""
        ### BEGIN SOLUTION
        H, h = self.config.n_head, f"h.{i}."
        C = dx.shape[-1]
        # x = x + mlp(ln_2(x)): the residual passes dx on unchanged, the branch adds to it
        da, dmlp = feed_forward_backward(dx, cache["mlp"])
        for ours, theirs in (("W_1", "c_fc.weight"), ("b_1", "c_fc.bias"),
                             ("W_2", "c_proj.weight"), ("b_2", "c_proj.bias")):
            grads[h + "mlp." + theirs] = dmlp[ours]
        da, grads[h + "ln_2.weight"], grads[h + "ln_2.bias"] = layer_norm_backward(
            da, cache["ln_2"])
        dx = dx + da  # a new array: the caller's dx is left alone
        # x = x + attn(ln_1(x))
        dmerged, grads[h + "attn.c_proj.weight"], grads[h + "attn.c_proj.bias"] = (
            linear_backward(dx, cache["c_proj"]))  # (N, C)
        dheads = split_heads(dmerged.reshape(B, T, C), H)  # (B, H, T, D)
        dq, dk, dv = scaled_dot_product_attention_backward(dheads, cache["attn"])
        # the fused gradient (N, 3C) = [dq | dk | dv], each head merged back into its columns:
        # written straight into one buffer (B, T, 3, H, D), not merged then concatenated
        dqkv = np.empty((B, T, 3, H, C // H), dtype=dq.dtype)
        for j, dpart in enumerate((dq, dk, dv)):
            dqkv[:, :, j] = dpart.transpose(0, 2, 1, 3)  # (B, H, T, D) -> (B, T, H, D)
        da, grads[h + "attn.c_attn.weight"], grads[h + "attn.c_attn.bias"] = linear_backward(
            dqkv.reshape(B * T, 3 * C), cache["c_attn"])
        da, grads[h + "ln_1.weight"], grads[h + "ln_1.bias"] = layer_norm_backward(
            da, cache["ln_1"])
        dx += da
        return dx
        ### END SOLUTION


def _random_params(config, rng):
    """GPT-2's initialisation (see ``GPT.__init__``), in the order of ``gpt_param_shapes``."""
    if rng is None:
        rng = np.random.default_rng()
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"GPT: rng must be an np.random.Generator, got {type(rng).__name__}")
    dtype = np.dtype(config.dtype)
    residual_std = INIT_STD / math.sqrt(2 * config.n_layer)
    params = {}
    for name, shape in gpt_param_shapes(config).items():
        if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
            params[name] = np.ones(shape, dtype=dtype)
        elif name.endswith(".bias"):
            params[name] = np.zeros(shape, dtype=dtype)
        else:
            std = residual_std if name.endswith("c_proj.weight") else INIT_STD
            params[name] = (std * rng.standard_normal(shape)).astype(dtype)
    return params


def _checked_params(params, config):
    """``params`` as contiguous arrays of ``config.dtype``, in the order of
    ``gpt_param_shapes(config)``; a ValueError names a missing, extra or misshapen one."""
    shapes = gpt_param_shapes(config)
    for name in params:
        if name not in shapes:
            raise ValueError(f"GPT: params has {name!r}, which is not a GPT-2 parameter")
    for name, shape in shapes.items():
        if name not in params:
            raise ValueError(f"GPT: params misses {name!r} (shape {shape})")
        if np.shape(params[name]) != shape:
            hint = (" (transposed: a Linear (out, in) layout, but GPT-2's Conv1D is (in, out))"
                    if np.shape(params[name]) == shape[::-1] else "")
            raise ValueError(f"GPT: params[{name!r}] has shape {np.shape(params[name])}, "
                             f"expected {shape}{hint}")
    return {name: np.ascontiguousarray(params[name], dtype=config.dtype) for name in shapes}
