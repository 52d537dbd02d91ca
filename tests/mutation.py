"""The harness of the mutation tests, shared by every module.

The mutation tests of exercise 3.4 are `tests/mutations/test_3_4.py` (one file per exercise,
as its checks are `grader/checks/<package>/ex3_4_*.py`); what the mutants of several
exercises of a module share (file names, quoted lines) is `tests/mutations/<package>_common.py`.

A `Mutant` is a plausible student bug in one reference file, written either as code
`append`ed to the file that replaces or wraps a function (preferred: a comment or formatting
change in `reference/` cannot break it), or as textual `edits`.  `make_submission` copies
`reference/` into a temporary `submission/` and applies them; every `old` text of an edit
must occur exactly once in the reference, so a changed reference breaks the tests loudly
instead of silently grading an unmutated copy.  `graded_fixture` grades only
the mutant's exercise, once per test module, and the `assert_*` helpers state what a test
file asserts about the result:

- `assert_caught`: (a) the exercise loses points, (b) the named checks fail (or error, when
  the bug raises), (c) the first named check's message contains the phrase that tells the
  student what to fix, and (d) the only cause stated (`expect.cause`: "Likely cause: ...")
  in any message of the exercise is the mutant's `diagnosis` -- none when it has none;
- `assert_diagnosed`: a check's message points at the right fix (and not at a wrong one);
- `assert_not_blamed`: a bug in one function is not reported as a bug of another, correct one.

A test file lists `MUTANTS`, and may list `DIAGNOSED` (bugs whose message must point at the
right fix) and `NOT_BLAMED` (bugs in one function that must not be reported as a bug of
another, correct one).  Known grader gaps (a bug no check catches, a message that points at
the wrong fix) are `xfail(strict=True)` with their reason (`GAPS`, `DIAGNOSIS_GAPS`,
`BLAME_GAPS`; see `param`), so fixing the grader turns them into an XPASS that asks for the
mark to go.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO

from grader import checks as check_registry
from grader.expect import CAUSE
from grader.results import PASSED
from grader.runner import grade

REFERENCE = REPO / "reference"


@dataclass(frozen=True)
class Mutant:
    id: str
    exercise: str
    file: str  # inside reference/<package>/
    edits: tuple[tuple[str, str], ...]  # (old, new): old occurs exactly once in the reference
    catches: tuple[str, ...]  # checks that must fail; the first one must say `phrase`
    phrase: str = ""
    status: str = "failed"  # "error" when the bug raises in the student's code
    append: str = ""  # code added at the end of the file: redefines or wraps a function
    diagnosis: str = ""  # the cause the messages must state (after "Likely cause: "), if any


def make_submission(root: Path, package: str, mutant: Mutant | None = None) -> Path:
    """Copy reference/ to root/submission and apply the mutant's edits to one of its files."""
    target = root / "submission"
    shutil.copytree(REFERENCE, target, ignore=shutil.ignore_patterns("__pycache__"))
    if mutant is not None:
        path = target / package / mutant.file
        text = path.read_text()
        for old, new in mutant.edits:
            assert text.count(old) == 1, f"{mutant.id}: reference line not found once: {old!r}"
            text = text.replace(old, new)
        if mutant.append:
            text += f"\n\n# -- mutant {mutant.id} --\n{mutant.append.strip()}\n"
        path.write_text(text)
    return target


def graded_fixture(package: str):
    """A module-scoped fixture `graded`: mutant -> ExerciseResult of its exercise, graded once.

    Assign it in a test module (`graded = graded_fixture("transformer")`) to use it there.
    """

    @pytest.fixture(scope="module", name="graded")
    def graded(tmp_path_factory):
        results = {}

        def run(mutant: Mutant):
            if mutant.id not in results:
                root = tmp_path_factory.mktemp(mutant.id)
                [results[mutant.id]] = grade(make_submission(root, package, mutant),
                                             [mutant.exercise])
            return results[mutant.id]

        return run

    return graded


def verdicts(result) -> dict:
    return {c.name: c for c in result.checks}


def param(reasons: dict[str, str], key: str, *values):
    """`pytest.param(*values, id=key)`, a strict xfail when `key` is a known gap."""
    marks = [pytest.mark.xfail(strict=True, reason=reasons[key])] if key in reasons else []
    return pytest.param(*values, id=key, marks=marks)


def by_id(mutants: list[Mutant]) -> dict[str, Mutant]:
    ids = [m.id for m in mutants]
    assert len(ids) == len(set(ids)), "two mutants share an id"
    return {m.id: m for m in mutants}


def assert_unmutated_passes(tmp_path: Path, package: str, exercise_ids: list[str]) -> None:
    """The harness itself: a plain copy of the reference scores full points."""
    for result in grade(make_submission(tmp_path, package), exercise_ids):
        assert result.status == "passed", f"{result.exercise.id}:\n{result.details}"


def assert_every_check_has_a_mutant(exercise_ids: list[str], mutants: list[Mutant],
                                    gaps: dict[str, str] | None = None) -> None:
    caught = {name for m in mutants if m.id not in (gaps or {}) for name in m.catches}
    for ex in exercise_ids:
        for c in check_registry.checks_for(ex):
            assert c.name in caught, f"no mutant shows that check {c.test_id} can fail"


def assert_caught(result, mutant: Mutant) -> None:
    assert result.exercise.id == mutant.exercise
    assert result.status != "passed" and result.score < result.exercise.points, result.details
    by_name = verdicts(result)
    for name in mutant.catches:
        assert by_name[name].status == mutant.status, f"{mutant.id}: {name}\n{result.details}"
    message = by_name[mutant.catches[0]].message
    assert mutant.phrase in message, f"{mutant.id}: {mutant.phrase!r} not in\n{message}"
    causes = stated_causes(result)
    if mutant.diagnosis:
        assert causes and all(mutant.diagnosis in c for c in causes), (
            f"{mutant.id}: expected only the cause {mutant.diagnosis!r}, stated: {causes}\n"
            f"{result.details}")
    else:
        assert not causes, f"{mutant.id}: a cause this bug does not have: {causes}"


def stated_causes(result) -> set[str]:
    """The causes the failing checks of an exercise state ("Likely cause: <cause>.")."""
    found = set()
    for c in result.checks:
        if c.status != PASSED:
            for part in c.message.split(CAUSE)[1:]:
                found.add(part.split(". ")[0].split(".\n")[0].strip())
    return found


def assert_diagnosed(result, check: str, wanted: str, unwanted: str) -> None:
    found = verdicts(result)[check]
    assert found.status != "passed", result.details
    assert wanted in found.message, found.message
    assert not (unwanted and unwanted in found.message), found.message


def assert_not_blamed(result, check: str, blame: str) -> None:
    found = verdicts(result)[check]
    assert found.status == "passed" or blame not in found.message, found.message


def standard_tests(package: str, exercise_ids: list[str], mutants: list[Mutant],
                   gaps: dict[str, str] | None = None, diagnosed=(),
                   diagnosis_gaps: dict[str, str] | None = None, not_blamed=(),
                   blame_gaps: dict[str, str] | None = None) -> dict:
    """The tests every mutation-test file runs, by name, with the `graded` fixture.

    A test file adds them with `globals().update(standard_tests(...))`; `diagnosed` rows are
    (mutant id, check, wanted phrase, unwanted phrase), `not_blamed` rows (mutant id, check,
    blame phrase); the `*gaps` dicts name known grader gaps (strict xfails, see `param`).
    """
    gaps, diagnosis_gaps, blame_gaps = gaps or {}, diagnosis_gaps or {}, blame_gaps or {}
    named = by_id(mutants)

    def test_unmutated_copy_passes(tmp_path):
        assert_unmutated_passes(tmp_path, package, exercise_ids)

    def test_every_check_has_a_mutant():
        assert_every_check_has_a_mutant(exercise_ids, mutants, gaps)

    @pytest.mark.parametrize("mutant", [param(gaps, m.id, m) for m in mutants])
    def test_check_catches_bug(mutant, graded):
        assert_caught(graded(mutant), mutant)

    tests = {"graded": graded_fixture(package),
             "test_unmutated_copy_passes": test_unmutated_copy_passes,
             "test_every_check_has_a_mutant": test_every_check_has_a_mutant,
             "test_check_catches_bug": test_check_catches_bug}

    if diagnosed:
        @pytest.mark.parametrize("mutant_id, check, wanted, unwanted", [
            param(diagnosis_gaps, f"{row[0]}-{row[1]}", *row) for row in diagnosed])
        def test_diagnosis_points_at_the_bug(mutant_id, check, wanted, unwanted, graded):
            assert_diagnosed(graded(named[mutant_id]), check, wanted, unwanted)

        tests["test_diagnosis_points_at_the_bug"] = test_diagnosis_points_at_the_bug

    if not_blamed:
        @pytest.mark.parametrize("mutant_id, check, blame", [
            param(blame_gaps, f"{row[0]}-{row[1]}", *row) for row in not_blamed])
        def test_correct_function_not_blamed(mutant_id, check, blame, graded):
            assert_not_blamed(graded(named[mutant_id]), check, blame)

        tests["test_correct_function_not_blamed"] = test_correct_function_not_blamed
    return tests
