"""Checks of exercise 4.1: byte-level BPE.

Merges on tiny texts are computed by hand in the docstrings below; the merges and encodings
on a longer text are fixtures from the reference (`grader/data/llm.npz`, keys `4.1/bpe.*`),
stored with the text, the vocabulary size and the special tokens they were trained with.  The
text, the samples encoded, the vocabulary size and the special tokens (their number and
order) are drawn from the fixture seed, keeping what the checks rely on: repeated words
(frequent pairs, ties), multi-byte characters, code and whitespace runs, special tokens
inside the text and the samples.
"""

from __future__ import annotations

import numpy as np

from ... import expect, fixtures
from .. import check

SPECIALS = ("<|endoftext|>", "<|pad|>")  # always among the fixture's special tokens

# Each check's time budget in seconds, student code included. Speed is not graded: the
# naive train_bpe (every pair recounted at every merge, lecture §2) takes milliseconds on
# these inputs (the fixture text is about a thousand characters), and
# tests/test_bpe_incremental.py grades it and keeps every check under a twentieth of this.
BUDGET = 10.0


# Strings a byte-level tokenizer must round-trip although it never saw most of them.
ROUNDTRIP = (
    "", "\n", "\n\n\n", " ", "   leading and trailing   ", "tabs\tand\r\nCRLF\n",
    "héllo wörld", "naïve café", "e\u0301 (e + combining acute) vs \u00e9",
    "日本語のテキスト、中文", "한국어", "emoji: 🎉 👩\u200d👩\u200d👧 👋🏽", "Ωμέγα",
    "a_b__c", "x² + y³ = z⁴", "it's they're we'll I'd", "1234567890", "\u0000\u0001\x7f",
    "<|endoftext|>", "text<|endoftext|>more<|pad|><|endoftext|>", "<|endoftext",
)


def fx() -> dict[str, np.ndarray]:
    return fixtures.by_name("llm")


def _train(impl, text, vocab_size, special_tokens=None):
    """train_bpe's result, checked for its types; without special_tokens the call leaves the
    argument out, so that its default (no special tokens) is what gets graded."""
    if special_tokens is None:
        result = impl.train_bpe(text, vocab_size)
    else:
        result = impl.train_bpe(text, vocab_size, special_tokens)
    if not (isinstance(result, tuple) and len(result) == 2):
        expect.fail("train_bpe should return a pair (vocab, merges).")
    vocab, merges = result
    if not isinstance(vocab, dict):
        expect.fail(f"vocab should be a dict id -> bytes, got {type(vocab).__name__}.")
    bad = [(k, v) for k, v in vocab.items() if not (isinstance(k, int) and isinstance(v, bytes))]
    if bad:
        k, v = bad[0]
        expect.fail(f"vocab should map int ids to bytes; vocab[{k!r}] is {type(v).__name__} "
                    f"{v!r:.40}. Byte-level BPE works on bytes: bytes([i]) for the base tokens, "
                    "vocab[a] + vocab[b] for a merge.")
    if not isinstance(merges, list) or not all(
            isinstance(m, (tuple, list)) and len(m) == 2 and all(isinstance(i, int) for i in m)
            for m in merges):
        expect.fail("merges should be a list of (a, b) pairs of int token ids, in the order "
                    "they were learnt.")
    return vocab, [tuple(m) for m in merges]


def _show(vocab, pair) -> str:
    return f"({pair[0]}, {pair[1]}) = {vocab.get(pair[0], '?')!r} + {vocab.get(pair[1], '?')!r}"


def _expect_merges(vocab, merges, expected, what, hints=None, too_many="") -> None:
    """`merges` must equal `expected`; name the first difference, with a hint if known
    (`hints[(k, wrong merge k)]`, or `too_many` for merges past the expected ones)."""
    hints = hints or {}
    for k, (got, want) in enumerate(zip(merges, expected)):
        if got != want:
            hint = hints.get((k, got), "")
            expect.fail(f"{what}: merge {k} is {_show(vocab, got)}, expected "
                        f"{_show(vocab, want)}. {hint}".rstrip())
    if len(merges) > len(expected) and too_many:
        expect.fail(f"{what}: {len(merges)} merges, expected {len(expected)}, the extra ones "
                    f"starting {_show(vocab, merges[len(expected)])}. {too_many}")
    if len(merges) != len(expected):
        expect.fail(f"{what}: {len(merges)} merges, expected {len(expected)}. Stop when the "
                    "vocabulary is full, or earlier when no pre-token has two ids left.")


def _specials() -> list[str]:
    return [str(s) for s in fx()["bpe.specials"]]


def _tokenizer(impl):
    f = fx()
    vocab, merges = _train(impl, str(f["bpe.text"]), int(f["bpe.vocab_size"]), _specials())
    return impl.BPETokenizer(vocab, merges), vocab


def _encode(tok, text, vocab) -> list[int]:
    ids = tok.encode(text)
    if not (isinstance(ids, list) and all(isinstance(i, int) for i in ids)):
        expect.fail(f"encode should return a list of int, got {type(ids).__name__}"
                    f"{' of ' + type(ids[0]).__name__ if isinstance(ids, list) and ids else ''}.")
    if any(i not in vocab for i in ids):
        expect.fail(f"encode({text!r:.40}) returned ids outside the vocabulary: "
                    f"{sorted(set(ids) - set(vocab))[:5]}.")
    return ids


@check("4.1", weight=2, timeout=BUDGET)
def bpe_merges_on_tiny_texts(impl):
    """merges by hand: 'aaabdaaabac', and pre-tokens that merges never cross"""
    # "aaabdaaabac": (a,a) occurs 4 times (overlaps count) -> 256 = "aa"; then (256,a) and
    # (a,b) both occur twice, and the smaller pair (97, 98) wins -> 257 = "ab"; then
    # (256, 257) occurs twice -> 258 = "aaab".
    vocab, merges = _train(impl, "aaabdaaabac", 259)
    _expect_merges(vocab, merges, [(97, 97), (97, 98), (256, 257)], "train_bpe('aaabdaaabac')", {
        (0, (97, 98)): "Count every adjacent position: 'aaa' holds the pair (a, a) twice.",
        (1, (256, 97)): "(256, 97) and (97, 98) are tied at 2: the smaller pair of ids wins.",
        (1, (98, 100)): "After a merge, replace the pair in every word before counting again.",
    })
    expected = {256: b"aa", 257: b"ab", 258: b"aaab"}
    for i, want in expected.items():
        if vocab.get(i) != want:
            expect.fail(f"vocab[{i}] is {vocab.get(i)!r}, expected {want!r}: a merge (a, b) "
                        "makes the token vocab[a] + vocab[b], with the next free id.")
    # "ab ab ab" is cut into "ab", " ab", " ab": (a,b) x3 -> 256; (" ", 256) x2 -> 257; then
    # no pre-token has two ids, so training stops early with 258 tokens.
    vocab, merges = _train(impl, "ab ab ab", 300)
    crossed = ("Merges never cross pre-tokens: cut the text with `pretokenize` first "
               "(' ab' is one pre-token, 'ab ' is not).")
    _expect_merges(vocab, merges, [(97, 98), (32, 256)], "train_bpe('ab ab ab', 300)",
                   {(1, (256, 32)): crossed}, too_many=crossed)
    if len(vocab) != 258:
        expect.fail(f"train_bpe('ab ab ab', 300) has {len(vocab)} tokens, expected 258: when "
                    "no pair is left, stop early (the vocabulary is then smaller).")


@check("4.1", timeout=BUDGET)
def bpe_tie_breaking(impl):
    """ties go to the smallest pair of ids: 'cdab' merges (a,b), then (c,d), then both"""
    vocab, merges = _train(impl, "cdab", 259)
    _expect_merges(vocab, merges, [(97, 98), (99, 100), (257, 256)], "train_bpe('cdab')", {
        # (the merge returned is the probe: only that rule picks it among three tied pairs)
        (0, (99, 100)): "All three pairs occur once, and ties go to the smallest (a, b) — "
                        "compare a first, then b. " + expect.cause(
                            "the tie went to the first pair seen"),
        (0, (100, 97)): "Ties go to the smallest (a, b). " + expect.cause(
            "the tie went to the largest pair"),
    })


@check("4.1", timeout=BUDGET)
def bpe_vocab_layout_and_size(impl):
    """vocab: 256 bytes, then one token per merge, then the special tokens in order"""
    f = fx()
    vocab_size, specials = int(f["bpe.vocab_size"]), _specials()
    vocab, merges = _train(impl, str(f["bpe.text"]), vocab_size, specials)
    if len(vocab) != vocab_size or set(vocab) != set(range(vocab_size)):
        expect.fail(f"vocab has {len(vocab)} tokens (ids {min(vocab)}..{max(vocab)}), expected "
                    f"ids 0..{vocab_size - 1}: vocab_size counts the 256 bytes, the merges and "
                    "the special tokens.")
    for i in range(256):
        if vocab[i] != bytes([i]):
            expect.fail(f"vocab[{i}] is {vocab[i]!r}, expected {bytes([i])!r}: the first 256 ids "
                        "are the single bytes, in order.")
    for k, (a, b) in enumerate(merges):
        if vocab[256 + k] != vocab[a] + vocab[b]:
            expect.fail(f"vocab[{256 + k}] is {vocab[256 + k]!r}, but merge {k} is "
                        f"{_show(vocab, (a, b))}: merge k makes token 256 + k.")
    tail = [vocab.get(256 + len(merges) + j) for j in range(len(specials))]
    if tail != [s.encode() for s in specials]:
        expect.fail(f"the last ids hold {tail}, expected the special tokens {specials} as "
                    "UTF-8 bytes, in the order given, after the merges.")
    expect.raises(impl.train_bpe, ValueError, "train_bpe with vocab_size < 256 + specials",
                  "abc", 257, list(SPECIALS))


@check("4.1", weight=2, timeout=BUDGET)
def bpe_merges_and_encodings_match(impl):
    """merges on a longer text, and encode applies them in the order learnt"""
    f = fx()
    vocab, merges = _train(impl, str(f["bpe.text"]), int(f["bpe.vocab_size"]), _specials())
    expected = [tuple(int(i) for i in m) for m in f["bpe.merges"]]
    _expect_merges(vocab, merges, expected, "train_bpe on the fixture text")
    tok = impl.BPETokenizer(vocab, merges)
    for j, sample in enumerate(f["bpe.samples"]):
        ids = _encode(tok, str(sample), vocab)
        want = [int(i) for i in f[f"bpe.sample_ids_{j}"]]
        if ids != want:
            hint = ("Each pre-token is encoded alone; in it, merge the adjacent pair learnt "
                    "*first* (lowest merge index), repeatedly — not the most frequent, and not "
                    "one pass over the merges per position.")
            if sorted(ids) == sorted(want):
                hint = "The right tokens in the wrong order."
            expect.fail(f"encode({str(sample)!r:.60}) = {ids[:12]}..., expected {want[:12]}.... "
                        + hint)
    # Hand-computed: merges of "aaabdaaabac" are aa=256, ab=257, aaab=258.
    tok = impl.BPETokenizer({**{i: bytes([i]) for i in range(256)},
                             256: b"aa", 257: b"ab", 258: b"aaab"},
                            [(97, 97), (97, 98), (256, 257)])
    for text, want in (("aaabdaaabac", [258, 100, 258, 97, 99]), ("aaaa", [256, 256]),
                       ("aab", [256, 98]), ("abaaab", [257, 258])):
        ids = tok.encode(text)
        if ids != want:
            expect.fail(f"with merges aa=256, ab=257, aaab=258, encode({text!r}) = {ids}, "
                        f"expected {want}: apply the earliest-learnt merge first, left to right.")


@check("4.1", weight=2, timeout=BUDGET)
def bpe_roundtrips_any_unicode(impl):
    """decode(encode(s)) == s for emoji, CJK, combining marks, newlines, '' and random text"""
    tok, vocab = _tokenizer(impl)
    rng = np.random.default_rng(41)
    texts = list(ROUNDTRIP)
    for _ in range(30):  # random code points from ASCII to the emoji planes, no surrogates
        ranges = [(1, 128), (128, 0xD800), (0xE000, 0x110000)]
        points = [rng.integers(*ranges[rng.integers(3)]) for _ in range(rng.integers(1, 12))]
        texts.append("".join(chr(int(p)) for p in points))
    for text in texts:
        try:
            ids = _encode(tok, text, vocab)
            back = tok.decode(ids)
        except Exception as exc:  # noqa: BLE001 — explained below, then re-raised
            if "decode" in str(exc) or "codec" in str(exc):
                expect.fail(f"round trip of {text!r:.40} raised {exc}. Decode the bytes of all "
                            "tokens joined together, not token by token: one character can "
                            "span several tokens.")
            raise
        if back != text:
            expect.fail(f"decode(encode({text!r:.60})) = {back!r:.60}. Work on the UTF-8 bytes "
                        "(text.encode('utf-8')); keep every byte, whitespace included.")
    ids = _encode(tok, "€ 💡", vocab)
    if b"".join(vocab[i] for i in ids) != "€ 💡".encode():
        expect.fail("encode('€ 💡') should spell the text's UTF-8 bytes: characters never seen "
                    "in training fall back to their single-byte tokens.")


@check("4.1", timeout=BUDGET)
def bpe_special_tokens_stay_whole(impl):
    """special tokens are one id each, never merged in training nor split in encoding"""
    specials = ["<|endoftext|>"]
    vocab, merges = _train(impl, "<|endoftext|>ab" * 20, 300, specials)
    if specials != ["<|endoftext|>"]:  # (seen when the code runs in this process)
        expect.fail(f"train_bpe changed the list of special tokens it was given into "
                    f"{specials!r}: work on a copy (list(special_tokens)).")
    if merges != [(97, 98)]:
        expect.fail(f"training on '<|endoftext|>ab' * 20 learnt {len(merges)} merges, starting "
                    f"{_show(vocab, merges[0]) if merges else '[]'}; expected only (97, 98). "
                    "Remove the special tokens from the text before counting pairs.")
    tok, vocab = _tokenizer(impl)
    specials = _specials()  # they hold the last ids, in this order
    special_ids = {s: len(vocab) - len(specials) + j for j, s in enumerate(specials)}
    eot, pad = special_ids["<|endoftext|>"], special_ids["<|pad|>"]
    for text, where in (("<|endoftext|>", [0]), ("a<|endoftext|>b", [1]),
                        ("<|pad|><|endoftext|><|pad|>", [0, 1, 2])):
        ids = _encode(tok, text, vocab)
        found = [k for k, i in enumerate(ids) if i in special_ids.values()]
        if found != where:
            expect.fail(f"encode({text!r}) = {ids}: each special token should be its one id "
                        f"({eot} for <|endoftext|>, {pad} for <|pad|>). Split the text around "
                        "the special tokens before pre-tokenizing.")
        if tok.decode(ids) != text:
            expect.fail(f"decode(encode({text!r})) = {tok.decode(ids)!r}.")


# "€" is E2 82 AC in UTF-8: ids that stop inside it (or start inside it) split a character.
SPLIT = ((b"\xe2\x82",), (b"a", b"\xe2"), (b"\x82\xac", b"b"), (b"x", b"\xe2\x82", b"y"))
# (never a high surrogate followed by a low one: the sandbox carries strings as JSON, whose
# decoder joins such a pair into the one character it spells before the student's code runs)
SURROGATES = ("\ud800", "a\udfffb", "x\ud83d", "\udc80\udcff", "\ude00\ud83d")


@check("4.1", timeout=BUDGET)
def bpe_decode_split_characters_and_surrogates(impl):
    """ids that split a character decode to U+FFFD; lone surrogates round-trip"""
    tok, vocab = _tokenizer(impl)
    for pieces in SPLIT:
        ids = [b for piece in pieces for b in piece]  # ids 0..255 are the single bytes
        data = bytes(ids)
        want = data.decode("utf-8", errors="replace")
        try:
            got = tok.decode(ids)
        except Exception as exc:  # noqa: BLE001 — explained below
            if getattr(exc, "type_name", type(exc).__name__) == "NotImplementedError":
                raise
            expect.fail(f"decode({ids}) (the bytes {data!r}, which cut a character in half) "
                        f"raised {getattr(exc, 'type_name', type(exc).__name__)}. The "
                        "docstring asks for U+FFFD there: decode with errors='replace' when "
                        "the bytes are not valid UTF-8.")
        if got != want:
            expect.fail(f"decode({ids}) (the bytes {data!r}, which cut a character in half) = "
                        f"{got!r}, expected {want!r}: the replacement character U+FFFD where "
                        "the bytes are not valid UTF-8 (bytes.decode('utf-8', "
                        "errors='replace')), the rest kept.")
    for text in SURROGATES:
        try:
            ids = _encode(tok, text, vocab)
            back = tok.decode(ids)
        except Exception as exc:  # noqa: BLE001 — explained below
            if getattr(exc, "type_name", type(exc).__name__) == "NotImplementedError":
                raise
            expect.fail(f"the round trip of {text!r}, a str with lone surrogates, raised "
                        f"{getattr(exc, 'type_name', type(exc).__name__)}: "
                        f"{getattr(exc, 'message', exc)!s:.100}. Any str round-trips: encode "
                        "with to_bytes (errors='surrogatepass'), and decode with "
                        "errors='surrogatepass' first.")
        if back != text:
            expect.fail(f"decode(encode({text!r})) = {back!r}: a str with lone surrogates "
                        "must come back unchanged. Encode with to_bytes (errors="
                        "'surrogatepass') and decode with errors='surrogatepass' first, "
                        "'replace' only when that fails.")
