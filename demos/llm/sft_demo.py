"""The SFT demo: fine-tune the pretrained demo GPT to follow instructions (given).

Usage:
    python -m demos sft [--pretrained DIR] [--steps N] [--quick] [--seed N]
                                     [--figures DIR]
    python -m demos sft --target reference      # the same, on the solutions

1. The base model is the GPT of the pretraining demo, ``load_demo(--pretrained)`` (default
   ``runs/pretrain``; if that directory has no checkpoint, the pretraining demo runs into it
   first, about five minutes). ``--quick`` pretrains a tiny model in memory instead
   (``quick_base``), for a smoke test.
2. The tokenizer learns the template's four special tokens (``sft.SPECIAL_TOKENS``): they are
   appended after the existing ones (ids 512..515 for the 512-token demo tokenizer, the layout
   of ``bpe.py``: specials come last), and the model's embedding table ``wte`` gets four new
   rows, each the mean of the old rows (a new token starts as "an average token"; its output
   logit, through the tied table, starts as the mean logit: nothing is favoured). Plain-text
   markers such as "User:" would work without new rows, but a user could type them; a special
   token can only come from the template (``check_messages`` refuses it inside a content).
3. The data: short instructions generated in code -- reverse, upper-case, count, or take the
   last of a few letters ("Reverse: k f a" -> "a f k"), each with three phrasings, half of them
   after a system prompt. The letter strings of the held-out set never occur in training.
4. Two fine-tunings from the same base model with the same batches, steps and learning rate:
   the loss on the assistant's tokens only (``sft_loss_mask``, 4.9), and the loss on every
   token of the conversation (the prompt too, as in pretraining). Both are measured the same
   way: the held-out loss on the assistant's tokens, and the exact-match accuracy of greedy
   answers (generated until ``<|end|>``) on the held-out instructions.

The figure ``sft_masking.png`` (in ``--figures``, default ``runs/sft``) draws both held-out
curves.
"""

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from implementation.llm.bpe import BPETokenizer, train_bpe
from implementation.llm.pretrain import train as pretrain_steps
from implementation.llm.sft import END, IGNORE, SPECIAL_TOKENS, apply_chat_template, sft_loss_mask
from implementation.transformer.gpt import GPT, GPTConfig
from implementation.transformer.optim import AdamW, cosine_schedule
from implementation.transformer.training import format_duration, optimizer_step

from ..blas import blas_threads, rerun_with_one_blas_thread
from ..plotting import pyplot, write_png
from ..run import parser as demo_parser
from ..text import say
from ..training import train
from .pretrain_demo import EOT, default_corpus, load_demo
from .pretrain_demo import run as pretrain

FIGURE_NAME = "sft_masking.png"
LETTERS = "abcdefghijklmnopqrstuvwxyz"
SYSTEM_PROMPTS = ("Answer with the result only.", "Be exact and brief.")
TASKS = {  # name -> (phrasings, answer of a list of letters)
    "reverse": (("Reverse: {s}", "Write {s} backwards.", "What is {s} in reverse order?"),
                lambda xs: " ".join(reversed(xs))),
    "upper": (("Uppercase: {s}", "Write {s} in capital letters.", "Capitalize {s}."),
              lambda xs: " ".join(x.upper() for x in xs)),
    "count": (("Count the letters of {s}.", "How many letters are in {s}?",
               "Number of letters: {s}"), lambda xs: str(len(xs))),
    "last": (("Last letter of {s}?", "Which letter comes last in {s}?", "Final letter: {s}"),
             lambda xs: xs[-1]),
}
VARIANTS = ("assistant tokens only", "all tokens")


@dataclass(frozen=True)
class SFTConfig:
    """The data and the two fine-tuning runs."""

    min_letters: int = 3
    max_letters: int = 5
    n_train: int = 2000
    n_val: int = 200
    steps: int = 300
    batch_size: int = 16
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup: int = 20
    weight_decay: float = 0.0
    max_norm: float = 1.0
    eval_every: int = 50
    max_new: int = 16  # greedy answers stop at <|end|> or after this many tokens
    progress_every: float = 5.0


FULL = SFTConfig()
QUICK = replace(FULL, n_train=200, n_val=24, steps=30, batch_size=8, eval_every=15, lr=3e-3,
                warmup=3, progress_every=1.0)


# --- the data ----------------------------------------------------------------------------
def make_conversations(n, strings, rng):
    """``n`` conversations ``(messages, task)``: a random task, phrasing and letter string
    from ``strings``, after a system prompt half of the time."""
    out = []
    names = sorted(TASKS)
    for _ in range(n):
        task = names[rng.integers(len(names))]
        phrasings, answer = TASKS[task]
        letters = strings[rng.integers(len(strings))]
        messages = []
        if rng.random() < 0.5:
            messages.append({"role": "system",
                             "content": SYSTEM_PROMPTS[rng.integers(len(SYSTEM_PROMPTS))]})
        messages.append({"role": "user", "content": phrasings[rng.integers(len(phrasings))]
                         .format(s=" ".join(letters))})
        messages.append({"role": "assistant", "content": answer(list(letters))})
        out.append((messages, task))
    return out


def make_data(cfg, seed):
    """Training and held-out conversations whose letter strings do not overlap."""
    rng = np.random.default_rng([seed, 10])
    strings = set()
    while len(strings) < 3 * (cfg.n_train + cfg.n_val):
        k = int(rng.integers(cfg.min_letters, cfg.max_letters + 1))
        strings.add("".join(rng.choice(list(LETTERS), size=k)))
    strings = sorted(strings)
    rng.shuffle(strings)
    n_val_strings = len(strings) // 10
    val_strings, train_strings = strings[:n_val_strings], strings[n_val_strings:]
    return (make_conversations(cfg.n_train, train_strings, rng),
            make_conversations(cfg.n_val, val_strings, rng))


def quick_base(seed):
    """A tiny base model for --quick: BPE of 300 tokens on 20,000 characters of the lecture
    notes, a one-layer GPT (context 128) pretrained for 40 updates; returns (model,
    tokenizer)."""
    text = default_corpus()
    vocab, merges = train_bpe(text[:20_000], 300, special_tokens=(EOT,))
    tokenizer = BPETokenizer(vocab, merges)
    ids = np.array(tokenizer.encode(text[:100_000]), dtype=np.int64)
    model = GPT(GPTConfig(vocab_size=len(vocab), block_size=128, n_layer=1, n_head=2,
                          n_embd=32), np.random.default_rng([seed, 0]))
    pretrain_steps(model, AdamW(lr=1e-2, betas=(0.9, 0.95)), ids, 40, 8, 64, lr=1e-2,
                   seed=seed, progress_every=None)
    return model, tokenizer


# --- new special tokens: the tokenizer and the embedding ------------------------------
def add_special_tokens(tokenizer, tokens):
    """A ``BPETokenizer`` with ``tokens`` appended as special tokens (those it lacks)."""
    vocab = dict(tokenizer.vocab)
    for token in tokens:
        if token not in tokenizer.special_ids:
            vocab[len(vocab)] = token.encode("utf-8")
    return BPETokenizer(vocab, tokenizer.merges)


def resize_embeddings(model, vocab_size):
    """A copy of ``model`` with ``vocab_size`` rows in ``wte`` (tied to the output layer);
    the new rows are the mean of the old ones."""
    wte = model.params["wte.weight"]
    n_new = vocab_size - wte.shape[0]
    new = GPT(replace(model.config, vocab_size=vocab_size), np.random.default_rng(0))
    new.params = {name: p.copy() for name, p in model.params.items()}
    new.params["wte.weight"] = np.concatenate(
        [wte, np.repeat(wte.mean(axis=0, keepdims=True), n_new, axis=0)]).astype(wte.dtype)
    return new


# --- batches, loss, answers --------------------------------------------------------------
def base_model(pretrained, quick, seed):
    """The base GPT and tokenizer with the template's special tokens (new rows = the mean
    row); returns ``(model, tokenizer, source, old_vocab_size)``. Without ``quick``, the
    pretraining demo's model in ``pretrained``, trained into it first if it is missing."""
    if quick:
        base, tokenizer = quick_base(seed)
        source = "a tiny GPT pretrained for 40 updates (--quick)"
    else:
        base_dir = Path(pretrained)
        if not (base_dir / "checkpoint.npz").is_file():
            say(f"No pretrained model in {base_dir}: running the pretraining demo into it "
                "first.", flush=True)
            pretrain(out=base_dir, seed=seed)
            say()
        base, tokenizer, _ = load_demo(base_dir)
        source = str(base_dir / "checkpoint.npz")
    old_v = base.config.vocab_size
    tokenizer = add_special_tokens(tokenizer, SPECIAL_TOKENS)
    return resize_embeddings(base, len(tokenizer.vocab)), tokenizer, source, old_v


def encode_all(conversations, tokenizer):
    """For each conversation: (inputs, assistant-only targets, all-token targets)."""
    sep = tokenizer.encode("\n")  # the template's last token (after the final <|end|>)
    out = []
    for messages, _ in conversations:
        inputs, targets = sft_loss_mask(messages, tokenizer)
        everything = np.append(inputs[1:], sep).astype(np.int64)  # ids[1:]: every next token
        out.append((inputs, targets, everything))
    return out


def pad_batch(rows, pad_id):
    """Right-pad ``(inputs, targets)`` rows to one (B, T) batch; padded targets are IGNORE,
    so padding adds no loss (and, with causal attention, changes no earlier position)."""
    T = max(len(x) for x, _ in rows)
    x = np.full((len(rows), T), pad_id, dtype=np.int64)
    y = np.full((len(rows), T), IGNORE, dtype=np.int64)
    for b, (xi, yi) in enumerate(rows):
        x[b, :len(xi)], y[b, :len(yi)] = xi, yi
    return x, y


def assistant_loss(model, encoded, pad_id, batch_size=64):
    """Mean cross-entropy over the assistant's tokens of ``encoded`` (held-out)."""
    total, count = 0.0, 0
    for i in range(0, len(encoded), batch_size):
        chunk = encoded[i:i + batch_size]
        x, y = pad_batch([(e[0], e[1]) for e in chunk], pad_id)
        n = int((y != IGNORE).sum())
        total += float(model.loss(x, y)) * n
        count += n
    return total / count


def greedy_answers(model, prompts, end_id, max_new, pad_id):
    """Greedy continuations of the 1-D prompts, each until ``end_id`` or ``max_new`` tokens,
    in one right-padded batch: every step reads each row's logits at its own last position."""
    lengths = np.array([len(p) for p in prompts])
    T = min(int(lengths.max()) + max_new, model.config.block_size)
    x = np.full((len(prompts), T), pad_id, dtype=np.int64)
    for b, p in enumerate(prompts):
        x[b, :len(p)] = p
    answers = [[] for _ in prompts]
    active = np.ones(len(prompts), dtype=bool)
    for _ in range(max_new):
        active &= lengths < T
        if not active.any():
            break
        width = int(lengths[active].max())
        logits = model.forward(x[:, :width])  # (B, width, V)
        rows = np.flatnonzero(active)
        nxt = logits[rows, lengths[rows] - 1].argmax(axis=-1)
        for b, tok in zip(rows, nxt):
            if tok == end_id:
                active[b] = False
            else:
                answers[b].append(int(tok))
                x[b, lengths[b]] = tok
                lengths[b] += 1
    return answers


def exact_match(model, conversations, tokenizer, max_new, pad_id):
    """Fraction of conversations whose greedy answer equals the reference answer, overall
    and per task."""
    prompts = [np.array(tokenizer.encode(apply_chat_template(m[:-1], add_generation_prompt=True)),
                        dtype=np.int64) for m, _ in conversations]
    end_id = tokenizer.special_ids[END]
    answers = greedy_answers(model, prompts, end_id, max_new, pad_id)
    hits = {}
    for (messages, task), ids in zip(conversations, answers):
        hits.setdefault(task, []).append(tokenizer.decode(ids) == messages[-1]["content"])
    per_task = {task: float(np.mean(v)) for task, v in sorted(hits.items())}
    return float(np.mean([h for v in hits.values() for h in v])), per_task


# --- the run -----------------------------------------------------------------------------
def fine_tune(base, encoded, val_encoded, cfg, variant, seed, pad_id):
    """Fine-tune a copy of ``base``; returns (model, TrainingLog)."""
    model = resize_embeddings(base, base.config.vocab_size)  # a copy
    optimizer = AdamW(lr=cfg.lr, betas=(0.9, 0.95), weight_decay=cfg.weight_decay)
    which = 1 if variant == VARIANTS[0] else 2

    def step(s):
        rng = np.random.default_rng([seed, 20, s])  # the same batches for both variants
        rows = [encoded[i] for i in rng.integers(len(encoded), size=cfg.batch_size)]
        x, y = pad_batch([(r[0], r[which]) for r in rows], pad_id)
        loss = float(model.loss(x, y))
        grads = model.backward()
        lr = cosine_schedule(s, cfg.lr, cfg.min_lr, cfg.warmup, cfg.steps)
        optimizer_step(optimizer, model.params, grads, lr, cfg.max_norm)
        return loss, x.size

    def evaluate():
        return {"loss": assistant_loss(model, val_encoded, pad_id)}

    log = train(step, cfg.steps, evaluate=evaluate, eval_every=cfg.eval_every,
                progress_every=cfg.progress_every)
    return model, log


def save_figure(logs, results, path, title):
    """The held-out assistant-token loss of both variants against the step."""
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for k, (variant, log) in enumerate(logs.items()):
        steps, losses = zip(*[(s, m["loss"]) for s, m in log.evals])
        ax.plot(steps, losses, "o-", color=f"C{k}", markersize=4,
                label=f"loss on {variant}: held-out exact match "
                      f"{100 * results[variant]['exact_match']:.0f}%")
    ax.set_yscale("log")
    ax.set_xlabel("fine-tuning step")
    ax.set_ylabel("held-out loss on the assistant's tokens (nats)")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return write_png(fig, path)


def run(pretrained="runs/pretrain", steps=None, quick=False, seed=0, figures_dir=None,
        out="runs/sft"):
    """The demo: load (or pretrain) the base model, add the special tokens, fine-tune twice.

    Args:
        pretrained: the pretraining demo's output directory (pretrained into if empty).
        steps: fine-tuning updates per variant (None: the configuration's).
        quick: pretrain a tiny base model (``quick_base``) and fine-tune briefly.
        seed: seeds the data, the batches (the same for both variants).
        figures_dir: where ``sft_masking.png`` goes (None: ``out``).
        out: the output directory.

    Returns:
        dict: per variant (``VARIANTS``) ``{"exact_match", "per_task", "val_loss",
        "first_val_loss", "seconds"}``; ``figure``, ``seconds``, ``examples`` (a few held-out
        prompts with both answers).
    """
    cfg = QUICK if quick else FULL
    if steps is not None:
        cfg = replace(cfg, steps=steps)
    start = time.perf_counter()
    out = Path(out)
    base, tokenizer, source, old_v = base_model(pretrained, quick, seed)
    pad_id = tokenizer.special_ids[END]  # any id: padded positions have IGNORE targets
    say(f"Base model: {source}, {base.num_parameters():,} parameters; "
          f"vocabulary {old_v} -> {len(tokenizer.vocab)} with the special tokens "
          f"{', '.join(SPECIAL_TOKENS)} (new wte rows = the mean row).")

    train_conv, val_conv = make_data(cfg, seed)
    encoded, val_encoded = encode_all(train_conv, tokenizer), encode_all(val_conv, tokenizer)
    longest = max(len(e[0]) for e in encoded + val_encoded)
    if longest > base.config.block_size:
        raise ValueError(f"a conversation has {longest} tokens, more than the context "
                         f"{base.config.block_size}")
    n_assist = np.mean([(e[1] != IGNORE).sum() for e in encoded])
    n_all = np.mean([len(e[0]) for e in encoded])
    example = apply_chat_template(train_conv[0][0])
    say(f"Data: {len(train_conv)} training and {len(val_conv)} held-out conversations "
          f"(tasks {', '.join(sorted(TASKS))}; held-out letter strings never seen in "
          f"training); {n_all:.1f} tokens per conversation on average, {n_assist:.1f} of them "
          f"the assistant's. A training example:\n{example}")
    say(f"Fine-tuning: {cfg.steps} updates of {cfg.batch_size} conversations per variant, "
          f"AdamW (peak lr {cfg.lr:g}, cosine to {cfg.min_lr:g} after {cfg.warmup} warmup "
          f"updates), clipping at {cfg.max_norm:g}; seed {seed}. BLAS threads: "
          f"{blas_threads()}.", flush=True)
    before, _ = exact_match(base, val_conv, tokenizer, cfg.max_new, pad_id)
    say(f"Base model before fine-tuning: held-out exact match {100 * before:.1f}%.")

    logs, results, models = {}, {}, {}
    for variant in VARIANTS:
        say(f"\n== Loss on {variant} ==", flush=True)
        tic = time.perf_counter()
        models[variant], logs[variant] = fine_tune(base, encoded, val_encoded, cfg, variant,
                                                   seed, pad_id)
        acc, per_task = exact_match(models[variant], val_conv, tokenizer, cfg.max_new, pad_id)
        results[variant] = {"exact_match": acc, "per_task": per_task,
                            "val_loss": logs[variant].evals[-1][1]["loss"],
                            "first_val_loss": logs[variant].evals[0][1]["loss"],
                            "seconds": time.perf_counter() - tic}
        r = results[variant]
        say(f"Held-out exact match {100 * acc:.1f}% ("
              + ", ".join(f"{t} {100 * a:.0f}%" for t, a in per_task.items())
              + f"); held-out loss on the assistant's tokens {r['val_loss']:.4f}; "
              f"{format_duration(r['seconds'])}.", flush=True)

    say("\nSummary (same base model, batches, steps and learning rate):")
    say(f"  {'loss on':<23}{'held-out exact match':>20}   assistant-token loss")
    for variant in VARIANTS:
        r = results[variant]
        say(f"  {variant:<23}{100 * r['exact_match']:>19.1f}%   "
            f"{r['first_val_loss']:.3f} -> {r['val_loss']:.4f}")
    examples = []
    for messages, _ in val_conv[:4]:
        prompt = np.array(tokenizer.encode(apply_chat_template(messages[:-1],
                                                               add_generation_prompt=True)))
        got = {v: tokenizer.decode(greedy_answers(models[v], [prompt], tokenizer.special_ids[END],
                                                  cfg.max_new, pad_id)[0]) for v in VARIANTS}
        examples.append((messages[-2]["content"], messages[-1]["content"], got))
        say(f"  {messages[-2]['content']!r}: expected {messages[-1]['content']!r}"
            + "".join(f"\n      {v}: {a!r}" for v, a in got.items()))
    path = save_figure(logs, results, Path(figures_dir or out) / FIGURE_NAME,
                       f"SFT of the pretrained demo GPT, {cfg.steps} steps, seed {seed}")
    seconds = time.perf_counter() - start
    say(f"\nWrote {path}; {format_duration(seconds)} in all.")
    if quick:
        say("(--quick is a smoke test; the full run, without --quick, takes a few minutes.)")
    return {**results, "figure": str(path), "seconds": seconds, "examples": examples,
            "before": before}


def main(argv=None):
    parser = demo_parser("sft", "Fine-tune the pretrained demo GPT on instructions, with and "
                         "without prompt masking (exercise 4.9's demo).")
    parser.add_argument("--pretrained", metavar="DIR", default="runs/pretrain",
                        help="the pretraining demo's output (default runs/pretrain; pretrained "
                             "into first if it has no checkpoint)")
    parser.add_argument("--steps", type=int,
                        help=f"fine-tuning updates per variant (default {FULL.steps}; "
                             f"{QUICK.steps} with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="pretrain a tiny base model and fine-tune briefly (a smoke test)")
    parser.add_argument("--out", metavar="DIR", default="runs/sft",
                        help="output directory (default runs/sft)")
    parser.add_argument("--figures", metavar="DIR", help="where sft_masking.png goes "
                                                         "(default: --out)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the run (default 0)")
    args = parser.parse_args(argv)
    if args.steps is not None and args.steps < 1:
        parser.error("--steps must be at least 1")
    code = rerun_with_one_blas_thread()
    if code is not None:
        return code
    run(pretrained=args.pretrained, steps=args.steps, quick=args.quick, seed=args.seed,
        figures_dir=args.figures, out=args.out)
    return 0
