"""Committed expected values: generated from the reference by an instructor, read by checks.

`python -m grader.fixtures --target reference` (or `make fixtures`) runs the
`build_fixtures(impl, rng)` of each course module's `grader/checks/<package>/fixtures.py`
against the target through the sandbox — the grader still never imports `reference` — and
writes `grader/data/<package>.npz`.  Inputs are stored next to the outputs, so a change in
NumPy's random streams cannot silently change what is graded.

Every key starts with the id of the exercise whose checks read it: `"3.2/ln.x"`.  Checks read
them by the name after the id (`by_name("transformer")["ln.x"]`), unique within a module.

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
    """One course module's fixtures as stored: `load("self_attention")["1.1/softmax.x"]`."""
    path = DATA_DIR / f"{module}.npz"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; an instructor regenerates it with "
                                "`make fixtures`")
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    for arr in arrays.values():
        arr.setflags(write=False)  # checks copy before they perturb
    return arrays


_NAMED: dict[str, tuple[dict, dict]] = {}  # module: (what `load` gave, those by name)


def by_name(module: str) -> dict[str, np.ndarray]:
    """The fixtures of one course module by name, without the exercise id:
    `by_name("self_attention")["softmax.x"]` is `load("self_attention")["1.1/softmax.x"]`."""
    stored = load(module)
    if module not in _NAMED or _NAMED[module][0] is not stored:  # first call, or reloaded
        named = {}
        for key, arr in stored.items():
            _, name = key.split("/", 1)
            if name in named:
                raise ValueError(f"fixture {name!r} of {module} is stored under two ids")
            named[name] = arr
        _NAMED[module] = (stored, named)
    return _NAMED[module][1]


def with_ids(arrays: dict[str, np.ndarray], exercise_of) -> dict[str, np.ndarray]:
    """`arrays` with each key prefixed by its exercise's id: `exercise_of("ln.x")` -> "3.2"
    gives the key "3.2/ln.x"."""
    return {f"{exercise_of(name)}/{name}": arr for name, arr in arrays.items()}


def available() -> list[str]:
    """Names of the committed fixture files (one per package of checks)."""
    return sorted(path.stem for path in DATA_DIR.glob("*.npz"))


def build(target, modules: list[str] | None = None,
          seed: int | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Run every `build_fixtures` against `target`; returns {package: arrays}.

    `seed=None` gives the committed fixtures (each module's `FIXTURE_SEED`); any other seed
    gives every module its own stream derived from it."""
    from . import checks, course
    from .runner import resolve_target
    from .sandbox import RemoteImplementation, WorkerPool

    pool = WorkerPool(resolve_target(target), course.names_to_files())
    built = {}
    try:
        for index, name in enumerate(checks.CHECK_MODULES):
            if modules and name not in modules:
                continue
            builder = importlib.import_module(f"{checks.__name__}.{name}.fixtures")
            rng = np.random.default_rng(builder.FIXTURE_SEED if seed is None
                                        else [seed, index])
            impl = RemoteImplementation(pool, timeout=300.0)
            try:
                built[name] = builder.build_fixtures(impl, rng)
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
                        help="only this module's package, e.g. self_attention (repeatable)")
    args = parser.parse_args(argv)
    for name, arrays in build(args.target, modules=args.module, seed=args.seed).items():
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / f"{name}.npz"
        np.savez_compressed(path, **arrays)
        print(f"wrote {path} ({len(arrays)} arrays)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
