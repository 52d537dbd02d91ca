"""Exercise 5.4 reference (``speculative_accept``, ``speculative_generate``) vs Hugging Face's
assisted generation (``generate(..., assistant_model=...)``) and its speculative sampling step
(``transformers.generation.utils._speculative_sampling``, Leviathan et al.'s algorithm 1).

Greedy: a tiny GPT-2 target (2 layers) and a draft (1 layer, other weights), both at a 'loud'
scale in float64, copied into HF's ``GPT2LMHeadModel``; our ``speculative_generate(...,
temperature=0)`` and HF's assisted ``generate(do_sample=False)`` must give the same tokens, and
both the target's greedy tokens, for several k.

Sampling: the two draw their numbers differently (NumPy against torch), so the comparison is
of distributions. For a hand-made round (p, q, drafts) the law of its outcome is exact:
P(n drafts kept, then y) = prod_{i<n} a_i (1 - a_n) r_n(y) for n < k with a_i = min(1,
p_i(x_i)/q_i(x_i)) and r_n = max(0, p_n - q_n)/Z, and prod_i a_i p_k(y) for n = k. Each
implementation runs the round N = 20,000 times; a chi-square test of its outcome counts
against the exact law uses a limit exceeded with probability < 1e-6 by a correct sampler.
"""

import math

import numpy as np
import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.generation.utils import _speculative_sampling

from reference.llm.kv_cache import generate
from reference.modern.speculative import speculative_accept, speculative_generate
from reference.transformer.gpt import GPT, GPTConfig

V, T_MAX, N_HEAD, C = 23, 40, 2, 16
PROMPT = np.array([[3, 1, 4, 1, 5]])
NEW = 24


def ours(n_layer, seed):
    """Our float64 GPT with loud random weights (N(0, 1) embeddings, 1/sqrt(fan-in) else)."""
    model = GPT(GPTConfig(vocab_size=V, block_size=T_MAX, n_layer=n_layer, n_head=N_HEAD,
                          n_embd=C, dtype="float64"), np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 100)
    for name, value in model.params.items():
        noise = rng.standard_normal(value.shape)
        if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
            model.params[name] = 1.0 + 0.3 * noise
        elif name.endswith(".bias"):
            model.params[name] = 0.3 * noise
        elif name in ("wte.weight", "wpe.weight"):
            model.params[name] = noise
        else:
            model.params[name] = noise / value.shape[0] ** 0.5
    return model


def hf_from(model):
    """HF's GPT2LMHeadModel holding our weights, float64, eval mode, no end-of-text stop."""
    cfg = model.config
    config = GPT2Config(vocab_size=V, n_positions=T_MAX, n_layer=cfg.n_layer, n_head=N_HEAD,
                        n_embd=C, layer_norm_epsilon=cfg.layer_norm_epsilon, resid_pdrop=0.0,
                        embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=None, eos_token_id=None,
                        pad_token_id=0, attn_implementation="eager")
    hf = GPT2LMHeadModel(config).to(torch.float64).eval()
    hf.generation_config.eos_token_id = None
    hf.generation_config.pad_token_id = 0
    state = hf.state_dict()
    with torch.no_grad():
        for name, value in model.params.items():
            state["transformer." + name].copy_(torch.from_numpy(value))
    return hf


@pytest.fixture(scope="module")
def models():
    target, draft = ours(2, 0), ours(1, 1)
    return target, draft, hf_from(target), hf_from(draft)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_greedy_matches_hf_assisted_generation(models, k):
    target, draft, hf_target, hf_draft = models
    ids, stats = speculative_generate(target, draft, PROMPT, NEW, k, None, temperature=0.0)
    with torch.no_grad():
        hf_ids = hf_target.generate(
            torch.from_numpy(PROMPT), attention_mask=torch.ones(PROMPT.shape, dtype=torch.long),
            assistant_model=hf_draft, do_sample=False, max_new_tokens=NEW, min_new_tokens=NEW,
            num_assistant_tokens=k, num_assistant_tokens_schedule="constant",
            assistant_confidence_threshold=0.0)
    np.testing.assert_array_equal(ids, hf_ids.numpy())
    np.testing.assert_array_equal(ids, generate(target, PROMPT, NEW))
    assert 0 < stats["accepted"] < stats["drafted"]  # the draft is right only sometimes


# A round of k = 3 drafts on V = 5 tokens: a_0 = 1 (p >= q), a_1 = 0.5, a_2 = 0.25.
P = np.array([[0.30, 0.20, 0.20, 0.20, 0.10],
              [0.10, 0.10, 0.40, 0.20, 0.20],
              [0.05, 0.15, 0.30, 0.30, 0.20],
              [0.25, 0.25, 0.10, 0.10, 0.30]])
Q = np.array([[0.20, 0.20, 0.20, 0.20, 0.20],
              [0.10, 0.30, 0.20, 0.20, 0.20],
              [0.10, 0.10, 0.20, 0.40, 0.20]])
DRAFTS = [0, 1, 3]
N_RUNS = 20_000


def exact_law():
    """{(n, y): probability} of a round (see the module docstring)."""
    law, kept = {}, 1.0
    for n, x in enumerate(DRAFTS):
        a = min(1.0, P[n, x] / Q[n, x])
        residual = np.maximum(P[n] - Q[n], 0.0)
        for y in range(P.shape[1]):
            law[(n, y)] = kept * (1 - a) * residual[y] / residual.sum()
        kept *= a
    for y in range(P.shape[1]):
        law[(len(DRAFTS), y)] = kept * P[-1, y]
    return {key: value for key, value in law.items() if value > 0}


def chi2_limit(dof, alpha=1e-6):
    """The upper alpha-quantile of chi-square(dof) by bisection on its tail, computed with the
    regularised upper incomplete gamma function Q(dof/2, x/2) as a series (no scipy)."""
    def tail(x):
        s, a, term, total = x / 2, dof / 2, 1.0 / (dof / 2), 1.0 / (dof / 2)
        for i in range(1, 2000):
            term *= s / (a + i)
            total += term
        return 1.0 - math.exp(-s + a * math.log(s) - math.lgamma(a)) * total
    lo, hi = 0.0, 10.0 * dof + 200
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if tail(mid) > alpha else (lo, mid)
    return hi


def chi2(counts, law, n):
    assert set(counts) <= set(law), set(counts) - set(law)  # no outcome of probability 0
    return sum((counts.get(key, 0) - n * p) ** 2 / (n * p) for key, p in law.items())


def test_exact_law_sums_to_one():
    assert abs(sum(exact_law().values()) - 1) < 1e-12
    assert abs(chi2_limit(2) - 2 * math.log(1e6)) < 1e-6  # chi2(2) has tail exp(-x/2)


def test_sampling_round_law_matches_hf():
    law = exact_law()
    limit = chi2_limit(len(law) - 1)
    rng = np.random.default_rng(0)
    counts = {}
    for _ in range(N_RUNS):
        out = speculative_accept(P, Q, np.array(DRAFTS), rng)
        key = (len(out) - 1, int(out[-1]))
        counts[key] = counts.get(key, 0) + 1
    assert chi2(counts, law, N_RUNS) < limit

    torch.manual_seed(0)
    candidates = torch.tensor([[7, 7] + DRAFTS])  # two prompt tokens, then the drafts
    q_logits = torch.log(torch.from_numpy(Q))[None]  # softmax(log q) = q
    p_logits = torch.log(torch.from_numpy(P))[None]
    hf_counts = {}
    for _ in range(N_RUNS):
        tokens, n = _speculative_sampling(candidates, q_logits, len(DRAFTS), p_logits)
        key = (int(n), int(tokens[0, -1]))
        hf_counts[key] = hf_counts.get(key, 0) + 1
    assert chi2(hf_counts, law, N_RUNS) < limit
