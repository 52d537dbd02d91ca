"""Shared helpers of the project's tests."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # `import grader` also without the editable install


@pytest.fixture
def submission(tmp_path):
    """A copy of reference/ to break on purpose; returns its path."""
    target = tmp_path / "submission"
    shutil.copytree(REPO / "reference", target,
                    ignore=shutil.ignore_patterns("__pycache__"))
    return target
