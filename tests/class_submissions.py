"""A made-up class of Module 1 uploads: the reference solutions, some with a planted bug.

`make_class(root, bugs)` writes `root/<student>/...`, one folder per student, as Gradescope
hands uploads over (the folder structure varies: `self_attention/`,
`exercises/self_attention/` or loose files); `bugs` names each student's bug, or None for a
correct upload.  `PLANTED` says what each bug costs: the check that catches it and the
student's score.  Used by tests/test_grade_class.py and tests/bench_class_grading.py.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from grader import checks, course

REPO = Path(__file__).resolve().parent.parent
MODULE_1 = REPO / "reference" / "self_attention"
TOTAL = 60


@dataclass(frozen=True)
class Bug:
    file: str
    old: str  # a line of the reference solution, quoted exactly
    new: str
    check: str  # "<exercise> <check>": the only check that catches it

    @property
    def score(self) -> float:
        """What an upload with this bug alone earns: all but that check's share."""
        exercise_id, name = self.check.split()
        found = checks.checks_for(exercise_id)
        weight = next(c.weight for c in found if c.name == name)
        share = weight / sum(c.weight for c in found)
        return TOTAL - course.BY_ID[exercise_id].points * share


PLANTED = {
    # Top-left aligned causal mask: wrong when t_q != t_k.
    "causal_top_left": Bug("masks.py", "    return j <= i + (t_k - t_q)\n",
                           "    return np.tril(np.ones((t_q, t_k), dtype=bool))\n",
                           "1.3 causal_mask_alignment"),
    # Softmax without subtracting the maximum: overflows on large inputs.
    "softmax_no_max": Bug("softmax.py",
                          "    e = x - x_max  # a new array (x is not modified), exponentiated "
                          "in place\n    np.exp(e, out=e)\n",
                          "    e = np.exp(x)\n", "1.1 softmax_stable_and_masked"),
}
LAYOUTS = ("self_attention", "exercises/self_attention", ".")


def expected_score(bug: str | None) -> float:
    return round(PLANTED[bug].score, 2) if bug else TOTAL


def make_class(root: Path, bugs: dict[str, str | None]) -> Path:
    """One upload folder per student in `root`; returns `root`."""
    for index, (student, bug) in enumerate(sorted(bugs.items())):
        folder = root / student / LAYOUTS[index % len(LAYOUTS)]
        folder.mkdir(parents=True)
        for path in MODULE_1.glob("*.py"):
            shutil.copy(path, folder / path.name)
        if bug:
            planted = PLANTED[bug]
            text = (folder / planted.file).read_text()
            assert text.count(planted.old) == 1, f"{bug}: the reference line moved"
            (folder / planted.file).write_text(text.replace(planted.old, planted.new))
    return root


def class_of(size: int, shares: dict[str, float]) -> dict[str, str | None]:
    """`size` students named s000, s001, ...; round(share * size) of them get each bug."""
    bugs: list[str | None] = []
    for bug, share in shares.items():
        bugs += [bug] * round(share * size)
    bugs += [None] * (size - len(bugs))
    return {f"s{k:03d}": bug for k, bug in enumerate(bugs)}
