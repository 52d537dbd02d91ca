"""Exercise 4.8 reference vs Hugging Face / PyTorch.

- ``count_parameters`` vs ``GPT2LMHeadModel(GPT2Config(...)).num_parameters()`` (built on the
  meta device: no memory for the weights) for several configs, GPT-2 small to XL included,
  and with ``include_embeddings=False`` vs HF's ``num_parameters(exclude_embeddings=True)``;
- ``flops_per_token`` vs the matmul FLOPs that ``torch.utils.flop_counter.FlopCounterMode``
  counts in HF's GPT-2: a forward costs exactly ``24 L C^2 + 2 V C + 4 L T C`` per token
  (the weight matmuls, the tied head, and the full T x T attention that an implementation
  without causal skipping computes), which is Kaplan's forward term ``2N + 2 L T C`` minus
  the non-matmul parameters (biases, LayerNorms: ``2 (13 L C + 2 C)``) plus the head and the
  masked half of the attention; a backward costs exactly twice the forward.
"""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import GPT2Config, GPT2LMHeadModel

from reference.llm.scaling import count_parameters, flops_per_token
from reference.transformer.gpt import GPT, GPTConfig

CONFIGS = {
    "tiny": dict(vocab_size=37, n_positions=16, n_layer=2, n_head=3, n_embd=24),
    "odd": dict(vocab_size=101, n_positions=9, n_layer=5, n_head=2, n_embd=14),
    "gpt2": dict(vocab_size=50257, n_positions=1024, n_layer=12, n_head=12, n_embd=768),
    "gpt2-medium": dict(vocab_size=50257, n_positions=1024, n_layer=24, n_head=16, n_embd=1024),
    "gpt2-large": dict(vocab_size=50257, n_positions=1024, n_layer=36, n_head=20, n_embd=1280),
    "gpt2-xl": dict(vocab_size=50257, n_positions=1024, n_layer=48, n_head=25, n_embd=1600),
}


def hf_config(**sizes):
    return GPT2Config(**sizes, bos_token_id=0, eos_token_id=0, resid_pdrop=0.0,
                      embd_pdrop=0.0, attn_pdrop=0.0, attn_implementation="eager")


@pytest.mark.parametrize("name", list(CONFIGS))
def test_count_parameters_matches_hf(name):
    sizes = CONFIGS[name]
    with torch.device("meta"):
        model = GPT2LMHeadModel(hf_config(**sizes))
    assert count_parameters(sizes) == model.num_parameters()
    assert (count_parameters(sizes, include_embeddings=False)
            == model.num_parameters(exclude_embeddings=True))
    config = GPTConfig.from_hf(sizes)
    assert count_parameters(config) == model.num_parameters()
    if name in ("tiny", "odd"):
        assert count_parameters(config) == GPT(config).num_parameters()


def counted_flops(model, idx, backward=False):
    with FlopCounterMode(display=False) as counter:
        logits = model(idx).logits
        if backward:
            logits.sum().backward()
    return counter.get_total_flops()


@pytest.mark.parametrize("name, batch, seq_len", [("tiny", 2, 7), ("tiny", 1, 16),
                                                  ("odd", 3, 9)])
def test_flops_per_token_vs_flop_counter(name, batch, seq_len):
    sizes = CONFIGS[name]
    V, L, C = sizes["vocab_size"], sizes["n_layer"], sizes["n_embd"]
    torch.manual_seed(0)
    model = GPT2LMHeadModel(hf_config(**sizes)).eval()
    idx = torch.randint(0, V, (batch, seq_len))
    tokens = batch * seq_len
    with torch.no_grad():
        forward = counted_flops(model, idx)
    assert forward == tokens * (24 * L * C * C + 2 * V * C + 4 * L * seq_len * C)
    kaplan_forward = flops_per_token(sizes, seq_len) // 3  # 2N + 2 L T C
    non_matmul = 2 * (13 * L * C + 2 * C)  # biases and LayerNorms are in N, not in matmuls
    assert forward == tokens * (kaplan_forward - non_matmul + 2 * V * C + 2 * L * seq_len * C)
    assert counted_flops(model, idx, backward=True) == 3 * forward  # backward = 2 x forward
