"""The encoder-decoder Transformer (exercise 3.9) vs the same model built from PyTorch's
``nn.TransformerEncoder`` / ``nn.TransformerDecoder``: logits, the label-smoothed loss and the
gradient of every parameter; post-norm and pre-norm, untied / tied head, separate / shared
embeddings, with source and target padding; and greedy decoding step by step.

The torch model is written here from the paper: ``sqrt(C) * Embedding(ids)`` plus the
sinusoidal table (Vaswani et al., §3.5, computed here independently), the stacks with
``batch_first=True``, ``dropout=0``, ``activation="relu"``, a final ``LayerNorm`` after each
stack only in the pre-norm model (``nn.Transformer`` always adds them; our post-norm model,
like the paper, does not), boolean masks (True = masked out: the upper triangle, key
padding from ``pad_id``). Weights are large (layout bugs must move the outputs) and copied
into our flat dict. Float64 throughout; distinct sizes (B=3, S=6, T=5, C=12, F=20).
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reference.transformer.seq2seq import Transformer, TransformerConfig

RTOL, ATOL = 1e-9, 1e-11
B, S, T, C, H, FF, LAYERS = 3, 6, 5, 12, 3, 20, 2
PAD = 0
CONFIGS = {
    "post-norm untied": dict(norm_first=False, tie_head=False, share_embeddings=False),
    "post-norm tied": dict(norm_first=False, tie_head=True, share_embeddings=False),
    "pre-norm tied shared": dict(norm_first=True, tie_head=True, share_embeddings=True),
    "pre-norm untied": dict(norm_first=True, tie_head=False, share_embeddings=False),
}


def sinusoid(n, d):
    """PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(...)  (the paper's formula)."""
    position = torch.arange(n, dtype=torch.float64)[:, None]
    frequency = torch.exp(-math.log(10000.0) * torch.arange(0, d, 2, dtype=torch.float64) / d)
    pe = torch.zeros(n, d, dtype=torch.float64)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(position * frequency), torch.cos(position * frequency)
    return pe


class TorchSeq2Seq(torch.nn.Module):
    def __init__(self, v_src, v_tgt, norm_first, tie_head, share_embeddings):
        super().__init__()
        self.tgt_embed = torch.nn.Embedding(v_tgt, C, dtype=torch.float64)
        self.src_embed = self.tgt_embed if share_embeddings else torch.nn.Embedding(
            v_src, C, dtype=torch.float64)
        kwargs = dict(d_model=C, nhead=H, dim_feedforward=FF, dropout=0.0, activation="relu",
                      batch_first=True, norm_first=norm_first, dtype=torch.float64)
        final = (lambda: torch.nn.LayerNorm(C, dtype=torch.float64)) if norm_first else (
            lambda: None)
        self.encoder = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(**kwargs),
                                                   LAYERS, norm=final(),
                                                   enable_nested_tensor=False)
        self.decoder = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(**kwargs),
                                                   LAYERS, norm=final())
        self.head = None if tie_head else torch.nn.Linear(C, v_tgt, dtype=torch.float64)

    def embed(self, table, ids):
        return table(ids) * math.sqrt(C) + sinusoid(ids.shape[1], C)

    def forward(self, src, tgt):
        src_pad, tgt_pad = src == PAD, tgt == PAD  # torch: True = masked out
        memory = self.encoder(self.embed(self.src_embed, src), src_key_padding_mask=src_pad)
        n = tgt.shape[1]
        causal = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)  # True: later
        h = self.decoder(self.embed(self.tgt_embed, tgt), memory, tgt_mask=causal,
                         tgt_key_padding_mask=tgt_pad, memory_key_padding_mask=src_pad,
                         tgt_is_causal=True)
        return self.head(h) if self.head is not None else h @ self.tgt_embed.weight.T


def attention_in_our_layout(module, prefix, get):
    w_in, b_in = get(module.in_proj_weight).numpy(), get(module.in_proj_bias).numpy()
    out = {}
    for i, n in enumerate("qkv"):  # rows [q; k; v] of (3C, C); torch y = x W^T + b
        out[f"{prefix}.W_{n}"] = w_in[i * C:(i + 1) * C].T.copy()
        out[f"{prefix}.b_{n}"] = b_in[i * C:(i + 1) * C].copy()
    out[f"{prefix}.W_o"] = get(module.out_proj.weight).numpy().T.copy()
    out[f"{prefix}.b_o"] = get(module.out_proj.bias).numpy().copy()
    return out


def in_our_layout(model, get):
    """The torch model's parameters (``get = lambda p: p.detach()``) or gradients (``lambda
    p: p.grad``) under our names."""
    def norm(module, prefix):
        return {f"{prefix}.gamma": get(module.weight).numpy().copy(),
                f"{prefix}.beta": get(module.bias).numpy().copy()}

    def ffn(layer, prefix):
        return {f"{prefix}.ffn.W_1": get(layer.linear1.weight).numpy().T.copy(),
                f"{prefix}.ffn.b_1": get(layer.linear1.bias).numpy().copy(),
                f"{prefix}.ffn.W_2": get(layer.linear2.weight).numpy().T.copy(),
                f"{prefix}.ffn.b_2": get(layer.linear2.bias).numpy().copy()}

    out = {"tgt_embed": get(model.tgt_embed.weight).numpy().copy()}
    if model.src_embed is not model.tgt_embed:
        out["src_embed"] = get(model.src_embed.weight).numpy().copy()
    for i, layer in enumerate(model.encoder.layers):
        p = f"encoder.{i}"
        out.update(attention_in_our_layout(layer.self_attn, f"{p}.attn", get))
        out.update(norm(layer.norm1, f"{p}.ln_1") | norm(layer.norm2, f"{p}.ln_2")
                   | ffn(layer, p))
    for i, layer in enumerate(model.decoder.layers):
        p = f"decoder.{i}"
        out.update(attention_in_our_layout(layer.self_attn, f"{p}.self_attn", get))
        out.update(attention_in_our_layout(layer.multihead_attn, f"{p}.cross_attn", get))
        out.update(norm(layer.norm1, f"{p}.ln_1") | norm(layer.norm2, f"{p}.ln_2")
                   | norm(layer.norm3, f"{p}.ln_3") | ffn(layer, p))
    if model.encoder.norm is not None:
        out.update(norm(model.encoder.norm, "encoder.ln") | norm(model.decoder.norm,
                                                                 "decoder.ln"))
    if model.head is not None:
        out["head.W"] = get(model.head.weight).numpy().T.copy()
        out["head.b"] = get(model.head.bias).numpy().copy()
    return out


def build(options, seed=0):
    torch.manual_seed(seed)
    v_src, v_tgt = (13, 13) if options["share_embeddings"] else (13, 11)
    theirs = TorchSeq2Seq(v_src, v_tgt, **options)
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            fan_in = p.shape[-1] if p.ndim == 2 else C
            values = rng.standard_normal(tuple(p.shape)) / math.sqrt(fan_in)
            if "embed" in name:
                values = rng.standard_normal(tuple(p.shape)) / math.sqrt(C)
            elif "norm" in name and name.endswith("weight"):
                values = 1.0 + 0.3 * rng.standard_normal(tuple(p.shape))
            elif name.endswith("bias"):
                values = 0.3 * rng.standard_normal(tuple(p.shape))
            p.copy_(torch.tensor(values))
    config = TransformerConfig(src_vocab_size=v_src, tgt_vocab_size=v_tgt, d_model=C,
                               n_heads=H, d_ff=FF, n_layers=LAYERS, max_len=32, dropout=0.0,
                               pad_id=PAD, dtype="float64", **options)
    ours = Transformer(config, np.random.default_rng(0))
    mapped = in_our_layout(theirs, lambda p: p.detach())
    assert set(mapped) == set(ours.params), "the test maps every parameter"
    ours.params = {name: mapped[name] for name in ours.params}
    return ours, theirs, v_src, v_tgt


def batch(v_src, v_tgt, seed=1):
    rng = np.random.default_rng(seed)
    src = rng.integers(1, v_src, size=(B, S))
    src[1, 4:] = PAD  # source padding
    src[2, 5:] = PAD
    tgt = rng.integers(1, v_tgt, size=(B, T))
    tgt[2, 4:] = PAD  # target padding (its label is ignored)
    labels = rng.integers(0, v_tgt, size=(B, T))
    labels[2, 4:] = -100
    return src, tgt, labels


def assert_close(actual, expected, what):
    if isinstance(expected, torch.Tensor):
        expected = expected.detach().numpy()
    assert np.shape(actual) == np.shape(expected), f"{what}: {np.shape(actual)}"
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=what)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_logits_loss_and_every_gradient_match_torch(name):
    ours, theirs, v_src, v_tgt = build(CONFIGS[name])
    src, tgt, labels = batch(v_src, v_tgt)
    loss = ours.loss(src, tgt, labels, label_smoothing=0.1)
    grads = ours.backward()

    theirs.train()  # dropout is 0; train() keeps torch off its inference fast path
    logits_t = theirs(torch.tensor(src), torch.tensor(tgt))
    loss_t = F.cross_entropy(logits_t.reshape(-1, v_tgt), torch.tensor(labels).reshape(-1),
                             ignore_index=-100, label_smoothing=0.1)
    loss_t.backward()
    assert_close(ours.forward(src, tgt), logits_t, "logits")
    assert_close(loss, loss_t, "loss")
    expected = in_our_layout(theirs, lambda p: p.grad)
    assert list(grads) == list(ours.params)
    for key in grads:
        assert_close(grads[key], expected[key], f"d[{key!r}]")


@pytest.mark.parametrize("name", ["post-norm untied", "pre-norm tied shared"])
def test_greedy_decode_matches_torch_step_by_step(name):
    ours, theirs, v_src, v_tgt = build(CONFIGS[name], seed=3)
    src, _, _ = batch(v_src, v_tgt, seed=4)
    theirs.eval()
    bos, eos = 1, 2
    out = ours.greedy_decode(src, 7, bos, eos)
    prefix = torch.full((B, 1), bos)
    finished = torch.zeros(B, dtype=torch.bool)
    with torch.no_grad():
        for _ in range(7):
            token = theirs(torch.tensor(src), prefix)[:, -1].argmax(-1)
            token = torch.where(finished, torch.tensor(PAD), token)
            finished |= token == eos
            prefix = torch.cat([prefix, token[:, None]], dim=1)
            if finished.all():
                break
    np.testing.assert_array_equal(out, prefix[:, 1:].numpy())
