"""Math lint: the lectures' formulas render on GitHub (and in any MathJax/KaTeX page).

GitHub's markdown runs before MathJax sees a formula: it strips the backslash of `\\{`,
`\\,`, `\\;`, `\\!`, `\\|` inside inline math, turns `^*...*` into italics, and does not join
an inline formula broken across source lines.  Each pattern below fails the test with the
line and a fix; `$$` display blocks are left alone (GitHub leaves them intact).
"""

from __future__ import annotations

import re

import pytest
from conftest import REPO

LECTURES = sorted((REPO / "lectures").glob("*/*.md"))

# (what is wrong, the pattern inside one inline formula, the fix)
INLINE = [
    ("a brace escape", re.compile(r"\\[{}]"), r"write \lbrace ... \rbrace"),
    ("a spacing escape", re.compile(r"\\[,;:!]"),
     r"write \ (a space) or \quad; 50{,}257 for a number"),
    ("a norm bar", re.compile(r"\\\|"), r"write \Vert, or \lVert ... \rVert"),
]
STAR = re.compile(r"\^\s*\*|_\s*\*")  # ^* / _* pair into italics: write ^\ast
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")  # a tab that ate the \t of \text, ...


def _prose(text: str):
    """(line number, line) of every line outside fenced code and `$$` display blocks, with
    inline code removed."""
    fenced = display = False
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            fenced = not fenced
            continue
        if fenced:
            continue
        if stripped.startswith("$$") or stripped.endswith("$$"):
            if stripped.count("$$") == 1:
                display = not display
            continue
        if display:
            continue
        yield number, re.sub(r"`[^`]*`", "", line)


def _inline_formulas(line: str) -> tuple[list[str], bool]:
    """The inline formulas of a line, and whether one is left open at its end."""
    dollars = [m.start() for m in re.finditer(r"(?<![\\$])\$(?!\$)", line)]
    pairs = list(zip(dollars[::2], dollars[1::2]))
    return [line[a + 1:b] for a, b in pairs], len(dollars) % 2 == 1


def _blocks(text: str) -> list[str]:
    """Problems of block layout that GitHub forgives and the site's markdown does not: a
    display formula glued to the text above it, and a block continuing a list item indented
    by fewer than 4 spaces (which Python-Markdown, building the site, puts outside the item)."""
    problems, fenced = [], False
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        if line.strip().startswith(("```", "~~~")):
            fenced = not fenced
        if fenced:
            continue
        above = lines[number - 2].strip() if number > 1 else ""
        if re.match(r" {1,3}\S", line) and not above:
            problems.append(f"{number}: indent a list item's next block by 4 spaces, not "
                            f"{len(line) - len(line.lstrip())}")
        if line.strip().startswith("$$") and above and not above.endswith("$$") and \
                text.count("$$", 0, sum(len(x) + 1 for x in lines[: number - 1])) % 2 == 0:
            problems.append(f"{number}: a display formula needs a blank line above it")
    return problems


def lint(text: str) -> list[str]:
    problems = _blocks(text)
    for number, line in enumerate(text.splitlines(), 1):
        if CONTROL.search(line):
            problems.append(f"{number}: a control character (a tab that ate a backslash-t?)")
    for number, line in _prose(text):
        formulas, open_at_end = _inline_formulas(line)
        if open_at_end:
            problems.append(f"{number}: an inline formula runs onto the next line: keep "
                            "each $...$ on one source line")
        for formula in formulas:
            for what, pattern, fix in INLINE:
                if pattern.search(formula):
                    problems.append(f"{number}: {what} in ${formula}$: {fix}")
            if STAR.search(formula):
                problems.append(f"{number}: ^* in ${formula}$ can turn into italics: write "
                                r"^\ast")
    return problems


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: str(p.relative_to(REPO)))
def test_lecture_math_renders_on_github(path):
    problems = lint(path.read_text(encoding="utf-8"))
    assert problems == [], f"{path.relative_to(REPO)}:\n  " + "\n  ".join(problems[:40])


@pytest.mark.parametrize("bad, found", [
    (r"the set $\{1, 2\}$ here", "a brace escape"),
    (r"a gap $a\,b$ here", "a spacing escape"),
    (r"a norm $\|x\|$ here", "a norm bar"),
    ("a formula $a +\nb$ split", "runs onto the next line"),
    (r"an optimum $x^*$ here", r"^\ast"),
    ("1. item\n\n   $$\n   x\n   $$\n", "by 4 spaces"),
    ("text\n$$\nx\n$$\n", "blank line above"),
    ("a backslash-t eaten by a tab: $\text{a}$ and $\t" + "ext{b}$", "control character"),
])
def test_the_lint_finds_each_pattern(bad, found):
    assert any(found in problem for problem in lint(bad)), lint(bad)


def test_the_lint_leaves_good_math_and_code_alone():
    good = ("$\\lbrace 1 \\rbrace$, $a \\ b$, $\\lVert x \\rVert$, $x^\\ast$, $\\mathrm{x}$\n"
            "\n$$\nA = \\{ x \\,:\\, \\|x\\| < 1 \\}\n$$\n"
            "```python\nx = y  # $a\\,b$\n```\n`$\\{$` costs $5 and $6")
    assert lint(good.replace("costs $5 and $6", "costs five")) == []
