"""Parity tests: the reference against PyTorch / Hugging Face (`make parity`).

Every test in this folder gets the `parity` mark.  The modules import torch plainly: a
missing torch is an error here, not a skip.  `make test` leaves this folder out
(`--ignore=tests/parity`), so the student/test environment needs no torch.
"""

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)  # before pytest's -m filter looks at the marks
def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.parity)
