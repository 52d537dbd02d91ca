"""Module 4's pretraining demo (`python -m demos llm`), on the reference: a quick run on a
small corpus writes its checkpoint, tokenizer, held-out tokens and loss curve, and the
held-out loss falls; `load_demo` reads the run back."""

from __future__ import annotations

import math
import re
import subprocess
import sys

import numpy as np
from columns import long_lines
from conftest import REPO
from implementation.llm.pretrain import evaluate

from demos.llm.pretrain_demo import load_demo, load_tokenizer, save_tokenizer

PARAGRAPHS = (
    "Attention lets every position read from every earlier position. The weights are a "
    "softmax of scaled dot products between queries and keys.",
    "A tokenizer turns text into integers. Byte-level BPE starts from the 256 bytes and "
    "merges the most frequent pair, again and again.",
    "Pretraining predicts the next token. The loss is the cross-entropy in nats, and its "
    "exponential is the perplexity.",
    "A checkpoint stores the weights, the optimizer state and the step, so that training "
    "can stop and resume exactly where it was.",
)


def test_quick_demo_trains_checkpoints_draws_and_loads(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n\n".join(PARAGRAPHS * 8), encoding="utf-8")
    out, figures = tmp_path / "run", tmp_path / "figures"
    done = subprocess.run([sys.executable, "-W", "error", "-m", "demos", "llm", "--quick",
                           "--target", "reference",
                           "--corpus", str(corpus), "--out", str(out), "--figures",
                           str(figures)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert not long_lines(text + done.stderr)
    assert re.search(r"step +\d+/\d+ +loss \d+\.\d+ +[\d,]+ tokens/s +ETA", text), text
    assert "OPENBLAS_NUM_THREADS=1" in text  # the demo re-ran itself with one BLAS thread
    val = [float(v) for v in re.findall(r"validation at step \d+: loss (\d+\.\d+)", text)]
    assert len(val) >= 3 and val[-1] < 0.8 * val[0], val
    assert "Sample (temperature" in text
    assert (figures / "pretrain_loss.png").stat().st_size > 10_000
    for name in ("checkpoint.npz", "tokenizer.json", "val_tokens.npy"):
        assert (out / name).is_file(), name

    model, tokenizer, val_tokens = load_demo(out)
    assert val_tokens.dtype == np.int64 and val_tokens.ndim == 1
    assert tokenizer.decode(tokenizer.encode(PARAGRAPHS[0])) == PARAGRAPHS[0]
    metrics = evaluate(model, val_tokens, 4, 16, 2, np.random.default_rng(0))
    assert math.isclose(metrics["perplexity"], math.exp(metrics["loss"]))
    assert metrics["perplexity"] < model.config.vocab_size  # better than uniform


def test_tokenizer_file_round_trips(tmp_path):
    from implementation.llm.bpe import BPETokenizer, train_bpe

    vocab, merges = train_bpe(" ".join(PARAGRAPHS), 300, special_tokens=("<|endoftext|>",))
    path = save_tokenizer(tmp_path / "tok.json", BPETokenizer(vocab, merges))
    again = load_tokenizer(path)
    assert again.vocab == vocab and again.merges == merges
    sample = "perplexity<|endoftext|>naïve 🎉"
    assert again.encode(sample) == BPETokenizer(vocab, merges).encode(sample)


def test_load_demo_without_a_run_says_what_to_do(tmp_path):
    try:
        load_demo(tmp_path)
    except FileNotFoundError as exc:
        assert "python -m demos llm" in str(exc)
    else:
        raise AssertionError("load_demo of an empty directory should raise")
