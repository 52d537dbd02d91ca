"""Exercise 4.1 reference (``train_bpe``, ``BPETokenizer``) and ``load_gpt2_tokenizer`` vs
Hugging Face ``tokenizers`` (byte-level BPE, GPT-2's pre-tokenizer) and ``GPT2TokenizerFast``.

What agrees, exactly, and what does not (lecture, §11):

- **Training.** ``tokenizers``' ``BpeTrainer`` and our ``train_bpe`` count the same pairs and
  take the most frequent; they differ only in how a tie is broken. Both take the smallest
  pair of ids, but ``tokenizers`` numbers the 256 byte tokens in the order of their
  ``bytes_to_unicode`` characters (GPT-2's vocab.json order: the printable bytes first, then
  the space, control bytes, 0x7F-0xA0 and 0xAD), we by byte value. So " t" and "th" tied:
  we take " t" (0x20 < 0x74), ``tokenizers`` "th" (the space is "Ġ", U+0120, after "t").
  Tested three ways: (1) on a text with printable bytes only the merges are identical;
  (2) a ten-line replay of training with the byte order as a parameter reproduces ours with
  the byte order and ``tokenizers``' with GPT-2's order, on natural text, to the last merge;
  (3) the first merge where ours and ``tokenizers``' differ is a genuine tie.
- **Special tokens.** ``train_bpe`` cuts them out of the training text; ``BpeTrainer`` does not
  (it learns merges such as ``<|``), so the documents are given to it one by one.
- **Encoding** of a ``tokenizers``-trained model saved as vocab.json + merges.txt:
  ``load_gpt2_tokenizer`` gives the ids of ``tokenizers`` and of ``GPT2TokenizerFast`` on
  English, code, numbers, whitespace runs, contractions, non-ASCII and emoji; and the files
  ``save_gpt2_tokenizer`` writes load in both libraries with the same ids.
- **Pre-tokenizer.** Over every Unicode code point, our ``re`` pattern and GPT-2's ``\\p{L}``
  regex (in ``tokenizers``) classify a character alike except: U+001C..U+001F (``re``'s
  ``\\s`` includes them, Unicode's White_Space does not), the non-decimal numbers of
  categories No and Nl ("²", "½", "Ⅻ": letters for ``re``'s ``[^\\W\\d_]``, numbers for
  ``\\p{N}``), and code points this Python's Unicode database has not assigned yet.
"""

import contextlib
import io
import json
import unicodedata

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPT2TokenizerFast

from demos.llm.gpt2_tokenizer import (
    bytes_to_unicode,
    gpt2_token_bytes,
    load_gpt2_tokenizer,
    save_gpt2_tokenizer,
)
from reference.llm.bpe import BPETokenizer, merge_pair, pretokenize, to_bytes, train_bpe

EOT = "<|endoftext|>"
with contextlib.redirect_stdout(io.StringIO()):
    import this  # the Zen of Python, a fixed English text in every Python
ZEN = "".join(this.d.get(c, c) for c in this.s)
MULTILINGUAL = (
    "Naïve café owners in Zürich sell crème brûlée for €5.50 — “really” ½ price!\n"
    "日本語のテキストも少し。Ελληνικά και русский текст. 🎉🎉 emoji 👍🏽 à la carte.\n"
)
CODE = (
    "def forward(self, x):\n    # the residual stream\n    return x + self.mlp(self.ln(x))\n\n"
    "for i in range(10):\n\tprint(f'{i:03d}', i ** 2)  # 0, 1, 4, 9\n"
)
TEXTS = {"english": ZEN, "multilingual": (ZEN + MULTILINGUAL) * 2, "code": CODE * 4}
SAMPLES = [
    "Hello, world! It's 2024, and we'll see.",
    "Beautiful is better than ugly.\n\n\n   Explicit   is better\tthan implicit.  ",
    "naïve café 🎉 日本語 Ünïcödé Ελληνικά €5 — “quotes”",
    "x = [1, 2, 3]\n\tif x:\n\t\treturn None  # comment\n",
    "a<|endoftext|>b  <|endoftext|>\n<|endoftext|>",
    "they'll've we'd I'M it'S don't O'Neil's",
    "3.14159 1,000,000 $5 10% 2024-01-01 007",
    "\r\n\r\n  \n \u00a0\u3000 end",
    "👍🏽👨‍👩‍👧 emoji sequences",
    "",
]
GPT2_BYTE_ORDER = sorted(range(256), key=lambda b: bytes_to_unicode()[b])  # vocab.json ids 0..255


def hf_tokenizer(documents, vocab_size, special_tokens=()):
    """A GPT-2-style byte-level BPE trained by ``tokenizers`` on the documents."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(special_tokens),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(documents, trainer)
    return tok


def hf_merges(tok):
    """The trained merges as pairs of byte strings, in order."""
    merges = json.loads(tok.to_str())["model"]["merges"]
    return [tuple(gpt2_token_bytes(part) for part in (m.split(" ") if isinstance(m, str) else m))
            for m in merges]


def our_merges(text, vocab_size, special_tokens=()):
    vocab, merges = train_bpe(text, vocab_size, special_tokens)
    return [(vocab[a], vocab[b]) for a, b in merges]


def replay(text, n_merges, byte_rank):
    """BPE training as ``train_bpe`` does it, ties broken by the smallest pair of *ranks*:
    ``byte_rank[b]`` for a byte, the id itself for a merged token. Returns the merges as byte
    pairs and, for each, the pair count and how many pairs shared that count."""
    words = {}
    for word in pretokenize(text):
        key = tuple(to_bytes(word))
        words[key] = words.get(key, 0) + 1
    vocab = {i: bytes([i]) for i in range(256)}
    rank = lambda i: byte_rank[i] if i < 256 else i  # noqa: E731
    merges, stats = [], []
    while len(merges) < n_merges:
        counts = {}
        for word, freq in words.items():
            for pair in zip(word[:-1], word[1:]):
                counts[pair] = counts.get(pair, 0) + freq
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], rank(p[0]), rank(p[1])))
        stats.append((counts[best], sum(c == counts[best] for c in counts.values())))
        new_id = 256 + len(merges)
        merges.append((vocab[best[0]], vocab[best[1]]))
        vocab[new_id] = vocab[best[0]] + vocab[best[1]]
        merged = {}
        for word, freq in words.items():
            key = tuple(merge_pair(list(word), best, new_id))
            merged[key] = merged.get(key, 0) + freq
        words = merged
    return merges, stats


def test_merges_identical_on_text_of_printable_bytes():
    """Without the space, newline and other re-mapped bytes both tie rules agree: every merge,
    in order, to the end of training."""
    text = ZEN.replace(" ", "-").replace("\n", ".") * 2
    encoder = bytes_to_unicode()
    assert all(encoder[b] == chr(b) for b in to_bytes(text)), "only printable bytes wanted"
    vocab_size = 256 + 400
    ours = our_merges(text, vocab_size)
    theirs = hf_merges(hf_tokenizer([text], vocab_size))
    assert 200 < len(ours) < vocab_size - 256  # runs out of pairs: both stop early, alike
    assert ours == theirs


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_tie_breaking_is_the_only_difference(name):
    """Natural text: ours = replay with the byte order; tokenizers' = replay with GPT-2's
    vocab order; where ours and tokenizers' first differ, the two pairs were tied."""
    text, vocab_size = TEXTS[name], 256 + 300
    ours = our_merges(text, vocab_size)
    theirs = hf_merges(hf_tokenizer([text], vocab_size))
    by_byte, stats = replay(text, vocab_size - 256, list(range(256)))
    gpt2_rank = [0] * 256
    for position, b in enumerate(GPT2_BYTE_ORDER):
        gpt2_rank[b] = position
    by_gpt2, _ = replay(text, vocab_size - 256, gpt2_rank)
    assert ours == by_byte
    assert theirs == by_gpt2
    first = next(k for k, (a, b) in enumerate(zip(ours, theirs)) if a != b)
    count, n_tied = stats[first]
    assert n_tied >= 2, f"merge {first}: {ours[first]} vs {theirs[first]} was not a tie"
    assert ours[:first] == theirs[:first]


def test_special_tokens_are_cut_out_of_training_text():
    """train_bpe removes <|endoftext|> before counting; BpeTrainer counts its characters, so
    it gets the documents one by one. Printable bytes only, so the tie rules agree."""
    docs = ["Simple-is-better-than-complex.", "Complex-is-better-than-complicated.",
            "Flat-is-better-than-nested."] * 5
    vocab_size = 256 + 1 + 60
    ours = our_merges(EOT.join(docs), vocab_size, [EOT])
    assert ours == hf_merges(hf_tokenizer(docs, vocab_size, [EOT]))
    whole = hf_merges(hf_tokenizer([EOT.join(docs)], vocab_size, [EOT]))
    assert any(a + b == b"endoftext" for a, b in whole)  # tokenizers merged inside it
    assert not any(b"<" in a + b or b"endof" in a + b for a, b in ours)


@pytest.fixture(scope="module")
def hf_trained(tmp_path_factory):
    """A tokenizers-trained GPT-2-style BPE, saved as vocab.json + merges.txt."""
    directory = tmp_path_factory.mktemp("hf_bpe")
    tok = hf_tokenizer([(ZEN + MULTILINGUAL + CODE) * 2], 256 + 1 + 500, [EOT])
    tok.model.save(str(directory))
    return tok, directory


@pytest.mark.parametrize("text", SAMPLES)
def test_from_gpt2_gives_the_ids_of_tokenizers_and_gpt2tokenizerfast(hf_trained, text):
    tok, directory = hf_trained
    ours = load_gpt2_tokenizer(directory, cls=BPETokenizer)
    fast = GPT2TokenizerFast.from_pretrained(str(directory), local_files_only=True)
    ids = ours.encode(text)
    assert ids == tok.encode(text).ids
    assert ids == fast(text)["input_ids"]
    assert ours.decode(ids) == text == tok.decode(ids, skip_special_tokens=False)


def test_from_gpt2_vocabulary_and_special_token(hf_trained):
    tok, directory = hf_trained
    ours = load_gpt2_tokenizer(directory, cls=BPETokenizer)
    assert ours.vocab_size == tok.get_vocab_size()
    assert ours.special_ids == {EOT: tok.token_to_id(EOT)} == {EOT: 0}  # tokenizers: first
    inverse = {i: s for s, i in tok.get_vocab().items()}
    for gpt2_id in range(tok.get_vocab_size()):  # every token decodes to its own bytes
        expected = inverse[gpt2_id] if gpt2_id == 0 else gpt2_token_bytes(inverse[gpt2_id])
        got = ours.tokenizer.vocab[int(ours.from_gpt2[gpt2_id])]
        assert got == (expected.encode() if isinstance(expected, str) else expected)


def test_save_gpt2_tokenizer_files_load_in_tokenizers_and_transformers(tmp_path):
    vocab, merges = train_bpe((ZEN + MULTILINGUAL + CODE) * 2, 256 + 400, [EOT])
    to_gpt2 = save_gpt2_tokenizer(vocab, merges, tmp_path)
    tok = Tokenizer(models.BPE.from_file(str(tmp_path / "vocab.json"),
                                         str(tmp_path / "merges.txt")))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([EOT])
    fast = GPT2TokenizerFast.from_pretrained(str(tmp_path), local_files_only=True)
    ours, plain = load_gpt2_tokenizer(tmp_path, cls=BPETokenizer), BPETokenizer(vocab, merges)
    for text in SAMPLES:
        ids = ours.encode(text)
        assert ids == [to_gpt2[i] for i in plain.encode(text)]
        assert ids == tok.encode(text).ids == fast(text)["input_ids"], text


# --- the pre-tokenizer, character by character ------------------------------------------------

PROBES = "a1!"  # a letter, a digit, a punctuation mark: which one does the character join?


def _classes(chars, pieces_of):
    """For each char: "L", "N" or "P" if it joins the letter, digit or punctuation run before
    it into one pre-token; "-" if none (whitespace)."""
    text = "".join(p + c + "\t" for c in chars for p in PROBES)
    spans = set(pieces_of(text))
    out = []
    for i in range(len(chars)):
        base = 3 * len(PROBES) * i
        joined = [(base + 3 * j, base + 3 * j + 2) in spans for j in range(len(PROBES))]
        out.append("LNP"[joined.index(True)] if any(joined) else "-")
    return out


def _ours(text):
    start = 0
    for piece in pretokenize(text):
        yield start, start + len(piece)
        start += len(piece)


_BYTE_LEVEL = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)


def _theirs(text):
    return (span for _, span in _BYTE_LEVEL.pre_tokenize_str(text))


def pretokenizer_differences(code_points, chunk=100):
    """``{(ours, theirs, category): [chars]}`` where the two pre-tokenizers disagree."""
    chars = [chr(cp) for cp in code_points if not 0xD800 <= cp < 0xE000]  # no surrogates
    diff = {}
    for i in range(0, len(chars), chunk):  # tokenizers is superlinear on long strings
        part = chars[i:i + chunk]
        for c, a, b in zip(part, _classes(part, _ours), _classes(part, _theirs)):
            if a != b:
                diff.setdefault((a, b, unicodedata.category(c)), []).append(c)
    return diff


def test_pretokenizer_documented_examples():
    def theirs(text):
        return [text[a:b] for a, b in _theirs(text)]

    text = "x² 1½ aⅫ"  # "²", "½" (No) and "Ⅻ" (Nl): letters for re, numbers for GPT-2
    assert pretokenize(text) == ["x²", " 1", "½", " aⅫ"]
    assert theirs(text) == ["x", "²", " 1½", " a", "Ⅻ"]
    text = "a\x1c b!\x1c"  # U+001C: whitespace for re, punctuation for GPT-2
    assert pretokenize(text) == ["a", "\x1c", " b", "!", "\x1c"]
    assert theirs(text) == ["a", "\x1c", " b", "!\x1c"]
    text = "it's  \n\n end_of_line  "  # where they agree: contractions, whitespace runs, "_"
    assert pretokenize(text) == theirs(text) == ["it", "'s", "  \n\n", " end", "_", "of", "_",
                                                 "line", "  "]


@pytest.mark.slow
def test_pretokenizer_differs_only_where_documented():
    """Every code point of the planes Unicode uses (0-3, 14), a sample of the empty and
    private-use planes (about 15 s): the differences are exactly the documented ones."""
    code_points = [*range(0x40000), *range(0x40000, 0xE0000, 97), *range(0xE0000, 0xE1000),
                   *range(0xE1000, 0x110000, 97)]
    diff = pretokenizer_differences(code_points)
    for (ours, theirs, category), chars in diff.items():
        if category == "Cc":
            assert (ours, theirs) == ("-", "P") and set(chars) == set("\x1c\x1d\x1e\x1f")
        elif category in ("No", "Nl"):
            assert (ours, theirs) == ("L", "N"), chars[:5]
        else:  # assigned after this Python's Unicode version: re sees an unknown character
            assert category == "Cn" and ours == "P", (ours, theirs, category, chars[:5])
    assert "²" in diff[("L", "N", "No")] and "Ⅻ" in diff[("L", "N", "Nl")]
