"""Every link resolves, every anchor exists, and nothing cites a file the repository lacks.

A link is a markdown `[text](target#anchor)` in any committed .md file, or a lecture path
with an anchor anywhere (the stubs' "see lectures/...theory.md#..." messages, the grader's
lecture links).  Anchors are computed as GitHub computes them, duplicates numbered.
"""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

import pytest
from conftest import REPO

from grader import course

BINARY = {".png", ".npz", ".jpg", ".pdf", ".ipynb"}
SKIP_DIRS = {".git", ".venv", "venv", "build", "runs", "__pycache__", "node_modules"}
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")
ANCHORED = re.compile(r"([\w./-]*\.md)#([\w-]+)")
# Places on one machine, never in the repository: a home or work directory.
ABSOLUTE = re.compile(r"(?<![\w.~-])/(?:work|home|Users)/")
NAMED_DOCUMENT = re.compile(r"\b[\w-]+\.md\b(?!-)")  # not a CSS class such as .md-search


@cache
def committed_files() -> tuple[Path, ...]:
    """The repository's files: git's list when there is one, else everything but tool dirs."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                             check=True, timeout=60).stdout.decode()
        files = [REPO / rel for rel in out.split("\0") if rel]
    except (OSError, subprocess.CalledProcessError):
        files = [p for p in REPO.rglob("*") if p.is_file()
                 and not SKIP_DIRS & set(p.relative_to(REPO).parts)]
    return tuple(sorted(p for p in files if p.is_file()))


def text_files() -> list[Path]:
    return [p for p in committed_files() if p.suffix not in BINARY]


@cache
def anchors(markdown: Path) -> frozenset[str]:
    """The anchors GitHub gives the headings of a markdown file (code blocks skipped)."""
    seen: dict[str, int] = {}
    fenced = False
    for line in markdown.read_text().splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        if fenced or not re.match(r"#{1,6} ", line):
            continue
        base = course.github_anchor(line.lstrip("#"))
        seen[base] = seen.get(base, -1) + 1
        if seen[base]:
            seen[f"{base}-{seen[base]}"] = 0
    return frozenset(seen)


def inside_repo(path: Path) -> bool:
    return path.resolve().is_relative_to(REPO.resolve())


def test_every_markdown_link_resolves_inside_the_repository():
    problems = []
    for doc in (p for p in committed_files() if p.suffix == ".md"):
        for target in MARKDOWN_LINK.findall(doc.read_text()):
            if re.match(r"[a-z]+:", target):  # https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            dest = (doc.parent / path) if path else doc
            where = f"{doc.relative_to(REPO)} -> {target}"
            if not inside_repo(dest) or not dest.exists():
                problems.append(f"{where}: no such file in the repository")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                problems.append(f"{where}: no heading has this anchor")
    assert problems == []


def test_every_anchor_cited_anywhere_exists():
    """A markdown path with an anchor in any file (the stubs' "see lectures/..." messages,
    docstrings, lectures), the path taken from the citing file's folder or the root."""
    problems, seen = [], 0
    for path in text_files():
        for target, anchor in ANCHORED.findall(path.read_text(errors="replace")):
            bases = [path.parent, REPO]
            if "/" not in target:  # a bare "theory.md#...": any lecture's
                bases += [p.parent for p in committed_files() if p.name == target]
            dest = next((base / target for base in bases if (base / target).is_file()
                         and inside_repo(base / target) and anchor in anchors(base / target)),
                        None)
            seen += 1
            if dest is None:
                problems.append(f"{path.relative_to(REPO)}: {target}#{anchor}")
    assert seen > len(course.EXERCISES)  # the stubs cite their lecture sections
    assert problems == []


@pytest.mark.parametrize("ex", course.EXERCISES, ids=lambda ex: ex.id)
def test_every_exercise_links_an_existing_lecture_section(ex):
    path, anchor = ex.lecture_link.split("#")
    assert anchor in anchors(REPO / path), ex.lecture_link


def test_lecture_subsections_do_not_look_like_exercise_ids():
    """`### 1.4 ...` in a lecture reads as exercise 1.4: subsections are numbered `§1.4`."""
    for module in course.MODULES:
        theory = (REPO / module.lecture_dir / "theory.md").read_text()
        bare = re.findall(r"(?m)^#{3,6} +\d+\.\d+.*$", theory)
        assert bare == [], f"{module.lecture_dir}/theory.md: {bare[:3]}"


def test_no_file_cites_anything_outside_the_repository():
    """No absolute path of one machine, no `../` that climbs out of the repository, and no
    markdown file that the repository does not hold."""
    documents = {p.name for p in committed_files() if p.suffix == ".md"}
    documents.add("exercises.md")  # the website's page of a module's exercises, made at build
    problems = []
    for path in text_files():
        rel = path.relative_to(REPO)
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if ABSOLUTE.search(line):
                problems.append(f"{rel}:{number}: an absolute path: {line.strip()[:60]}")
            for climb in re.findall(r"(?:\.\./)+[\w.-]*", line):
                if not inside_repo(path.parent / climb):
                    problems.append(f"{rel}:{number}: {climb} is outside the repository")
            for name in NAMED_DOCUMENT.findall(line):
                if name not in documents:
                    problems.append(f"{rel}:{number}: cites {name}, not in the repository")
    assert problems == []
