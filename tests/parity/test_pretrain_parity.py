"""Exercises 4.2 and 4.3 reference vs PyTorch / Hugging Face.

- ``get_batch``'s targets: Hugging Face's ``GPT2LMHeadModel(input_ids=w, labels=w)`` on a
  window ``w`` of T + 1 tokens shifts inside the model; its loss must equal ``GPT.loss(x, y)``
  on the ``(x, y)`` that ``get_batch`` cuts from the same window (to 1e-6: HF evaluates a
  ``labels=`` loss on logits cast to float32). A shift by any other amount is off by O(1).
- ``evaluate``: the mean of HF's losses over the same windows, and its exponential.
- ``train``: four updates of our loop (batches from ``batch_rng``, ``GPT.backward``,
  ``clip_grad_norm``, ``cosine_schedule``, ``AdamW``) against the same four updates done by
  torch autograd, ``torch.nn.utils.clip_grad_norm_`` and ``torch.optim.AdamW``, in float64:
  every weight must agree to 1e-10 (relative).

A tiny GPT-2 (V=23, T_max=12, 2 layers, 2 heads, C=16) with GPT-2's own initialisation.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F
from transformers import GPT2Config, GPT2LMHeadModel

from reference.llm.data import get_batch
from reference.llm.pretrain import batch_rng, evaluate, train
from reference.transformer.gpt import GPT, GPTConfig
from reference.transformer.optim import AdamW, cosine_schedule

V, T_MAX, N_LAYER, N_HEAD, C = 23, 12, 2, 2, 16
B, T = 3, 10
PREFIX = "transformer."
HF_LOSS_RTOL = 1e-6  # HF computes a `labels=` loss on float32 logits, even for a float64 model


def hf_model(seed=0):
    config = GPT2Config(vocab_size=V, n_positions=T_MAX, n_layer=N_LAYER, n_head=N_HEAD,
                        n_embd=C, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                        bos_token_id=0, eos_token_id=0, attn_implementation="eager")
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(config).to(torch.float64)
    model.train()  # dropout is 0: train and eval mode compute the same
    return model


def ours_from(model):
    ours = GPT(GPTConfig.from_hf(model.config, dtype="float64"), np.random.default_rng(0))
    state = model.state_dict()
    ours.params = {name: state[PREFIX + name].detach().numpy().copy() for name in ours.params}
    return ours


def data(seed=1, n=200):
    return np.random.default_rng(seed).integers(0, V, n).astype(np.uint16)


def test_hf_shifted_loss_equals_get_batch_targets():
    model, tokens = hf_model(), data()
    ours = ours_from(model)
    rng, copy = np.random.default_rng(5), np.random.default_rng(5)
    x, y = get_batch(tokens, B, T, rng)
    starts = copy.integers(0, len(tokens) - T, size=B)
    windows = np.stack([tokens[s:s + T + 1] for s in starts]).astype(np.int64)  # (B, T + 1)
    ids = torch.tensor(windows)
    with torch.no_grad():
        hf = model(input_ids=ids, labels=ids).loss.item()  # HF shifts inside
    np.testing.assert_allclose(float(ours.loss(x, y)), hf, rtol=HF_LOSS_RTOL)


def test_evaluate_is_the_mean_of_hf_losses():
    model, tokens = hf_model(seed=2), data(seed=3)
    ours = ours_from(model)
    metrics = evaluate(ours, tokens, B, T, 4, np.random.default_rng(7))
    copy, losses = np.random.default_rng(7), []
    for _ in range(4):
        starts = copy.integers(0, len(tokens) - T, size=B)
        ids = torch.tensor(np.stack([tokens[s:s + T + 1] for s in starts]).astype(np.int64))
        with torch.no_grad():
            losses.append(model(input_ids=ids, labels=ids).loss.item())
    np.testing.assert_allclose(metrics["loss"], np.mean(losses), rtol=HF_LOSS_RTOL)
    np.testing.assert_allclose(metrics["perplexity"], math.exp(np.mean(losses)),
                               rtol=HF_LOSS_RTOL)


def test_train_matches_torch_adamw_with_clipping_and_schedule():
    model, tokens = hf_model(seed=4), data(seed=6)
    ours = ours_from(model)
    steps, seed, max_norm = 4, 11, 0.3  # a small max_norm: clipping is active
    sched = dict(max_lr=0.02, min_lr=0.004, warmup=1, total=steps)
    betas, eps, wd = (0.9, 0.95), 1e-8, 0.1
    log = train(ours, AdamW(lr=0.02, betas=betas, eps=eps, weight_decay=wd), tokens, steps,
                B, T, lr=0.02, min_lr=0.004, warmup=1, max_norm=max_norm, seed=seed,
                progress_every=None)

    opt = torch.optim.AdamW(model.parameters(), lr=0.02, betas=betas, eps=eps, weight_decay=wd)
    losses = []
    for s in range(steps):
        x, y = get_batch(tokens, B, T, batch_rng(seed, s))
        opt.zero_grad()
        logits = model(input_ids=torch.tensor(x)).logits
        loss = F.cross_entropy(logits.reshape(-1, V), torch.tensor(y).reshape(-1))
        loss.backward()
        losses.append(loss.item())
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        for group in opt.param_groups:
            group["lr"] = cosine_schedule(s, **sched)
        opt.step()

    np.testing.assert_allclose(log.losses, losses, rtol=1e-10)
    state = model.state_dict()
    for name, p in ours.params.items():
        np.testing.assert_allclose(p, state[PREFIX + name].detach().numpy(), rtol=1e-9,
                                   atol=1e-12, err_msg=name)
