"""The encoder-decoder Transformer of Vaswani et al. (2017), forward and backward (exercise 3.9).

A source sequence ``src`` ``(B, S)`` is encoded once into a *memory*; the decoder reads the
target prefix ``tgt`` ``(B, T)`` and the memory and scores the next target token::

    X_0 = sqrt(C) * E_src[src] + PE[:S]          (B, S, C)   then dropout (training)
    m   = Enc_L(... Enc_1(X_0))                  (B, S, C)   [+ final LayerNorm, pre-norm]
    Y_0 = sqrt(C) * E_tgt[tgt] + PE[:T]          (B, T, C)   then dropout (training)
    h   = Dec_L(... Dec_1(Y_0, m) ..., m)        (B, T, C)   [+ final LayerNorm, pre-norm]
    logits = h @ W_out + b_out   (untied)   or   h @ E_tgt^T   (tied head)     (B, T, V_tgt)

built from the earlier exercises: Module 2's sinusoidal encoding (2.1) and embedding lookup
(2.2), the encoder and decoder layers (3.6, 3.7), ``linear`` (3.1), ``layer_norm`` (3.2),
``dropout`` (3.5) and ``cross_entropy`` (3.8). See the lecture, §11.

Parameters are one flat dict (what ``AdamW.step`` and ``clip_grad_norm`` take as they are)::

    src_embed            (V_src, C)   absent when share_embeddings (the source uses tgt_embed)
    tgt_embed            (V_tgt, C)
    encoder.{i}.<name>   for i < n_layers and every name of ENCODER_PARAM_NAMES (3.6),
                         e.g. encoder.0.attn.W_q (C, C), encoder.0.ln_2.gamma (C,)
    encoder.ln.gamma/.beta  (C,)      the final encoder LayerNorm, only when norm_first
    decoder.{i}.<name>   for every name of DECODER_PARAM_NAMES (3.7),
                         e.g. decoder.1.cross_attn.W_k (C, C)
    decoder.ln.gamma/.beta  (C,)      the final decoder LayerNorm, only when norm_first
    head.W (C, V_tgt), head.b (V_tgt,)   the output projection, only when not tie_head
"""

import math
from dataclasses import dataclass

import numpy as np

from ..positional_encoding.embedding import embedding, embedding_backward
from ..positional_encoding.sinusoidal import sinusoidal_positional_encoding
from ..self_attention.masks import causal_mask
from .cross_entropy import cross_entropy, cross_entropy_backward
from .decoder import decoder_layer, decoder_layer_backward, init_decoder_layer
from .dropout import dropout, dropout_backward
from .encoder import (
    check_dropout_args,
    encoder_layer,
    encoder_layer_backward,
    init_encoder_layer,
    init_layer_norm,
    prefixed,
    sublayer_params,
)
from .linear import linear, linear_backward
from .norms import layer_norm, layer_norm_backward


@dataclass
class TransformerConfig:
    """Sizes and options of an encoder-decoder Transformer (given, not an exercise).

    The defaults are the base model of Vaswani et al. (65M parameters with their shared
    37k vocabulary) except the vocabulary sizes, which you always give.

    Attributes:
        src_vocab_size: V_src, rows of ``src_embed``.
        tgt_vocab_size: V_tgt, rows of ``tgt_embed`` and columns of the logits.
        d_model: C, the model width (of both stacks).
        n_heads: H, a divisor of C.
        d_ff: F, the feed-forward networks' inner width.
        n_layers: L, encoder layers and decoder layers (L of each).
        max_len: the longest source and target (rows of the sinusoidal table).
        dropout: the rate after the embeddings and on every sub-layer's output, in training.
        norm_first: pre-norm layers plus a final LayerNorm after each stack (True), or the
            post-norm layers of the paper (False).
        tie_head: the logits reuse the target embedding, ``h @ tgt_embed^T`` (no ``head.*``).
        share_embeddings: one table for source and target (``tgt_embed``; needs
            ``src_vocab_size == tgt_vocab_size``), as Vaswani et al. with a joint vocabulary.
        activation: the FFN's activation (``"relu"`` as in the paper, or ``"gelu"``).
        eps: the LayerNorms' epsilon.
        pad_id: the padding token id of both vocabularies, or None (no padding). Source
            positions holding ``pad_id`` are hidden from every attention (encoder
            self-attention and cross-attention), target positions from the decoder's
            self-attention.
        dtype: dtype of the parameters ``Transformer(config)`` draws (``"float32"`` for
            training, ``"float64"`` for gradient checks).
    """

    src_vocab_size: int
    tgt_vocab_size: int
    d_model: int = 512
    n_heads: int = 8
    d_ff: int = 2048
    n_layers: int = 6
    max_len: int = 256
    dropout: float = 0.1
    norm_first: bool = False
    tie_head: bool = True
    share_embeddings: bool = False
    activation: str = "relu"
    eps: float = 1e-5
    pad_id: int | None = None
    dtype: str = "float32"

    def __post_init__(self):
        for name in ("src_vocab_size", "tgt_vocab_size", "d_model", "n_heads", "d_ff",
                     "n_layers", "max_len"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"TransformerConfig: {name} must be a positive integer, "
                                 f"got {value!r}")
        if self.d_model % self.n_heads != 0:
            raise ValueError(f"TransformerConfig: d_model = {self.d_model} must be divisible "
                             f"by n_heads = {self.n_heads}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"TransformerConfig: dropout must be in [0, 1), got {self.dropout}")
        if self.share_embeddings and self.src_vocab_size != self.tgt_vocab_size:
            raise ValueError("TransformerConfig: share_embeddings needs src_vocab_size == "
                             f"tgt_vocab_size, got {self.src_vocab_size} and "
                             f"{self.tgt_vocab_size}")
        if self.pad_id is not None and not (0 <= self.pad_id < min(self.src_vocab_size,
                                                                    self.tgt_vocab_size)):
            raise ValueError(f"TransformerConfig: pad_id = {self.pad_id} is not an id of both "
                             "vocabularies")
        if not np.issubdtype(np.dtype(self.dtype), np.floating):
            raise ValueError(f"TransformerConfig: dtype must be a floating dtype, "
                             f"got {self.dtype!r}")


class Transformer:
    """Encoder-decoder Transformer: init, ``forward``, ``loss``, ``backward`` and
    ``greedy_decode`` by hand (exercise 3.9).

    Attributes:
        config: the ``TransformerConfig``.
        params: the flat dict of the module docstring. Every pass reads ``self.params``
            afresh and computes in its dtype, so you may replace the arrays (load trained
            weights, switch to float64); do not modify them in place between a forward and
            its backward.

    ``forward`` (and ``loss``) keep their activations for ``backward``.
    """

    def __init__(self, config, rng=None):
        """Random parameters (exercise 3.9, the first part).

        Build ``self.params`` with the keys of the module docstring, in that order, from
        float64 draws cast to ``config.dtype``, in this order of draws from ``rng``:

        1. ``src_embed`` (unless ``share_embeddings``), then ``tgt_embed``: each
           ``std * rng.standard_normal((V, C))`` with ``std = 1 / sqrt(C)``, so that
           ``sqrt(C) * E[id]`` has entries of variance 1, the scale of the sinusoidal
           encoding it is added to;
        2. the encoder layers 0 .. L-1: ``init_encoder_layer(C, H, F, rng, std=1/sqrt(C))``,
           keys prefixed with ``encoder.{i}.`` (``prefixed`` of 3.6 does this);
        3. the decoder layers 0 .. L-1 likewise with ``init_decoder_layer``, ``decoder.{i}.``;
        4. when ``norm_first``: ``encoder.ln.*`` and ``decoder.ln.*`` (``gamma`` ones,
           ``beta`` zeros; no draws) -- placed after their stack's layers;
        5. unless ``tie_head``: ``head.W`` ``(C, V_tgt)`` ~ N(0, 1/C) and ``head.b`` zeros.

        Args:
            config: a ``TransformerConfig``.
            rng: a ``np.random.Generator``; None means ``np.random.default_rng()`` (fresh
                entropy: pass a generator for reproducible weights).
        """
        if not isinstance(config, TransformerConfig):
            raise TypeError("Transformer: config must be a TransformerConfig, got "
                            f"{type(config).__name__}")
        if rng is None:
            rng = np.random.default_rng()
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"Transformer: rng must be an np.random.Generator, got "
                            f"{type(rng).__name__}")
        self.config = config
        self._cache = None  # the last forward's activations
        self._loss_cache = None  # the last loss's cross-entropy cache (None after a forward)
        ### BEGIN SOLUTION
        cfg, dtype = config, np.dtype(config.dtype)
        C, H, F = cfg.d_model, cfg.n_heads, cfg.d_ff
        std = 1.0 / math.sqrt(C)

        def normal(shape):  # one float64 draw, cast: float32 and float64 models agree
            return (std * rng.standard_normal(shape)).astype(dtype)

        params = {}
        if not cfg.share_embeddings:
            params["src_embed"] = normal((cfg.src_vocab_size, C))
        params["tgt_embed"] = normal((cfg.tgt_vocab_size, C))
        for i in range(cfg.n_layers):
            layer = init_encoder_layer(C, H, F, rng, dtype=dtype, std=std)
            params.update(prefixed(f"encoder.{i}", layer))
        if cfg.norm_first:
            params.update(prefixed("encoder.ln", init_layer_norm(C, dtype)))
        for i in range(cfg.n_layers):
            layer = init_decoder_layer(C, H, F, rng, dtype=dtype, std=std)
            params.update(prefixed(f"decoder.{i}", layer))
        if cfg.norm_first:
            params.update(prefixed("decoder.ln", init_layer_norm(C, dtype)))
        if not cfg.tie_head:
            params["head.W"] = normal((C, cfg.tgt_vocab_size))
            params["head.b"] = np.zeros(cfg.tgt_vocab_size, dtype=dtype)
        self.params = params
        ### END SOLUTION

    def num_parameters(self):
        """Number of scalars in ``params`` (a shared or tied table counted once) (given)."""
        return sum(int(p.size) for p in self.params.values())

    # --- input checks (given) ------------------------------------------------------------
    def _check_ids(self, ids, name, vocab_size, where):
        """ids as an integer (B, n) array, 1 <= n <= max_len, every id in [0, vocab_size)."""
        ids = np.asarray(ids)
        if not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"Transformer.{where}: {name} must be integer token ids, got "
                            f"dtype {ids.dtype}")
        if ids.ndim != 2 or min(ids.shape) < 1:
            raise ValueError(f"Transformer.{where}: {name} must be (B, length) with B, "
                             f"length >= 1, got shape {ids.shape}")
        if ids.shape[1] > self.config.max_len:
            raise ValueError(f"Transformer.{where}: {name} has length {ids.shape[1]} > "
                             f"max_len = {self.config.max_len}")
        bad = (ids < 0) | (ids >= vocab_size)
        if np.any(bad):
            raise ValueError(f"Transformer.{where}: {name} id {ids[bad].flat[0]} is out of "
                             f"range for a vocabulary of {vocab_size}")
        return ids

    def _check_src(self, src, where):
        src = self._check_ids(src, "src", self.config.src_vocab_size, where)
        pad = self.config.pad_id
        if pad is not None and np.any(np.all(src == pad, axis=1)):
            raise ValueError(f"Transformer.{where}: a source row is all padding (pad_id = "
                             f"{pad}); there is nothing to attend to")
        return src

    def _check_forward_args(self, src, tgt, train, rng, where):
        src = self._check_src(src, where)
        tgt = self._check_ids(tgt, "tgt", self.config.tgt_vocab_size, where)
        if src.shape[0] != tgt.shape[0]:
            raise ValueError(f"Transformer.{where}: src {src.shape} and tgt {tgt.shape} must "
                             "have the same batch size B")
        check_dropout_args(self.config.dropout, rng, train, f"Transformer.{where}")
        return src, tgt

    # --- the model -------------------------------------------------------------------------
    def forward(self, src, tgt, train=False, rng=None):
        """Logits of the next target token at every target position (exercise 3.9).

        Teacher forcing: ``tgt`` is the target shifted right (``BOS y_1 ... y_{T-1}``), and
        ``logits[b, t]`` scores the token after ``tgt[b, :t+1]``; it depends on
        ``tgt[b, :t+1]`` and on the whole non-padding source ``src[b]``, on nothing else
        (the decoder's self-attention is causal, and masks padding when ``pad_id`` is set).

        Dropout (inverted, 3.5) acts only when ``train`` and ``config.dropout > 0``, then
        ``rng`` is required; draw order: the source embeddings, the encoder layers in order,
        the target embeddings, the decoder layers in order (each layer's own order, 3.6 and
        3.7). Otherwise ``rng`` is not touched.

        Args:
            src: integer ``(B, S)`` source ids, ``1 <= S <= max_len``.
            tgt: integer ``(B, T)`` decoder input ids, ``1 <= T <= max_len``.
            train: dropout on (True) or off (False).
            rng: a ``np.random.Generator`` when dropout is on.

        Returns:
            logits: ``(B, T, V_tgt)`` in the parameters' dtype. The activations are kept for
            ``backward``.

        Raises:
            TypeError / ValueError: for non-integer ids, wrong shapes, lengths above
                ``max_len``, ids outside the vocabulary, a source row that is all padding,
                or a missing generator.
        """
        src, tgt = self._check_forward_args(src, tgt, train, rng, "forward")
        self._loss_cache = None  # a following backward() needs dlogits, or a new loss
        ### BEGIN SOLUTION
        memory, enc_cache = self._encode(src, train, rng)
        h, dec_cache = self._decode(tgt, memory, src, train, rng)  # (B, T, C)
        logits, head_cache = self._head(h)
        self._cache = {"enc": enc_cache, "dec": dec_cache, "head": head_cache,
                       "shape": tgt.shape}
        return logits
        ### END SOLUTION

    def _embed(self, ids, table_name, train, rng):
        """``dropout(sqrt(C) * table[ids] + PE[:n])`` ``(B, n, C)`` and its cache (part of
        exercise 3.9)."""
        ### BEGIN SOLUTION
        table = self.params[table_name]
        C = self.config.d_model
        tok, tok_cache = embedding(ids, table)  # (B, n, C)
        pe = sinusoidal_positional_encoding(ids.shape[1], C, dtype=table.dtype)  # (n, C)
        x = tok * math.sqrt(C) + pe  # the paper's scaling: embeddings to the PE's scale
        x, drop_cache = dropout(x, self.config.dropout, rng, train)
        return x, {"table": table_name, "tok": tok_cache, "drop": drop_cache}
        ### END SOLUTION

    def _src_table(self):
        """The source embedding's key: ``tgt_embed`` when shared (given)."""
        return "tgt_embed" if self.config.share_embeddings else "src_embed"

    def _src_key_mask(self, src):
        """``(B, 1, 1, S)`` True where the source is not padding, or None (given)."""
        if self.config.pad_id is None:
            return None
        return (src != self.config.pad_id)[:, None, None, :]

    def _encode(self, src, train, rng):
        """The memory ``(B, S, C)`` and the encoder's cache (part of exercise 3.9)."""
        ### BEGIN SOLUTION
        cfg, p = self.config, self.params
        x, embed_cache = self._embed(src, self._src_table(), train, rng)
        mask = self._src_key_mask(src)  # padding keys hidden from every query
        layers = []
        for i in range(cfg.n_layers):
            x, layer_cache = encoder_layer(
                x, sublayer_params(p, f"encoder.{i}"), cfg.n_heads, mask=mask,
                norm_first=cfg.norm_first, dropout_p=cfg.dropout, rng=rng, train=train,
                activation=cfg.activation, eps=cfg.eps)
            layers.append(layer_cache)
        ln_cache = None
        if cfg.norm_first:  # pre-norm layers leave the residual stream unnormalised
            x, ln_cache = layer_norm(x, p["encoder.ln.gamma"], p["encoder.ln.beta"], cfg.eps)
        return x, {"embed": embed_cache, "layers": layers, "ln": ln_cache}
        ### END SOLUTION

    def _decode(self, tgt, memory, src, train, rng):
        """The decoder's output states ``h`` ``(B, T, C)`` and its cache (part of 3.9)."""
        ### BEGIN SOLUTION
        cfg, p = self.config, self.params
        y, embed_cache = self._embed(tgt, "tgt_embed", train, rng)
        self_mask = causal_mask(tgt.shape[1])  # (T, T)
        if cfg.pad_id is not None:  # ... and target padding as keys: (B, 1, T, T)
            self_mask = self_mask & (tgt != cfg.pad_id)[:, None, None, :]
        memory_mask = self._src_key_mask(src)
        layers = []
        for i in range(cfg.n_layers):
            y, layer_cache = decoder_layer(
                y, memory, sublayer_params(p, f"decoder.{i}"), cfg.n_heads,
                self_mask=self_mask, memory_mask=memory_mask, norm_first=cfg.norm_first,
                dropout_p=cfg.dropout, rng=rng, train=train, activation=cfg.activation,
                eps=cfg.eps)
            layers.append(layer_cache)
        ln_cache = None
        if cfg.norm_first:
            y, ln_cache = layer_norm(y, p["decoder.ln.gamma"], p["decoder.ln.beta"], cfg.eps)
        return y, {"embed": embed_cache, "layers": layers, "ln": ln_cache}
        ### END SOLUTION

    def _head(self, h):
        """Logits ``(B, T, V_tgt)`` from the decoder states and the head's cache (part of
        exercise 3.9)."""
        ### BEGIN SOLUTION
        if self.config.tie_head:
            return linear(h, self.params["tgt_embed"].T)  # (B, T, C) @ (C, V): no bias
        return linear(h, self.params["head.W"], self.params["head.b"])
        ### END SOLUTION

    def loss(self, src, tgt, labels, label_smoothing=0.0, train=False, rng=None):
        """Mean cross-entropy of ``forward(src, tgt)`` against ``labels`` (exercise 3.9).

        Args:
            src, tgt, train, rng: as for ``forward``.
            labels: integer ``(B, T)``, the next token at every position (``tgt`` shifted
                left: ``y_1 ... y_{T-1} EOS``), or -100 where there is no loss (padding).
            label_smoothing: eps of ``cross_entropy`` (3.8); Vaswani et al. use 0.1.

        Returns:
            A scalar of the parameters' dtype; keeps what ``backward()`` needs.
        """
        labels = np.asarray(labels)
        if labels.shape != np.shape(tgt):
            raise ValueError(f"Transformer.loss: labels must have tgt's shape "
                             f"{np.shape(tgt)}, got {labels.shape}")
        ### BEGIN SOLUTION
        logits = self.forward(src, tgt, train=train, rng=rng)
        loss, self._loss_cache = cross_entropy(logits, labels, ignore_index=-100,
                                               label_smoothing=label_smoothing)
        return loss
        ### END SOLUTION

    def backward(self, dlogits=None):
        """Gradients of every parameter (exercise 3.9).

        ``backward()`` after ``loss`` differentiates the loss; ``backward(dlogits)`` after
        ``forward`` back-propagates a given ``dL/dlogits`` ``(B, T, V_tgt)`` (lecture 3,
        §11.4). A table used twice gets the sum of both gradients: a tied ``tgt_embed``
        its head's and its lookup's, a shared one its source lookup's too. The sinusoidal
        encoding is a constant.

        Returns:
            grads: dict with exactly the keys of ``params`` (same order, shapes, dtype).

        Raises:
            RuntimeError: if there was no forward (or, without dlogits, no loss) before.
            ValueError: if dlogits does not have the last forward's logits' shape.
        """
        if self._cache is None:
            raise RuntimeError("Transformer.backward: call forward(src, tgt) or loss(...) "
                               "first")
        if dlogits is None and self._loss_cache is None:
            raise RuntimeError("Transformer.backward(): no loss to differentiate; call "
                               "loss(...) first, or pass dlogits after forward(...)")
        expected = (*self._cache["shape"], self.config.tgt_vocab_size)
        if dlogits is not None and np.shape(dlogits) != expected:
            raise ValueError(f"Transformer.backward: dlogits must be (B, T, V_tgt) = "
                             f"{expected}, got {np.shape(dlogits)}")
        ### BEGIN SOLUTION
        cfg, cache = self.config, self._cache
        if dlogits is None:
            dlogits = cross_entropy_backward(1.0, self._loss_cache)  # (B, T, V)
        grads = {name: None for name in self.params}  # filled below, in params' order
        # the head
        dh, dW, db = linear_backward(dlogits, cache["head"])  # dh (B, T, C)
        if cfg.tie_head:
            grads["tgt_embed"] = dW.T  # (C, V) -> (V, C); the lookup's part is added below
        else:
            grads["head.W"], grads["head.b"] = dW, db
        # the decoder, top down; every layer read the same memory: sum its gradients
        dec = cache["dec"]
        if cfg.norm_first:
            dh, grads["decoder.ln.gamma"], grads["decoder.ln.beta"] = layer_norm_backward(
                dh, dec["ln"])
        dmemory = 0
        for i in reversed(range(cfg.n_layers)):
            dh, dmem, dlayer = decoder_layer_backward(dh, dec["layers"][i])
            dmemory = dmemory + dmem
            grads.update(prefixed(f"decoder.{i}", dlayer))
        self._embed_backward(dh, dec["embed"], grads)
        # the encoder, from the memory's gradient
        enc = cache["enc"]
        dx = dmemory
        if cfg.norm_first:
            dx, grads["encoder.ln.gamma"], grads["encoder.ln.beta"] = layer_norm_backward(
                dx, enc["ln"])
        for i in reversed(range(cfg.n_layers)):
            dx, dlayer = encoder_layer_backward(dx, enc["layers"][i])
            grads.update(prefixed(f"encoder.{i}", dlayer))
        self._embed_backward(dx, enc["embed"], grads)
        return grads
        ### END SOLUTION

    def _embed_backward(self, dx, cache, grads):
        """Add the gradient of ``_embed``'s table to ``grads`` (part of exercise 3.9)."""
        ### BEGIN SOLUTION
        dx = dropout_backward(dx, cache["drop"])
        dtable = embedding_backward(dx, cache["tok"]) * math.sqrt(self.config.d_model)
        name = cache["table"]
        grads[name] = dtable if grads[name] is None else grads[name] + dtable
        ### END SOLUTION

    def greedy_decode(self, src, max_new_tokens, bos_id, eos_id):
        """Generate targets token by token, taking the argmax each time (exercise 3.9).

        Encode ``src`` once; start every row with ``bos_id``; then repeatedly run the
        decoder on the prefix so far and append, for every row, the argmax of the logits at
        the last position (``np.argmax``: ties go to the lowest id). A row is finished once
        it has produced ``eos_id``; its later positions hold ``pad_id`` (``eos_id`` when
        ``pad_id`` is None). Stop when every row is finished or after ``max_new_tokens``
        tokens. Dropout is off.

        Args:
            src: integer ``(B, S)`` source ids.
            max_new_tokens: the most tokens to generate per row, ``1 .. max_len`` (the last
                decoder input is BOS plus ``max_new_tokens - 1`` tokens).
            bos_id, eos_id: target ids that start and end a sequence.

        Returns:
            ``(B, L)`` int64 array of the generated tokens, BOS excluded, each row's EOS
            included; ``L <= max_new_tokens``, and ``L < max_new_tokens`` only when every row
            has finished (then some row's EOS is in the last column).
        """
        src = self._check_src(src, "greedy_decode")
        V = self.config.tgt_vocab_size
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, np.integer)) \
                or not 1 <= max_new_tokens <= self.config.max_len:
            raise ValueError(f"Transformer.greedy_decode: max_new_tokens must be an integer "
                             f"in 1 .. max_len = {self.config.max_len}, got {max_new_tokens!r}")
        for name, value in (("bos_id", bos_id), ("eos_id", eos_id)):
            if not 0 <= value < V:
                raise ValueError(f"Transformer.greedy_decode: {name} = {value} is not a "
                                 f"target id (0 .. {V - 1})")
        ### BEGIN SOLUTION
        fill = eos_id if self.config.pad_id is None else self.config.pad_id
        B = src.shape[0]
        memory, _ = self._encode(src, False, None)  # once: the source does not change
        tgt = np.full((B, 1), bos_id, dtype=np.int64)  # the decoder input so far
        finished = np.zeros(B, dtype=bool)
        for _ in range(max_new_tokens):
            h, _ = self._decode(tgt, memory, src, False, None)
            logits, _ = self._head(h[:, -1:])  # only the last position is new: (B, 1, V)
            token = np.where(finished, fill, logits[:, 0].argmax(axis=-1))  # (B,)
            finished |= token == eos_id
            tgt = np.concatenate([tgt, token[:, None]], axis=1)
            if finished.all():
                break
        return tgt[:, 1:]
        ### END SOLUTION
