"""The quantization report (given code next to exercise 4.7) on a small random GPT: memory
accounting, the fp32 row, the ordering of the errors, and the model left untouched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from columns import long_lines
from implementation.llm.quantization import dequantize_int8, quantize_int8
from implementation.transformer.gpt import GPT, GPTConfig

from demos.llm.quantization_report import (
    format_quantization_report,
    quantization_report,
    quantize_params,
    weight_matrices,
)

CONFIG = GPTConfig(vocab_size=40, block_size=16, n_layer=2, n_head=2, n_embd=32)
GROUPS = (8, 16, 32)


@pytest.fixture(scope="module")
def model():
    m = GPT(CONFIG, rng=np.random.default_rng(0))
    for name in weight_matrices(m.params):  # trained-like scale: logits that matter
        m.params[name] *= 10
    m.params["h.0.mlp.c_fc.weight"][3, 5] = 8.0  # one outlier: per-tensor int8 pays for it
    return m


@pytest.fixture(scope="module")
def tokens():
    return np.random.default_rng(1).integers(0, CONFIG.vocab_size, size=70)


@pytest.fixture(scope="module")
def rows(model, tokens):
    before = {k: v.copy() for k, v in model.params.items()}
    rows = quantization_report(model, tokens, block_size=16, group_sizes=GROUPS, batch_size=3)
    assert all(np.array_equal(before[k], model.params[k]) for k in before), "model modified"
    return {r["scheme"]: r for r in rows}


def test_rows_and_memory_accounting(model, rows):
    assert list(rows) == ["fp32", "int8 per-tensor", "int8 per-channel",
                          "int4 group 8", "int4 group 16", "int4 group 32"]
    names = weight_matrices(model.params)
    assert set(names) == {"wte.weight", "wpe.weight"} | {
        f"h.{i}.{m}.weight" for i in range(2)
        for m in ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")}
    n = sum(model.params[k].size for k in names)
    # output channels: columns of the linear weights, rows of the embedding tables
    channels = sum(model.params[k].shape[0 if k in ("wte.weight", "wpe.weight") else 1]
                   for k in names)
    assert rows["fp32"]["total_bytes"] == 4 * n and rows["fp32"]["bits_per_weight"] == 32
    assert rows["int8 per-tensor"]["total_bytes"] == n + 4 * len(names)
    assert rows["int8 per-channel"]["total_bytes"] == n + 4 * channels
    for g in GROUPS:
        r = rows[f"int4 group {g}"]
        assert (r["weight_bytes"], r["scale_bytes"]) == (n // 2, 4 * n // g)
        assert r["bits_per_weight"] == pytest.approx(4 + 32 / g)
        assert r["compression"] == pytest.approx(32 / (4 + 32 / g))


def test_fp32_row_is_the_model(model, tokens, rows):
    r = rows["fp32"]
    assert r["max_abs_dlogits"] == 0 and r["dppl"] == 0 and r["top1_agreement"] == 1
    idx = tokens[:64].reshape(4, 16)
    targets = tokens[1:65].reshape(4, 16)
    assert r["loss"] == pytest.approx(float(model.loss(idx, targets)), rel=1e-5)
    assert r["perplexity"] == pytest.approx(np.exp(r["loss"]))


def test_errors_order_as_the_theory_says(rows):
    per_tensor, per_channel = rows["int8 per-tensor"], rows["int8 per-channel"]
    assert 0 < per_channel["mean_abs_dlogits"] < per_tensor["mean_abs_dlogits"]
    for g in GROUPS:
        assert rows[f"int4 group {g}"]["mean_abs_dlogits"] > per_channel["mean_abs_dlogits"]
    int4 = [rows[f"int4 group {g}"]["mean_abs_dlogits"] for g in GROUPS]
    assert int4 == sorted(int4), "larger groups should err more"
    assert abs(per_channel["dppl"]) < abs(rows["int4 group 32"]["dppl"])


def test_quantized_params_are_the_dequantized_weights(model):
    params, _, _ = quantize_params(model.params, 8, 1)
    w = model.params["h.1.attn.c_proj.weight"]
    np.testing.assert_array_equal(params["h.1.attn.c_proj.weight"],
                                  dequantize_int8(*quantize_int8(w, axis=1)))
    wte = model.params["wte.weight"]  # tied table: one scale per token (row)
    q, scale = quantize_int8(wte, axis=0)
    np.testing.assert_array_equal(params["wte.weight"], dequantize_int8(q, scale))
    assert params["ln_f.weight"] is model.params["ln_f.weight"]


def test_group_size_must_divide_the_input_dimension(model, tokens):
    with pytest.raises(ValueError, match="group_size 24"):
        quantization_report(model, tokens, block_size=16, group_sizes=(24,))


def test_table_lists_every_scheme(rows):
    table = format_quantization_report(list(rows.values()))
    for label in rows:
        assert label in table
    assert "MB" in table and "ppl" in table


def test_bench_quantization_on_a_quick_pretraining_run(tmp_path, capsys, monkeypatch):
    """`python -m demos bench_quantization --demo DIR` on a quick run of the pretraining demo."""
    from demos.llm import bench_quantization, pretrain_demo

    monkeypatch.chdir(tmp_path)  # short relative paths in the output, as a user's would be
    corpus = Path("corpus.txt")
    corpus.write_text("Attention weighs every earlier token; the cache keeps keys and values. "
                      * 200, encoding="utf-8")
    pretrain_demo.run(corpus=corpus, out=Path("run"), quick=True, steps=5)
    assert bench_quantization.main(["--demo", "run"]) == 0
    out = capsys.readouterr().out
    assert not long_lines(out)
    assert "Quantization of the pretrained demo GPT" in out and "int4" in out
