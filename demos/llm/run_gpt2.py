"""Generate text with a real GPT-2 on your own NumPy model (given, not an exercise).

Usage::

    huggingface-cli download gpt2 config.json model.safetensors vocab.json merges.txt \\
        --local-dir gpt2
    python -m demos run_gpt2 gpt2 --prompt "The meaning of life is"
    python -m demos run_gpt2 gpt2 --target reference --prompt "..." --max-new-tokens 40 \\
        --temperature 0.8 --top-k 40 --top-p 0.95 --seed 0

Everything runs on the implementation chosen by ``--target`` (your exercises by default):
``GPT.from_pretrained`` loads the weights into your GPT (3.11), ``load_gpt2_tokenizer``
(``gpt2_tokenizer.py``) builds your tokenizer (4.1) on GPT-2's merges, and ``generate``
(4.5) decodes with your KV cache and your sampling (4.4). It prints the text and the speed
in new tokens per second (GPT-2 small in float32 on a CPU: a few tens at most, since every
new token reads all 500 MB of weights).
An empty prompt starts from ``<|endoftext|>``, as GPT-2's unconditional samples do; the text
is cut at the first ``<|endoftext|>`` the model writes.
"""

import sys
import time

import numpy as np

from ..run import parser as demo_parser
from ..text import say
from .gpt2_tokenizer import load_gpt2_tokenizer

EOT = "<|endoftext|>"


def _needs(exc):
    """A friendly message for an exercise that is not implemented yet (exit code 1)."""
    say(f"run_gpt2 needs an exercise you have not implemented yet:\n  {exc}",
          file=sys.stderr)
    return 1


def run(directory, prompt, max_new_tokens=40, temperature=0.8, top_k=40, top_p=None, seed=0,
        dtype="float32", use_cache=True, out=None):
    """Load GPT-2 from ``directory``, continue ``prompt``, print the text and the speed.

    Returns:
        ``(text, ids)``: the prompt and its continuation, and all the GPT-2 token ids.
    """
    from implementation.llm.bpe import BPETokenizer
    from implementation.llm.kv_cache import generate
    from implementation.transformer.gpt import GPT

    out = sys.stdout if out is None else out

    start = time.perf_counter()
    tokenizer = load_gpt2_tokenizer(directory, cls=BPETokenizer)
    model = GPT.from_pretrained(directory, dtype=dtype)
    loaded = time.perf_counter() - start
    if tokenizer.vocab_size != model.config.vocab_size:
        raise ValueError(f"the tokenizer has {tokenizer.vocab_size} tokens but the model "
                         f"{model.config.vocab_size}: are vocab.json and model.safetensors from "
                         "the same model?")
    eot = tokenizer.special_ids.get(EOT)
    ids = tokenizer.encode(prompt)
    if not ids:
        if eot is None:
            raise ValueError("the prompt is empty and the vocabulary has no <|endoftext|>")
        ids = [eot]
    n_ctx = model.config.block_size
    if len(ids) + max_new_tokens > n_ctx:
        raise ValueError(f"the prompt ({len(ids)} tokens) plus --max-new-tokens "
                         f"{max_new_tokens} exceed the model's context of {n_ctx} tokens")
    rng = np.random.default_rng(seed)
    if temperature == 0:  # greedy: the filters would not change the argmax
        top_k = top_p = None
    start = time.perf_counter()
    out_ids = generate(model, np.array([ids]), max_new_tokens, temperature=temperature,
                       top_k=top_k, top_p=top_p, rng=rng, use_cache=use_cache)
    seconds = time.perf_counter() - start
    out_ids = np.asarray(out_ids)[0].tolist()
    new = out_ids[len(ids):]
    if eot is not None and eot in new:
        new = new[:new.index(eot)]
    text = tokenizer.decode(out_ids[:len(ids)] + new)
    if text.startswith(EOT) and not prompt:
        text = text[len(EOT):]
    say(text, file=out, indent=0)  # generated text: folded, not indented
    say(f"[{max_new_tokens} new tokens in {seconds:.2f} s: {max_new_tokens / seconds:.1f} "
          f"tokens/s ({dtype}, {'KV cache' if use_cache else 'no cache'}); loaded in "
          f"{loaded:.1f} s]", file=out)
    return text, out_ids


def main(argv=None):
    parser = demo_parser("run_gpt2", "Continue a prompt with a Hugging Face GPT-2 directory on "
                         "your own model.")
    parser.add_argument("directory", help="holds config.json, model.safetensors, vocab.json "
                                          "and merges.txt")
    parser.add_argument("--prompt", default="", help="the text to continue (default: none, "
                                                     "start from <|endoftext|>)")
    parser.add_argument("--max-new-tokens", type=int, default=40)
    parser.add_argument("--temperature", type=float, default=0.8, help="0 = greedy")
    parser.add_argument("--top-k", type=int, default=40, help="0 = off")
    parser.add_argument("--top-p", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    parser.add_argument("--no-cache", action="store_true",
                        help="recompute the whole sequence at every step")
    args = parser.parse_args(argv)
    if args.max_new_tokens < 1:
        parser.error("--max-new-tokens must be at least 1")
    try:
        run(args.directory, args.prompt, max_new_tokens=args.max_new_tokens,
            temperature=args.temperature, top_k=args.top_k or None, top_p=args.top_p,
            seed=args.seed, dtype=args.dtype, use_cache=not args.no_cache)
    except NotImplementedError as exc:
        return _needs(exc)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.endswith("kv_cache"):
            return _needs("exercise 4.5's llm/kv_cache.py (generate) is missing; regenerate "
                          "the stubs with `make stubs` and implement it")
        raise
    except (FileNotFoundError, ValueError) as exc:
        say(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
