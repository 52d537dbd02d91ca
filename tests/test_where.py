"""`python -m grader --where ID` (and `make where EX=`): from an id to everything it has."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO

from grader import checks, course
from grader.where import code, grading, mutations, render

PATH = re.compile(r"(?<![\w/.])((?:exercises|reference|grader|tests|lectures|demos)/[\w./-]+)")
# One exercise of each module, one of them with hidden checks and helpers in `also`.
IDS = ["1.4", "2.6", "3.9", "4.5"]


def where(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", "--where", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def blocks(text: str) -> dict[str, list[str]]:
    """label -> its lines (the label's own line first), for the labelled part of a card."""
    out: dict[str, list[str]] = {}
    label = None
    for line in text.splitlines():
        if line[:1].strip() and len(line) > render.LABEL and line[render.LABEL - 1] == " ":
            label = line[: render.LABEL].strip()
        if label and line.strip():
            out.setdefault(label, []).append(line)
    return out


def headings_anchors(markdown: str) -> set[str]:
    return {course.github_anchor(line.lstrip("#")) for line in markdown.splitlines()
            if re.match(r"#{1,6} ", line)}


@pytest.fixture(scope="module", params=IDS)
def card(request):
    done = where(request.param)
    assert done.returncode == 0, done.stderr
    return request.param, done.stdout


def test_card_fits_80_columns_without_colour(card):
    _, text = card
    assert [line for line in text.splitlines() if len(line) > 80] == []
    assert "\x1b[" not in text  # not a terminal
    assert f"make hint EX={card[0]}" in text  # and where its hints are


def test_every_printed_path_exists(card):
    exercise_id, text = card
    paths = PATH.findall(text)
    ex = course.BY_ID[exercise_id]
    assert f"exercises/{ex.path}" in paths and f"reference/{ex.path}" in paths
    for path in paths:
        assert (REPO / path.split("#")[0]).exists(), path


def test_the_checks_are_the_registrys(card):
    exercise_id, text = card
    lines = blocks(text)["checks"]
    listed = {m.group(2): (m.group(1), "hidden" in line) for line in lines
              for m in [re.match(r"\s+:(\d+)\s+(\w+)", line)] if m}
    registered = checks.checks_for(exercise_id)
    assert set(listed) == {c.name for c in registered}
    files = [PATH.search(line).group(1) for line in lines if PATH.search(line)]
    for chk in registered:
        line, hidden = listed[chk.name]
        assert hidden == chk.hidden, chk.name
        source = "\n".join((REPO / f).read_text() for f in files)
        assert f"def {chk.name}(" in source
        where_defined = [(REPO / f).read_text().splitlines()[int(line) - 1] for f in files
                         if len((REPO / f).read_text().splitlines()) >= int(line)]
        assert any(f"def {chk.name}(" in text_line for text_line in where_defined), chk.name


def test_the_lecture_anchor_exists(card):
    exercise_id, text = card
    lecture = "".join(line[render.LABEL:].strip() for line in blocks(text)["lecture"])
    path, anchor = lecture.split("#")
    assert path == f"{course.BY_ID[exercise_id].module.lecture_dir}/theory.md"
    assert anchor in headings_anchors((REPO / path).read_text())


def test_fixtures_mutations_and_demos_are_found():
    text = where("4.5").stdout
    assert "grader/data/llm.npz" in text and "4.5/kv.params.*" in text
    assert "tests/mutations/test_4_5.py" in text and "mutants)" in text
    assert "demos/llm/run_gpt2.py" in text
    assert "(generate)" in text and "KVCache" in text


def test_a_function_name_finds_its_exercise():
    done = where("softmax_backward")
    assert done.returncode == 0 and done.stdout.startswith("Exercise 1.2:")
    from grader.where import resolve

    assert resolve("kvcache").id == resolve("4_5").id == resolve(" 4.5 ").id == "4.5"


def test_unknown_id_is_named_with_the_valid_ids():
    done = where("9.9")
    assert done.returncode == 2 and done.stdout == ""
    assert "unknown exercise '9.9'" in done.stderr
    assert {ex.id for ex in course.EXERCISES} <= set(done.stderr.split())
    assert max(len(line) for line in done.stderr.splitlines()) <= 80


def test_make_where():
    done = subprocess.run(["make", "--no-print-directory", "-o", ".venv/.student", "where",
                           "EX=1.4", f"PY={sys.executable}"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Exercise 1.4: Scaled dot-product attention")
    done = subprocess.run(["make", "--no-print-directory", "-o", ".venv/.student", "where",
                           f"PY={sys.executable}"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 2 and "needs EX=" in done.stderr


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch):
    class Terminal:
        def __init__(self, tty=True):
            self.tty = tty

        def isatty(self):
            return self.tty

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert render.use_colour(Terminal()) and not render.use_colour(Terminal(False))
    monkeypatch.setenv("NO_COLOR", "1")
    assert not render.use_colour(Terminal())


def test_long_lines_break_before_the_anchor():
    long = "lectures/01_self_attention/theory.md#9-online-softmax-and-flashattentions-recurrence"
    lines = render.fit(render.INDENT, long)
    assert len(lines) == 2 and lines[1].strip().startswith("#")
    assert all(len(line) <= 80 for line in lines)


# The layouts the course may move to: mutation tests named by id, fixture keys prefixed by
# the id, demos in a package of their own that take the implementation as an argument.
def test_future_layouts_are_found(tmp_path):
    ex = course.BY_ID["4.5"]
    (tmp_path / "tests" / "mutations").mkdir(parents=True)
    (tmp_path / "tests" / "mutations" / "test_4_5.py").write_text(
        "def test_cache_written_in_place():\n    pass\n")
    (tmp_path / "tests" / "mutations" / "test_4_50.py").write_text("def test_x():\n    pass\n")
    (tmp_path / "tests" / "mutations" / "test_4_5_sampling.py").write_text(
        'MUTANTS = [Mutant("a", "f", ()), Mutant("b", "f", ())]\n')
    (tmp_path / "tests" / "test_catch_bugs_llm.py").write_text(
        'KV = "4.5"\nMUTANTS = [Mutant("a", KV, "f", (), ()), Mutant("b", "4.4", "f", (), ()),'
        ' Mutant("c", exercise="4.5", file="f", edits=(), catches=())]\n')
    found = {p.path: p.what for p in mutations.test_files(ex, tmp_path)}
    assert found == {"tests/mutations/test_4_5.py": "",
                     "tests/mutations/test_4_5_sampling.py": "2 mutants",
                     "tests/test_catch_bugs_llm.py": "2 mutants"}

    (tmp_path / "demos").mkdir()
    (tmp_path / "demos" / "decode_speed.py").write_text(
        "import numpy as np\n\ndef run(impl):\n    return impl.generate(np.zeros(1))\n")
    (tmp_path / "demos" / "decode_nested.py").write_text(
        "def run(impl):\n    return impl.llm.KVCache, impl.transformer.generate\n")
    (tmp_path / "demos" / "training_curves.py").write_text(
        "from . import training\n\ndef run():\n    return training.generate()\n")
    (tmp_path / "lectures" / "04_llm").mkdir(parents=True)
    (tmp_path / "lectures" / "04_llm" / "cache_demo.py").write_text(
        "from reference.llm.kv_cache import KVCache\n")
    found = {p.path: p.what for p in code.demos(ex, tmp_path)}
    assert found == {"demos/decode_speed.py": "generate", "demos/decode_nested.py": "KVCache",
                     "lectures/04_llm/cache_demo.py": "KVCache"}

    (tmp_path / "data").mkdir()
    np.savez(tmp_path / "data" / "llm.npz", **{"4.5.kv.k": np.zeros(1),
                                              "4.50.other": np.zeros(1), "bpe.x": np.zeros(1)})
    found = grading.fixtures(ex, tmp_path, tmp_path / "data")
    assert found == {"data/llm.npz": ["4.5.kv.k"]}


def test_the_command_does_not_colour_a_pipe():
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    done = subprocess.run([sys.executable, "-m", "grader.where", "1.1"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "\x1b[" not in done.stdout


def test_a_method_of_the_same_name_is_not_a_demo_of_the_exercise(tmp_path):
    """`model.train()` is not exercise 4.3's `train`; `llm.train(...)` and a module loaded at
    run time are."""
    ex = course.BY_ID["4.3"]
    (tmp_path / "demos").mkdir()
    (tmp_path / "demos" / "bench.py").write_text("def run(model):\n    model.train()\n")
    (tmp_path / "demos" / "curve.py").write_text(
        "import importlib\n\nmod = importlib.import_module('reference.llm')\n"
        "mod.evaluate()\n\ndef run(llm):\n    llm.train()\n")
    found = {p.path: p.what for p in code.demos(ex, tmp_path)}
    assert found == {"demos/curve.py": "evaluate, train"}


def test_colour_changes_nothing_but_colour():
    from grader.where import lookup

    card = lookup("1.8")
    coloured = render.render(card, colour=True)
    assert "\x1b[" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == render.render(card)


def test_a_copy_without_reference_or_tests_still_answers(tmp_path):
    """A student's release holds exercises/ and lectures/, not reference/ or tests/."""
    import shutil

    from grader.where import lookup

    shutil.copytree(REPO / "exercises", tmp_path / "exercises",
                    ignore=shutil.ignore_patterns("__pycache__"))
    card = lookup("1.4", root=tmp_path)
    assert card.reference == [] and card.mutations == []
    assert [p.path for p in card.stub] == ["exercises/self_attention/attention.py"]
    assert "reference" in render.render(card) and "none found" in render.render(card)


def test_mutant_counts_are_what_the_test_files_define(monkeypatch):
    """The count read from the syntax is the count of `Mutant`s the imported file holds."""
    import importlib

    from mutation import Mutant

    for ex in course.EXERCISES:
        for place in mutations.test_files(ex, REPO):
            path = REPO / place.path
            monkeypatch.syspath_prepend(str(path.parent))  # tests/mutations/, run on its own
            module = importlib.import_module(path.stem)
            defined = {id(m): m for value in vars(module).values()
                       if isinstance(value, (list, tuple))
                       for m in value if isinstance(m, Mutant)}
            count = sum(m.exercise == ex.id for m in defined.values())
            assert place.what == f"{count} mutant{'s' * (count != 1)}", (ex.id, place.path)
