"""The benchmark of the reference GPT against PyTorch (`make bench`) runs, and times the same
model: one tiny configuration, one round."""

from demos.run import load

bench = load("bench", "reference")


def test_bench_runs_and_both_sides_compute_the_same_model(capsys):
    (result,) = bench.main(["--quick", "--config", "tiny", "--rounds", "1"])
    assert result["agreement"] < 1e-4, "loss or a gradient differs from torch's"
    assert set(result["ms"]) == {"numpy", "torch sdpa", "torch eager"}
    assert all(t > 0 for t in result["ms"].values())
    out = capsys.readouterr().out
    assert "#   tiny: 1 / 2 / 16 / 8 / 2 / 11" in out and "| tiny |" in out
    assert "threads: NumPy BLAS" in out
    assert all(len(line) <= 80 for line in out.splitlines())
