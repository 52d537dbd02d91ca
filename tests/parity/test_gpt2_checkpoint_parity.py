"""``GPT.from_pretrained`` / ``GPT.save_pretrained`` vs Hugging Face's ``GPT2LMHeadModel``
``save_pretrained`` / ``from_pretrained``, offline: a randomly initialised tiny GPT-2 (V=37,
T_max=16, 2 layers, 3 heads, C=24), every parameter at a "loud" scale so that a transposed or
misnamed tensor moves the logits a lot, goes through the directory format both ways.

- HF saves (float32 safetensors, ``transformer.`` names, no ``lm_head.weight``) -> we load:
  float32 logits within float32 rounding of HF's; loaded as float64 and compared with HF in
  float64, equal to 1e-12. Sharded checkpoints too.
- We save -> HF loads (``GPT2LMHeadModel.from_pretrained``, no missing or unexpected keys,
  the head tied): the same logits; float64 parameters stay float64.
"""

import json
import os

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file
from transformers import GPT2Config, GPT2LMHeadModel

from reference.transformer.gpt import GPT

V, T_MAX, N_LAYER, N_HEAD, C = 37, 16, 2, 3, 24
IDX = np.array([[1, 5, 9, 2, 36, 0, 7], [0, 3, 3, 7, 11, 30, 12]])  # B=2, T=7


def hf_model(seed=0):
    """A random HF GPT-2 (float32, eval), every parameter at a 'loud' scale."""
    config = GPT2Config(vocab_size=V, n_positions=T_MAX, n_layer=N_LAYER, n_head=N_HEAD,
                        n_embd=C, bos_token_id=0, eos_token_id=0, attn_implementation="eager")
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(config).eval()
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in model.transformer.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
                p.copy_(1.0 + 0.3 * noise)
            elif name.endswith(".bias"):
                p.copy_(0.3 * noise)
            elif name in ("wte.weight", "wpe.weight"):
                p.copy_(noise)
            else:  # Conv1D (in, out)
                p.copy_(noise / p.shape[0] ** 0.5)
    return model


def hf_logits(model, idx=IDX):
    with torch.no_grad():
        return model(torch.from_numpy(idx)).logits.numpy()


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    model = hf_model()
    path = tmp_path_factory.mktemp("hf_gpt2")
    model.save_pretrained(path)
    return model, path


def test_hf_directory_is_what_we_expect(hf_dir):
    _, path = hf_dir
    state = load_file(str(path / "model.safetensors"))
    assert all(name.startswith("transformer.") for name in state)
    assert "transformer.h.0.attn.c_attn.weight" in state and "lm_head.weight" not in state
    assert json.loads((path / "config.json").read_text())["tie_word_embeddings"] is True


def test_we_load_hf_float32(hf_dir):
    model, path = hf_dir
    ours = GPT.from_pretrained(path)
    logits = ours.forward(IDX)
    expected = hf_logits(model)
    assert logits.dtype == np.float32
    scale = np.abs(expected).max()
    np.testing.assert_allclose(logits, expected, rtol=0, atol=2e-6 * scale)
    assert (logits.argmax(-1) == expected.argmax(-1)).all()


def test_we_load_hf_float64_tightly(hf_dir):
    model, path = hf_dir
    ours = GPT.from_pretrained(path, dtype="float64")
    expected = hf_logits(model.double())
    model.float()
    np.testing.assert_allclose(ours.forward(IDX), expected, rtol=1e-12, atol=1e-12)


def test_we_load_a_sharded_hf_checkpoint(tmp_path):
    model = hf_model(seed=3)
    model.save_pretrained(tmp_path, max_shard_size="20KB")
    assert (tmp_path / "model.safetensors.index.json").is_file()
    assert len(list(tmp_path.glob("model-*.safetensors"))) > 1
    ours = GPT.from_pretrained(tmp_path, dtype="float64")
    np.testing.assert_allclose(ours.forward(IDX), hf_logits(model.double()), rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize("dtype, torch_dtype", [("float32", torch.float32),
                                                ("float64", torch.float64)])
def test_hf_loads_what_we_save(hf_dir, tmp_path, dtype, torch_dtype):
    _, path = hf_dir
    ours = GPT.from_pretrained(path, dtype=dtype)
    ours.save_pretrained(tmp_path)
    theirs, info = GPT2LMHeadModel.from_pretrained(tmp_path, output_loading_info=True)
    theirs.eval()
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    assert theirs.dtype == torch_dtype
    assert theirs.lm_head.weight.data_ptr() == theirs.transformer.wte.weight.data_ptr()
    logits, expected = ours.forward(IDX), hf_logits(theirs)
    tol = 1e-12 if dtype == "float64" else 2e-6 * np.abs(expected).max()
    np.testing.assert_allclose(logits, expected, rtol=0, atol=tol)


GPT2_DIR = os.environ.get("GPT2_DIR")  # a downloaded `gpt2` directory, if you have one
PROMPTS = ["Hello, my dog is cute", "The meaning of life is", " naïve café 🎉\n\tdef f(x):",
           "They'll say it's 3.14159 — or 22/7<|endoftext|>Next"]


@pytest.mark.skipif(not GPT2_DIR, reason="set GPT2_DIR to a directory made by `huggingface-cli "
                                         "download gpt2 config.json model.safetensors vocab.json "
                                         "merges.txt --local-dir DIR`")
def test_real_gpt2_logits_and_token_ids():
    """The real GPT-2 (124M): our tokenizer's ids are GPT2TokenizerFast's, our logits HF's."""
    from transformers import GPT2TokenizerFast

    from demos.llm.gpt2_tokenizer import load_gpt2_tokenizer
    from reference.llm.bpe import BPETokenizer

    ours, tok = GPT.from_pretrained(GPT2_DIR), load_gpt2_tokenizer(GPT2_DIR, cls=BPETokenizer)
    theirs = GPT2LMHeadModel.from_pretrained(GPT2_DIR).eval()
    fast = GPT2TokenizerFast.from_pretrained(GPT2_DIR, local_files_only=True)
    for prompt in PROMPTS:
        ids = tok.encode(prompt)
        assert ids == fast(prompt)["input_ids"], prompt
        idx = np.array([ids])
        expected = hf_logits(theirs, idx)
        np.testing.assert_allclose(ours.forward(idx), expected, rtol=0,
                                   atol=1e-4 * np.abs(expected).max())
