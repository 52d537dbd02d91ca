"""A frozen GPT-2 with LoRA adapters on its four Conv1D layers per block (the LoRA demo's model).

Which route, and why. ``GPT`` (3.11) computes every linear layer inside its own blocks and
has no place to plug an adapter in, so there are two ways to train LoRA on it:

1. reuse the GPT's backward on merged weights ``W' = W + s A B`` (``s = alpha / r``): with W
   frozen, ``dL/dA = s G B^T`` and ``dL/dB = s A^T G`` follow from the layer's weight
   gradient ``G = x^T dY``, which ``GPT.backward`` returns for ``W'``. Exact, but it computes
   every full ``G`` (the cost LoRA exists to avoid) and never runs 5.2's functions;
2. run GPT-2's block again, composed of the same course functions as ``gpt.py`` (``layer_norm``,
   ``split_heads``, ``scaled_dot_product_attention``, ``merge_heads``, ``gelu``,
   ``embedding``, ``cross_entropy``), with ``lora_linear`` / ``lora_linear_backward`` (5.2) in
   place of ``linear`` for ``attn.c_attn``, ``attn.c_proj``, ``mlp.c_fc`` and ``mlp.c_proj``.

``LoRAGPT`` takes route 2: the adapters are trained by your own ``lora_linear_backward`` and
no ``(in, out)`` gradient of a frozen weight is ever formed. Route 1 serves as the check:
``gradient_check`` compares the two on a batch (they agree to float32 rounding), and
``merged`` folds the adapters in with ``merge_lora`` into a plain ``GPT`` that generates at
the frozen model's cost.

Only the parameters in ``LoRAGPT.params`` are trained: the adapters ``h.{i}.{layer}.lora_A``
``(in, r)`` and ``.lora_B`` ``(r, out)``, and the embedding rows of the tokens added for the
chat template (``wte.new_rows``, ``(n_new, C)``): as the mean of the old rows, all of them
equal, the model could not tell ``<|end|>`` from ``<|user|>`` if they stayed frozen (PEFT's
``trainable_token_indices`` serves the same purpose). Everything else is the frozen base.
"""

from dataclasses import replace

import numpy as np
from implementation.modern.lora import lora_init, lora_linear, lora_linear_backward, merge_lora
from implementation.positional_encoding.embedding import embedding, embedding_backward
from implementation.self_attention.attention import (
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
)
from implementation.self_attention.heads import merge_heads, split_heads
from implementation.self_attention.masks import causal_mask
from implementation.transformer.activations import gelu, gelu_backward
from implementation.transformer.cross_entropy import cross_entropy, cross_entropy_backward
from implementation.transformer.gpt import GPT
from implementation.transformer.norms import layer_norm, layer_norm_backward

LAYERS = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")  # GPT-2's Conv1D layers


class LoRAGPT:
    """``base`` (a ``GPT``, frozen) with rank-``r`` adapters on ``LAYERS`` of every block.

    Args:
        base: the ``GPT``; its ``params`` are read, never written.
        r, alpha: the adapters' rank and alpha (scale ``alpha / r``).
        rng: draws ``A`` (``lora_init``); ``B`` starts at 0, so the model starts as ``base``.
        n_new_rows: the last ``n_new_rows`` rows of ``wte.weight`` are trained (the tokens
            added for fine-tuning); 0 for none.

    ``forward``, ``loss`` and ``backward`` follow ``GPT``'s contract; ``backward`` returns
    gradients of ``params`` only.
    """

    def __init__(self, base, r, alpha, rng, n_new_rows=0):
        self.base, self.config, self.r, self.alpha = base, base.config, r, alpha
        p = base.params
        dtype = p["wte.weight"].dtype
        self.params = {}
        for i in range(self.config.n_layer):
            for layer in LAYERS:
                n_in, n_out = p[f"h.{i}.{layer}.weight"].shape
                A, B = lora_init(n_in, n_out, r, rng, dtype=dtype)
                self.params[f"h.{i}.{layer}.lora_A"] = A
                self.params[f"h.{i}.{layer}.lora_B"] = B
        self.n_old = self.config.vocab_size - n_new_rows
        if n_new_rows:
            self.params["wte.new_rows"] = p["wte.weight"][self.n_old:].copy()
        self._cache = self._loss_cache = None

    def num_parameters(self):
        """The number of trained scalars."""
        return sum(int(a.size) for a in self.params.values())

    def _wte(self):
        """The embedding table in use: the frozen rows, then the trained new ones."""
        wte = self.base.params["wte.weight"]
        if "wte.new_rows" not in self.params:
            return wte
        return np.concatenate([wte[:self.n_old], self.params["wte.new_rows"]])

    def _lora(self, x, i, layer):
        """Layer ``h.{i}.{layer}`` with its adapter: 5.2's ``lora_linear``."""
        name, p = f"h.{i}.{layer}", self.base.params
        return lora_linear(x, p[name + ".weight"], self.params[name + ".lora_A"],
                           self.params[name + ".lora_B"], self.alpha, p[name + ".bias"])

    def forward(self, idx):
        """Logits ``(B, T, V)`` of ``idx`` ``(B, T)``; keeps the activations for ``backward``."""
        p, cfg = self.base.params, self.config
        B, T = idx.shape
        C, H, eps = cfg.n_embd, cfg.n_head, cfg.layer_norm_epsilon
        wte = self._wte()
        tok, tok_cache = embedding(idx, wte)  # (B, T, C)
        x = (tok + p["wpe.weight"][:T]).reshape(B * T, C)  # (N, C); wpe is frozen
        mask = causal_mask(T)
        blocks = []
        for i in range(cfg.n_layer):  # GPT-2's block (gpt.py), lora_linear for linear
            h = f"h.{i}."
            a, ln_1 = layer_norm(x, p[h + "ln_1.weight"], p[h + "ln_1.bias"], eps)
            qkv, c_attn = self._lora(a, i, "attn.c_attn")  # (N, 3C)
            qkv = qkv.reshape(B, T, 3 * C)
            q, k, v = (split_heads(qkv[:, :, j * C:(j + 1) * C], H) for j in range(3))
            heads, attn = scaled_dot_product_attention(q, k, v, mask)  # (B, H, T, D)
            y, c_proj = self._lora(merge_heads(heads).reshape(B * T, C), i, "attn.c_proj")
            x = x + y
            a, ln_2 = layer_norm(x, p[h + "ln_2.weight"], p[h + "ln_2.bias"], eps)
            u, c_fc = self._lora(a, i, "mlp.c_fc")  # (N, 4C)
            g, act = gelu(u, approximate="tanh")
            y, m_proj = self._lora(g, i, "mlp.c_proj")
            x = x + y
            blocks.append((ln_1, c_attn, attn, c_proj, ln_2, c_fc, act, m_proj))
        xf, ln_f = layer_norm(x, p["ln_f.weight"], p["ln_f.bias"], eps)
        logits = xf @ wte.T  # (N, V): the tied head
        self._cache = {"B": B, "T": T, "tok": tok_cache, "blocks": blocks, "ln_f": ln_f,
                       "xf": xf, "wte": wte}
        self._loss_cache = None
        return logits.reshape(B, T, -1)

    def loss(self, idx, targets):
        """Mean cross-entropy of ``forward(idx)`` against ``targets`` (-100 ignored)."""
        loss, self._loss_cache = cross_entropy(self.forward(idx), targets, ignore_index=-100)
        return loss

    def backward(self):
        """Gradients of the last ``loss`` with respect to ``params`` (a dict, same keys)."""
        cache, cfg = self._cache, self.config
        B, T, C, H = cache["B"], cache["T"], cfg.n_embd, cfg.n_head
        dlogits = cross_entropy_backward(1.0, self._loss_cache).reshape(B * T, -1)  # (N, V)
        grads = {}
        dxf = dlogits @ cache["wte"]  # (N, C); the head's weight gradient is only needed
        dnew = dlogits[:, self.n_old:].T @ cache["xf"]  # for the new rows: (n_new, C)
        dx, _, _ = layer_norm_backward(dxf, cache["ln_f"])
        for i in reversed(range(cfg.n_layer)):
            ln_1, c_attn, attn, c_proj, ln_2, c_fc, act, m_proj = cache["blocks"][i]
            dg = self._lora_backward(dx, m_proj, i, "mlp.c_proj", grads)
            da = self._lora_backward(gelu_backward(dg, act), c_fc, i, "mlp.c_fc", grads)
            da, _, _ = layer_norm_backward(da, ln_2)
            dx = dx + da
            dmerged = self._lora_backward(dx, c_proj, i, "attn.c_proj", grads)  # (N, C)
            dq, dk, dv = scaled_dot_product_attention_backward(
                split_heads(dmerged.reshape(B, T, C), H), attn)
            dqkv = np.concatenate([merge_heads(d) for d in (dq, dk, dv)], axis=-1)  # (B,T,3C)
            da = self._lora_backward(dqkv.reshape(B * T, 3 * C), c_attn, i, "attn.c_attn",
                                     grads)
            da, _, _ = layer_norm_backward(da, ln_1)
            dx = dx + da
        if "wte.new_rows" in self.params:
            dwte = embedding_backward(dx.reshape(B, T, C), cache["tok"])  # (V, C)
            grads["wte.new_rows"] = dwte[self.n_old:] + dnew
        return {name: grads[name] for name in self.params}

    def _lora_backward(self, dout, cache, i, layer, grads):
        """5.2's ``lora_linear_backward``: stores dA, dB; returns dx."""
        dx, dA, dB = lora_linear_backward(dout, cache)
        grads[f"h.{i}.{layer}.lora_A"], grads[f"h.{i}.{layer}.lora_B"] = dA, dB
        return dx

    def merged(self):
        """A plain ``GPT`` with the adapters folded in (``merge_lora``) and the new rows."""
        params = dict(self.base.params)
        for i in range(self.config.n_layer):
            for layer in LAYERS:
                name = f"h.{i}.{layer}"
                params[name + ".weight"] = merge_lora(
                    params[name + ".weight"], self.params[name + ".lora_A"],
                    self.params[name + ".lora_B"], self.alpha)
        params["wte.weight"] = self._wte()
        return GPT(replace(self.config), params=params)


def gradient_check(model, idx, targets):
    """Route 1 against route 2 on one batch: the largest relative difference between the
    adapters' gradients from ``lora_linear_backward`` and ``s G B^T``, ``s A^T G`` from the
    merged GPT's weight gradients ``G``, and between the new rows' gradients.

    Returns:
        ``(max_relative_difference, loss_difference)``: a float each.
    """
    loss = float(model.loss(idx, targets))
    ours = model.backward()
    merged = model.merged()
    merged_loss = float(merged.loss(idx, targets))
    G = merged.backward()
    s = model.alpha / model.r
    worst = 0.0
    for i in range(model.config.n_layer):
        for layer in LAYERS:
            name = f"h.{i}.{layer}"
            A, B = model.params[name + ".lora_A"], model.params[name + ".lora_B"]
            g = G[name + ".weight"].astype(np.float64)
            for got, want in ((ours[name + ".lora_A"], s * g @ B.T),
                              (ours[name + ".lora_B"], s * A.T @ g)):
                worst = max(worst, _relative(got, want))
    if "wte.new_rows" in model.params:
        worst = max(worst, _relative(ours["wte.new_rows"], G["wte.weight"][model.n_old:]))
    return worst, abs(loss - merged_loss)


def _relative(got, want):
    """``|got - want| / |want|`` in the max norm (0 when both are 0)."""
    scale = float(np.abs(want).max())
    return float(np.abs(np.asarray(got, np.float64) - want).max()) / scale if scale else 0.0
