"""The naive ``train_bpe``, kept as an oracle (not an exercise; the grader never imports it).

Exercise 4.1's reference once trained this way: every merge recounts every pair of every
distinct pre-token, and rewrites every pre-token with ``merge_pair``, so a run costs
O(merges x corpus). The reference now updates only the pre-tokens a merge touches
(lecture §2.3); it must learn exactly the same merges as this copy, for every input:
``tests/test_bpe_incremental.py`` compares the two on many corpora, and
``python -m demos bench_bpe`` (``make bench BENCH=bpe``) times this copy as the "before".

It lives in ``demos/`` so that both can import it: the grader imports neither ``reference/``
nor ``demos/``. The given helpers come from the implementation the demo runs on (``--target``),
the same in every target.
"""

from implementation.llm.bpe import merge_pair, pretokenize, split_special, to_bytes


def train_bpe_naive(text, vocab_size, special_tokens=()):
    """``train_bpe``'s contract and results, by the naive algorithm (a full recount per merge)."""
    special_tokens = list(special_tokens)
    if vocab_size < 256 + len(special_tokens):
        raise ValueError(f"train_bpe: vocab_size={vocab_size} cannot hold the 256 bytes and "
                         f"{len(special_tokens)} special tokens")
    words = {}  # pre-token as a tuple of ids -> how often it occurs
    for piece, is_special in split_special(text, special_tokens):
        if is_special:
            continue
        for word in pretokenize(piece):
            key = tuple(to_bytes(word))
            words[key] = words.get(key, 0) + 1
    vocab = {i: bytes([i]) for i in range(256)}
    merges = []
    n_merges = vocab_size - 256 - len(special_tokens)
    while len(merges) < n_merges:
        counts = {}
        for word, freq in words.items():
            for pair in zip(word[:-1], word[1:]):
                counts[pair] = counts.get(pair, 0) + freq
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))  # most frequent, then smallest ids
        new_id = 256 + len(merges)
        merges.append(best)
        vocab[new_id] = vocab[best[0]] + vocab[best[1]]
        merged = {}
        for word, freq in words.items():
            key = tuple(merge_pair(list(word), best, new_id)) if len(word) > 1 else word
            merged[key] = merged.get(key, 0) + freq
        words = merged
    for token in special_tokens:
        vocab[len(vocab)] = to_bytes(token)
    return vocab, merges
