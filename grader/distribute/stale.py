"""Which grades a rebuild makes stale: the students graded before an assignment changed.

Every build records what each assignment grades (`course_build.json`: each exercise's points
and its checks with their weights and visibility).  When a rebuild changes that for an
assignment that already has graded submissions, those students' grades were computed by the
old checks: the instructor is told who they are and how to re-grade them.
"""

from __future__ import annotations

import json
from pathlib import Path

from .. import checks, course

MANIFEST = "course_build.json"


def signature(module: course.Module) -> dict:
    """What an assignment grades: per exercise, its points and its checks."""
    return {ex.id: {"points": ex.points,
                    "checks": [[c.name, c.weight, c.hidden] for c in checks.checks_for(ex.id)]}
            for ex in course.EXERCISES if ex.module == module}


def changes(old: dict, new: dict) -> list[str]:
    """What differs between two signatures of an assignment, in words."""
    found = []
    for ex_id in sorted(set(old) | set(new), key=lambda i: tuple(map(int, i.split(".")))):
        before, after = old.get(ex_id), new.get(ex_id)
        if before is None or after is None:
            found.append(f"{ex_id} {'added' if before is None else 'removed'}")
        elif before["points"] != after["points"]:
            found.append(f"{ex_id} worth {after['points']} points (was {before['points']})")
        elif before["checks"] != after["checks"]:
            found.append(f"{ex_id}'s checks")
    return found


def graded_students(root: Path, assignment: str) -> list[str]:
    """Students with a submission of `assignment` in the course's gradebook."""
    if not (root / "gradebook.db").exists():
        return []
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        try:
            return sorted(s.student_id for s in gb.assignment_submissions(assignment))
        except MissingEntry:
            return []


def record(root: Path, modules: tuple[course.Module, ...]) -> list[str]:
    """Write this build's manifest; return a warning per changed assignment with grades."""
    path = root / MANIFEST
    old = json.loads(path.read_text()) if path.exists() else {}
    new = dict(old)
    warnings = []
    for module in modules:
        name = f"{module.number:02d}_{module.package}"
        new[name] = signature(module)
        if name not in old or old[name] == new[name]:
            continue
        students = graded_students(root, name)
        if students:
            shown = ", ".join(students[:10]) + (" …" if len(students) > 10 else "")
            warnings.append(
                f"{name} changed since its last build ({'; '.join(changes(old[name], new[name]))})"
                f": the grades of {len(students)} student(s) come from the old checks. Re-grade "
                f"them with `nbgrader autograde {name} --force` ({shown}).")
    path.write_text(json.dumps(new, indent=1) + "\n")
    return warnings
