"""Hugging Face GPT-2 tokenizer files for a NumPy ``BPETokenizer`` (4.1) of any implementation.

A GPT-2 directory as ``save_pretrained`` writes it (or as ``huggingface-cli download gpt2
config.json model.safetensors vocab.json merges.txt`` fetches it) holds the model's
``config.json`` and ``model.safetensors`` (read and written by ``GPT.from_pretrained`` /
``GPT.save_pretrained``, Module 3's ``transformer/hf_checkpoint.py``) and the tokenizer's:

- ``vocab.json``: token -> id, each token's bytes written as printable characters by
  ``bytes_to_unicode`` (a space is "Ġ", a newline "Ċ");
- ``merges.txt``: after a ``#version`` line, one merge per line, ``"Ġ t"``, in the order
  learnt.

``load_gpt2_tokenizer(directory, cls=BPETokenizer)`` rebuilds our layout (ids 0..255 are
the bytes, merge k is id 256 + k, then the special tokens) from ``merges.txt``, builds *your*
``BPETokenizer`` on it, and wraps it in a ``GPT2Tokenizer`` that translates between our ids and
GPT-2's (the two orders differ on the 256 byte tokens, and may differ elsewhere in other
vocabularies).
"""

import json
from pathlib import Path

import numpy as np

# a shell command on two lines, to copy from an 80-column terminal
DOWNLOAD_HINT = ("huggingface-cli download gpt2 config.json model.safetensors vocab.json \\\n"
                 "    merges.txt --local-dir gpt2")

VOCAB_NAME = "vocab.json"
MERGES_NAME = "merges.txt"


def bytes_to_unicode():
    """GPT-2's map from the 256 bytes to 256 printable characters (``{byte: char}``).

    The 188 bytes that are printable Latin-1 characters (``!``..``~``, ``¡``..``¬``,
    ``®``..``ÿ``) stand for themselves; the other 68 (control characters, the space, DEL,
    0x80-0xA0 and the soft hyphen 0xAD) become the characters 256, 257, ... in byte order, so
    the space 0x20 is U+0120 "Ġ" and the newline 0x0A is U+010A "Ċ". GPT-2's vocab.json and
    merges.txt write every token's bytes with this map: files of readable text, with no
    whitespace or control character inside a token.
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]
    others = [b for b in range(256) if b not in printable]
    table = {b: chr(b) for b in printable}
    table.update({b: chr(256 + n) for n, b in enumerate(others)})
    return dict(sorted(table.items()))


def gpt2_token_bytes(token, byte_decoder=None):
    """The bytes of a vocab.json / merges.txt token string (inverse of ``bytes_to_unicode``)."""
    byte_decoder = byte_decoder or {c: b for b, c in bytes_to_unicode().items()}
    try:
        return bytes(byte_decoder[c] for c in token)
    except KeyError as exc:
        raise ValueError(f"token {token!r}: character {exc.args[0]!r} is not one of "
                         "bytes_to_unicode's 256") from None


def read_gpt2_tokenizer_files(vocab_json, merges_txt):
    """Our layout from GPT-2's tokenizer files, and the id maps between the two.

    Returns:
        vocab: ``{id: bytes}`` in our layout: ids 0..255 the bytes, merge k is id 256 + k, then
            the special tokens (the vocab.json entries no merge makes, e.g. ``<|endoftext|>``)
            in the order of their GPT-2 ids.
        merges: ``[(a, b), ...]`` our id pairs, in the order of merges.txt.
        to_gpt2: ``to_gpt2[our_id] == gpt2_id`` (a list).

    Raises:
        ValueError: a merge of tokens not made before, a merge that makes a token some other
            merge made already (our layout has one id per merge), or a token missing from
            vocab.json.
    """
    gpt2_vocab = json.loads(Path(vocab_json).read_text(encoding="utf-8"))
    lines = Path(merges_txt).read_text(encoding="utf-8").splitlines()
    byte_decoder = {c: b for b, c in bytes_to_unicode().items()}
    vocab = {b: bytes([b]) for b in range(256)}
    ours = {token: i for i, token in vocab.items()}  # bytes -> our id
    merges = []
    for n, line in enumerate(lines, start=1):
        if not line.strip() or (n == 1 and line.startswith("#version")):
            continue
        parts = line.split(" ")
        if len(parts) != 2:
            raise ValueError(f"{merges_txt}:{n}: expected two tokens separated by one space, "
                             f"got {line!r}")
        a, b = (gpt2_token_bytes(part, byte_decoder) for part in parts)
        if a not in ours or b not in ours:
            raise ValueError(f"{merges_txt}:{n}: merge {line!r} uses a token no earlier merge "
                             "made")
        new = a + b
        if new in ours:
            raise ValueError(f"{merges_txt}:{n}: merge {line!r} makes {new!r}, which an earlier "
                             "merge already made; our layout (merge k is id 256 + k) cannot "
                             "give one token two ids")
        merges.append((ours[a], ours[b]))
        ours[new] = 256 + len(merges) - 1
        vocab[ours[new]] = new
    encoder = bytes_to_unicode()
    to_gpt2 = []
    for i in range(len(vocab)):
        text = "".join(encoder[b] for b in vocab[i])
        if text not in gpt2_vocab:
            raise ValueError(f"{vocab_json}: token {text!r} (our id {i}) is missing")
        to_gpt2.append(gpt2_vocab[text])
    made = set(to_gpt2)
    for token, gpt2_id in sorted(gpt2_vocab.items(), key=lambda item: item[1]):
        if gpt2_id not in made:  # no merge makes it: a special token, its text as it is
            vocab[len(vocab)] = token.encode("utf-8")
            to_gpt2.append(gpt2_id)
    return vocab, merges, to_gpt2


class GPT2Tokenizer:
    """A ``BPETokenizer`` in our layout that speaks GPT-2's ids (given).

    ``encode`` runs the wrapped tokenizer and renames each id with ``to_gpt2``; ``decode``
    renames back and decodes. Nothing else changes: the merges, their order and the
    pre-tokenizer are the wrapped tokenizer's.

    Attributes:
        tokenizer: the wrapped ``BPETokenizer`` (our ids).
        to_gpt2: ``np.ndarray`` of int, ``to_gpt2[our_id] == gpt2_id``.
        from_gpt2: ``np.ndarray`` of int, the inverse permutation.
        special_ids: ``{text: gpt2_id}``, e.g. ``{"<|endoftext|>": 50256}``.
        vocab_size: the number of ids (50257 for GPT-2).
    """

    def __init__(self, tokenizer, to_gpt2):
        self.tokenizer = tokenizer
        self.to_gpt2 = np.asarray(to_gpt2, dtype=np.int64)
        if sorted(self.to_gpt2.tolist()) != list(range(len(self.to_gpt2))):
            raise ValueError("GPT2Tokenizer: to_gpt2 must be a permutation of 0..V-1")
        self.from_gpt2 = np.argsort(self.to_gpt2)
        self.vocab_size = len(self.to_gpt2)
        self.special_ids = {text: int(self.to_gpt2[i])
                            for text, i in tokenizer.special_ids.items()}

    def encode(self, text):
        """GPT-2's token ids of ``text`` (a list of int)."""
        return [int(self.to_gpt2[i]) for i in self.tokenizer.encode(text)]

    def decode(self, ids):
        """The text of GPT-2 token ids."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if np.any((ids < 0) | (ids >= self.vocab_size)):
            raise ValueError(f"GPT2Tokenizer.decode: ids must be in [0, {self.vocab_size})")
        return self.tokenizer.decode(self.from_gpt2[ids].tolist())


def load_gpt2_tokenizer(directory, merges_txt=None, *, cls):
    """GPT-2's tokenizer on a ``BPETokenizer`` (4.1) of the implementation given as ``cls``.

    Args:
        directory: a directory with ``vocab.json`` and ``merges.txt``; or the path of a
            ``vocab.json`` file when ``merges_txt`` is given too.
        merges_txt: the path of ``merges.txt``, or None (it is in ``directory``).
        cls: the ``BPETokenizer`` class to build on (``cls(vocab, merges)``): the
            exercises', the reference's, or any other.

    Returns:
        a ``GPT2Tokenizer`` whose ``encode`` gives GPT-2's ids.
    """
    if merges_txt is None:
        vocab_json, merges_txt = Path(directory) / VOCAB_NAME, Path(directory) / MERGES_NAME
    else:
        vocab_json = Path(directory)
    for file in (vocab_json, merges_txt):
        if not Path(file).is_file():
            raise FileNotFoundError(f"{file} not found; GPT-2's tokenizer files come with\n  "
                                    f"{DOWNLOAD_HINT}")
    vocab, merges, to_gpt2 = read_gpt2_tokenizer_files(vocab_json, merges_txt)
    return GPT2Tokenizer(cls(vocab, merges), to_gpt2)


def save_gpt2_tokenizer(vocab, merges, directory):
    """Write our ``(vocab, merges)`` as GPT-2's ``vocab.json`` and ``merges.txt``.

    GPT-2's ids: the 256 bytes in the order of their ``bytes_to_unicode`` characters (the
    order of GPT-2's vocab.json), then merge k as 256 + k, then the special tokens. Returns
    ``to_gpt2`` (``to_gpt2[our_id] == gpt2_id``); ``load_gpt2_tokenizer(directory,
    cls=BPETokenizer)`` reads the files back.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    encoder = bytes_to_unicode()
    n_merges = len(merges)
    byte_order = sorted(range(256), key=lambda b: encoder[b])  # GPT-2's ids 0..255
    to_gpt2 = [0] * len(vocab)
    for gpt2_id, b in enumerate(byte_order):
        to_gpt2[b] = gpt2_id
    for i in range(256, len(vocab)):
        to_gpt2[i] = i

    def text(i):
        if i >= 256 + n_merges:
            return vocab[i].decode("utf-8")  # a special token, written as it is
        return "".join(encoder[b] for b in vocab[i])

    gpt2_vocab = {text(i): to_gpt2[i] for i in range(len(vocab))}
    if len(gpt2_vocab) != len(vocab):
        raise ValueError("save_gpt2_tokenizer: two tokens have the same bytes; GPT-2's "
                         "vocab.json cannot hold both")
    (directory / VOCAB_NAME).write_text(
        json.dumps(dict(sorted(gpt2_vocab.items(), key=lambda kv: kv[1])), ensure_ascii=False),
        encoding="utf-8")
    lines = ["#version: 0.2"] + [f"{text(a)} {text(b)}" for a, b in merges]
    (directory / MERGES_NAME).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return to_gpt2
