"""Hugging Face GPT-2 checkpoint files for ``GPT`` (given, not an exercise).

A GPT-2 directory as ``save_pretrained`` writes it (or as ``huggingface-cli download gpt2
config.json model.safetensors`` fetches it) holds:

- ``config.json``: the sizes (``n_embd``, ``n_layer``, ...) -> ``GPTConfig.from_hf``;
- ``model.safetensors``: every tensor by name, a JSON header then the raw little-endian
  bytes (no pickle, so loading runs no code). The names are our ``GPT.params`` names, with a
  ``transformer.`` prefix when ``GPT2LMHeadModel`` saved them (``gpt2`` on the Hub has none).
  The weight matrices are HF's ``Conv1D`` layout ``(in, out)``, ours too: no transpose.
  The head is tied to ``wte.weight``; an ``lm_head.weight``, if present, must equal it.
  Old checkpoints also store the causal masks ``h.{i}.attn.bias`` / ``attn.masked_bias``:
  buffers, not parameters, ignored here.

This file reads and writes the files; it knows nothing of the model's shapes. The readers and
the writer serve Module 5's Llama too (``model_type="llama"``, no name prefix).
``GPT.from_pretrained`` / ``GPT.save_pretrained`` (gpt.py) compose it with ``GPTConfig``
and ``GPT(config, params=...)``, which checks every name and shape. The tokenizer files of
the same directory are read by the ``run_gpt2`` demo (``demos/llm/gpt2_tokenizer.py``).
"""

import json
from pathlib import Path

import numpy as np

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
WEIGHTS_INDEX_NAME = "model.safetensors.index.json"  # a checkpoint cut into shards
PREFIX = "transformer."  # GPT2LMHeadModel's name for its GPT2Model
BUFFER_SUFFIXES = (".attn.bias", ".attn.masked_bias")  # causal masks of old checkpoints
DOWNLOAD_HINT = ("huggingface-cli download gpt2 config.json model.safetensors vocab.json "
                 "merges.txt --local-dir gpt2")
# model_type -> (its name in messages, how to download one); GPT-2 is the default
MODEL_TYPES = {
    "gpt2": ("GPT-2", DOWNLOAD_HINT),
    "llama": ("Llama", "huggingface-cli download <repo> config.json model.safetensors "
                       "--local-dir <dir>   (a LlamaForCausalLM repository, float32 or float16)"),
}


def read_config(path, model_type="gpt2"):
    """The ``config.json`` of a checkpoint directory, as a dict; its ``model_type`` must be
    ``model_type`` (``"gpt2"``, or ``"llama"`` for Module 5's Llama)."""
    name, hint = MODEL_TYPES[model_type]
    file = Path(path) / CONFIG_NAME
    if not file.is_file():
        raise FileNotFoundError(f"{file} not found: a {name} directory needs config.json next "
                                f"to {WEIGHTS_NAME}; download it with\n  {hint}")
    config = json.loads(file.read_text())
    found = config.get("model_type", model_type)
    if found != model_type:
        raise ValueError(f"{file}: model_type {found!r} is not {name} ({model_type!r})")
    return config


def read_safetensors(path, model_type="gpt2"):
    """``{name: np.ndarray}`` of a checkpoint directory's ``model.safetensors``
    (``model_type`` only words the error messages).

    A checkpoint cut into shards (``model.safetensors.index.json`` naming
    ``model-0000k-of-0000n.safetensors``) is read shard by shard.

    Raises:
        FileNotFoundError: if there is no safetensors file; names what is there instead
            (``pytorch_model.bin`` is a pickle, which this course does not read).
    """
    from safetensors.numpy import load_file  # a student dependency, imported when needed

    name, hint = MODEL_TYPES[model_type]
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
            f"{hint}\nor, with torch and transformers installed, convert it: "
            "AutoModelForCausalLM.from_pretrained(DIR).save_pretrained(NEW_DIR)")
    raise FileNotFoundError(f"{path} has no {WEIGHTS_NAME}; download {name} with\n  {hint}")


def _load_safetensors(load_file, file):
    try:
        return load_file(str(file))
    except TypeError as exc:  # e.g. bfloat16, which NumPy has no dtype for
        raise ValueError(f"{file}: a tensor's dtype has no NumPy equivalent ({exc}); save the "
                         "model in float32 or float16") from None


def gpt_state_dict(state, tied=True):
    """Our ``params`` from a checkpoint's tensors (no casting, no shape check).

    Strips the ``transformer.`` prefix, drops the causal-mask buffers and checks that an
    ``lm_head.weight`` equals ``wte.weight`` (our head is tied). ``tied=False`` (a
    config.json with ``"tie_word_embeddings": false``) requires an ``lm_head.weight``, still
    equal to ``wte.weight``. ``GPT(config, params=...)`` checks the names and shapes.

    Raises:
        ValueError: naming the missing or untied head.
    """
    params, head = {}, None
    for name, value in state.items():
        name = name.removeprefix(PREFIX)
        if name == "lm_head.weight":
            head = value
        elif not name.endswith(BUFFER_SUFFIXES):
            params[name] = value
    if head is None and not tied:
        raise ValueError("checkpoint: config.json says tie_word_embeddings=false but there is "
                         "no lm_head.weight; this GPT ties its head to wte.weight")
    wte = params.get("wte.weight")
    if head is not None and (wte is None or head.shape != wte.shape
                             or not np.array_equal(head, wte)):
        raise ValueError("checkpoint: lm_head.weight differs from wte.weight, but this GPT "
                         "ties its head to the token embedding (logits = x @ wte.weight^T)")
    return params


def write_checkpoint(path, config, params, prefix=PREFIX):
    """Write ``config.json`` (the dict ``config``) and ``model.safetensors`` to ``path``.

    The tensors are named as ``GPT2LMHeadModel.save_pretrained`` names them (our names with
    the ``transformer.`` prefix; the tied head is left out) and keep their dtype.
    ``prefix=""`` writes the names as they are (Llama's are HF's already).
    """
    from safetensors.numpy import save_file  # a student dependency, imported when needed

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
    tensors = {prefix + name: np.ascontiguousarray(p) for name, p in params.items()}
    save_file(tensors, str(path / WEIGHTS_NAME), metadata={"format": "pt"})
