"""Parity tests: the reference against PyTorch (``make parity``).

Every test in this folder gets the ``parity`` mark. The test modules import torch plainly: a
missing torch is an error here, not a skip. A run whose ``-m`` expression deselects parity
tests (``make test`` uses ``-m 'not parity'``) does not collect this folder at all, so it
needs no torch.
"""

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _parity_deselected(config):
    """True if the -m expression would drop a test marked only ``parity``."""
    markexpr = config.getoption("markexpr", default="") or ""
    if not markexpr:
        return False
    try:  # pytest's own evaluator (private API; fall back to a plain reading if it moves)
        from _pytest.mark.expression import Expression

        return not Expression.compile(markexpr).evaluate(lambda name, **kwargs: name == "parity")
    except Exception:
        return "not parity" in " ".join(markexpr.split())


def pytest_ignore_collect(collection_path, config):
    if collection_path.suffix == ".py" and _parity_deselected(config):
        return True
    return None


@pytest.hookimpl(tryfirst=True)  # before pytest's -m filter looks at the marks
def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.parity)
