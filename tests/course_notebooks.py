"""Module 1's notebooks as students hand them in, for the tests of nbgrader and Gradescope:
the release completed with the reference's solutions, and variants of it."""

from __future__ import annotations

from pathlib import Path

import nbformat

from grader import course
from grader.distribute import sources

ASSIGNMENT = "01_self_attention"
TOTAL = sum(ex.points for ex in course.EXERCISES if ex.module.number == 1)
HANG_POINTS = course.BY_ID["1.3"].points
HANGING_CAUSAL_MASK = '''def causal_mask(t_q, t_k=None):
    while True:
        pass
'''


def solved(source_cell: str) -> str:
    return "".join(line for line in source_cell.splitlines(keepends=True)
                   if line.strip() not in (sources.BEGIN, sources.END))



def notebook_for(course_dir: Path, student: str,
                 assignment: str = ASSIGNMENT) -> nbformat.NotebookNode:
    release = nbformat.read(course_dir / "release" / assignment / f"{assignment}.ipynb", 4)
    if student == "untouched":
        return release
    source = nbformat.read(course_dir / "source" / assignment / f"{assignment}.ipynb", 4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in release.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = solved(answers[grade_id])
            if student == "noisy" and grade_id == "ex1_1":  # correct, but warns and prints
                cell.source = "import sys\nimport warnings\n\n" + cell.source.replace(
                    '    """\n', '    """\n    warnings.warn("student warning")\n'
                    '    print("student stderr", file=sys.stderr)\n', 1)
            if student == "hangs" and grade_id == "ex1_3":
                start = cell.source.index("def causal_mask")
                end = cell.source.index("def padding_mask")
                cell.source = cell.source[:start] + HANGING_CAUSAL_MASK + "\n\n" + \
                    cell.source[end:]
    return release
