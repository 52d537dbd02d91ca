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
        raise NotImplementedError(
            "Exercise 3.9 (Transformer.__init__) is not implemented yet; "
            "see lectures/03_transformer/theory.md#11-the-encoder-decoder-transformer"
        )

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
        raise NotImplementedError(
            "Exercise 3.9 (Transformer.forward) is not implemented yet; "
            "see lectures/03_transformer/theory.md#11-the-encoder-decoder-transformer"
        )

    def _embed(self, ids, table_name, train, rng):
        """``dropout(sqrt(C) * table[ids] + PE[:n])`` ``(B, n, C)`` and its cache (part of
        exercise 3.9)."""
        raise NotImplementedError(
            "Exercise 3.9 (Transformer._embed) is not implemented yet; "
            "see lectures/03_transformer/theory.md#11-the-encoder-decoder-transformer"
        )

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
        raise NotImplementedError(
            "Exercise 3.9 (Transformer._encode) is not implemented yet; "
            "see lectures/03_transformer/theory.md#11-the-encoder-decoder-transformer"
        )

    def _decode(self, tgt, memory, src, train, rng):
        """The decoder's output states ``h`` ``(B, T, C)`` and its cache (part of 3.9)."""
        raise NotImplementedError(
            "Exercise 3.9 (Transformer._decode) is not implemented yet; "
            "see lectures/03_transformer/theory.md#11-the-encoder-decoder-transformer"
        )

    def _head(self, h):
        """Logits ``(B, T, V_tgt)`` from the decoder states and the head's cache (part of
        exercise 3.9)."""
        raise NotImplementedError(
            "Exercise 3.9 (Transformer._head) is not implemented yet; "
            "see lectures/03_transformer/theory.md#11-the-encoder-decoder-transformer"
        )

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
        raise NotImplementedError(
            "Exercise 3.9 (Transformer.loss) is not implemented yet; "
            "see lectures/03_transformer/theory.md#11-the-encoder-decoder-transformer"
        )

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
        raise NotImplementedError(
            "Exercise 3.9 (Transformer.backward) is not implemented yet; "
            "see lectures/03_transformer/theory.md#11-the-encoder-decoder-transformer"
        )

    def _embed_backward(self, dx, cache, grads):
        """Add the gradient of ``_embed``'s table to ``grads`` (part of exercise 3.9)."""
        raise NotImplementedError(
            "Exercise 3.9 (Transformer._embed_backward) is not implemented yet; "
            "see lectures/03_transformer/theory.md#11-the-encoder-decoder-transformer"
        )

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
        raise NotImplementedError(
            "Exercise 3.9 (Transformer.greedy_decode) is not implemented yet; "
            "see lectures/03_transformer/theory.md#11-the-encoder-decoder-transformer"
        )
