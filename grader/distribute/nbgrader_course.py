"""`make nbgrader`: an nbgrader course directory with one assignment per module.

    build/nbgrader/
      nbgrader_config.py
      source/01_self_attention/01_self_attention.ipynb   (solutions + hidden tests)
      source/01_self_attention/grader/                   (visible checks, data)
      release/01_self_attention/...                      (written by nbgrader)

New modules are picked up from `grader.course.MODULES`; nothing here names one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from .. import course
from . import helper_package, notebook

CONFIG = '''\
# nbgrader configuration of "Transformers: From Theory to Implementation" (generated).
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "transformers-from-theory"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]
# A cell that hangs (e.g. an infinite loop at the top level of a solution cell) is
# interrupted after this many seconds and loses only its own points; a check that hangs
# inside a test cell is stopped sooner by the check's own time limit (10 s by default).
c.Execute.timeout = {timeout}
c.Execute.interrupt_on_timeout = True
c.ClearSolutions.code_stub = {{
    "python": 'raise NotImplementedError("Replace this line with your solution, then run '
              'the test cell below.")'
}}
'''


def assignments() -> list[str]:
    return [notebook.assignment_name(m) for m in course.MODULES]


def write_sources(root: Path, cell_timeout: int = 120) -> list[str]:
    """Write the config and every assignment's source folder; returns the assignment names."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "nbgrader_config.py").write_text(CONFIG.format(timeout=cell_timeout))
    names = []
    for module in course.MODULES:
        name = notebook.assignment_name(module)
        folder = root / "source" / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        nbformat.write(notebook.build(module), folder / f"{name}.ipynb")
        helper_package.write(folder)
        names.append(name)
    return names


def nbgrader(root: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the real `nbgrader` command in the course directory."""
    env = dict(os.environ)
    # nbgrader runs helper commands (alembic, jupyter) from PATH: use this environment's.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=env,
                          capture_output=True, text=True, check=False)


def build(root: Path, cell_timeout: int = 120) -> list[str]:
    """Sources, then `nbgrader generate_assignment` for each; returns the assignment names."""
    names = write_sources(root, cell_timeout)
    for name in names:
        done = nbgrader(root, "generate_assignment", name, "--force")
        if done.returncode != 0:
            raise RuntimeError(f"nbgrader generate_assignment {name} failed:\n{done.stderr}")
    return names
