"""Committed expected values: generated from the reference by an instructor, read by checks.

`python -m grader.fixtures --target reference` (or `make fixtures`) runs each check module's
`build_fixtures(impl, rng)` against the target through the sandbox — the grader still never
imports `reference` — and writes `grader/data/<module>.npz`.  Inputs are stored next to the
outputs, so a change in NumPy's random streams cannot silently change what is graded.

Every input is drawn from `rng`.  The committed files use each module's `FIXTURE_SEED`; the
autograders that grade at stakes (`make gradescope`, `make nbgrader`) build their own from a
seed drawn at build time and never written down, so a table of the public values earns
nothing there.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import sys
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent / "data"


@functools.cache
def load(module: str) -> dict[str, np.ndarray]:
    """The fixtures of one course module, e.g. `load("self_attention")["softmax.x"]`."""
    path = DATA_DIR / f"{module}.npz"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; an instructor regenerates it with "
                                "`make fixtures`")
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    for arr in arrays.values():
        arr.setflags(write=False)  # checks copy before they perturb
    return arrays


def available() -> list[str]:
    """Names of the committed fixture files (one per check module that has fixtures)."""
    return sorted(path.stem for path in DATA_DIR.glob("*.npz"))


def build(target, modules: list[str] | None = None,
          seed: int | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Run every `build_fixtures` against `target`; returns {module: arrays}.

    `seed=None` gives the committed fixtures (each module's `FIXTURE_SEED`); any other seed
    gives every module its own stream derived from it."""
    from . import checks, course
    from .runner import resolve_target
    from .sandbox import RemoteImplementation, WorkerPool

    pool = WorkerPool(resolve_target(target), course.names_to_files())
    built = {}
    try:
        for index, name in enumerate(checks.CHECK_MODULES):
            check_module = importlib.import_module(f"{checks.__name__}.{name}")
            if (modules and name not in modules) or not hasattr(check_module, "build_fixtures"):
                continue  # not asked for, or checks from math alone
            rng = np.random.default_rng(check_module.FIXTURE_SEED if seed is None
                                        else [seed, index])
            impl = RemoteImplementation(pool, timeout=300.0)
            try:
                built[name] = check_module.build_fixtures(impl, rng)
            finally:
                impl.close()
    finally:
        pool.close()
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.fixtures",
                                     description="Instructor-only: regenerate grader/data/*.npz")
    parser.add_argument("--target", default="reference")
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    parser.add_argument("--seed", type=int, default=None,
                        help="draw every input from this seed (default: the committed fixtures)")
    parser.add_argument("--module", action="append", metavar="NAME",
                        help="only this check module, e.g. self_attention (repeatable)")
    args = parser.parse_args(argv)
    for name, arrays in build(args.target, modules=args.module, seed=args.seed).items():
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / f"{name}.npz"
        np.savez_compressed(path, **arrays)
        print(f"wrote {path} ({len(arrays)} arrays)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
