"""Mutation tests of 4.1 (Byte-level BPE tokenizer): every check of the exercise fails on a
plausible student bug, and its message names the bug.  The harness and its conventions:
`tests/mutation.py`.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)

from grader.course import LLM_FUNDAMENTALS

PACKAGE = LLM_FUNDAMENTALS.package  # mutants edit files of reference/llm/

BPE = "bpe.py"
BEST = "        best = heapq.heappop(heap)[1]\n"  # the heap's top: most frequent, smallest ids
PRETOK = ("        for word in pretokenize(piece):\n"
          "            key = tuple(to_bytes(word))\n")
SKIP_SPECIAL = ("        if is_special:\n"
                "            continue\n"
                "        for word in pretokenize(piece):\n"
                "            key = tuple(to_bytes(word))\n")
N_MERGES = "    n_merges = vocab_size - 256 - len(special_tokens)\n"
NEW_TOKEN = "        vocab[new_id] = vocab[best[0]] + vocab[best[1]]\n"
EARLY_STOP = ("        if not heap:\n"
              "            break\n")
OLD_PAIRS_OUT = "                delta[pair] = delta.get(pair, 0) - freqs[w]\n"
RANK = ("            pair = min(zip(ids[:-1], ids[1:]), "
        "key=lambda p: self.ranks.get(p, len(self.ranks)))\n")
DECODE = '            return data.decode("utf-8", errors="surrogatepass")\n'
JOIN = '        data = b"".join(self.vocab[int(i)] for i in ids)\n'
ENC_SPECIAL = "        for piece, is_special in split_special(text, list(self.special_ids)):\n"

SPLIT = "bpe_decode_split_characters_and_surrogates"

MUTANTS = [
    Mutant("ties_to_largest", "4.1", BPE,
           ((BEST, "        best = max(counts, key=lambda p: (counts[p], p))\n"),),
           ("bpe_tie_breaking", "bpe_merges_on_tiny_texts"), "the tie went to the largest pair",
           diagnosis="the tie went to the largest pair"),
    Mutant("ties_to_first_seen", "4.1", BPE,
           ((BEST, "        best = max(counts, key=counts.get)\n"),),
           # (counts kept up to date, not recounted: in 'aaabdaaabac' the pair (97, 98), whose
           # count the first merge leaves unchanged, stays ahead of (256, 97) and wins the tie)
           ("bpe_tie_breaking", "bpe_merges_and_encodings_match"),
           "the tie went to the first pair seen", diagnosis="the tie went to the first pair seen"),
    Mutant("no_pretokenization", "4.1", BPE,
           ((PRETOK, "        for word in [piece]:\n"
                     "            key = tuple(to_bytes(word))\n"),),
           ("bpe_merges_on_tiny_texts",), "Merges never cross pre-tokens"),
    Mutant("no_early_stop", "4.1", BPE, ((EARLY_STOP, ""),),
           ("bpe_merges_on_tiny_texts",), "", status="error"),
    Mutant("old_pairs_not_taken_out", "4.1", BPE,  # incremental counts that only grow
           ((OLD_PAIRS_OUT, "                delta[pair] = delta.get(pair, 0)\n"),),
           ("bpe_merges_on_tiny_texts",), "merge 2 is (97, 99)"),
    Mutant("merge_token_reversed", "4.1", BPE,
           ((NEW_TOKEN, "        vocab[new_id] = vocab[best[1]] + vocab[best[0]]\n"),),
           ("bpe_merges_on_tiny_texts",), "vocab[a] + vocab[b]"),
    Mutant("specials_trained_on", "4.1", BPE,
           ((SKIP_SPECIAL, PRETOK),),
           ("bpe_special_tokens_stay_whole",), "Remove the special tokens"),
    Mutant("vocab_size_without_specials", "4.1", BPE,
           ((N_MERGES, "    n_merges = vocab_size - 256\n"),),
           ("bpe_vocab_layout_and_size",), "vocab_size counts"),
    Mutant("encode_latest_merge_first", "4.1", BPE,
           ((RANK, "            pair = min(zip(ids[:-1], ids[1:]), "
                   "key=lambda p: -self.ranks.get(p, -1))\n"),),
           ("bpe_merges_and_encodings_match",), "encode("),
    Mutant("decode_token_by_token", "4.1", BPE,
           ((JOIN, '        return "".join(self.vocab[int(i)].decode("utf-8") for i in ids)\n'
                   '        data = b""\n'),),
           ("bpe_roundtrips_any_unicode",), "joined together"),
    Mutant("decode_latin1", "4.1", BPE,
           ((DECODE, '            return data.decode("latin-1")\n'),),
           ("bpe_roundtrips_any_unicode",), "UTF-8 bytes"),
    Mutant("encode_splits_specials", "4.1", BPE,
           ((ENC_SPECIAL, "        for piece, is_special in split_special(text, []):\n"),),
           ("bpe_special_tokens_stay_whole",), "Split the text around"),
    # a wrong default, and the text edge cases of decode / encode
    Mutant("default_special_token", "4.1", BPE, (), ("bpe_merges_on_tiny_texts",),
           "2 merges, expected 3", append="""
_train_bpe = train_bpe
def train_bpe(text, vocab_size, special_tokens=("<|endoftext|>",)):
    return _train_bpe(text, vocab_size, special_tokens)
"""),
    Mutant("decode_strict", "4.1", BPE, (), (SPLIT,), "raised UnicodeDecodeError", append="""
def _decode_strict(self, ids):
    return b"".join(self.vocab[int(i)] for i in ids).decode("utf-8", errors="surrogatepass")
BPETokenizer.decode = _decode_strict
"""),
    Mutant("decode_replace_only", "4.1", BPE, (), (SPLIT,), "lone surrogates", append="""
def _decode_replace(self, ids):
    return b"".join(self.vocab[int(i)] for i in ids).decode("utf-8", errors="replace")
BPETokenizer.decode = _decode_replace
"""),
    Mutant("decode_ignores_bad_bytes", "4.1", BPE, (), (SPLIT,), "U+FFFD", append="""
def _decode_ignore(self, ids):
    data = b"".join(self.vocab[int(i)] for i in ids)
    try:
        return data.decode("utf-8", errors="surrogatepass")
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="ignore")
BPETokenizer.decode = _decode_ignore
"""),
    Mutant("encode_without_surrogatepass", "4.1", BPE, (), (SPLIT,), "raised UnicodeEncodeError",
           append="""
_encode_word = BPETokenizer._encode_word
def _encode_word_strict(self, word):
    word.encode("utf-8")  # a student's own encoding: lone surrogates raise
    return _encode_word(self, word)
BPETokenizer._encode_word = _encode_word_strict
"""),
]

GAPS: dict[str, str] = {}

DIAGNOSED = [
    ("ties_to_largest", "bpe_merges_on_tiny_texts", "smaller pair of ids wins", ""),
    ("no_pretokenization", "bpe_merges_on_tiny_texts", "pretokenize", "tied"),
]

DIAGNOSIS_GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["4.1"], MUTANTS, gaps=GAPS, diagnosed=DIAGNOSED,
                                diagnosis_gaps=DIAGNOSIS_GAPS))
