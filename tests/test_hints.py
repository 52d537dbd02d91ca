"""`make hint`: three or more levels per exercise, one more each time, never code, true."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from grader import course, hint
from grader.stubs import BEGIN, END

MIN_LEVELS = 3
# A solution line shorter than this (once its spaces are gone) is too generic to give an
# exercise away ("return out", "x = x.T"); anything longer must not appear in a hint.
SHORTEST_TELLING_LINE = 12


def _solution_lines() -> set[str]:
    """Every line between the solution markers of reference/, spaces and comments removed."""
    found = set()
    for path in (REPO / "reference").rglob("*.py"):
        inside = False
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() == BEGIN:
                inside = True
            elif line.strip() == END:
                inside = False
            elif inside:
                code = "".join(line.split("#")[0].split())
                if len(code) >= SHORTEST_TELLING_LINE:
                    found.add(code)
    return found


def _all_hints() -> dict[str, list[str]]:
    out = {}
    for module in course.MODULES:
        path = hint.hints_file(module)
        out.update(hint.parse(path.read_text(encoding="utf-8"), str(path)))
    return out


def _checks_text() -> str:
    """The checks' source with adjacent string literals joined and spaces collapsed, so a
    message quoted in a hint can be found however its source lines are split."""
    text = "\n".join(p.read_text(encoding="utf-8")
                     for p in (REPO / "grader" / "checks").rglob("*.py"))
    text = re.sub(r"[\"']\s*\n\s*f?[\"']", "", text)
    return " ".join(text.split())


def test_every_exercise_has_at_least_three_levels_and_nothing_else():
    hints = _all_hints()
    assert set(hints) == set(course.BY_ID), (
        f"missing: {sorted(set(course.BY_ID) - set(hints))}, "
        f"unknown: {sorted(set(hints) - set(course.BY_ID))}")
    for ex_id, levels in hints.items():
        assert len(levels) >= MIN_LEVELS, f"{ex_id} has {len(levels)} hint levels"
        assert all(len(level.split()) >= 12 for level in levels), f"{ex_id}: an empty level"


def test_each_section_is_in_its_module_file_under_the_course_title():
    for module in course.MODULES:
        text = hint.hints_file(module).read_text(encoding="utf-8")
        for ex_id, title in re.findall(r"^## (\S+) (.+)$", text, re.M):
            assert ex_id in course.BY_ID, f"{module.package}.md: unknown exercise {ex_id}"
            ex = course.BY_ID[ex_id]
            assert ex.module == module, f"{ex_id} belongs in {ex.module.package}.md"
            assert title == ex.title, f"{ex_id}: '{title}' is not the title '{ex.title}'"


def test_no_hint_contains_a_line_of_a_solution_or_any_code():
    solution = _solution_lines()
    assert len(solution) > 300  # the scan found the solutions
    for ex_id, levels in _all_hints().items():
        for n, level in enumerate(levels, 1):
            where = f"hint {n} of {ex_id}"
            assert "```" not in level and "np." not in level, f"{where} shows code"
            leaked = _leaks(level, solution)
            assert not leaked, f"{where} contains solution line(s): {leaked}"


def _leaks(text: str, solution: set[str]) -> list[str]:
    squeezed = "".join(text.split())
    return [line for line in solution if line in squeezed]


def test_a_solution_line_in_a_hint_is_caught():
    """The scan above can fail: a hint that copies a line of a solution, spaced differently
    and inside a sentence, is found."""
    solution = _solution_lines()
    line = next(line for line in sorted(solution) if "np.exp" in line)
    spaced = " ".join(line)  # every character apart
    assert _leaks(f"Try this: {spaced} and see.", solution) == [line]


def test_the_grader_messages_hints_quote_are_the_graders():
    checks = _checks_text()
    quoted = 0
    for ex_id, levels in _all_hints().items():
        for level in levels:
            for message in re.findall(r"Likely cause: ([^\"”]+)[\"”]", " ".join(level.split())):
                for part in message.split("…"):
                    part = part.strip().rstrip(".")
                    assert part in checks, f"{ex_id} quotes a message the checks never give: " \
                                           f"{part!r}"
                quoted += 1
    assert quoted >= 1


def _ask(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader.hint", *args,
                           "--state", str(tmp_path / "hints.json")],
                          cwd=REPO, capture_output=True, text=True, timeout=60)


def test_every_hint_fits_80_columns():
    for ex_id, levels in _all_hints().items():
        ex = course.BY_ID[ex_id]
        for level in range(1, len(levels) + 1):
            text = hint.render(ex, levels, level)
            wide = [line for line in text.splitlines() if len(line) > 80]
            assert not wide, f"{ex_id}, {level} levels: {wide}"
            assert ex.section in text or ex.lecture_link in text


def test_each_ask_shows_one_more_level_up_to_the_last_then_reset(tmp_path):
    ex = course.BY_ID["1.4"]
    levels = len(hint.load(ex))
    for n in range(1, levels + 2):
        out = _ask(tmp_path, "1.4").stdout
        shown = min(n, levels)
        assert f"Hint {shown} of {levels} (new)" in out or n > levels
        assert f"Hint {shown + 1} of" not in out
        assert ex.lecture_link in out  # the first level names the lecture section
        assert all(len(line) <= 80 for line in out.splitlines()), out
        assert ("make hint EX=1.4" in out) and (("last hint" in out) == (n >= levels))
    assert json.loads((tmp_path / "hints.json").read_text()) == {"1.4": levels}
    out = _ask(tmp_path, "scaled_dot_product_attention", "--reset").stdout
    assert "Hint 1 of" in out and "Hint 2 of" not in out
    out = _ask(tmp_path, "1.1").stdout  # other exercises keep their own level
    assert "Hint 1 of" in out and "Hint 2 of" not in out


@pytest.mark.parametrize("bad", ["9.9", "softmaxx", "1"])
def test_an_unknown_exercise_is_named(tmp_path, bad):
    result = _ask(tmp_path, bad)
    assert result.returncode == 2 and bad in result.stderr and "Valid ids" in result.stderr


def test_a_broken_state_file_starts_over(tmp_path):
    (tmp_path / "hints.json").write_text("{not json")
    result = _ask(tmp_path, "1.2")
    assert result.returncode == 0 and "Hint 1 of" in result.stdout


def test_a_hints_file_out_of_order_is_an_error_that_names_the_line():
    with pytest.raises(hint.HintFileError, match=r"bad-hints:4: level 3 of 1.1 should be level 2"):
        hint.parse("## 1.1 Stable softmax\n### 1\nnudge\n### 3\n", "bad-hints")
