"""`make nbgrader`: an nbgrader course directory with one assignment per module.

    nbgrader-course/                                     (`make nbgrader COURSE=DIR`)
      nbgrader_config.py                                 (the instructor's: written once)
      course_config.py  course_build.json                (the course's: rewritten)
      autograder/                                        (grades: never released)
        grader/  exercises/                              (checks, hidden ones too, expected
                                                          values drawn for this build; stubs)
      source/01_self_attention/01_self_attention.ipynb   (solutions, visible test cells)
      source/01_self_attention/grader/                   (that module's visible checks, data)
      source/01_self_attention/lectures/01_self_attention/  (its lecture, linked from it)
      release/01_self_attention/...                      (written by nbgrader)
      gradebook.db  submitted/  autograded/  feedback/   (nbgrader's: never touched here)

A rebuild rewrites only what the course generates, and names the students whose grades a
change of points or checks made stale (`stale.py`).  `nbgrader autograde` does not run the
notebooks: `GradeInSandbox`, configured in `course_config.py` in place of nbgrader's
`Execute`, grades their code cells in the sandbox with `autograder/`
(`nbgrader_grading.py`).  New modules are picked up from `grader.course.MODULES`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from .. import course
from . import bundle, course_settings, helper_package, notebook, stale
from .nbgrader_shards import NBGRADER

REPO_ROOT = Path(__file__).resolve().parents[2]

def assignments() -> list[str]:
    return [notebook.assignment_name(m) for m in course.MODULES]


def write_autograder(root: Path) -> Path:
    """`root/autograder/`: the bundle (grader, expected values drawn for this build, stubs)."""
    dest = root / "autograder"
    if dest.exists():
        shutil.rmtree(dest)
    return bundle.write(dest, bundle.secret_fixtures())


def write_sources(root: Path, cell_timeout: int = 120,
                  modules: tuple[course.Module, ...] = course.MODULES,
                  say=print, lectures_url: str = "") -> list[str]:
    """Write the settings, the autograder and the source folder of each module's
    assignment (linking to the lectures at `lectures_url`, else shipping each module's
    lecture with it); returns the assignment names."""
    root.mkdir(parents=True, exist_ok=True)
    for line in course_settings.write(root, cell_timeout):
        say(line)
    write_autograder(root)
    names = []
    for module in modules:
        name = notebook.assignment_name(module)
        folder = root / "source" / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        nbformat.write(notebook.build(module, lectures_url), folder / f"{name}.ipynb")
        helper_package.write(folder, module)
        if not lectures_url:  # the notebook links to its lecture: it goes with it
            shutil.copytree(REPO_ROOT / module.lecture_dir, folder / module.lecture_dir,
                            ignore=shutil.ignore_patterns("__pycache__", ".*"))
        names.append(name)
    return names


def nbgrader(root: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the real `nbgrader` command in the course directory."""
    env = dict(os.environ)
    # nbgrader runs helper commands (alembic, jupyter) from PATH: use this environment's.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run([*NBGRADER, *args], cwd=root, env=env,
                          capture_output=True, text=True, check=False)


def build(root: Path, cell_timeout: int = 120,
          modules: tuple[course.Module, ...] = course.MODULES, say=print,
          lectures_url: str = "") -> list[str]:
    """Sources, then `nbgrader generate_assignment` for each; returns the assignment names.
    The gradebook, submissions and the instructor's settings are left as they are; `say`
    gets a warning for each assignment whose existing grades the rebuild made stale."""
    names = write_sources(root, cell_timeout, modules, say, lectures_url)
    for name in names:
        done = nbgrader(root, "generate_assignment", name, "--force")
        if done.returncode != 0:
            raise RuntimeError(f"nbgrader generate_assignment {name} failed:\n{done.stderr}")
    for line in stale.record(root, modules):
        say(line)
    return names
