"""The pretraining demo: a small GPT pretrained on the course's own lecture notes (given).

Usage:
    python -m demos llm [--corpus FILE] [--steps N] [--out DIR] [--quick] [--seed N]
                            [--figures DIR]
    python -m demos llm --target reference       # the same, on the solutions

Everything the module builds, end to end:

1. the corpus: by default every ``lectures/*/theory.md`` of the course, in sorted order, joined
   with ``<|endoftext|>`` (offline, and the same at a given commit);
2. a byte-level BPE tokenizer (4.1) of 512 tokens trained on the first ``bpe_chars`` =
   50,000 characters, then used to encode the whole corpus. The reference ``train_bpe``
   (incremental, lecture §2.1) takes 0.07 s on that prefix, 0.5 s on the whole corpus (512
   or 1024 tokens); the naive algorithm, which recounts every pair after each merge as a
   straightforward implementation of 4.1 does, 1.3 s, 7.4 s and 18.5 s (side by side on a
   loaded 2-core machine). The prefix keeps this step at a few seconds for such
   implementations, and its merges still cover the rest of the text (1.8 bytes per token);
3. a 90% / 10% split of the token stream: the first 90% for training, the last 10% held out;
4. ``train`` (4.3) with ``get_batch`` (4.2) batches, AdamW under a cosine schedule, gradient
   clipping, periodic validation loss and perplexity, and a checkpoint every few hundred
   updates;
5. samples from the trained model with ``generate`` (4.5) and 4.4's sampling.

The run writes into ``--out`` (default ``runs/pretrain/``): ``checkpoint.npz`` (the latest
checkpoint, ``save_checkpoint``'s format), ``tokenizer.json`` (``save_tokenizer``'s format:
merges and special tokens, no pickle), ``val_tokens.npy`` (the held-out token ids) and, without
``--figures``, ``pretrain_loss.png``. ``load_demo(out)`` reads the first three back: other code
(e.g. a quantization experiment) can measure the trained model's perplexity with it.
"""

import json
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from implementation.llm.bpe import BPETokenizer, train_bpe
from implementation.llm.pretrain import load_checkpoint, train
from implementation.transformer.gpt import GPT, GPTConfig
from implementation.transformer.optim import AdamW
from implementation.transformer.training import format_duration

from ..blas import blas_threads, rerun_with_one_blas_thread
from ..run import parser as demo_parser
from ..text import say
from ..training import save_loss_curve

REPO_ROOT = Path(__file__).resolve().parents[2]
EOT = "<|endoftext|>"
TOKENIZER_FORMAT = "course-bpe-tokenizer-v1"
FIGURE_NAME = "pretrain_loss.png"
PROMPTS = ("The attention weights", "## 3. ")


@dataclass(frozen=True)
class DemoConfig:
    """The tokenizer, the model and the training run of the demo."""

    vocab_size: int = 512  # 256 bytes + merges + the one special token
    bpe_chars: int = 50_000  # BPE is trained on this many leading characters of the corpus
    val_fraction: float = 0.1
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    block_size: int = 64
    batch_size: int = 16
    steps: int = 1500
    lr: float = 3e-3
    min_lr: float = 3e-4
    warmup: int = 100
    weight_decay: float = 0.1
    max_norm: float = 1.0
    eval_every: int = 100
    eval_batches: int = 20
    checkpoint_every: int = 250
    progress_every: float = 5.0  # seconds between progress lines
    sample_tokens: int = 160  # tokens generated after each prompt

    def gpt_config(self, vocab_size):
        return GPTConfig(vocab_size=vocab_size, block_size=self.block_size,
                         n_layer=self.n_layer, n_head=self.n_head, n_embd=self.n_embd)


FULL = DemoConfig()
QUICK = replace(FULL, vocab_size=300, bpe_chars=20_000, n_layer=1, n_head=2, n_embd=32,
                block_size=32, batch_size=8, steps=60, lr=1e-2, min_lr=1e-3, warmup=5,
                eval_every=20, eval_batches=2, checkpoint_every=30, progress_every=1.0,
                sample_tokens=24)


# --- the corpus and the tokenizer file -------------------------------------------------
def default_corpus(root=REPO_ROOT):
    """Every ``lectures/*/theory.md`` under ``root``, sorted, joined by ``<|endoftext|>``."""
    paths = sorted((Path(root) / "lectures").glob("*/theory.md"))
    if not paths:
        raise FileNotFoundError(f"no lectures/*/theory.md under {root}; pass --corpus FILE")
    return EOT.join(path.read_text(encoding="utf-8") for path in paths)


def save_tokenizer(path, tokenizer):
    """Write a ``BPETokenizer`` as JSON: its merges and special tokens (the vocabulary follows
    from them, see ``bpe.py``). Returns the path."""
    specials = sorted(tokenizer.special_ids, key=tokenizer.special_ids.get)
    data = {"format": TOKENIZER_FORMAT, "merges": [list(pair) for pair in tokenizer.merges],
            "special_tokens": specials}
    path = Path(path)
    path.write_text(json.dumps(data) + "\n", encoding="utf-8")
    return path


def load_tokenizer(path):
    """Read a tokenizer written by ``save_tokenizer``; returns a ``BPETokenizer``."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("format") != TOKENIZER_FORMAT:
        raise ValueError(f"{path} is not a tokenizer written by save_tokenizer")
    merges = [tuple(pair) for pair in data["merges"]]
    vocab = {i: bytes([i]) for i in range(256)}
    for k, (a, b) in enumerate(merges):
        vocab[256 + k] = vocab[a] + vocab[b]
    for token in data["special_tokens"]:
        vocab[len(vocab)] = token.encode("utf-8")
    return BPETokenizer(vocab, merges)


def load_demo(out_dir="runs/pretrain"):
    """The trained demo model, its tokenizer and the held-out tokens, from ``out_dir``.

    Returns:
        ``(model, tokenizer, val_tokens)``: the ``GPT`` of ``checkpoint.npz`` (the latest
        checkpoint), the ``BPETokenizer`` of ``tokenizer.json``, and ``val_tokens.npy``
        (1-D int64 ids, the last 10% of the corpus), e.g. for ``evaluate(model, val_tokens,
        ...)``.

    Raises:
        FileNotFoundError: if the demo has not been run into ``out_dir``.
    """
    out = Path(out_dir)
    if not (out / "checkpoint.npz").is_file():
        raise FileNotFoundError(f"no checkpoint.npz in {out}: run `python -m demos llm "
                                f"--out {out}` first (or `make pretrain`)")
    model, _, _, _ = load_checkpoint(out / "checkpoint.npz")
    tokenizer = load_tokenizer(out / "tokenizer.json")
    val_tokens = np.load(out / "val_tokens.npy", allow_pickle=False).astype(np.int64)
    return model, tokenizer, val_tokens


# --- sampling ----------------------------------------------------------------------------
def continue_text(model, ids, n_new, rng, temperature=0.8, top_k=40):
    """Append ``n_new`` tokens to the 1-D ``ids`` with ``generate`` (4.5), past the context
    length too: once the context is full, continue from its second half (a new prompt, with a
    new KV cache)."""
    from implementation.llm.kv_cache import generate  # exercise 4.5

    ids = np.asarray(ids, dtype=np.int64)
    T = model.config.block_size
    while n_new > 0:
        context = ids[-(T // 2):] if len(ids) + 1 > T else ids
        step = min(n_new, T - len(context))
        out = generate(model, context[None], step, temperature=temperature, top_k=top_k,
                       rng=rng)
        ids = np.concatenate([ids, out[0, len(context):]])
        n_new -= step
    return ids


def unigram_perplexity(train_ids, val_ids, vocab_size):
    """Perplexity on val of the token frequencies of train (add-one smoothed): the score of a
    model that ignores the context, a baseline the GPT must beat."""
    counts = np.bincount(train_ids, minlength=vocab_size) + 1.0
    logp = np.log(counts / counts.sum())
    return math.exp(-logp[val_ids].mean())


# --- the run -------------------------------------------------------------------------------
def run(corpus=None, steps=None, out="runs/pretrain", quick=False, seed=0, figures_dir=None):
    """The demo: tokenize, split, pretrain with checkpoints, draw the curve, sample.

    Args:
        corpus: a text file to train on (None: the course's lecture notes).
        steps: the number of updates (None: the configuration's).
        out: the output directory (created).
        quick: a tiny model and a short run (a smoke test).
        seed: seeds the weights, the batches and the samples.
        figures_dir: where ``pretrain_loss.png`` goes (None: ``out``).

    Returns:
        dict of the results: ``steps``, ``seconds``, ``train_loss`` (mean of the last 50
        updates), ``val_loss``, ``val_perplexity``, ``first_val_loss``, ``unigram_perplexity``,
        ``parameters``, ``tokens``, ``figure``, ``checkpoint``, ``samples``.
    """
    cfg = QUICK if quick else FULL
    if steps is not None:
        cfg = replace(cfg, steps=steps)
    out = Path(out)
    start = time.perf_counter()

    text = Path(corpus).read_text(encoding="utf-8") if corpus else default_corpus()
    source = corpus or "the course's lecture notes (lectures/*/theory.md)"
    say(f"Corpus: {source}, {len(text):,} characters.")
    tic = time.perf_counter()
    vocab, merges = train_bpe(text[:cfg.bpe_chars], cfg.vocab_size, special_tokens=(EOT,))
    tokenizer = BPETokenizer(vocab, merges)
    bpe_seconds = time.perf_counter() - tic
    ids = np.array(tokenizer.encode(text), dtype=np.int64)
    n_bytes = len(text.encode("utf-8"))
    say(f"Tokenizer: byte-level BPE, {len(vocab)} tokens, trained on the first "
          f"{min(cfg.bpe_chars, len(text)):,} characters in {bpe_seconds:.1f} s; the corpus is "
          f"{len(ids):,} tokens ({n_bytes / len(ids):.2f} bytes per token).")
    n_train = int(round((1 - cfg.val_fraction) * len(ids)))
    train_ids, val_ids = ids[:n_train], ids[n_train:]
    if len(val_ids) < cfg.block_size + 1:
        raise ValueError(f"the corpus is too short: {len(val_ids)} held-out tokens, fewer than "
                         f"block_size + 1 = {cfg.block_size + 1}")
    out.mkdir(parents=True, exist_ok=True)
    save_tokenizer(out / "tokenizer.json", tokenizer)
    np.save(out / "val_tokens.npy", val_ids)

    gpt_cfg = cfg.gpt_config(len(vocab))
    model = GPT(gpt_cfg, np.random.default_rng([seed, 0]))
    optimizer = AdamW(lr=cfg.lr, betas=(0.9, 0.95), weight_decay=cfg.weight_decay)
    n_params = model.num_parameters()
    tokens_per_step = cfg.batch_size * cfg.block_size
    epochs = cfg.steps * tokens_per_step / len(train_ids)
    unigram = unigram_perplexity(train_ids, val_ids, len(vocab))
    say(f"Split: {len(train_ids):,} training tokens, {len(val_ids):,} held out (the last "
          f"{100 * cfg.val_fraction:g}%). Baselines on the held-out tokens: perplexity "
          f"{len(vocab)} (uniform), {unigram:.1f} (token frequencies).")
    say(f"Model: GPT with n_layer={gpt_cfg.n_layer}, n_head={gpt_cfg.n_head}, "
          f"n_embd={gpt_cfg.n_embd}, context {gpt_cfg.block_size}: {n_params:,} parameters, "
          f"{gpt_cfg.dtype}.")
    say(f"Training: {cfg.steps} updates of {cfg.batch_size} x {cfg.block_size} tokens "
          f"({epochs:.1f} passes over the training tokens), AdamW (peak lr {cfg.lr:g}, cosine "
          f"to {cfg.min_lr:g} after {cfg.warmup} warmup updates, weight decay "
          f"{cfg.weight_decay:g}), clipping at {cfg.max_norm:g}; seed {seed}"
          f"{' (--quick)' if quick else ''}.")
    say(f"BLAS threads: {blas_threads()}. Checkpoints: {out / 'checkpoint.npz'}.", flush=True)

    checkpoint = out / "checkpoint.npz"
    log = train(model, optimizer, train_ids, cfg.steps, cfg.batch_size, cfg.block_size,
                lr=cfg.lr, min_lr=cfg.min_lr, warmup=cfg.warmup, max_norm=cfg.max_norm,
                seed=seed, val_data=val_ids, eval_every=cfg.eval_every,
                eval_batches=cfg.eval_batches, checkpoint_path=checkpoint,
                checkpoint_every=cfg.checkpoint_every, progress_every=cfg.progress_every)
    train_seconds = log.seconds
    final = log.evals[-1][1]
    path = save_loss_curve(
        log, Path(figures_dir or out) / FIGURE_NAME,
        title=f"GPT ({n_params:,} parameters) pretrained on the lecture notes, seed {seed}",
        ylabel="cross-entropy per token (nats)")
    say(f"\nFinal training loss {log.recent_loss():.4f} (mean of the last 50 updates); "
          f"held-out loss {final['loss']:.4f}, perplexity {final['perplexity']:.1f} (from "
          f"{log.evals[0][1]['perplexity']:.0f} at step 0; token frequencies alone: "
          f"{unigram:.1f}). Training took {format_duration(train_seconds)} "
          f"({log.tokens / train_seconds:,.0f} tokens/s).")

    samples = []
    rng = np.random.default_rng([seed, 3])
    try:
        for prompt in PROMPTS:
            ids_out = continue_text(model, tokenizer.encode(prompt), cfg.sample_tokens, rng)
            samples.append(tokenizer.decode(ids_out))
    except NotImplementedError as error:  # 4.4 / 4.5 not done yet: the rest of the demo is
        say(f"\n(No samples: {error})")
    for prompt, sample in zip(PROMPTS, samples):
        say(f"\nSample (temperature 0.8, top-k 40), prompt {prompt!r}:\n{'-' * 60}\n"
            f"{sample}\n{'-' * 60}", indent=0)  # generated text: folded, not indented
    seconds = time.perf_counter() - start
    say(f"\nWrote {checkpoint}, {out / 'tokenizer.json'}, {out / 'val_tokens.npy'} and "
          f"{path}; {format_duration(seconds)} in all.")
    if quick:
        say("(--quick is a smoke test; the full run, without --quick, takes a few minutes.)")
    return {"steps": log.steps, "seconds": seconds, "train_seconds": train_seconds,
            "train_loss": log.recent_loss(), "val_loss": final["loss"],
            "val_perplexity": final["perplexity"], "first_val_loss": log.evals[0][1]["loss"],
            "unigram_perplexity": unigram, "parameters": n_params, "tokens": int(len(ids)),
            "figure": str(path), "checkpoint": str(checkpoint), "samples": samples}


def main(argv=None):
    parser = demo_parser("llm", "Pretrain a small GPT on the course's lecture notes "
                         "(Module 4's demo).")
    parser.add_argument("--corpus", metavar="FILE",
                        help="a UTF-8 text file to train on (default: every lectures/*/theory.md "
                             "of the course, in sorted order)")
    parser.add_argument("--steps", type=int, help="the number of updates (default 1500; "
                                                  "60 with --quick)")
    parser.add_argument("--out", metavar="DIR", default="runs/pretrain",
                        help="where the checkpoint, tokenizer and held-out tokens go "
                             "(default runs/pretrain)")
    parser.add_argument("--quick", action="store_true", help="a tiny model, a short run")
    parser.add_argument("--figures", metavar="DIR",
                        help="where pretrain_loss.png goes (default: --out)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the run (default 0)")
    args = parser.parse_args(argv)
    if args.steps is not None and args.steps < 1:
        parser.error("--steps must be at least 1")
    code = rerun_with_one_blas_thread()
    if code is not None:
        return code
    run(corpus=args.corpus, steps=args.steps, out=args.out, quick=args.quick,
        seed=args.seed, figures_dir=args.figures)
    return 0
