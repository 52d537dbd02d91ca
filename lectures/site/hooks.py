"""MkDocs hooks: the site's pages are the repository's own markdown, added where they live.

- `on_config`: the navigation, one section per module, made from `grader/course.py`.
- `on_files`: README.md (the home page), every lecture page and figure, one generated page
  per module listing its exercises, and MathJax and Mermaid, fetched once from npm into
  build/site-vendor/ (pinned versions; npm checks their integrity), so a page loads nothing
  from the network.
- `on_page_markdown`, the one build-time transform: `<details>` answers are parsed as
  markdown (GitHub does so by itself), and a link to a repository file that is not on the
  site points to the repository (`SITE_SOURCE_URL`, or `GITHUB_REPOSITORY` in a GitHub
  Actions run) or, when none is known, becomes plain text.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from grader import course  # noqa: E402  (the repository, not an installed copy)

VENDOR = REPO / "build" / "site-vendor"
# npm package, version, the files of it the site serves (as vendor/<name>/<file>)
ASSETS = {
    "mathjax": ("mathjax", "3.2.2", ["es5/tex-svg-full.js"]),
    "mermaid": ("mermaid", "11.17.2", ["dist/mermaid.min.js"]),
}
LINK = re.compile(r"(!?)\[([^\]\n]*)\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)


def _vendor() -> dict[str, Path]:
    """`{"vendor/mathjax/tex-svg-full.js": folder holding it, ...}`, fetched with npm the
    first time."""
    out = {}
    for name, (package, version, wanted) in ASSETS.items():
        folder = VENDOR / f"{package}-{version}"  # holds vendor/<name>/<file>
        uris = [f"vendor/{name}/{Path(f).name}" for f in wanted]
        if not all((folder / uri).is_file() for uri in uris):
            _fetch(package, version, dict(zip(wanted, uris)), folder)
        out.update((uri, folder) for uri in uris)
    return out


def _fetch(package: str, version: str, wanted: dict[str, str], folder: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise PluginError(f"make site needs npm once, to fetch {package} {version} (the site "
                          "serves it itself): install Node.js (e.g. apt-get install npm)")
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([npm, "pack", f"{package}@{version}", "--silent"], cwd=tmp,
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise PluginError(f"npm pack {package}@{version} failed: {done.stderr.strip()}")
        with tarfile.open(Path(tmp) / done.stdout.strip().splitlines()[-1]) as tar:
            for f, uri in wanted.items():
                (folder / uri).parent.mkdir(parents=True, exist_ok=True)
                (folder / uri).write_bytes(tar.extractfile(f"package/{f}").read())


def _source_url() -> str:
    """Where the repository's files can be read, if known: `<url>/blob/main/<path>`."""
    if os.environ.get("SITE_SOURCE_URL"):
        return os.environ["SITE_SOURCE_URL"].rstrip("/")
    if os.environ.get("GITHUB_REPOSITORY"):
        server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{os.environ['GITHUB_REPOSITORY']}"
    return ""


def on_config(config):
    config.nav = [{"Home": "README.md"}] + [
        {f"Module {m.number} — {m.title}": [
            {"Overview": f"{m.lecture_dir}/README.md"},
            {"Lecture": f"{m.lecture_dir}/theory.md"},
            {"Exercises": f"{m.lecture_dir}/exercises.md"},
        ]} for m in course.MODULES]
    config.repo_url = _source_url() or None
    return config


def exercises_page(module: course.Module) -> str:
    """The module's exercises as a table, from the grader's course table."""
    rows = [f"# Module {module.number} exercises: {module.title}", "",
            "Implement each in its file under `exercises/`, then grade it with the command "
            "shown. Each links to the lecture section that derives it.", "",
            "| id | exercise | points | file | lecture section | grade it |",
            "|---|---|---|---|---|---|"]
    for ex in course.EXERCISES:
        if ex.module != module:
            continue
        anchor = course.github_anchor(ex.section)
        rows.append(f"| {ex.id} | {ex.title} | {ex.points} | `exercises/{ex.path}` | "
                    f"[§{ex.section}](theory.md#{anchor}) | `make grade EX={ex.id}` |")
    total = sum(ex.points for ex in course.EXERCISES if ex.module == module)
    rows += ["", f"{total} points in all. Stuck? `make hint EX=<id>` gives one more hint each "
             "time you ask."]
    return "\n".join(rows) + "\n"


def on_files(files, config):
    def add(path: str, src_dir: Path):
        files.append(File(path, str(src_dir), config.site_dir, config.use_directory_urls))

    add("README.md", REPO)
    for path in sorted((REPO / "lectures").rglob("*")):
        rel = path.relative_to(REPO)
        if path.is_file() and "site" not in rel.parts[:2] and path.suffix in (
                ".md", ".png", ".svg", ".jpg"):
            add(str(rel), REPO)
    for module in course.MODULES:
        files.append(File.generated(config, f"{module.lecture_dir}/exercises.md",
                                    content=exercises_page(module)))
    for uri, folder in _vendor().items():
        add(uri, folder)
    return files


def _target(page_src: Path, target: str, files) -> str | None:
    """The link to write for `target` of a page whose source is `page_src`, or None for
    plain text."""
    path, _, anchor = target.partition("#")
    real = (page_src.parent / path).resolve()
    try:
        rel = real.relative_to(REPO).as_posix()
    except ValueError:
        return target
    if files.get_file_from_path(rel) is not None:
        return target  # a page or a figure of the site
    if real.is_dir() and files.get_file_from_path(f"{rel}/README.md") is not None:
        return f"{path.rstrip('/')}/README.md" + (f"#{anchor}" if anchor else "")
    source = _source_url()
    if not source or not real.exists():
        return None
    kind = "tree" if real.is_dir() else "blob"
    return f"{source}/{kind}/main/{rel}" + (f"#{anchor}" if anchor else "")


def on_page_markdown(markdown, page, config, files):
    page_src = REPO / page.file.src_uri  # where the page lives in the repository
    code = {}

    def hide(match):  # links inside code blocks are code, not links
        code[f"\0{len(code)}\0"] = match.group(0)
        return f"\0{len(code) - 1}\0"

    text = FENCE.sub(hide, markdown)

    def relink(match):
        bang, label, target = match.groups()
        if bang or re.match(r"[a-z]+:|#", target):
            return match.group(0)
        new = _target(page_src, target, files)
        return f"[{label}]({new})" if new is not None else label

    text = LINK.sub(relink, text)
    text = re.sub(r"<details>", '<details markdown="1">', text)
    for key, value in code.items():
        text = text.replace(key, value)
    return text
