"""The score `nbgrader autograde` records, computed outside the student's kernel.

nbgrader's own autograding runs the notebook in a kernel the student's cells control: a cell
can patch the test helpers, or install an input transformer that empties every later cell,
and a test cell that raises nothing earns full points.  `GradeInSandbox` takes the place of
nbgrader's `Execute` step (the generated `nbgrader_config.py` sets this up): it lays the
notebook's code cells out as a package (`cells.py`), grades that with the same sandboxed
grader as `make grade` (hidden checks and expected values from the course's `autograder/`
folder, which students never receive), and writes each test cell's output: what every check
found, hidden ones by their description only, and the points earned as the cell's value,
which nbgrader's `SaveAutoGrades` records.  Student code never runs in nbgrader's process or
in a kernel, and runs confined (`grader.sandbox`): as `sandbox_user` when autograde runs as
root, else as the instructor's user under Landlock; with neither, it refuses to grade unless
`require_confinement` is turned off.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, Float, Unicode

from .. import course
from ..report import checks_json, write_json
from ..results import describe_checks, status_of
from ..runner import grade
from ..sandbox import Limits, SandboxUnavailable
from ..sandbox.launch import GiB
from .cells import grade_id, write_package


class GradeInSandbox(NbGraderPreprocessor):
    """Grade the solution cells in the sandbox; write each test cell's verdict and points."""

    course_root = Unicode("", help="The nbgrader course folder: student code may not read "
                                   "it (submissions, gradebook, source).").tag(config=True)
    bundle = Unicode("", help="The course's autograder folder (grader, hidden checks, "
                              "expected values, stubs).").tag(config=True)
    sandbox_user = Unicode("", help="Run student code as this unprivileged user (autograde "
                                    "must then run as root).").tag(config=True)
    memory_limit = Float(4.0, help="Address space of student code, in GiB.").tag(config=True)
    require_confinement = Bool(True, help="Refuse to grade where student code cannot be "
                                          "confined (not root, and no Landlock).").tag(config=True)
    checks_dir = Unicode("", help="Where each notebook's check verdicts go, as "
                                  "<assignment>/<student>.json (for class reports); default: "
                                  "reports/checks in the course folder.").tag(config=True)

    def preprocess(self, nb, resources):
        cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
        module = next((ex.module for ex in course.EXERCISES if f"{grade_id(ex)}_tests" in cells),
                      None)
        if module is None:
            return nb, resources
        exercises = [ex for ex in course.EXERCISES if ex.module == module]
        work = Path(tempfile.mkdtemp(prefix="nbgrader-submission-"))
        try:
            package = write_package(nb.cells, module, Path(self.bundle) / "exercises",
                                    work / "package")
            for path in [work, *work.rglob("*")]:  # the sandbox user reads it, nothing more
                path.chmod(0o755 if path.is_dir() else 0o644)
            results = self._grade(package, [ex.id for ex in exercises])
        finally:
            shutil.rmtree(work, ignore_errors=True)
        for result in results:
            cell = cells.get(f"{grade_id(result.exercise)}_tests")
            if cell is not None:
                cell.outputs = _verdict(result)
                cell.execution_count = None
        self._save_checks(results, resources.get("nbgrader", {}))
        return nb, resources

    def _save_checks(self, results, ids: dict) -> None:
        folder = Path(self.checks_dir or Path(self.course_root or ".") / "reports" / "checks")
        if not ids.get("assignment") or not ids.get("student"):
            return
        path = folder / ids["assignment"] / f"{ids['student']}.json"
        write_json(checks_json(results, ids["student"]), path)

    def _grade(self, package: Path, ids: list[str]):
        private = [str(Path(p).resolve()) for p in (self.course_root, self.bundle) if p]
        memory = int(self.memory_limit * GiB)
        try:
            return grade(package, ids, limits=Limits(user=self.sandbox_user or None,
                                                     memory_bytes=memory,
                                                     private=tuple(private)))
        except SandboxUnavailable as exc:
            if self.require_confinement:
                raise RuntimeError(
                    f"not graded: student code cannot be confined here ({exc}). Run autograde "
                    "as root with c.GradeInSandbox.sandbox_user set (the user must exist), or "
                    "on Linux 5.13+ with Landlock; or set c.GradeInSandbox.require_confinement "
                    "= False to grade trusting the submissions.") from None
            self.log.warning("Grading without confinement: %s", exc)
            return grade(package, ids, limits=Limits(memory_bytes=memory))


def _verdict(result) -> list:
    """A test cell's outputs: what the checks found (text), then the points (the cell's value,
    which nbgrader reads as partial credit)."""
    ex = result.exercise
    text = (f"Exercise {ex.id} ({ex.title}): {result.score:g}/{ex.points} points, "
            f"{status_of(result.checks)}, graded outside your notebook.\n"
            f"{describe_checks(result.checks, mark_hidden=True)}\n")
    if result.status != "passed":
        text += f"Read: {ex.lecture_link}\n"
    return [new_output("stream", name="stdout", text=text),
            new_output("execute_result", data={"text/plain": f"{result.score:g}"},
                       execution_count=None)]

