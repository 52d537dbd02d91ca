"""A Llama-style language model whose MLPs are dense SwiGLUs or mixtures of experts (the MoE
demo's model).

Each block is Llama's (exercise 5.1), pre-norm::

    h   = x + attention(rms_norm(x))                   llama_block's first half
    out = h + mlp(rms_norm(h))                         mlp: SwiGLU (dense) or moe_layer (5.3)

The dense model runs ``llama_block`` (5.1) as it is. ``llama_block`` computes its own SwiGLU
and has no place for another MLP, so an MoE block calls it with an *empty* MLP -- width 1,
zero weights, whose branch adds exactly 0 to ``h`` and passes exactly 0 gradient back -- to
get ``h`` from your attention half, then adds ``moe_layer(rms_norm(h))`` itself (5.3; the
RMSNorm is Module 3's, with the block's ``post_attention_layernorm.weight``). The empty MLP
costs two ``(N, C) @ (C, 1)`` products per block.

The loss adds Switch's load-balancing loss of every MoE layer times ``aux_coef`` (0: none);
``loss`` returns the language-model cross-entropy alone, ``aux_loss`` the rest.
Parameters are ``config.dtype`` (float32), ``(in, out)``; the output layer is tied to the embedding.
"""

from dataclasses import dataclass

import numpy as np
from implementation.modern.llama import llama_block, llama_block_backward
from implementation.modern.moe import (
    init_moe,
    load_balancing_loss,
    load_balancing_loss_backward,
    moe_layer,
    moe_layer_backward,
)
from implementation.positional_encoding.embedding import embedding, embedding_backward
from implementation.positional_encoding.rope import rope_cos_sin
from implementation.self_attention.masks import causal_mask
from implementation.transformer.cross_entropy import cross_entropy, cross_entropy_backward
from implementation.transformer.norms import rms_norm, rms_norm_backward

STD = 0.02  # every weight matrix ~ N(0, 0.02^2), as Hugging Face initialises Llama
ATTENTION = ("self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
             "self_attn.o_proj.weight")


@dataclass(frozen=True)
class MoEConfig:
    """Sizes. ``n_experts`` 0: dense SwiGLU MLPs of width ``mlp_width``; else ``n_experts``
    SwiGLU experts of width ``mlp_width`` of which each token uses ``top_k``."""

    vocab_size: int
    n_layer: int = 4
    n_embd: int = 128
    n_head: int = 4
    n_kv_heads: int = 2
    mlp_width: int = 256
    n_experts: int = 0
    top_k: int = 2
    aux_coef: float = 0.0
    block_size: int = 64
    eps: float = 1e-6
    rope_theta: float = 10000.0
    dtype: str = "float32"


class MoELlama:
    """The model: ``forward``, ``loss``, ``backward`` as ``GPT``'s, plus ``routing``."""

    def __init__(self, config, seed):
        """Random weights: the embedding and the attention from ``default_rng([seed, 0])``,
        the MLPs or experts from ``default_rng([seed, 1])``, so that models differing only
        in their MLPs start with the same embedding and attention."""
        self.config = c = config
        C, D = c.n_embd, c.n_embd // c.n_head
        shapes = {"self_attn.q_proj.weight": (C, c.n_head * D),
                  "self_attn.k_proj.weight": (C, c.n_kv_heads * D),
                  "self_attn.v_proj.weight": (C, c.n_kv_heads * D),
                  "self_attn.o_proj.weight": (c.n_head * D, C)}
        f32 = np.dtype(c.dtype)
        rng, rng_mlp = np.random.default_rng([seed, 0]), np.random.default_rng([seed, 1])
        p = {"model.embed_tokens.weight": (STD * rng.standard_normal((c.vocab_size, C)))
             .astype(f32)}
        for i in range(c.n_layer):
            pre = f"model.layers.{i}."
            p[pre + "input_layernorm.weight"] = np.ones(C, f32)
            for name, shape in shapes.items():
                p[pre + name] = (STD * rng.standard_normal(shape)).astype(f32)
            p[pre + "post_attention_layernorm.weight"] = np.ones(C, f32)
            if c.n_experts:
                moe = init_moe(C, c.n_experts, rng_mlp, hidden=c.mlp_width, dtype=f32, std=STD)
                p.update({pre + "mlp." + key: value for key, value in moe.items()})
            else:
                for name, shape in (("gate_proj", (C, c.mlp_width)),
                                    ("up_proj", (C, c.mlp_width)),
                                    ("down_proj", (c.mlp_width, C))):
                    p[pre + f"mlp.{name}.weight"] = (STD * rng_mlp.standard_normal(shape)
                                                     ).astype(f32)
        p["model.norm.weight"] = np.ones(C, f32)
        self.params = p
        self._empty_mlp = {"post_attention_layernorm.weight": np.ones(C, f32),
                           "mlp.gate_proj.weight": np.zeros((C, 1), f32),
                           "mlp.up_proj.weight": np.zeros((C, 1), f32),
                           "mlp.down_proj.weight": np.zeros((1, C), f32)}
        self._cache = None

    def num_parameters(self):
        return sum(int(a.size) for a in self.params.values())

    def active_parameters(self):
        """Parameters a token uses: all but the experts it was not routed to."""
        c = self.config
        if not c.n_experts:
            return self.num_parameters()
        expert = 3 * c.n_embd * c.mlp_width
        return self.num_parameters() - c.n_layer * (c.n_experts - c.top_k) * expert

    def _block(self, i):
        """Layer i's parameters under ``llama_block``'s names (the empty MLP for MoE)."""
        pre, c = f"model.layers.{i}.", self.config
        names = ["input_layernorm.weight", *ATTENTION]
        if not c.n_experts:
            names += ["post_attention_layernorm.weight", "mlp.gate_proj.weight",
                      "mlp.up_proj.weight", "mlp.down_proj.weight"]
        block = {name: self.params[pre + name] for name in names}
        return block if not c.n_experts else {**block, **self._empty_mlp}

    def _moe(self, i):
        pre = f"model.layers.{i}.mlp."
        return {key[len(pre):]: value for key, value in self.params.items()
                if key.startswith(pre)}

    def forward(self, idx):
        """Logits ``(B, T, V)``; keeps the activations, the routing and the aux loss."""
        c, p = self.config, self.params
        B, T = idx.shape
        cos, sin = rope_cos_sin(np.arange(T), c.n_embd // c.n_head, c.rope_theta)
        mask = causal_mask(T)
        x, emb_cache = embedding(idx, p["model.embed_tokens.weight"])  # (B, T, C)
        layers, self.aux = [], 0.0
        for i in range(c.n_layer):
            x, block = llama_block(x, self._block(i), cos, sin, c.n_head, c.n_kv_heads, c.eps,
                                   mask=mask)
            if not c.n_experts:
                layers.append((block,))
                continue
            a, norm = rms_norm(x, p[f"model.layers.{i}.post_attention_layernorm.weight"],
                               c.eps)
            y, moe = moe_layer(a, self._moe(i), c.top_k)
            x = x + y
            lb, lb_cache = load_balancing_loss(moe["router_probs"], moe["expert_index"],
                                               c.n_experts)
            self.aux += float(lb)
            layers.append((block, norm, moe, lb_cache))
        xf, norm_f = rms_norm(x, p["model.norm.weight"], c.eps)
        logits = xf @ p["model.embed_tokens.weight"].T  # (B, T, V): the tied head
        self._cache = {"emb": emb_cache, "layers": layers, "norm_f": norm_f, "xf": xf}
        return logits

    def loss(self, idx, targets):
        """The mean cross-entropy (-100 ignored); the aux loss is in ``self.aux``."""
        ce, self._ce_cache = cross_entropy(self.forward(idx), targets, ignore_index=-100)
        return ce

    def aux_loss(self):
        """``aux_coef`` times the sum of the last forward's load-balancing losses."""
        return self.config.aux_coef * self.aux

    def backward(self):
        """Gradients of ``loss + aux_loss()`` (the last ``loss``) for every parameter."""
        c, p, cache = self.config, self.params, self._cache
        dlogits = cross_entropy_backward(1.0, self._ce_cache)  # (B, T, V)
        W = p["model.embed_tokens.weight"]
        grads = {"model.embed_tokens.weight": np.einsum("btv,btc->vc", dlogits, cache["xf"])}
        dx, grads["model.norm.weight"] = rms_norm_backward(dlogits @ W, cache["norm_f"])
        for i in reversed(range(c.n_layer)):
            pre, layer = f"model.layers.{i}.", cache["layers"][i]
            if c.n_experts:
                _, norm, moe, lb_cache = layer
                dprobs = (load_balancing_loss_backward(c.aux_coef, lb_cache) if c.aux_coef
                          else None)
                da, dmoe = moe_layer_backward(dx, moe, drouter_probs=dprobs)
                grads.update({pre + "mlp." + key: value for key, value in dmoe.items()})
                dh, grads[pre + "post_attention_layernorm.weight"] = rms_norm_backward(da, norm)
                dx = dx + dh
            dx, dblock = llama_block_backward(dx, layer[0])
            for name, value in dblock.items():
                if name in self._empty_mlp and c.n_experts:
                    continue  # the empty MLP's constants
                grads[pre + name] = value
        grads["model.embed_tokens.weight"] += embedding_backward(dx, cache["emb"])
        return {name: grads[name] for name in p}

    def routing(self):
        """Per MoE layer of the last forward, the share of tokens routed to each expert:
        ``(n_layer, E)``, each row summing to ``top_k`` (HF's count, 5.3)."""
        c = self.config
        counts = [np.bincount(layer[2]["expert_index"].reshape(-1), minlength=c.n_experts)
                  / layer[2]["router_probs"].shape[0] for layer in self._cache["layers"]]
        return np.array(counts)
