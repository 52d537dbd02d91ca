"""The implementation a demo runs on: ``--target exercises|reference|DIR``.

A demo imports the course's functions from the package ``implementation``::

    from implementation.transformer.gpt import GPT

and ``use(target)`` makes that package stand for the chosen folder, as the grader imports
any target under one name whatever its folder's (``grader/sandbox/worker.py``). The folder
is found by the grader's own ``resolve_target``; every module folder in it becomes a package
whose ``__init__.py`` never runs, so a broken file costs only the demos that import it.

One process runs on one implementation: the first ``use`` decides, and the demo modules are
imported after it (``python -m demos`` does both).
"""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

from grader.runner import resolve_target

PACKAGE = "implementation"


def use(target: str | os.PathLike) -> Path:
    """Bind ``implementation`` to ``target``'s folder; returns the folder."""
    root = resolve_target(target)
    bound = sys.modules.get(PACKAGE)
    if bound is not None:
        if Path(bound.__path__[0]) != root:
            raise RuntimeError(f"this process already runs on {bound.__path__[0]}; "
                               f"run {root} in a new process")
        return root
    _package(PACKAGE, root)
    for folder in sorted(root.iterdir()):
        if folder.is_dir() and any(folder.glob("*.py")):
            _package(f"{PACKAGE}.{folder.name}", folder)
    return root


def _package(dotted: str, folder: Path) -> None:
    module = types.ModuleType(dotted)
    module.__path__ = [str(folder)]
    module.__package__ = dotted
    sys.modules[dotted] = module
