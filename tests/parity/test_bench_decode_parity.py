"""The decoding benchmark's Hugging Face side (`make bench`) runs on a tiny model: HF's greedy
`generate` gives the reference's tokens, and both sides' phases are timed."""

import numpy as np
import pytest
from implementation.transformer.gpt import GPT

from demos.run import load

bench_decode = load("bench_decode", "reference")

torch = pytest.importorskip("torch")


def test_hf_generate_gives_the_reference_tokens():
    model = GPT(bench_decode.TINY.gpt_config(), np.random.default_rng(0))
    model.params = {k: 20 * v if v.ndim == 2 else v for k, v in model.params.items()}  # peaky
    run = bench_decode.make_hf_runner(bench_decode.build_hf(model))
    prompt = np.array([[3, 1, 4, 1, 5]])
    ids, prefill, decode, total = run(prompt, 20)
    ours = bench_decode.generate(model, prompt, 20)
    assert ids.shape == (1, 25) and np.array_equal(ids, ours)
    assert 0 < prefill < total and decode > 0


def test_tiny_run_with_hf(tmp_path, capsys):
    res = bench_decode.main(["--config", "tiny", "--quick", "--threads", "1",
                             "--figure", str(tmp_path / "decode.png")])
    assert res["hf"]["tokens_identical"]
    assert all(v["decode"] > 0 and v["prefill"] > 0 for v in res["hf"]["median"].values())
    out = capsys.readouterr().out
    assert "reference / HF, decode: " in out
    assert "tokens identical to HF's (and the previous path's): yes" in out
    assert all(len(line) <= 80 for line in out.splitlines() if " " in line.strip())
    assert (tmp_path / "decode.png").exists()
