"""Hugging Face GPT-2 files for our model and tokenizer, without torch
(transformer/hf_checkpoint.py, demos/llm/gpt2_tokenizer.py).

``GPT.from_pretrained`` / ``GPT.save_pretrained``, ``load_gpt2_tokenizer`` and the
``run_gpt2`` command line, on tiny models and vocabularies written here. The parity tests
(tests/parity/test_gpt2_checkpoint_parity.py, test_bpe_parity.py) compare the same code with
``transformers`` and ``tokenizers``.
"""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from columns import long_lines
from conftest import REPO
from safetensors.numpy import load_file, save_file

from demos.llm.gpt2_tokenizer import (
    GPT2Tokenizer,
    bytes_to_unicode,
    gpt2_token_bytes,
    load_gpt2_tokenizer,
    save_gpt2_tokenizer,
)
from demos.run import load
from reference.llm.bpe import BPETokenizer, merge_pair, to_bytes, train_bpe
from reference.transformer.gpt import GPT, GPTConfig

run_gpt2 = load("run_gpt2", "reference")

EOT = "<|endoftext|>"
CONFIG = GPTConfig(vocab_size=37, block_size=16, n_layer=2, n_head=3, n_embd=24)
IDX = np.array([[1, 5, 9, 2, 36], [0, 3, 3, 7, 11]])
TEXT = ("The cat sat on the mat. The cat's hat isn't red; it's 42% blue!\n"
        "def f(x):\n    return x  # naïve café 🎉\n") * 4


def loud_model(dtype="float64", seed=0, config=CONFIG):
    """A random GPT whose every parameter matters (not the 0.02 init)."""
    model = GPT(GPTConfig(**{**config.__dict__, "dtype": dtype}), np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 1)
    for name, p in model.params.items():
        model.params[name] = (rng.standard_normal(p.shape) / np.sqrt(p.shape[0])).astype(dtype)
    return model


def write_checkpoint(path, state, config=None):
    """A GPT-2 directory with the given tensors (and CONFIG's config.json)."""
    path.mkdir(parents=True, exist_ok=True)
    config = config or {"model_type": "gpt2", "vocab_size": CONFIG.vocab_size,
                        "n_positions": CONFIG.block_size, "n_layer": CONFIG.n_layer,
                        "n_head": CONFIG.n_head, "n_embd": CONFIG.n_embd}
    (path / "config.json").write_text(json.dumps(config))
    save_file({k: np.ascontiguousarray(v) for k, v in state.items()},
              str(path / "model.safetensors"), metadata={"format": "pt"})
    return path


# --- weights --------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_save_then_load_is_exact(tmp_path, dtype):
    model = loud_model(dtype)
    model.save_pretrained(tmp_path)
    loaded = GPT.from_pretrained(tmp_path, dtype=dtype)
    assert loaded.config == model.config
    assert list(loaded.params) == list(model.params)
    for name, p in model.params.items():
        assert loaded.params[name].dtype == np.dtype(dtype)
        np.testing.assert_array_equal(loaded.params[name], p, err_msg=name)
    np.testing.assert_array_equal(loaded.forward(IDX), model.forward(IDX))
    assert set(vars(loaded)) == set(vars(model))  # built from params: the same attributes


def test_a_gpt_from_given_params_checks_them():
    """GPT(config, params=...), what from_pretrained builds on: cast, ordered, checked."""
    params = dict(reversed(loud_model("float64").params.items()))
    model = GPT(CONFIG, params=params)  # CONFIG is float32
    assert list(model.params) == list(loud_model().params)
    assert all(p.dtype == np.float32 for p in model.params.values())
    with pytest.raises(ValueError, match="misses 'ln_f.bias'"):
        GPT(CONFIG, params={k: v for k, v in params.items() if k != "ln_f.bias"})
    with pytest.raises(ValueError, match="'lm_head.weight', which is not a GPT-2 parameter"):
        GPT(CONFIG, params={**params, "lm_head.weight": params["wte.weight"]})
    with pytest.raises(ValueError, match=r"params\['wpe.weight'\] has shape \(8, 24\)"):
        GPT(CONFIG, params={**params, "wpe.weight": np.zeros((8, 24))})


def test_saved_files_are_what_gpt2lmheadmodel_writes(tmp_path):
    model = loud_model("float32")
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "gpt2" and config["architectures"] == ["GPT2LMHeadModel"]
    assert (config["n_embd"], config["n_layer"], config["n_head"], config["n_positions"],
            config["vocab_size"]) == (24, 2, 3, 16, 37)
    state = load_file(str(tmp_path / "model.safetensors"))
    assert set(state) == {"transformer." + name for name in model.params}  # no lm_head: tied
    assert state["transformer.h.0.attn.c_attn.weight"].shape == (24, 72)  # Conv1D (in, out)


def test_casts_to_the_requested_dtype(tmp_path):
    model = loud_model("float64")
    model.save_pretrained(tmp_path)
    loaded = GPT.from_pretrained(tmp_path)  # float32 by default
    assert all(p.dtype == np.float32 and p.flags.c_contiguous for p in loaded.params.values())
    np.testing.assert_allclose(loaded.forward(IDX), model.forward(IDX), rtol=1e-4, atol=1e-4)


def test_reads_the_hub_layout_with_buffers_and_a_tied_head(tmp_path):
    """gpt2 on the Hub: no prefix, causal-mask buffers; others: lm_head.weight stored too."""
    model = loud_model()
    state = dict(model.params)
    for i in range(CONFIG.n_layer):
        state[f"h.{i}.attn.bias"] = np.tril(np.ones((1, 1, 16, 16), dtype=np.float32))
        state[f"h.{i}.attn.masked_bias"] = np.array(-1e4, dtype=np.float32)
    state["lm_head.weight"] = model.params["wte.weight"].copy()
    loaded = GPT.from_pretrained(write_checkpoint(tmp_path, state), dtype="float64")
    np.testing.assert_array_equal(loaded.forward(IDX), model.forward(IDX))


def test_reads_a_sharded_checkpoint(tmp_path):
    model = loud_model()
    names = list(model.params)
    weight_map = {}
    for k, part in enumerate((names[:10], names[10:])):
        shard = f"model-{k + 1:05d}-of-00002.safetensors"
        save_file({"transformer." + n: model.params[n] for n in part}, str(tmp_path / shard),
                  metadata={"format": "pt"})
        weight_map.update({"transformer." + n: shard for n in part})
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    (tmp_path / "config.json").write_text(json.dumps({"n_positions": 16, "n_layer": 2,
                                                      "n_head": 3, "n_embd": 24,
                                                      "vocab_size": 37}))
    loaded = GPT.from_pretrained(tmp_path, dtype="float64")
    np.testing.assert_array_equal(loaded.forward(IDX), model.forward(IDX))


def _broken(tmp_path, edit):
    model = loud_model()
    state = {"transformer." + name: p for name, p in model.params.items()}
    edit(state)
    return write_checkpoint(tmp_path, state)


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.pop("transformer.h.1.mlp.c_fc.bias"),
     "does not fit its config.json: GPT: params misses 'h.1.mlp.c_fc.bias'"),
    (lambda s: s.update({"transformer.h.0.attn.c_attn.weight": np.zeros((72, 24))}),
     "['h.0.attn.c_attn.weight'] has shape (72, 24), expected (24, 72) (transposed"),
    (lambda s: s.update({"transformer.wpe.weight": np.zeros((8, 24))}),
     "['wpe.weight'] has shape (8, 24), expected (16, 24)"),
    (lambda s: s.update({"lm_head.weight": s["transformer.wte.weight"] + 1}),
     "lm_head.weight differs from wte.weight"),
    (lambda s: s.update({"score.weight": np.zeros((2, 24))}),
     "'score.weight', which is not a GPT-2 parameter"),
])
def test_bad_tensors_are_named(tmp_path, edit, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        GPT.from_pretrained(_broken(tmp_path, edit))


def test_a_pytorch_pickle_is_refused_with_what_to_do(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"n_embd": 24}))
    (tmp_path / "pytorch_model.bin").write_bytes(b"not read")
    with pytest.raises(FileNotFoundError,
                       match="(?s)pytorch_model.bin.*huggingface-cli download gpt2.*safetensors"):
        GPT.from_pretrained(tmp_path)


@pytest.mark.parametrize("config, error, message", [
    (None, FileNotFoundError, "config.json not found"),
    ({"model_type": "llama"}, ValueError, "model_type 'llama' is not GPT-2"),
    ({"n_embd": 24, "n_head": 3, "activation_function": "relu"}, ValueError,
     "activation_function='relu' is not supported"),
    ({"n_embd": 24, "n_head": 3, "n_layer": 2, "n_positions": 16, "vocab_size": 37,
      "tie_word_embeddings": False}, ValueError, "tie_word_embeddings=false but there is no "
                                                 "lm_head.weight"),
])
def test_bad_configs_are_refused(tmp_path, config, error, message):
    model = loud_model()
    save_file({"transformer." + n: p for n, p in model.params.items()},
              str(tmp_path / "model.safetensors"))
    if config is not None:
        (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(error, match=message):
        GPT.from_pretrained(tmp_path)


# --- tokenizer ------------------------------------------------------------------------------

def test_bytes_to_unicode():
    table = bytes_to_unicode()
    assert sorted(table) == list(range(256)) and len(set(table.values())) == 256
    assert table[ord(" ")] == "Ġ" and table[ord("\n")] == "Ċ" and table[0] == "Ā"
    assert table[ord("a")] == "a" and table[0xE9] == "é" and table[0xAD] == "Ń"  # 68th: U+0100 + 67
    assert all(c.isprintable() and not c.isspace() for c in table.values())
    assert gpt2_token_bytes("Ġcaf" + table[0xC3] + table[0xA9]) == " café".encode()


def write_tiny_gpt2_vocab(path):
    """A hand-written GPT-2-style vocabulary: the 256 bytes in GPT-2's order, four merges,
    <|endoftext|> last -- the layout of GPT-2's own files."""
    table = bytes_to_unicode()
    tokens = sorted(table.values())  # GPT-2's ids 0..255: by character
    merges = ["Ġ t", "h e", "Ġt he", "Ġ a"]
    tokens += [m.replace(" ", "") for m in merges] + [EOT]
    (path / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}),
                                     encoding="utf-8")
    (path / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n",
                                     encoding="utf-8")
    return {t: i for i, t in enumerate(tokens)}


def test_from_gpt2_on_hand_written_files(tmp_path):
    ids = write_tiny_gpt2_vocab(tmp_path)
    tok = load_gpt2_tokenizer(tmp_path, cls=BPETokenizer)
    assert isinstance(tok, GPT2Tokenizer) and tok.vocab_size == 261
    assert tok.special_ids == {EOT: 260}
    assert tok.tokenizer.merges == [(32, 116), (104, 101), (256, 257), (32, 97)]  # our ids
    text = "the at the<|endoftext|>!"
    expected = [ids["t"], ids["he"], ids["Ġa"], ids["t"], ids["Ġthe"], 260, ids["!"]]
    assert tok.encode(text) == expected
    assert tok.decode(expected) == text
    files = (tmp_path / "vocab.json", tmp_path / "merges.txt")
    assert load_gpt2_tokenizer(*files, cls=BPETokenizer).encode(
        text) == expected


@pytest.mark.parametrize("merges, message", [
    ("#version: 0.2\nĠ q\n", r"token 'Ġq' \(our id 256\) is missing"),  # not in vocab.json
    ("#version: 0.2\nĠt he\n", "uses a token no earlier merge made"),
    ("#version: 0.2\nh e\nh e\n", "already made"),
    ("#version: 0.2\nh e x\n", "two tokens separated by one space"),
])
def test_from_gpt2_names_bad_merges(tmp_path, merges, message):
    write_tiny_gpt2_vocab(tmp_path)
    (tmp_path / "merges.txt").write_text(merges, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_gpt2_tokenizer(tmp_path, cls=BPETokenizer)


def test_from_gpt2_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="(?s)vocab.json not found.*huggingface-cli"):
        load_gpt2_tokenizer(tmp_path, cls=BPETokenizer)


@pytest.fixture(scope="module")
def trained():
    return train_bpe(TEXT, 256 + 60, [EOT])


def test_saved_vocabulary_reads_back_with_gpt2_ids(tmp_path, trained):
    vocab, merges = trained
    to_gpt2 = save_gpt2_tokenizer(vocab, merges, tmp_path)
    ours, gpt2 = BPETokenizer(vocab, merges), load_gpt2_tokenizer(tmp_path, cls=BPETokenizer)
    assert sorted(to_gpt2) == list(range(len(vocab)))
    assert to_gpt2[ord(" ")] == 220 and to_gpt2[ord("!")] == 0  # GPT-2's ids of "Ġ" and "!"
    assert gpt2.special_ids == {EOT: len(vocab) - 1}
    for text in (TEXT, "Unseen: Ωμέγα 🙂 \t\r\n x_y", f"a{EOT}b", ""):
        ids = gpt2.encode(text)
        assert ids == [to_gpt2[i] for i in ours.encode(text)]
        assert gpt2.decode(ids) == text


class InOrderTokenizer(BPETokenizer):
    """Another correct 4.1 tokenizer: applies every merge once, in the order learnt (the
    same tokens as "lowest rank first": a merge never creates a pair of an earlier merge)."""

    def _encode_word(self, word):
        ids = list(to_bytes(word))
        for k, pair in enumerate(self.merges):
            ids = merge_pair(ids, pair, 256 + k)
        return ids


def test_from_gpt2_builds_on_any_tokenizer_class(tmp_path, trained):
    save_gpt2_tokenizer(*trained, tmp_path)
    other = load_gpt2_tokenizer(tmp_path, cls=InOrderTokenizer)
    assert type(other.tokenizer) is InOrderTokenizer
    assert other.encode(TEXT) == load_gpt2_tokenizer(tmp_path, cls=BPETokenizer).encode(TEXT)


# --- the command line -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory, trained):
    """A tiny 'GPT-2' directory: our vocabulary in GPT-2's files, a random model of its size."""
    path = tmp_path_factory.mktemp("tiny_gpt2")
    vocab, merges = trained
    save_gpt2_tokenizer(vocab, merges, path)
    config = GPTConfig(vocab_size=len(vocab), block_size=32, n_layer=2, n_head=2, n_embd=16)
    loud_model("float32", seed=3, config=config).save_pretrained(path)
    return path


def test_run_gpt2_generates_greedily_what_the_model_predicts(gpt2_dir, capsys):
    text, ids = run_gpt2.run(gpt2_dir, "The cat", max_new_tokens=6, temperature=0.0)
    tok, model = load_gpt2_tokenizer(gpt2_dir, cls=BPETokenizer), GPT.from_pretrained(gpt2_dir)
    expected = tok.encode("The cat")
    for _ in range(6):  # greedy by hand: the full forward, argmax of the last position
        expected.append(int(np.argmax(model.forward(np.array([expected]))[0, -1])))
    assert ids == expected
    out = capsys.readouterr().out
    assert out.startswith("The cat") and "6 new tokens in" in out and "tokens/s" in out


def test_run_gpt2_command_line(gpt2_dir, capsys):
    argv = [str(gpt2_dir), "--prompt", "The cat's", "--max-new-tokens", "5", "--seed", "1",
            "--top-k", "5", "--top-p", "0.9", "--temperature", "0.9"]
    assert run_gpt2.main(argv) == 0
    first = capsys.readouterr().out
    assert run_gpt2.main(argv) == 0
    assert capsys.readouterr().out.splitlines()[0] == first.splitlines()[0]  # same seed
    assert run_gpt2.main([str(gpt2_dir), "--max-new-tokens", "3", "--no-cache"]) == 0  # no prompt
    out = capsys.readouterr().out
    assert "no cache" in out and not long_lines(out)


def test_run_gpt2_errors(gpt2_dir, tmp_path, capsys):
    assert run_gpt2.main([str(gpt2_dir), "--prompt", "x", "--max-new-tokens", "40"]) == 2
    err = capsys.readouterr().err
    assert not long_lines(err)
    assert "exceed the model's context of 32 tokens" in " ".join(err.split())  # wrapped
    assert run_gpt2.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert not long_lines(err)
    assert "vocab.json not found" in " ".join(err.split())


def test_run_gpt2_on_the_stubs_names_the_missing_exercise(gpt2_dir):
    done = subprocess.run([sys.executable, "-m", "demos", "run_gpt2", str(gpt2_dir), "--prompt",
                           "The cat", "--max-new-tokens", "2"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1
    err = done.stderr
    assert "needs an exercise you have not implemented yet" in err and "Exercise 4.1" in err
