"""`python -m reference.transformer.bench` without PyTorch says how to get it (the timing
itself is tested in tests/parity/test_bench.py)."""

import sys

import pytest

from reference.transformer import bench


def test_bench_without_torch_points_to_make_bench(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    with pytest.raises(SystemExit, match="make bench"):
        bench.main(["--quick"])


def test_bench_is_not_copied_to_the_stubs():
    from grader import stubs

    assert "transformer/bench.py" not in stubs.generate()
