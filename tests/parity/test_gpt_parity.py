"""Exercise 3.11 reference (``GPTConfig``, ``GPT``) vs Hugging Face's ``GPT2LMHeadModel``.

One tiny GPT-2 (V=37, T_max=16, 2 layers, 3 heads, C=24, D=8; B=2, T=7: distinct sizes, so a
transposed axis fails loudly) with every parameter randomised at a scale where layout bugs
move the outputs a lot (weights ~ N(0, 1/fan_in), biases and LayerNorm affine parameters ~ 1,
not GPT-2's 0.02 init). HF's state_dict is copied into ``GPT.params``; the logits, the loss
and the gradient of EVERY parameter are compared with torch autograd in float64 (rtol 1e-10),
then in float32 (tolerances relative to each tensor's scale); a central finite-difference
check in float64 tests the backward without torch. Dropout is 0 and HF runs in eval mode.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import GPT2Config, GPT2LMHeadModel

from reference.transformer.gpt import GPT, GPTConfig, gpt_param_shapes

V, T_MAX, N_LAYER, N_HEAD, C = 37, 16, 2, 3, 24
B, T = 2, 7
RTOL, ATOL = 1e-10, 1e-12
PREFIX = "transformer."


def hf_model(dtype=torch.float64, seed=0, **overrides):
    """A randomised HF GPT-2 in eval mode, with every parameter at a 'loud' scale."""
    kwargs = dict(vocab_size=V, n_positions=T_MAX, n_layer=N_LAYER, n_head=N_HEAD, n_embd=C,
                  resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0,
                  eos_token_id=0, attn_implementation="eager")
    kwargs.update(overrides)
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(GPT2Config(**kwargs)).to(dtype).eval()
    assert model.lm_head.weight is model.transformer.wte.weight, "HF head should be tied"
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in model.transformer.named_parameters():
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float64).to(dtype)
            if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
                p.copy_(1.0 + 0.3 * noise)
            elif name.endswith(".bias"):
                p.copy_(0.3 * noise)
            elif name in ("wte.weight", "wpe.weight"):
                p.copy_(noise)
            else:  # Conv1D (in, out): keep the activations O(1)
                p.copy_(noise / p.shape[0] ** 0.5)
    return model


def ours_from(model, np_dtype=np.float64):
    """Our GPT with the HF model's weights (its state_dict minus the `transformer.` prefix)."""
    cfg = GPTConfig.from_hf(model.config, dtype=np.dtype(np_dtype).name)
    ours = GPT(cfg, np.random.default_rng(0))
    state = model.state_dict()
    for name in ours.params:
        ours.params[name] = state[PREFIX + name].detach().numpy().astype(np_dtype)
    return ours


def tokens(seed=2, t=T):
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, V, (B, t))
    targets = rng.integers(0, V, (B, t))
    targets[0, -1] = targets[1, 0] = -100  # ignored positions
    return idx, targets


def assert_close(actual, expected, what, rtol=RTOL, atol=ATOL):
    if isinstance(expected, torch.Tensor):
        expected = expected.detach().numpy()
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


def torch_reference(model, idx, targets):
    """HF's logits, the loss (F.cross_entropy on them) and every transformer.* gradient."""
    model.zero_grad()
    logits = model(input_ids=torch.tensor(idx)).logits
    loss = F.cross_entropy(logits.reshape(-1, V), torch.tensor(targets).reshape(-1),
                           ignore_index=-100)
    loss.backward()
    grads = {name: p.grad.detach().numpy() for name, p in model.transformer.named_parameters()}
    return logits.detach().numpy(), loss.item(), grads


# --- names, shapes, config -----------------------------------------------------------------
def test_param_names_and_shapes_are_hf_checkpoint_names():
    model = hf_model()
    hf = {k[len(PREFIX):]: tuple(v.shape) for k, v in model.state_dict().items()
          if k.startswith(PREFIX) and not k.endswith(".attn.bias")}  # (old causal buffers)
    ours = GPT(GPTConfig(vocab_size=V, block_size=T_MAX, n_layer=N_LAYER, n_head=N_HEAD,
                         n_embd=C), np.random.default_rng(0))
    assert list(ours.params) == list(hf), "names (and their order) should be HF's state_dict"
    assert {k: v.shape for k, v in ours.params.items()} == hf
    assert gpt_param_shapes(ours.config) == hf
    assert set(model.state_dict()) - {PREFIX + k for k in hf} == {"lm_head.weight"}
    assert ours.num_parameters() == model.num_parameters()


def test_default_config_is_gpt2_small_and_reads_hf_config():
    cfg = GPTConfig()
    hf = GPT2Config()
    assert (cfg.vocab_size, cfg.n_positions, cfg.n_layer, cfg.n_head, cfg.n_embd,
            cfg.layer_norm_epsilon) == (hf.vocab_size, hf.n_positions, hf.n_layer, hf.n_head,
                                        hf.n_embd, hf.layer_norm_epsilon)
    assert GPTConfig.from_hf(hf) == cfg
    assert GPTConfig.from_hf(hf.to_dict()) == cfg  # a config.json dict
    assert GPTConfig.from_hf({"n_positions": 64, "n_embd": 32, "n_head": 4}).block_size == 64
    with pytest.raises(ValueError, match="activation_function"):
        GPTConfig.from_hf(GPT2Config(activation_function="relu"))
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(n_embd=10, n_head=3)


def test_init_statistics_match_hf_init():
    """GPT-2's init: N(0, 0.02^2), residual projections 0.02/sqrt(2 n_layer), biases 0,
    LayerNorm weights 1 -- HF's own _init_weights, compared by sample std."""
    kwargs = dict(vocab_size=300, n_positions=64, n_layer=3, n_head=4, n_embd=64)
    torch.manual_seed(0)
    hf = GPT2LMHeadModel(GPT2Config(bos_token_id=0, eos_token_id=0, **kwargs)).transformer
    hf_state = {k: v.numpy() for k, v in hf.state_dict().items()}
    cfg = GPTConfig(vocab_size=300, block_size=64, n_layer=3, n_head=4, n_embd=64)
    ours = GPT(cfg, np.random.default_rng(0))
    for name, p in ours.params.items():
        assert p.dtype == np.float32, name
        ref = hf_state[name]
        if ref.std() == 0:
            np.testing.assert_array_equal(p, ref, err_msg=name)
        else:
            assert abs(p.mean()) < 0.1 * ref.std(), name
            np.testing.assert_allclose(p.std(), ref.std(), rtol=0.1, err_msg=name)
    again = GPT(cfg, np.random.default_rng(0))
    assert all(np.array_equal(again.params[k], v) for k, v in ours.params.items())


# --- forward, loss, backward in float64 ----------------------------------------------------
@pytest.mark.parametrize("t", [1, T, T_MAX], ids=["T=1", "T=7", "T=block_size"])
def test_logits_loss_and_every_gradient_match_hf_float64(t):
    model = hf_model()
    ours = ours_from(model)
    idx, targets = tokens(t=t)
    if t == 1:
        targets[:] = [[3], [-100]]
    logits_t, loss_t, grads_t = torch_reference(model, idx, targets)

    logits = ours.forward(idx)
    assert logits.dtype == np.float64
    assert_close(logits, logits_t, "logits")
    loss = ours.loss(idx, targets)
    assert np.ndim(loss) == 0
    np.testing.assert_allclose(loss, loss_t, rtol=RTOL, err_msg="loss")
    grads = ours.backward()
    assert list(grads) == list(ours.params), "grads must have the keys of params, in order"
    for name, g in grads.items():
        assert g.dtype == np.float64, name
        assert_close(g, grads_t[name], f"d {name}")


def test_loss_equals_hf_shifted_labels_loss():
    """HF shifts labels inside: its loss(input_ids=idx, labels=idx) is ours on (idx[:, :-1],
    idx[:, 1:]). (HF upcasts the logits with .float() before its loss: float32 precision.)"""
    model = hf_model()
    ours = ours_from(model)
    model.loss_type = "ForCausalLM"  # HF cannot infer it from the class name GPT2LMHeadModel
    idx, _ = tokens()
    with torch.no_grad():
        hf_loss = model(input_ids=torch.tensor(idx), labels=torch.tensor(idx)).loss.item()
    np.testing.assert_allclose(ours.loss(idx[:, :-1], idx[:, 1:]), hf_loss, rtol=1e-6)


def test_backward_with_given_dlogits_matches_torch():
    model = hf_model()
    ours = ours_from(model)
    idx, _ = tokens()
    dlogits = np.random.default_rng(3).standard_normal((B, T, V))
    model.zero_grad()
    model(input_ids=torch.tensor(idx)).logits.backward(torch.tensor(dlogits))
    ours.forward(idx)
    grads = ours.backward(dlogits)
    for name, p in model.transformer.named_parameters():
        assert_close(grads[name], p.grad, f"d {name} (backward(dlogits))")
    with pytest.raises(RuntimeError, match="loss"):
        ours.backward()  # after forward, there is no loss to differentiate
    with pytest.raises(ValueError, match="dlogits"):
        ours.backward(dlogits[:, :-1])


def test_logits_are_causal():
    ours = ours_from(hf_model())
    idx, _ = tokens()
    changed = idx.copy()
    changed[:, 4:] = (changed[:, 4:] + 1) % V
    np.testing.assert_array_equal(ours.forward(idx)[:, :4], ours.forward(changed)[:, :4])


def test_input_validation():
    ours = GPT(GPTConfig(vocab_size=V, block_size=T_MAX, n_layer=1, n_head=N_HEAD, n_embd=C),
               np.random.default_rng(0))
    with pytest.raises(ValueError, match="block_size"):
        ours.forward(np.zeros((B, T_MAX + 1), dtype=np.int64))
    with pytest.raises(ValueError, match="out of range"):
        ours.forward(np.full((B, T), V))
    with pytest.raises(TypeError, match="integer"):
        ours.forward(np.zeros((B, T)))
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        ours.forward(np.zeros(T, dtype=np.int64))
    with pytest.raises(RuntimeError, match="forward"):
        GPT(ours.config, np.random.default_rng(0)).backward()


# --- float32 ---------------------------------------------------------------------------------
def test_float32_matches_hf_float32():
    """The fast path: float32 in, float32 everywhere out. Tolerances are relative to each
    tensor's largest entry (float32 rounding accumulates over the layers)."""
    model = hf_model(dtype=torch.float32)
    ours = ours_from(model, np.float32)
    idx, targets = tokens()
    logits_t, loss_t, grads_t = torch_reference(model, idx, targets)
    logits = ours.forward(idx)
    assert logits.dtype == np.float32
    scale = np.abs(logits_t).max()
    assert_close(logits, logits_t, "logits (float32)", rtol=1e-4, atol=1e-5 * scale)
    loss = ours.loss(idx, targets)
    assert loss.dtype == np.float32
    np.testing.assert_allclose(loss, loss_t, rtol=1e-5)
    for name, g in ours.backward().items():
        assert g.dtype == np.float32, f"d {name} should stay float32, got {g.dtype}"
        scale = np.abs(grads_t[name]).max()
        assert_close(g, grads_t[name], f"d {name} (float32)", rtol=1e-3, atol=1e-4 * scale)


# --- finite differences (no torch) -------------------------------------------------------------
def test_gradients_match_central_differences_float64():
    ours = ours_from(hf_model())
    idx, targets = tokens()
    ours.loss(idx, targets)
    grads = ours.backward()
    rng = np.random.default_rng(4)
    h = 1e-6
    for name, p in ours.params.items():
        if name == "wpe.weight":
            coords = [(int(rng.integers(0, T)), int(rng.integers(0, C))) for _ in range(3)]
        elif name == "wte.weight":  # rows of input tokens (both paths) and of other tokens
            coords = [(int(idx[0, 0]), 1), (int(idx[1, 3]), 5), (int(rng.integers(0, V)), 7)]
        else:
            coords = [tuple(int(rng.integers(0, n)) for n in p.shape) for _ in range(3)]
        for coord in coords:
            saved = p[coord]
            p[coord] = saved + h
            up = ours.loss(idx, targets)
            p[coord] = saved - h
            down = ours.loss(idx, targets)
            p[coord] = saved
            numeric = (up - down) / (2 * h)
            np.testing.assert_allclose(grads[name][coord], numeric, rtol=1e-5, atol=1e-8,
                                       err_msg=f"d {name}{list(coord)} vs central difference")
