"""`make nbgrader`: an nbgrader course directory with one assignment per module.

    build/nbgrader/
      nbgrader_config.py
      autograder/                                        (grades: never released)
        grader/  exercises/                              (checks, hidden ones too, expected
                                                          values drawn for this build; stubs)
      source/01_self_attention/01_self_attention.ipynb   (solutions, visible test cells)
      source/01_self_attention/grader/                   (visible checks, data)
      release/01_self_attention/...                      (written by nbgrader)

`nbgrader autograde` does not run the notebooks: `GradeInSandbox`, configured in
`nbgrader_config.py` in place of nbgrader's `Execute`, grades their solution cells in the
sandbox with `autograder/` (`nbgrader_grading.py`).  New modules are picked up from
`grader.course.MODULES`; nothing here names one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from .. import course
from . import bundle, helper_package, notebook

CONFIG = '''\
# nbgrader configuration of "Transformers: From Theory to Implementation" (generated).
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "autograder"))  # the grader that autograde uses

c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "transformers-from-theory"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]
# Autograde grades the solution cells outside any kernel, in the grader's sandbox, instead of
# running the notebooks (nbgrader's Execute): a student's cell cannot change its own score.
c.Autograde.autograde_preprocessors = [
    "grader.distribute.nbgrader_grading.GradeInSandbox",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.GradeInSandbox.course_root = HERE
c.GradeInSandbox.bundle = os.path.join(HERE, "autograder")
# Student code runs confined: as this unprivileged user when autograde runs as root (create
# it first, e.g. `useradd --system --no-create-home course-sandbox`); otherwise as you, under
# Landlock (Linux 5.13+).  Where neither is possible, grading stops and says so; setting
# require_confinement to False grades anyway, trusting the submissions.
c.GradeInSandbox.sandbox_user = ""
c.GradeInSandbox.memory_limit = 4.0  # GiB
c.GradeInSandbox.require_confinement = True
# Validating a notebook (`nbgrader validate`) still runs it in a kernel: a cell that hangs
# is interrupted after this many seconds.
c.Execute.timeout = {timeout}
c.Execute.interrupt_on_timeout = True
c.ClearSolutions.code_stub = {{
    "python": 'raise NotImplementedError("Replace this line with your solution, then run '
              'the test cell below.")'
}}
'''


def assignments() -> list[str]:
    return [notebook.assignment_name(m) for m in course.MODULES]


def write_autograder(root: Path) -> Path:
    """`root/autograder/`: the bundle (grader, expected values drawn for this build, stubs)."""
    dest = root / "autograder"
    if dest.exists():
        shutil.rmtree(dest)
    return bundle.write(dest, bundle.secret_fixtures())


def write_sources(root: Path, cell_timeout: int = 120,
                  modules: tuple[course.Module, ...] = course.MODULES) -> list[str]:
    """Write the config, the autograder and the source folder of each module's assignment;
    returns the assignment names."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "nbgrader_config.py").write_text(CONFIG.format(timeout=cell_timeout))
    write_autograder(root)
    names = []
    for module in modules:
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


def build(root: Path, cell_timeout: int = 120,
          modules: tuple[course.Module, ...] = course.MODULES) -> list[str]:
    """Sources, then `nbgrader generate_assignment` for each; returns the assignment names."""
    names = write_sources(root, cell_timeout, modules)
    for name in names:
        done = nbgrader(root, "generate_assignment", name, "--force")
        if done.returncode != 0:
            raise RuntimeError(f"nbgrader generate_assignment {name} failed:\n{done.stderr}")
    return names
