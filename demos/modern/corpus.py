"""The pretraining demo's data for Module 5's language models: the same corpus, tokenizer and
split, and the held-out perplexity over every held-out token.

``corpus_split`` repeats the pretraining demo's steps (``pretrain_demo.run``): the lecture
notes joined with ``<|endoftext|>``, a byte-level BPE (4.1) trained on their first
``bpe_chars`` characters, the whole text encoded, the last 10% of the tokens held out. BPE
training is deterministic, so the tokenizer is the one in ``runs/pretrain/tokenizer.json``
at the same commit, and the held-out tokens are its ``val_tokens.npy``.
"""

import math
import time

import numpy as np
from implementation.llm.bpe import BPETokenizer, train_bpe

from ..llm.pretrain_demo import EOT, default_corpus, unigram_perplexity


def corpus_split(cfg, max_chars=None):
    """Tokenize the lecture notes as the pretraining demo does.

    Args:
        cfg: has ``vocab_size``, ``bpe_chars`` and ``val_fraction`` (e.g. ``pretrain_demo.
            FULL``).
        max_chars: encode only the first ``max_chars`` characters (``--quick``), or None.

    Returns:
        ``(tokenizer, train_ids, val_ids, summary)``: the ``BPETokenizer``, two 1-D int64
        arrays and a sentence describing them.
    """
    text = default_corpus()
    tic = time.perf_counter()
    vocab, merges = train_bpe(text[:cfg.bpe_chars], cfg.vocab_size, special_tokens=(EOT,))
    tokenizer = BPETokenizer(vocab, merges)
    used = text[:max_chars] if max_chars else text
    ids = np.array(tokenizer.encode(used), dtype=np.int64)
    n_train = int(round((1 - cfg.val_fraction) * len(ids)))
    train_ids, val_ids = ids[:n_train], ids[n_train:]
    unigram = unigram_perplexity(train_ids, val_ids, len(vocab))
    summary = (f"Data: the pretraining demo's: the lecture notes ({len(used):,} characters"
               f"{' of ' + format(len(text), ',') if max_chars else ''}), its {len(vocab)}-"
               f"token BPE ({time.perf_counter() - tic:.1f} s to train and encode), "
               f"{len(train_ids):,} training tokens and the last {len(val_ids):,} held out "
               f"(token frequencies alone: perplexity {unigram:.1f}).")
    return tokenizer, train_ids, val_ids, summary


def held_out_perplexity(model, val_ids, block_size, batch_size=32, each=None):
    """``(loss, perplexity)`` over every held-out token once: ``val_ids`` cut into
    consecutive windows of ``block_size + 1`` tokens (the last partial one dropped), each
    window's ``block_size`` next-token predictions scored from the window's start.
    ``each(n_windows)``, if given, is called after every batch's ``model.loss`` (e.g. to
    read what the forward recorded)."""
    n = (len(val_ids) - 1) // block_size
    windows = np.lib.stride_tricks.sliding_window_view(val_ids, block_size + 1)[::block_size][:n]
    total = 0.0
    for i in range(0, n, batch_size):
        chunk = windows[i:i + batch_size]
        total += float(model.loss(chunk[:, :-1], chunk[:, 1:])) * len(chunk)
        if each is not None:
            each(len(chunk))
    loss = total / n
    return loss, math.exp(loss)
