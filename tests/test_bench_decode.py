"""`python -m demos bench_decode` (the decoding half of `make bench`) in its tiny
configuration, without PyTorch: it runs in seconds and writes its report and its figure (the
Hugging Face side is tested in tests/parity/test_bench_decode_parity.py)."""

import sys
from types import SimpleNamespace

import numpy as np
import pytest
from columns import long_lines
from implementation.transformer.gpt import GPTConfig, gpt_param_shapes

from demos.run import load

bench_decode = load("bench_decode", "reference")


def test_tiny_run_reports_and_plots(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the figure's path as a user gives it, whatever tmp_path is
    figure = tmp_path / "decode.png"
    res = bench_decode.main(["--config", "tiny", "--no-torch", "--quick", "--threads", "1",
                             "--figure", "decode.png"])
    out = capsys.readouterr().out
    assert not long_lines(out)
    assert figure.exists() and figure.stat().st_size > 1000
    assert "memory bandwidth, streaming read" in out and "roofline" in out
    assert "| length | cached tok/s | uncached tok/s" in out
    assert "threads: NumPy BLAS 1" in out
    assert res["nocache"]["tokens_identical"], "cached and uncached generate disagree"
    assert [row["length"] for row in res["sweep"]] == list(bench_decode.TINY.sweep)
    rates = [res["reference_decode"], res["roofline_tokens_per_s"]]
    rates += [row[k] for row in res["sweep"] for k in ("cached", "uncached")]
    assert all(np.isfinite(r) and r > 0 for r in rates)
    assert all(v > 0 for k, v in res["bandwidth"].items() if k != "read method")
    assert "hf" not in res


def test_weight_bytes_of_gpt2_small():
    """Every parameter once but one row of wpe: 12 (12 C^2 + 13 C) + V C + 2 C + C floats."""
    cfg = GPTConfig()
    model = SimpleNamespace(config=cfg, params={
        name: np.empty(shape, np.float32) for name, shape in gpt_param_shapes(cfg).items()})
    C, V = 768, 50257
    assert bench_decode.weight_bytes_per_token(model) == 4 * (
        12 * (12 * C * C + 13 * C) + V * C + 2 * C + C)  # 494.6 MB
    assert bench_decode.kv_bytes_per_token(model, 100) == 4 * 2 * 12 * 100 * C


def test_without_torch_points_to_make_bench(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    with pytest.raises(SystemExit, match="make bench"):
        bench_decode.main(["--config", "tiny", "--quick"])

