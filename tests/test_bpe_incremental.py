"""Exercise 4.1's reference: the incremental ``train_bpe`` (pair counts, an index from pairs
to pre-tokens, a heap; lecture §2.1) learns exactly what the naive algorithm it replaced
learns (``demos/llm/bpe_naive.py``, a full recount per merge), on every corpus, to the last
merge, ties and early stops included; the given ``BPETokenizer.encode_iterable`` streams a
multi-megabyte file with bounded memory and the ids of ``encode``; the grader's 4.1 checks
pass with the naive algorithm well within their time budget; ``python -m demos bench_bpe``
reports its table."""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import io
import random
import time
import tracemalloc

import pytest
from columns import long_lines
from conftest import REPO
from implementation.llm.bpe import BPETokenizer, train_bpe

from demos.llm import bpe_naive
from demos.llm.bpe_naive import train_bpe_naive
from grader import checks
from grader.results import PASSED
from grader.runner import grade

with contextlib.redirect_stdout(io.StringIO()):
    import this  # the Zen of Python, a fixed English text in every Python
ZEN = "".join(this.d.get(c, c) for c in this.s)
LECTURE = (REPO / "lectures" / "04_llm_fundamentals" / "theory.md").read_text(encoding="utf-8")
SPECIALS = ["<|endoftext|>", "<|pad|>"]


def random_text(seed, alphabet, n):
    """``n`` characters drawn from ``alphabet``: few distinct pairs, so many ties and long
    runs (overlapping pairs such as (a, a) in "aaaa")."""
    rng = random.Random(seed)
    return "".join(rng.choice(alphabet) for _ in range(n))


def random_words(seed, n):
    """``n`` words of a small made-up language, with specials, digits, emoji and whitespace
    runs between them."""
    rng = random.Random(seed)
    pieces = ["a", "b", "ab", "ba", "aab", "é", "🎉", "7", "42", "'s", "'ll", "_", "!?"]
    seps = [" ", " ", " ", "  ", "\n", "\n\n", "\t", " <|endoftext|>", "<|pad|>", ""]
    return "".join("".join(rng.choices(pieces, k=rng.randint(1, 4))) + rng.choice(seps)
                   for _ in range(n))


CORPORA = {  # name: (text, vocab_size, special_tokens)
    "hand aaabdaaabac": ("aaabdaaabac", 259, ()),
    "hand cdab": ("cdab", 259, ()),
    "hand ab ab ab, stops early": ("ab ab ab", 300, ()),
    "empty": ("", 300, ()),
    "one byte": ("a", 300, SPECIALS),
    "runs of a": (" ".join("a" * k for k in range(1, 30)), 400, ()),
    "only specials": ("<|endoftext|><|pad|>" * 3, 300, SPECIALS),
    "zen": (ZEN, 256 + 300, ()),
    "zen with specials": ("<|endoftext|>".join([ZEN] * 3), 256 + 2 + 400, SPECIALS),
    "zen to exhaustion": (ZEN, 256 + 5000, ()),
    "lecture": (LECTURE[:12000], 256 + 300, ()),
    "lecture, non-ASCII": (LECTURE[60000:66000] + "naïve café 日本語 🎉👍🏽 Ελληνικά", 256 + 200,
                           ()),
    **{f"ab-space {seed}": (random_text(seed, "aab ", 3000), 256 + 120, ()) for seed in range(4)},
    **{f"abc {seed}": (random_text(seed, "abc", 400), 256 + 200, ()) for seed in range(3)},
    **{f"words {seed}": (random_words(seed, 800), 256 + 2 + 150, SPECIALS)
       for seed in range(3)},
}


@pytest.mark.parametrize("name", sorted(CORPORA))
def test_incremental_training_equals_the_naive_algorithm(name):
    text, vocab_size, specials = CORPORA[name]
    assert train_bpe(text, vocab_size, specials) == train_bpe_naive(text, vocab_size, specials)


def test_default_special_tokens_and_errors_alike():
    assert train_bpe(ZEN, 400) == train_bpe_naive(ZEN, 400)
    for fn in (train_bpe, train_bpe_naive):
        with pytest.raises(ValueError):
            fn("abc", 257, SPECIALS)


def test_the_oracle_is_the_algorithm_the_reference_had():
    """The oracle's loop is the naive one: a recount of every pair at each merge."""
    source = inspect.getsource(bpe_naive.train_bpe_naive)
    assert "while len(merges) < n_merges:\n        counts = {}" in source
    assert "best = min(counts, key=lambda p: (-counts[p], p))" in source


# --- encode_iterable -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def tokenizer_parts():
    vocab, merges = train_bpe(LECTURE[:30000] + random_words(9, 300), 256 + 2 + 400,
                              SPECIALS + ["<|endoftext|><|pad|>"])
    return vocab, merges


TRICKY = ["it's", "'ll", "'", "l", "ve", "re", " ", "  ", "\n", "\n\n", "\t", "\r\n", "x",
          " word", "123", "!!", "_", "é", "🎉", "\u3000", "²", "<|endoftext|>", "<|pad|>", "<|",
          "endoftext", "|>"]


def test_encode_iterable_equals_encode_however_the_text_is_cut(tokenizer_parts):
    """Chunks cut anywhere: inside a contraction, a whitespace run, a special token."""
    tok = BPETokenizer(*tokenizer_parts)
    rng = random.Random(0)
    for _ in range(400):
        text = "".join(rng.choices(TRICKY, k=rng.randint(0, 40)))
        cuts = sorted(rng.sample(range(len(text) + 1), min(len(text) + 1, rng.randint(0, 8))))
        chunks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
        want = tok.encode(text)
        assert list(tok.encode_iterable(chunks)) == want, chunks
        assert list(tok.encode_iterable(iter(text))) == want, text  # one character at a time
    assert list(tok.encode_iterable([])) == []


@pytest.mark.slow
def test_encode_iterable_streams_a_large_file_in_bounded_memory(tmp_path, tokenizer_parts):
    """A ~3 MB file read line by line: the ids of encoding it whole, while the memory
    allocated peaks far below the file's size (about 0.1 MB for 1 MB or 3 MB: a chunk, a
    few pre-tokens, the file's buffers). (The tokenizer's cache of distinct pre-tokens
    is filled first, by the whole encoding: it grows with the text's vocabulary, here ~0.5 MB
    for a few thousand distinct pre-tokens, not with its length.)"""
    rng = random.Random(1)
    words = LECTURE.split()[:3000]
    path = tmp_path / "big.txt"
    with open(path, "w", encoding="utf-8", newline="") as f:
        while f.tell() < 3_000_000:
            line = " ".join(rng.choices(words, k=rng.randint(0, 20)))
            f.write(line + rng.choice(["\n", "\n", "\n\n", "  \n", "\r\n", " <|endoftext|>\n"]))
    size = path.stat().st_size
    tok = BPETokenizer(*tokenizer_parts)
    with open(path, encoding="utf-8", newline="") as f:
        want = tok.encode(f.read())
    n = 0
    tracemalloc.start()
    try:
        with open(path, encoding="utf-8", newline="") as f:
            for got, expected in zip(tok.encode_iterable(f), want):
                assert got == expected, f"id {n}"
                n += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == len(want) > 500_000
    assert peak < size / 20, f"peak {peak:,} bytes for a {size:,}-byte file"


# --- the grader's time budget, met by the naive algorithm ------------------------------------

def test_the_naive_algorithm_passes_the_checks_well_within_their_budget(submission):
    """4.1's checks must not fail a correct student for being slow: the naive algorithm (a
    full recount per merge) gets full marks from the grader, and each check, timed here in
    this process, takes under a twentieth of its budget (milliseconds in fact: the fixture
    text is about a thousand characters)."""
    bpe = submission / "llm" / "bpe.py"
    oracle = inspect.getsource(bpe_naive.train_bpe_naive)
    bpe.write_text(bpe.read_text(encoding="utf-8") + "\n\n" + oracle
                   + "\ntrain_bpe = train_bpe_naive\n", encoding="utf-8")
    (result,) = grade(submission, ["4.1"])
    assert result.status == PASSED, [c.message for c in result.checks if c.status != PASSED]
    assert result.score == result.exercise.points
    spec = importlib.util.spec_from_file_location("naive_bpe_submission", bpe)
    naive = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(naive)
    assert naive.train_bpe is naive.train_bpe_naive
    for check in checks.checks_for("4.1"):
        start = time.perf_counter()
        check.fn(naive)
        took = time.perf_counter() - start
        assert took < check.timeout / 20, f"{check.name}: {took:.2f} s of {check.timeout} s"


# --- the benchmark ------------------------------------------------------------------------------

def test_bench_reports_the_table(tmp_path, capsys):
    pytest.importorskip("tokenizers")
    from demos.llm import bench_bpe

    corpus = tmp_path / "corpus.txt"
    corpus.write_text(ZEN * 5, encoding="utf-8")
    res = bench_bpe.main(["--corpus", str(corpus), "--vocab-sizes", "300", "512",
                          "--rounds", "1"])
    out = capsys.readouterr().out
    assert not long_lines(out)
    assert "| vocab | tokenizers | naive (before) | ratio | train_bpe (now) | ratio |" in out
    assert [row["vocab_size"] for row in res["rows"]] == [300, 512]
    assert all(row["identical"] for row in res["rows"])
    assert "target <= 4x" in out
