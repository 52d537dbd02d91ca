"""Run a Gradescope autograder zip as Gradescope does, in a folder laid out like /autograder."""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path


def run(zip_path: Path, root: Path, files: dict[str, str | bytes], env: dict[str, str],
        timeout: float = 300) -> tuple[subprocess.CompletedProcess, dict | None]:
    """Unpack the autograder into `root/source`, put `files` in `root/submission`, run
    `run_autograder` with `env` (see the `gradescope_env` fixture); returns the finished
    process and results.json (None if it was not written)."""
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(root / "source")
    (root / "submission").mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        path = root / "submission" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    done = subprocess.run(["bash", str(root / "source" / "run_autograder")],
                          env={**os.environ, "AUTOGRADER_ROOT": str(root), **env},
                          capture_output=True, text=True, timeout=timeout)
    results = root / "results" / "results.json"
    return done, (json.loads(results.read_text()) if results.exists() else None)
