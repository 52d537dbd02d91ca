"""What grades at stakes: the grader with expected values no student has seen, and the stubs.

Both autograders (the Gradescope zip, the nbgrader course's `autograder/` folder) carry the
whole `grader/` package (hidden checks included: students never receive it) and `exercises/`
(stand-ins for files a submission lacks).  Their `grader/data/` is not the committed one: it
is rebuilt from the reference with a seed drawn here, used once and never written down, so a
lookup table of the public fixtures earns nothing (`grader.fixtures`).
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .. import fixtures

REPO_ROOT = Path(__file__).resolve().parents[2]
SKIPPED = {"__pycache__"}


def secret_fixtures() -> dict[str, bytes]:
    """Every fixture file, built from a fresh secret seed: {file name: .npz bytes}."""
    built = fixtures.build("reference", seed=secrets.randbits(62))
    files = {}
    for name, arrays in built.items():
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        files[f"{name}.npz"] = buffer.getvalue()
    return files


def files(data: dict[str, bytes]) -> Iterator[tuple[str, bytes]]:
    """(path inside the bundle, content) of the grader, with `data` as its fixtures, and the
    stubs."""
    grader = REPO_ROOT / "grader"
    for path in sorted(grader.rglob("*")):
        rel = path.relative_to(grader)
        if not path.is_file() or SKIPPED & set(rel.parts) or path.suffix == ".pyc":
            continue
        if rel.parts[0] == "data":
            continue  # the committed fixtures stay behind
        yield f"grader/{rel.as_posix()}", path.read_bytes()
    for name, content in sorted(data.items()):
        yield f"grader/data/{name}", content
    stubs = REPO_ROOT / "exercises"
    for path in sorted(stubs.rglob("*.py")):
        if not SKIPPED & set(path.parts):
            yield f"exercises/{path.relative_to(stubs).as_posix()}", path.read_bytes()


def write(dest: Path, data: dict[str, bytes]) -> Path:
    """The bundle as a folder (the nbgrader course's `autograder/`)."""
    for rel, content in files(data):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return dest
