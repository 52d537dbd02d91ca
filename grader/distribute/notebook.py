"""Build an nbgrader *source* notebook for one course module.

Cells, in order: an introduction; then per exercise a heading, the given code of its file
(first time only, locked), one solution cell (the reference code with its `### BEGIN/END
SOLUTION` markers, for nbgrader to strip) and one autograded test cell worth the grader's
points.  Test cells run the visible checks from the `grader` helper package shipped next to
the notebook: feedback while a student works.  The grade is not theirs: `nbgrader autograde`
grades the solution cells outside the notebook, hidden checks included, and writes each test
cell's verdict (`nbgrader_grading.py`).  No hidden check is in any notebook.
"""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from .. import checks, course
from . import sources


def _meta(grade_id: str, *, solution=False, grade=False, locked=True, points=None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def _slug(exercise_id: str) -> str:
    return "ex" + exercise_id.replace(".", "_")


def test_cell_source(ex: course.Exercise) -> str:
    """The visible checks, the points as the cell's value; a word on how grading differs."""
    hidden = any(c.hidden for c in checks.checks_for(ex.id))
    return "\n".join([
        f"# The visible checks of exercise {ex.id}. When your notebook is graded, your "
        "solution cells",
        "# run on their own, outside this notebook"
        + (", and hidden checks run too." if hidden else "."),
        "from grader.local import CellGrade",
        "",
        f'CellGrade("{ex.id}", globals()).run_visible().points()',
    ])


def build(module: course.Module, lectures_url: str = "") -> nbformat.NotebookNode:
    """The source notebook of `module`'s assignment.  Its links point into `lectures_url`
    (where the lectures are published) or, without one, to the lecture shipped next to the
    notebook."""
    base = f"{lectures_url.rstrip('/')}/" if lectures_url else ""
    where = "" if lectures_url else ", next to this notebook"
    exercises = [ex for ex in course.EXERCISES if ex.module == module]
    total = sum(ex.points for ex in exercises)
    table = "\n".join(f"| {ex.id} | {ex.title} | `{'`, `'.join(ex.names)}` | {ex.points} |"
                      for ex in exercises)
    intro = (
        f"# Module {module.number} — {module.title}\n\n"
        f"Transformers: From Theory to Implementation. This assignment has {len(exercises)} "
        f"exercises worth {total} points. The lecture notes are "
        f"[`{module.lecture_dir}/theory.md`]({base}{module.lecture_dir}/theory.md){where}; "
        "each exercise below links to its section.\n\n"
        "| id | exercise | you implement | points |\n|---|---|---|---|\n"
        f"{table}\n\n"
        "**How to work.** Replace each `raise NotImplementedError(...)` line with your code, "
        "run the cell, then run the test cell below it: it prints what is wrong and what "
        "you earn. Run the cells in order — later exercises call earlier ones. Keep the "
        "`grader/` folder next to this notebook: the tests use it.\n\n"
        "**How it is graded.** Each solution cell is graded on its own, outside this "
        "notebook: it runs after the given code of its exercise's file, so define any helper "
        "you write in the same cell that uses it. Some checks are hidden and only run when "
        "your notebook is graded, so test your code beyond what the visible checks try."
    )
    cells = [new_markdown_cell(intro, metadata=_meta(f"m{module.number}_intro"))]
    given = sources.given_files(module)
    if given:
        cells.append(new_markdown_cell(
            "## Given: the code this module builds on\n\nThe reference solutions of the "
            "functions this module calls from earlier modules, and the helpers given with "
            "this module, so that this notebook stands alone. Run these cells first.",
            metadata=_meta(f"m{module.number}_given")))
        for path in given:
            rel = path.relative_to(sources.REPO_ROOT / "reference").as_posix()
            kind = "solved" if sources.split_file(path).by_exercise else "a given helper"
            cells.append(new_code_cell(f"# Given: {rel} ({kind})\n" + sources.full_source(path),
                                       metadata=_meta(f"given_{rel.replace('/', '_')[:-3]}")))
    files = {parts.path.name: parts for parts in sources.module_files(module)}
    given_done: set[str] = set()
    for ex in exercises:
        slug = _slug(ex.id)
        cells.append(new_markdown_cell(
            f"## Exercise {ex.id} — {ex.title} ({ex.points} points)\n\n"
            f"Implement `{'`, `'.join(ex.names)}`. Read the lecture's section "
            f"[*{ex.section}*]({base}{ex.lecture_link}).", metadata=_meta(f"{slug}_intro")))
        parts = files[ex.file]
        if ex.file not in given_done and parts.given.strip():
            given_done.add(ex.file)
            cells.append(new_code_cell(
                f"# Given code from {ex.module.package}/{ex.file} (not an exercise)\n"
                + parts.given, metadata=_meta(f"given_{ex.file.removesuffix('.py')}")))
        cells.append(new_code_cell(parts.by_exercise[ex.id].rstrip("\n"),
                                   metadata=_meta(slug, solution=True, locked=False)))
        cells.append(new_code_cell(test_cell_source(ex),
                                   metadata=_meta(f"{slug}_tests", grade=True,
                                                  points=ex.points)))
    notebook = new_notebook(cells=cells)
    notebook.metadata.update({
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    })
    return notebook


def assignment_name(module: course.Module) -> str:
    return f"{module.number:02d}_{module.package}"
