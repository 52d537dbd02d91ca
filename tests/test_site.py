"""The course website, built as `make site` builds it and opened in a real browser.

Every page: each formula of its markdown is typeset by MathJax (none left raw), every image
loads, every Mermaid diagram is drawn, every internal link and anchor resolves.  Search
finds a term.  Screenshots of the module-1 lecture at desktop and phone widths are saved to
build/site-screenshots/ for review.  Needs the system's Chromium; skipped, saying how to
install it, where there is none (CI installs it).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from conftest import REPO

from grader import course

CONFIG = REPO / "lectures" / "site" / "mkdocs.yml"
SCREENSHOTS = REPO / "build" / "site-screenshots"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
INSTALL = ("the site's browser test needs Chromium: apt-get install chromium "
           "(or set CHROMIUM=/path/to/chrome); CI installs it")


def _chromium() -> str | None:
    return os.environ.get("CHROMIUM") or next(filter(None, map(shutil.which, BROWSERS)), None)


def _skip_unless_buildable() -> None:
    """`make site` needs MkDocs (the site extra), and npm once to fetch MathJax and Mermaid
    into build/site-vendor/: without them the site tests say so and skip."""
    pytest.importorskip("mkdocs", reason="the site tests need the site extra: make test "
                                         "installs it")
    vendor = REPO / "build" / "site-vendor"
    cached = {p.name for p in vendor.rglob("*.js")} if vendor.is_dir() else set()
    if shutil.which("npm") is None and not {"tex-svg-full.js", "mermaid.min.js"} <= cached:
        pytest.skip("make site fetches MathJax and Mermaid with npm once: install Node.js "
                    "(e.g. apt-get install npm)")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site, built as `make site` builds it (strict: a warning fails the build)."""
    _skip_unless_buildable()
    out = tmp_path_factory.mktemp("site")
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f",
                           str(CONFIG), "-d", str(out)], cwd=REPO, capture_output=True,
                          text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stdout + done.stderr, done.stdout + done.stderr
    assert time.monotonic() - start < 60
    return out


def test_the_site_has_every_page_and_an_exercise_page_per_module(site):
    assert (site / "index.html").is_file()
    for module in course.MODULES:
        for page in ("", "theory/", "exercises/"):
            assert (site / module.lecture_dir / page / "index.html").is_file(), (module, page)
        listing = (site / module.lecture_dir / "exercises" / "index.html").read_text()
        for ex in course.EXERCISES:
            if ex.module == module:
                assert f"make grade EX={ex.id}" in listing and ex.path in listing


def test_the_site_fetches_nothing_from_the_network(site):
    for page in site.rglob("*.html"):
        text = page.read_text()
        remote = re.findall(r"""(?:src|href)=["'](https?://[^"']+)""", text)
        scripts = [u for u in remote if re.search(r"\.(js|css|woff2?)(\?|$)", u)]
        assert scripts == [], f"{page.relative_to(site)} loads {scripts}"


def test_the_pages_workflow_builds_with_make_site():
    workflow = (REPO / ".github" / "workflows" / "pages.yml").read_text()
    assert re.search(r"^\s*- run: make site\s*$", workflow, re.M)
    assert "path: build/site" in workflow and "branches: [main]" in workflow


# --- in the browser ------------------------------------------------------------------------
class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # no request log in the test output
        pass


@pytest.fixture(scope="module")
def server(site):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=site))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    if executable is None:
        pytest.skip(INSTALL)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the site's browser test needs Playwright: make test installs it")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _sources() -> dict[str, Path]:
    """URL path of each page written from a markdown file -> that file."""
    pages = {"": REPO / "README.md"}
    for module in course.MODULES:
        pages[f"{module.lecture_dir}/"] = REPO / module.lecture_dir / "README.md"
        pages[f"{module.lecture_dir}/theory/"] = REPO / module.lecture_dir / "theory.md"
        pages[f"{module.lecture_dir}/exercises/"] = None
    return pages


def formulas(markdown: str) -> tuple[int, int]:
    """(display, inline) formulas of a markdown text, outside code."""
    text = re.sub(r"^(```|~~~).*?^\1", "", markdown, flags=re.M | re.S)
    display = re.findall(r"^\s*\$\$.*?\$\$\s*$", text, flags=re.M | re.S)
    text = re.sub(r"^\s*\$\$.*?\$\$\s*$", "", text, flags=re.M | re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    inline = sum(len(re.findall(r"(?<![\\$])\$(?!\$)", line)) // 2
                 for line in text.splitlines())
    return len(display), inline


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        self.ids.update(v for k, v in attrs if k == "id" and v)


@functools.cache
def _ids(path: Path) -> frozenset[str]:
    parser = _Ids()
    parser.feed(path.read_text())
    return frozenset(parser.ids)


def _file_of(site: Path, url_path: str) -> Path:
    path = site / unquote(url_path).lstrip("/")
    return path / "index.html" if url_path.endswith("/") or path.is_dir() else path


def _open(browser, url: str, width: int = 1280):
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("requestfailed", lambda request: errors.append(f"failed: {request.url}"))
    page.goto(url, wait_until="load")
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
    page.evaluate("() => MathJax.startup.promise")
    page.wait_for_function("() => document.querySelectorAll('pre.mermaid').length === 0",
                           timeout=20000)  # Material swaps each for its drawing
    return page, errors


@pytest.mark.parametrize("url_path", list(_sources()), ids=lambda p: p or "home")
def test_every_page_renders_its_math_figures_diagrams_and_links(browser, server, site,
                                                                url_path):
    page, errors = _open(browser, server + url_path)
    try:
        assert errors == [], errors
        source = _sources()[url_path]
        if source is not None:
            display, inline = formulas(source.read_text(encoding="utf-8"))
            marked = page.locator(".arithmatex").count()
            assert marked == display + inline, \
                f"{url_path}: {marked} formulas on the page, {display}+{inline} in the markdown"
            typeset = page.locator(".arithmatex mjx-container").count()
            assert typeset == marked, f"{url_path}: {marked - typeset} formulas not typeset"
            diagrams = len(re.findall(r"^```mermaid$", source.read_text(), re.M))
            drawn = page.eval_on_selector_all(
                "div.mermaid", "els => els.filter(e => e.getBoundingClientRect().height > 40 "
                "&& !e.innerText.includes('flowchart')).length")
            assert drawn == diagrams, f"{url_path}: {drawn} of {diagrams} diagrams drawn"
        assert page.locator("mjx-merror").count() == 0, "a formula MathJax cannot read"
        text = page.inner_text("article")
        assert "$$" not in text and "\\(" not in text and "\\[" not in text
        images = page.eval_on_selector_all(
            "article img", "els => els.map(e => [e.getAttribute('src'), e.naturalWidth])")
        assert [src for src, width in images if not width] == [], url_path
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    finally:
        page.close()
    broken = []
    for href in set(hrefs):
        if not href.startswith(server):
            continue  # another site
        target = urlparse(href)
        path = _file_of(site, target.path)
        if not path.is_file():
            broken.append(href)
        elif target.fragment and path.suffix == ".html" and \
                unquote(target.fragment) not in _ids(path):
            broken.append(href)
    assert broken == [], f"{url_path}: broken links {sorted(broken)[:10]}"


def test_the_grader_links_lead_to_the_same_section_on_the_site(site):
    """The anchor a stub, a hint or `make grade` names is the anchor on the site."""
    for ex in course.EXERCISES:
        anchor = course.github_anchor(ex.section)
        assert anchor in _ids(site / ex.module.lecture_dir / "theory" / "index.html"), ex.id


def test_search_finds_a_term(browser, server):
    page, errors = _open(browser, server)
    try:
        page.click("input.md-search__input")
        page.keyboard.type("bottom-right")  # keystrokes, as a reader types
        page.wait_for_selector(".md-search-result__item", timeout=20000)
        links = page.eval_on_selector_all(".md-search-result__item a",
                                          "els => els.map(e => e.href)")
        assert any("01_self_attention/theory" in link for link in links), links
    finally:
        page.close()


def test_screenshots_of_the_first_lecture_at_desktop_and_phone_widths(browser, server):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, width in (("desktop", 1280), ("phone", 390)):
        page, errors = _open(browser, server + "lectures/01_self_attention/theory/", width)
        try:
            overflow = page.evaluate("() => document.documentElement.scrollWidth - innerWidth")
            assert overflow <= 1, f"{name}: the page is {overflow}px wider than the screen"
            path = SCREENSHOTS / f"lecture-1-{name}.png"
            page.screenshot(path=str(path))
            assert path.stat().st_size > 10_000
        finally:
            page.close()


def test_make_serve_serves_the_site_with_live_reload():
    """What `make serve` runs: the pages come from the sources, with the reload script."""
    import socket

    _skip_unless_buildable()
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "mkdocs", "serve", "-f", str(CONFIG),
                               "-a", f"127.0.0.1:{port}"], cwd=REPO, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL,
                              env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    try:
        deadline, page = time.monotonic() + 60, None
        while page is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/lectures/"
                                            "01_self_attention/theory/", timeout=5) as reply:
                    page = reply.read().decode()
            except OSError:
                time.sleep(0.5)
        assert page is not None, "make serve served nothing within a minute"
        assert "Softmax and its Jacobian" in page and "livereload" in page
    finally:
        server.terminate()
        server.wait(timeout=30)
