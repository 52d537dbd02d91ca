"""Byte-level byte-pair encoding: train, encode, decode (exercise 4.1).

The layout of a vocabulary, fixed so that `(vocab, merges)` says everything:

- ids 0..255 are the 256 single bytes, ``vocab[i] == bytes([i])``: any string's UTF-8 bytes
  can be written with them, so nothing is ever unknown;
- merge ``k`` (``merges[k] == (a, b)``, a pair of token ids) makes token ``256 + k``, with
  ``vocab[256 + k] == vocab[a] + vocab[b]``;
- the special tokens come last, in the order given, from id ``256 + len(merges)`` on, with
  their UTF-8 bytes as value.

Text is first cut into pre-tokens by ``PRETOKENIZE`` (GPT-2's pattern, written for the ``re``
module), and merges never cross a pre-token: a merge can join " the" but never "e t".
"""

import heapq
import re

# GPT-2's pre-tokenizer,
#     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
# with the standard `re` module (which has no \p{..}): letters are `[^\W\d_]` (word characters
# that are neither decimal digits nor "_"), numbers `\d`, and "_" joins the punctuation.
# Every character is matched by one alternative, so the pieces always join back to the text.
PRETOKENIZE = re.compile(
    r"""'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+""")


def pretokenize(text):
    """Cut ``text`` into GPT-2-style pre-tokens (given, not an exercise); they join to ``text``."""
    return PRETOKENIZE.findall(text)


def to_bytes(text):
    """UTF-8 bytes of ``text`` (given); lone surrogates pass through, so any str round-trips."""
    return text.encode("utf-8", errors="surrogatepass")


def split_special(text, special_tokens):
    """Split ``text`` around the special tokens (given, not an exercise).

    Returns a list of ``(piece, is_special)``; the pieces join back to ``text``. Where two
    special tokens could start at the same place, the longer one wins.
    """
    if not special_tokens:
        return [(text, False)] if text else []
    pattern = "|".join(re.escape(s) for s in sorted(special_tokens, key=len, reverse=True))
    out, start = [], 0
    for m in re.finditer(pattern, text):
        if m.start() > start:
            out.append((text[start:m.start()], False))
        out.append((m.group(), True))
        start = m.end()
    if start < len(text):
        out.append((text[start:], False))
    return out


def merge_pair(ids, pair, new_id):
    """Replace each occurrence of ``pair`` in ``ids``, left to right, by ``new_id`` (given).

    Occurrences do not overlap: ``merge_pair([97, 97, 97], (97, 97), 256) == [256, 97]``.
    """
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def train_bpe(text, vocab_size, special_tokens=()):
    """Learn byte-level BPE merges on ``text`` (exercise 4.1).

    1. Remove the special tokens from the text (split around them; they are never merged).
    2. Cut each remaining piece into pre-tokens (``pretokenize``), each a list of byte ids.
    3. Repeat until the vocabulary has ``vocab_size`` tokens: count every adjacent pair of ids
       inside the pre-tokens (weighted by how often the pre-token occurs; overlapping pairs
       count, so "aaa" holds (a, a) twice), take the most frequent pair, give it the next id
       and replace it in every pre-token with ``merge_pair``.

    Tie-breaking: among pairs with the same count, the smallest pair of ids ``(a, b)`` in
    lexicographic order wins (compare ``a`` first, then ``b``), so training is deterministic.
    Training stops early, with a smaller vocabulary, when no pre-token has two ids left.
    Recounting every pair at every merge gives these results, slowly; lecture §2.1 keeps the
    counts up to date instead, touching only the pre-tokens that hold the merged pair.

    Args:
        text: the training text, a str.
        vocab_size: the total number of tokens wanted: 256 bytes + merges + special tokens.
        special_tokens: strings such as "<|endoftext|>", kept whole, in this order at the end.

    Returns:
        vocab: dict id -> bytes, laid out as the module docstring says.
        merges: list of ``(a, b)`` id pairs in the order learnt; merge k made id ``256 + k``.

    Raises:
        ValueError: if ``vocab_size < 256 + len(special_tokens)``.
    """
    special_tokens = list(special_tokens)
    if vocab_size < 256 + len(special_tokens):
        raise ValueError(f"train_bpe: vocab_size={vocab_size} cannot hold the 256 bytes and "
                         f"{len(special_tokens)} special tokens")
    raise NotImplementedError(
        "Exercise 4.1 (train_bpe) is not implemented yet; "
        "see lectures/04_llm_fundamentals/theory.md#2-byte-level-bpe"
    )


class BPETokenizer:
    """Encode text to ids with learnt merges, and decode ids back to text (exercise 4.1).

    ``BPETokenizer(vocab, merges)`` takes what ``train_bpe`` returns; the ids from
    ``256 + len(merges)`` on are the special tokens (their text is ``vocab[id]``).

    - ``encode(text)`` splits around the special tokens (the longest wins; each becomes its one
      id), cuts the rest into pre-tokens and, in each, applies the merges as training did:
      repeatedly merge the adjacent pair that was *learnt first* (lowest merge index), until no
      pair of the pre-token is a merge. Any str works: unseen characters stay as bytes.
    - ``decode(ids)`` joins the tokens' bytes and decodes them as UTF-8, so
      ``decode(encode(s)) == s`` for every str. Ids that cut a character in half decode to
      U+FFFD (the replacement character) rather than raising.
    """

    def __init__(self, vocab, merges):
        self.vocab = dict(vocab)
        self.merges = [tuple(pair) for pair in merges]
        self.ranks = {pair: k for k, pair in enumerate(self.merges)}  # pair -> merge index
        first_special = 256 + len(self.merges)
        self.special_ids = {self.vocab[i].decode("utf-8"): i for i in self.vocab
                            if i >= first_special}
        self._cache = {}  # pre-token -> ids

    def _encode_word(self, word):
        """The ids of one pre-token (a str without special tokens)."""
        raise NotImplementedError(
            "Exercise 4.1 (BPETokenizer._encode_word) is not implemented yet; "
            "see lectures/04_llm_fundamentals/theory.md#2-byte-level-bpe"
        )

    def encode(self, text):
        """Token ids of ``text`` (a list of int)."""
        raise NotImplementedError(
            "Exercise 4.1 (BPETokenizer.encode) is not implemented yet; "
            "see lectures/04_llm_fundamentals/theory.md#2-byte-level-bpe"
        )

    def decode(self, ids):
        """The text of token ids (a str)."""
        raise NotImplementedError(
            "Exercise 4.1 (BPETokenizer.decode) is not implemented yet; "
            "see lectures/04_llm_fundamentals/theory.md#2-byte-level-bpe"
        )

    def encode_iterable(self, chunks):
        """Yield the ids of ``encode("".join(chunks))`` one by one, reading ``chunks`` (any
        iterable of str, such as an open text file's lines) once and never holding the whole
        text (given, not an exercise).

        Text is encoded as soon as the chunks to come cannot change its pre-tokens: held back
        are the last two pre-tokens (``'`` + ``ll`` makes ``'ll``; a whitespace run may grow or
        lend its last space to the next word) and any that start within a special token's
        length of the end (one may be cut in half). Memory: a chunk and a few pre-tokens (and
        the cache of distinct pre-tokens, which grows with the text's vocabulary).
        """
        specials = list(self.special_ids)
        reach = max(map(len, specials), default=0)
        text = ""
        for chunk in chunks:
            text += chunk
            units, start = [], 0  # (where it starts, pre-token or special token, is_special)
            for piece, is_special in split_special(text, specials):
                for unit in [piece] if is_special else pretokenize(piece):
                    units.append((start, unit, is_special))
                    start += len(unit)
            settled = [u for u in units if u[0] < len(text) - reach][:-2]
            for _, unit, is_special in settled:
                yield from [self.special_ids[unit]] if is_special else self._encode_word(unit)
            if settled:
                text = text[units[len(settled)][0]:]
        yield from self.encode(text)
