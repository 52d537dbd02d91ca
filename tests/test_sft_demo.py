"""The SFT demo (`python -m demos sft`), on the reference: a quick run fine-tunes both variants,
prints progress and a summary and draws the figure; the new special tokens and embedding
rows leave the base model's predictions unchanged."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
from columns import long_lines
from conftest import REPO
from implementation.llm.bpe import BPETokenizer
from implementation.llm.sft import IGNORE, SPECIAL_TOKENS, apply_chat_template
from implementation.transformer.gpt import GPT, GPTConfig

from demos.llm.sft_demo import (
    QUICK,
    add_special_tokens,
    encode_all,
    greedy_answers,
    make_data,
    resize_embeddings,
)


def test_quick_demo_runs_both_variants_and_draws(tmp_path):
    done = subprocess.run([sys.executable, "-W", "error", "-m", "demos", "sft",
                           "--target", "reference", "--quick", "--out", str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert not long_lines(text + done.stderr)
    assert "OPENBLAS_NUM_THREADS=1" in text  # re-ran itself with one BLAS thread
    assert re.search(r"step +\d+/\d+ +loss \d+\.\d+ +[\d,]+ tokens/s +ETA", text), text
    assert "<|assistant|>\n" in text  # the example conversation is shown in the template
    for variant in ("assistant tokens only", "all tokens"):
        assert re.search(rf"\n  {variant} +\d+\.\d%   \d", text), text
    assert (tmp_path / "sft_masking.png").stat().st_size > 10_000


def _tiny():
    vocab = {i: bytes([i]) for i in range(256)}
    vocab[256] = b"<|endoftext|>"
    tok = add_special_tokens(BPETokenizer(vocab, []), SPECIAL_TOKENS)
    model = GPT(GPTConfig(vocab_size=257, block_size=128, n_layer=1, n_head=2, n_embd=8,
                          dtype="float64"), np.random.default_rng(0))
    return tok, model


def test_new_tokens_and_rows_keep_the_old_predictions():
    tok, model = _tiny()
    assert [tok.special_ids[s] for s in SPECIAL_TOKENS] == [257, 258, 259, 260]
    big = resize_embeddings(model, len(tok.vocab))
    assert big.params["wte.weight"].shape == (261, 8)
    np.testing.assert_allclose(big.params["wte.weight"][257:],
                               np.tile(model.params["wte.weight"].mean(0), (4, 1)))
    idx = np.array([[72, 105, 33, 10]])
    np.testing.assert_allclose(big.forward(idx)[..., :257], model.forward(idx), rtol=1e-12)


def test_both_targets_agree_on_the_assistant_tokens():
    tok, _ = _tiny()
    train, val = make_data(QUICK, 0)
    def letters(conversations):
        return {m[-1]["content"] for m, task in conversations if task == "reverse"}

    assert not letters(val) & letters(train)  # held-out strings never occur in training
    for inputs, assistant, everything in encode_all(train[:20], tok):
        ids = np.append(inputs, everything[-1])
        assert np.array_equal(everything, ids[1:])  # the loss on every next token
        kept = assistant != IGNORE
        assert np.array_equal(assistant[kept], everything[kept]) and 0 < kept.sum() < len(ids)


def test_greedy_answers_stop_at_end_and_read_each_rows_last_position():
    tok, model = _tiny()
    model = resize_embeddings(model, len(tok.vocab))
    prompts = [np.array(tok.encode(apply_chat_template(
        [{"role": "user", "content": "x" * n}], add_generation_prompt=True))) for n in (1, 4)]
    batched = greedy_answers(model, prompts, 260, 5, pad_id=0)
    alone = [greedy_answers(model, [p], 260, 5, pad_id=0)[0] for p in prompts]
    assert batched == alone
