"""`python -m demos bench` without PyTorch says how to get it (the timing itself is tested
in tests/parity/test_bench_parity.py)."""

import sys

import pytest

from demos.run import load

bench = load("bench", "reference")


def test_bench_without_torch_points_to_make_bench(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    with pytest.raises(SystemExit, match="make bench"):
        bench.main(["--quick"])
