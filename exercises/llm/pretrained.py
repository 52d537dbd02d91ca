"""Hugging Face GPT-2 files for our NumPy model and tokenizer (given, not an exercise).

A GPT-2 directory as ``save_pretrained`` writes it (or as ``huggingface-cli download gpt2
config.json model.safetensors vocab.json merges.txt`` fetches it) holds:

- ``config.json``: the sizes (``n_embd``, ``n_layer``, ...) -> ``GPTConfig.from_hf``;
- ``model.safetensors``: every tensor by name, a JSON header then the raw little-endian
  bytes (no pickle, so loading runs no code). The names are our ``GPT.params`` names, with a
  ``transformer.`` prefix when ``GPT2LMHeadModel`` saved them (``gpt2`` on the Hub has none).
  The weight matrices are HF's ``Conv1D`` layout ``(in, out)``, ours too: no transpose.
  The head is tied to ``wte.weight``; an ``lm_head.weight``, if present, must equal it.
  Old checkpoints also store the causal masks ``h.{i}.attn.bias`` / ``attn.masked_bias``:
  buffers, not parameters, ignored here;
- ``vocab.json``: token -> id, each token's bytes written as printable characters by
  ``bytes_to_unicode`` (a space is "Ġ", a newline "Ċ");
- ``merges.txt``: after a ``#version`` line, one merge per line, ``"Ġ t"``, in the order
  learnt.

``load_gpt2`` / ``save_gpt2`` are ``GPT.from_pretrained`` / ``GPT.save_pretrained``;
``load_gpt2_tokenizer`` is ``BPETokenizer.from_gpt2``: it rebuilds our layout (ids 0..255 are
the bytes, merge k is id 256 + k, then the special tokens) from ``merges.txt``, builds *your*
``BPETokenizer`` on it, and wraps it in a ``GPT2Tokenizer`` that translates between our ids and
GPT-2's (the two orders differ on the 256 byte tokens, and may differ elsewhere in other
vocabularies).
"""

import json
from pathlib import Path

import numpy as np

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
WEIGHTS_INDEX_NAME = "model.safetensors.index.json"  # a checkpoint cut into shards
VOCAB_NAME = "vocab.json"
MERGES_NAME = "merges.txt"
PREFIX = "transformer."  # GPT2LMHeadModel's name for its GPT2Model
BUFFER_SUFFIXES = (".attn.bias", ".attn.masked_bias")  # causal masks of old checkpoints
DOWNLOAD_HINT = ("huggingface-cli download gpt2 config.json model.safetensors vocab.json "
                 "merges.txt --local-dir gpt2")


# --- weights --------------------------------------------------------------------------------

def read_safetensors(path):
    """``{name: np.ndarray}`` of a checkpoint directory's ``model.safetensors``.

    A checkpoint cut into shards (``model.safetensors.index.json`` naming
    ``model-0000k-of-0000n.safetensors``) is read shard by shard.

    Raises:
        FileNotFoundError: if there is no safetensors file; names what is there instead
            (``pytorch_model.bin`` is a pickle, which this course does not read).
    """
    from safetensors.numpy import load_file  # a student dependency, imported when needed

    path = Path(path)
    if (path / WEIGHTS_NAME).is_file():
        return _load_safetensors(load_file, path / WEIGHTS_NAME)
    if (path / WEIGHTS_INDEX_NAME).is_file():
        weight_map = json.loads((path / WEIGHTS_INDEX_NAME).read_text())["weight_map"]
        state = {}
        for shard in sorted(set(weight_map.values())):
            state.update(_load_safetensors(load_file, path / shard))
        return state
    if (path / "pytorch_model.bin").is_file() or any(path.glob("pytorch_model*.bin")):
        raise FileNotFoundError(
            f"{path} holds pytorch_model.bin, a PyTorch pickle, which needs torch to read (and "
            f"could run code when read); download the safetensors file instead:\n  "
            f"{DOWNLOAD_HINT}\nor, with torch and transformers installed, convert it: "
            "GPT2LMHeadModel.from_pretrained(DIR).save_pretrained(NEW_DIR)")
    raise FileNotFoundError(f"{path} has no {WEIGHTS_NAME}; download GPT-2 with\n  "
                            f"{DOWNLOAD_HINT}")


def _load_safetensors(load_file, file):
    try:
        return load_file(str(file))
    except TypeError as exc:  # e.g. bfloat16, which NumPy has no dtype for
        raise ValueError(f"{file}: a tensor's dtype has no NumPy equivalent ({exc}); save the "
                         "model in float32 or float16") from None


def gpt_state_dict(state, config, tied=True):
    """Our ``params`` from a checkpoint's tensors, checked against ``config`` (no casting).

    Strips the ``transformer.`` prefix, drops the causal-mask buffers, checks that an
    ``lm_head.weight`` equals ``wte.weight`` (our head is tied) and that every parameter of
    ``gpt_param_shapes(config)`` is there with its shape. ``tied=False`` (a config.json with
    ``"tie_word_embeddings": false``) requires an ``lm_head.weight``, still equal to
    ``wte.weight``.

    Raises:
        ValueError: naming the missing, unexpected, misshapen or untied tensor.
    """
    from ..transformer.gpt import gpt_param_shapes

    params, head = {}, None
    for name, value in state.items():
        name = name.removeprefix(PREFIX)
        if name == "lm_head.weight":
            head = value
        elif not name.endswith(BUFFER_SUFFIXES):
            params[name] = value
    shapes = gpt_param_shapes(config)
    missing = [name for name in shapes if name not in params]
    if missing:
        raise ValueError(f"checkpoint: missing tensor {missing[0]!r} (expected shape "
                         f"{shapes[missing[0]]}; {len(missing)} missing in all) -- is it a GPT-2 "
                         "checkpoint of this config.json?")
    unexpected = [name for name in params if name not in shapes]
    if unexpected:
        raise ValueError(f"checkpoint: unexpected tensor {unexpected[0]!r} (and "
                         f"{len(unexpected) - 1} more): not a parameter of GPT-2")
    for name, shape in shapes.items():
        if params[name].shape != shape:
            hint = (" (transposed: a Linear (out, in) layout, but GPT-2's Conv1D is (in, out))"
                    if params[name].shape == shape[::-1] else "")
            raise ValueError(f"checkpoint: tensor {name!r} has shape {params[name].shape}, "
                             f"expected {shape} from config.json{hint}")
    if head is None and not tied:
        raise ValueError("checkpoint: config.json says tie_word_embeddings=false but there is "
                         "no lm_head.weight; this GPT ties its head to wte.weight")
    if head is not None and (head.shape != params["wte.weight"].shape
                             or not np.array_equal(head, params["wte.weight"])):
        raise ValueError("checkpoint: lm_head.weight differs from wte.weight, but this GPT "
                         "ties its head to the token embedding (logits = x @ wte.weight^T)")
    return {name: params[name] for name in shapes}  # in the order of HF's state_dict


def read_config(path):
    """The ``config.json`` of a checkpoint directory, as a dict (must be a GPT-2 config)."""
    file = Path(path) / CONFIG_NAME
    if not file.is_file():
        raise FileNotFoundError(f"{file} not found: a GPT-2 directory needs config.json next "
                                f"to {WEIGHTS_NAME}; download it with\n  {DOWNLOAD_HINT}")
    config = json.loads(file.read_text())
    model_type = config.get("model_type", "gpt2")
    if model_type != "gpt2":
        raise ValueError(f"{file}: model_type {model_type!r} is not GPT-2 ('gpt2')")
    return config


def load_gpt2(path, dtype="float32", cls=None):
    """``GPT.from_pretrained``: a GPT with the weights of a Hugging Face GPT-2 directory.

    Args:
        path: a directory with ``config.json`` and ``model.safetensors``.
        dtype: the parameters' dtype (the checkpoint's are cast), ``"float32"`` or
            ``"float64"``.
        cls: the class to build (``GPT`` or a subclass).

    Returns:
        a ``cls`` whose ``params`` are the checkpoint's, in HF's order; its logits are
        ``GPT2LMHeadModel``'s in eval mode.

    Raises:
        FileNotFoundError: no config.json or no safetensors weights (see ``read_safetensors``).
        ValueError: an unsupported config option, or tensors that do not fit (named).
    """
    from ..transformer.gpt import GPT, GPTConfig

    cls = GPT if cls is None else cls
    hf_config = read_config(path)
    config = GPTConfig.from_hf(hf_config, dtype=np.dtype(dtype).name)
    params = gpt_state_dict(read_safetensors(path), config,
                            tied=hf_config.get("tie_word_embeddings", True))
    # not GPT(config): that would first draw 124M random numbers, only to replace them
    model = cls.__new__(cls)
    model.config = config
    model.params = {name: np.ascontiguousarray(p, dtype=config.dtype) for name, p in params.items()}
    model._cache = None
    model._loss_cache = None
    return model


def save_gpt2(model, path):
    """``GPT.save_pretrained``: write ``config.json`` and ``model.safetensors`` to ``path``.

    The files are those ``GPT2LMHeadModel.save_pretrained`` writes (names with the
    ``transformer.`` prefix, the tied head left out, the parameters' dtype), so
    ``GPT2LMHeadModel.from_pretrained(path)`` and ``GPT.from_pretrained(path)`` both load them.
    """
    from safetensors.numpy import save_file

    cfg = model.config
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    config = {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
        "vocab_size": cfg.vocab_size, "n_positions": cfg.block_size, "n_ctx": cfg.block_size,
        "n_embd": cfg.n_embd, "n_layer": cfg.n_layer, "n_head": cfg.n_head, "n_inner": None,
        "layer_norm_epsilon": cfg.layer_norm_epsilon, "activation_function": "gelu_new",
        "tie_word_embeddings": True, "dtype": np.dtype(model.params["wte.weight"].dtype).name,
    }
    (path / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
    tensors = {PREFIX + name: np.ascontiguousarray(p) for name, p in model.params.items()}
    save_file(tensors, str(path / WEIGHTS_NAME), metadata={"format": "pt"})


# --- tokenizer ------------------------------------------------------------------------------

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


def load_gpt2_tokenizer(directory=None, merges_txt=None, cls=None):
    """``BPETokenizer.from_gpt2``: GPT-2's tokenizer on a ``BPETokenizer`` of ours.

    Args:
        directory: a directory with ``vocab.json`` and ``merges.txt``; or the path of a
            ``vocab.json`` file when ``merges_txt`` is given too.
        merges_txt: the path of ``merges.txt``, or None (it is in ``directory``).
        cls: the ``BPETokenizer`` class to build on (``BPETokenizer(vocab, merges)``).

    Returns:
        a ``GPT2Tokenizer`` whose ``encode`` gives GPT-2's ids.
    """
    if cls is None:
        from .bpe import BPETokenizer as cls
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
    ``to_gpt2`` (``to_gpt2[our_id] == gpt2_id``); ``BPETokenizer.from_gpt2(directory)`` reads
    the files back.
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
