"""Speculative decoding on the lecture notes: a 2-block draft, a 6-block target (given).

Usage:
    python -m demos speculative [--steps N] [--quick] [--seed N] [--figures DIR]
    python -m demos speculative --target reference      # the same, on the solutions

1. The data are the pretraining demo's (``corpus.py``): the lecture notes, its 512-token BPE,
   the same 90% / 10% split.
2. Three GPTs (exercise 3.11) with that vocabulary, trained here briefly with the pretraining
   demo's recipe (AdamW, cosine schedule, clipping, the same batches): a *target* of 6 blocks
   of width 128, and two *drafts* of 2 blocks of width 64 (a tenth of its parameters). One
   draft learns the text (next-token cross-entropy); the other is *distilled* from the
   target: it learns the target's next-token distribution p (the loss KL(p || q), whose
   gradient in the logits is q - p), which is what acceptance rewards, on what it will be
   asked to predict: the target's own greedy continuations of training prompts.
3. Held-out prompts are continued greedily, once by plain cached decoding (``generate``,
   4.5) and once by ``speculative_generate`` (5.4) with each draft for k = 2, 4, 6: the tokens
   must be identical; the demo reports the acceptance rate, the tokens per target forward and
   the wall-clock speed-up (best of a few repetitions, so a busy machine disturbs it less),
   and the speed-up a cost model predicts from the measured step times.

The figure ``speculative.png`` (in ``--figures``, default ``runs/speculative``) draws the
acceptance rate, the tokens per target forward and the speed-up against k, per draft.
"""

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from implementation.llm.data import get_batch
from implementation.llm.kv_cache import KVCache, generate
from implementation.llm.pretrain import batch_rng
from implementation.modern.speculative import speculative_generate
from implementation.transformer.gpt import GPT, GPTConfig
from implementation.transformer.optim import AdamW, cosine_schedule
from implementation.transformer.training import format_duration, optimizer_step

from ..blas import blas_threads, rerun_with_one_blas_thread
from ..llm.pretrain_demo import FULL as PRETRAIN_FULL
from ..llm.pretrain_demo import QUICK as PRETRAIN_QUICK
from ..plotting import pyplot, write_png
from ..text import say
from ..training import train
from .cli import parse, training_demo_parser
from .corpus import corpus_split, held_out_perplexity

FIGURE_NAME = "speculative.png"
DRAFTS = {"text": "draft trained on the text", "distilled": "draft distilled from the target"}


@dataclass(frozen=True)
class SpecConfig:
    """The models, their training runs and the decoding measurements."""

    target_layers: int = 6
    target_embd: int = 128
    target_heads: int = 4
    draft_layers: int = 2
    draft_embd: int = 64
    draft_heads: int = 2
    block_size: int = 64
    batch_size: int = 16
    steps: int = 400
    lr: float = 3e-3
    min_lr: float = 3e-4
    warmup: int = 40
    weight_decay: float = 0.1
    max_norm: float = 1.0
    progress_every: float = 5.0
    ks: tuple = (2, 4, 6)
    n_prompts: int = 12
    prompt_len: int = 16
    new_tokens: int = 48  # prompt_len + new_tokens <= block_size
    repeats: int = 5  # timings: the best of this many runs, taking turns
    distill_prompts: int = 1024  # training prompts the target continues for distillation
    max_chars: int | None = None  # encode only this many characters (--quick)


FULL = SpecConfig()
QUICK = replace(FULL, target_layers=2, target_embd=32, target_heads=2, draft_layers=1,
                draft_embd=16, draft_heads=2, block_size=32, batch_size=8, steps=20, lr=1e-2,
                min_lr=1e-3, warmup=4, progress_every=1.0, n_prompts=2, prompt_len=8,
                new_tokens=16, repeats=1, distill_prompts=32, max_chars=60_000)


def model_config(V, cfg, which):
    """The ``GPTConfig`` of the target or of a draft."""
    layers, embd, heads = ((cfg.target_layers, cfg.target_embd, cfg.target_heads)
                           if which == "target" else
                           (cfg.draft_layers, cfg.draft_embd, cfg.draft_heads))
    return GPTConfig(vocab_size=V, block_size=cfg.block_size, n_layer=layers, n_head=heads,
                     n_embd=embd)


def fit(model, train_ids, cfg, seed, teacher=None):
    """Train ``model``; returns a ``TrainingLog``.

    Without ``teacher``: the next-token cross-entropy of the text, on ``batch_rng(seed, s)``'s
    batches of ``train_ids``. With one: ``distillation_loss`` on windows of ``teacher``'s
    greedy continuations (``continuations``)."""
    optimizer = AdamW(lr=cfg.lr, betas=(0.9, 0.95), weight_decay=cfg.weight_decay)
    texts = None if teacher is None else continuations(teacher, train_ids, cfg, seed)

    def step(s):
        if teacher is None:
            x, y = get_batch(train_ids, cfg.batch_size, cfg.block_size, batch_rng(seed, s))
            loss = float(model.loss(x, y))
            grads = model.backward()
        else:
            x = texts[batch_rng(seed, s).integers(0, len(texts), cfg.batch_size)]  # (B, T)
            logits = model.forward(x)
            loss, dlogits = distillation_loss(logits, teacher.forward(x))
            grads = model.backward(dlogits.astype(logits.dtype))
        lr = cosine_schedule(s, cfg.lr, cfg.min_lr, cfg.warmup, cfg.steps)
        optimizer_step(optimizer, model.params, grads, lr, cfg.max_norm)
        return loss, x.size

    return train(step, cfg.steps, progress_every=cfg.progress_every)


def distillation_loss(logits, teacher_logits):
    """``(loss, dlogits)``: the mean over positions of KL(p || q), p = softmax(teacher_logits)
    the teacher's next-token distribution, q = softmax(logits) the student's, and its
    gradient in ``logits``, (q - p) / positions, both in float64. ``logits``,
    ``teacher_logits``: ``(B, T, V)``."""
    log_p = np.asarray(teacher_logits, dtype=np.float64)
    log_p = log_p - log_p.max(axis=-1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=-1, keepdims=True))
    log_q = np.asarray(logits, dtype=np.float64)
    log_q = log_q - log_q.max(axis=-1, keepdims=True)
    log_q -= np.log(np.exp(log_q).sum(axis=-1, keepdims=True))
    p, positions = np.exp(log_p), log_p.size // log_p.shape[-1]
    loss = float(np.sum(p * (log_p - log_q))) / positions
    return loss, (np.exp(log_q) - p) / positions


def continuations(target, train_ids, cfg, seed, batch=64):
    """``(distill_prompts, block_size)`` token ids: training windows of ``prompt_len`` tokens,
    each continued greedily by ``target`` (``generate``, 4.5): the text a draft is asked to
    predict when it drafts for this target."""
    starts = np.random.default_rng([seed, 3]).integers(
        0, len(train_ids) - cfg.prompt_len, cfg.distill_prompts)
    windows = train_ids[starts[:, None] + np.arange(cfg.prompt_len)]  # (n, prompt_len)
    tic = time.perf_counter()
    texts = np.concatenate([generate(target, windows[i:i + batch],
                                     cfg.block_size - cfg.prompt_len)
                            for i in range(0, len(windows), batch)])
    say(f"The target continued {len(texts):,} training prompts of {cfg.prompt_len} tokens to "
        f"{cfg.block_size} tokens each ({format_duration(time.perf_counter() - tic)}).",
        flush=True)
    return texts


def prompts(val_ids, cfg, seed):
    """``n_prompts`` held-out windows of ``prompt_len`` tokens, each ``(1, prompt_len)``."""
    starts = np.random.default_rng([seed, 2]).integers(0, len(val_ids) - cfg.prompt_len,
                                                       cfg.n_prompts)
    return [val_ids[s:s + cfg.prompt_len][None] for s in starts]


def step_ms(models, sizes, cfg, rounds=30):
    """``{(name, n_tokens): ms}``: the best wall time of one cached forward of ``n_tokens``
    tokens after ``prompt_len`` cached positions (a decoding step when 1, a verification
    when k + 1), for each model of ``models`` (name -> GPT) and each size in ``sizes``
    (name -> sizes). The sizes take turns, ``rounds`` times, so that a busy spell of the
    machine slows all of them rather than one."""
    caches = {}
    for name, model in models.items():
        caches[name] = KVCache.for_model(model, 1, max_len=cfg.block_size)
        model.forward(np.zeros((1, cfg.prompt_len), dtype=np.int64), kv_cache=caches[name])
    best = {(name, n): float("inf") for name in models for n in sizes[name]}
    for _ in range(rounds):
        for name, n in best:
            caches[name].length = cfg.prompt_len  # the same position every time
            tokens = np.zeros((1, n), dtype=np.int64)
            tic = time.perf_counter()
            models[name].forward(tokens, kv_cache=caches[name])
            best[name, n] = min(best[name, n], time.perf_counter() - tic)
    return {key: 1000 * seconds for key, seconds in best.items()}


def decode_all(target, drafts, prompt_list, cfg):
    """Greedy decoding of every prompt: plain (``generate``, 4.5) and speculative (5.4) with
    each draft for each k, the configurations taking turns ``repeats`` times; each prompt's
    best wall time counts.

    Returns:
        ``{config: {"ids": per prompt, "seconds", "rounds", "drafted", "accepted"}}`` with
        config ``"plain"`` or ``(draft name, k)``.
    """
    configs = ["plain"] + [(name, k) for name in drafts for k in cfg.ks]
    runs = {c: {"ids": [], "seconds": 0.0, "rounds": 0, "drafted": 0, "accepted": 0}
            for c in configs}
    for prompt in prompt_list:
        best, last = dict.fromkeys(configs, float("inf")), {}
        for _ in range(cfg.repeats):
            for c in configs:
                tic = time.perf_counter()
                if c == "plain":
                    last[c] = generate(target, prompt, cfg.new_tokens), {}
                else:  # greedy: the generator is never drawn from
                    last[c] = speculative_generate(target, drafts[c[0]], prompt,
                                                   cfg.new_tokens, c[1],
                                                   np.random.default_rng(0), temperature=0.0)
                best[c] = min(best[c], time.perf_counter() - tic)
        for c in configs:  # greedy: every repetition gives the same tokens and counts
            ids, stats = last[c]
            runs[c]["ids"].append(ids)
            runs[c]["seconds"] += best[c]
            for key in ("rounds", "drafted", "accepted"):
                runs[c][key] += stats.get(key, 0)
    return runs
def results_rows(runs, steps, prompt_list, cfg):
    """Per draft, per k: ``{"k", "acceptance", "per_forward", "seconds", "speedup",
    "identical", "verify_ratio", "predicted"}`` from ``decode_all``'s runs and ``step_ms``'s
    step times (keys ``("target", n)`` and ``("draft:<name>", 1)``)."""
    plain = runs["plain"]
    rows_by_draft = {}
    for (name, k), run in ((c, r) for c, r in runs.items() if c != "plain"):
        row = {"k": k, "acceptance": run["accepted"] / run["drafted"],
               "per_forward": len(prompt_list) * cfg.new_tokens / run["rounds"],
               "seconds": run["seconds"], "speedup": plain["seconds"] / run["seconds"],
               "identical": all(np.array_equal(a, b) for a, b in zip(run["ids"], plain["ids"]))}
        # the cost model: a round is (drafted / rounds) draft steps and one target forward on
        # k + 1 tokens; it yields per_forward tokens where plain decoding pays one step each
        one, verify = steps["target", 1], steps["target", k + 1]
        round_ms = run["drafted"] / run["rounds"] * steps[f"draft:{name}", 1] + verify
        row.update(verify_ratio=verify / one, predicted=row["per_forward"] * one / round_ms)
        rows_by_draft.setdefault(name, []).append(row)
    return rows_by_draft


def table(rows_by_draft, plain_seconds):
    """The results, one line per draft and k, in 80 columns."""
    say(f"\n  {'draft':<10}{'k':>3}{'accepted':>10}{'tokens/fwd':>12}{'ms':>7}{'speed-up':>10}"
        f"{'predicted':>11}{'identical':>11}")
    say(f"  {'(plain)':<10}{'':>3}{'':>10}{1.0:>12.2f}{1000 * plain_seconds:>7.0f}{1.0:>9.2f}x")
    for name, rows in rows_by_draft.items():
        for r in rows:
            say(f"  {name:<10}{r['k']:>3}{r['acceptance']:>10.1%}{r['per_forward']:>12.2f}"
                f"{1000 * r['seconds']:>7.0f}{r['speedup']:>9.2f}x{r['predicted']:>10.2f}x"
                f"{str(r['identical']):>11}")


def save_figure(rows_by_draft, path, title):
    """Per draft: the tokens per target forward with each acceptance rate written beside
    (left), the speed-up measured and predicted by the cost model (right), against k."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8))
    width = 0.8 / len(rows_by_draft)
    ks = [r["k"] for r in next(iter(rows_by_draft.values()))]
    left.plot(ks, [k + 1 for k in ks], "--", color="0.6", label="k + 1: every draft accepted")
    top = 1.0
    for j, (name, rows) in enumerate(rows_by_draft.items()):
        color = f"C{j}"
        per_forward = [r["per_forward"] for r in rows]
        left.plot(ks, per_forward, "o-", color=color, label=DRAFTS[name])
        for k, y, r in zip(ks, per_forward, rows):
            left.annotate(f"{100 * r['acceptance']:.0f}%", (k, y), textcoords="offset points",
                          xytext=(0, 7 if j else -13), ha="center", fontsize=7, color=color)
        x = np.arange(len(ks)) + (j - (len(rows_by_draft) - 1) / 2) * width
        speedups, predicted = [r["speedup"] for r in rows], [r["predicted"] for r in rows]
        right.bar(x, speedups, width=width * 0.95, color=color, label=f"{DRAFTS[name]}")
        right.plot(x, predicted, "kD", markersize=4,
                   label="predicted from step times" if j == 0 else None)
        top = max(top, *speedups, *predicted)
    left.set_xticks(ks)
    left.set_ylim(1, max(ks) + 1.5)
    left.set_xlabel("k (draft tokens per round)")
    left.set_ylabel("tokens per target forward\n(acceptance rate beside each point)")
    left.legend(fontsize=7, loc="upper left")
    left.grid(alpha=0.3)
    right.set_xticks(np.arange(len(ks)), [str(k) for k in ks])
    right.axhline(1.0, color="k", linewidth=0.8)
    right.set_ylim(0, 1.45 * top)  # room for the legend above the bars
    right.set_xlabel("k (draft tokens per round)")
    right.set_ylabel("wall-clock speed-up over generate")
    right.legend(fontsize=7, loc="upper left")
    right.grid(alpha=0.3, axis="y")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return write_png(fig, path)


def run(steps=None, quick=False, seed=0, figures_dir=None, out="runs/speculative"):
    """The demo: the data, three models trained, the decoding measurements, the figure.

    Returns:
        dict: ``"target"`` and per draft (``DRAFTS``) ``{"parameters", "perplexity"}``;
        ``"plain_seconds"``; ``"rows"``: per draft, ``measure``'s rows; ``"figure"``,
        ``"seconds"``.
    """
    cfg = QUICK if quick else FULL
    if steps is not None:
        cfg = replace(cfg, steps=steps)
    start = time.perf_counter()
    data_cfg = PRETRAIN_QUICK if quick else PRETRAIN_FULL
    tokenizer, train_ids, val_ids, summary = corpus_split(data_cfg, cfg.max_chars)
    say(summary)
    V = len(tokenizer.vocab)
    target = GPT(model_config(V, cfg, "target"), np.random.default_rng([seed, 0]))
    # both drafts start from the same weights: only what they learn from differs
    drafts = {name: GPT(model_config(V, cfg, "draft"), np.random.default_rng([seed, 1]))
              for name in DRAFTS}
    results = {"target": {"parameters": target.num_parameters()}}
    results.update({name: {"parameters": d.num_parameters()} for name, d in drafts.items()})
    for name, model in (("target", target), ("drafts", drafts["text"])):
        c = model.config
        say(f"{name}: {c.n_layer} blocks of width {c.n_embd}, {c.n_head} heads: "
            f"{model.num_parameters():,} parameters.")
    say(f"Training each: {cfg.steps} updates of {cfg.batch_size} x {cfg.block_size} tokens "
        f"(the same batches), AdamW (peak lr {cfg.lr:g}, cosine to {cfg.min_lr:g}); seed "
        f"{seed}. BLAS threads: {blas_threads()}.", flush=True)
    for name, model, teacher in (("target", target, None), ("text", drafts["text"], None),
                                 ("distilled", drafts["distilled"], target)):
        say(f"\n== {DRAFTS.get(name, name)} ==", flush=True)
        log = fit(model, train_ids, cfg, seed, teacher=teacher)
        _, perplexity = held_out_perplexity(model, val_ids, cfg.block_size)
        results[name]["perplexity"] = perplexity
        say(f"Held-out perplexity {perplexity:.2f}; training took "
            f"{format_duration(log.seconds)}.", flush=True)

    say(f"\n== greedy decoding: {cfg.n_prompts} held-out prompts of {cfg.prompt_len} "
        f"tokens, {cfg.new_tokens} new tokens each, best of {cfg.repeats} ==", flush=True)
    prompt_list = prompts(val_ids, cfg, seed)
    say(f"Plain cached decoding (4.5) and speculative decoding (5.4) with each draft, k = "
        f"{', '.join(map(str, cfg.ks))}, taking turns...", flush=True)
    runs = decode_all(target, drafts, prompt_list, cfg)
    plain_seconds = runs["plain"]["seconds"]
    models = {"target": target, **{f"draft:{name}": d for name, d in drafts.items()}}
    sizes = {name: [1] for name in models}
    sizes["target"] += [k + 1 for k in cfg.ks]
    steps = step_ms(models, sizes, cfg)
    target_ms, draft_ms = steps["target", 1], steps["draft:text", 1]
    say(f"One decoding step: target {target_ms:.2f} ms, a draft {draft_ms:.2f} ms; a target "
        f"forward on k + 1 tokens: " + ", ".join(
            f"{steps['target', k + 1]:.2f} ms ({k + 1})" for k in cfg.ks) + ".", flush=True)
    rows_by_draft = results_rows(runs, steps, prompt_list, cfg)
    table(rows_by_draft, plain_seconds)
    ratios = [r["verify_ratio"] for rows in rows_by_draft.values() for r in rows]
    first = {name: rows[0]["acceptance"] for name, rows in rows_by_draft.items()}
    say(f"\nA round costs k draft steps (here each {draft_ms / target_ms:.2f} of a target step) "
        f"and one target forward on k + 1 tokens (here {min(ratios):.2f}-{max(ratios):.2f} "
        "times one on 1 token: NumPy pays per call and per row, where a large model on a GPU "
        "pays for reading the weights, once) and yields 1 to k + 1 tokens: it pays when the "
        f"draft agrees with the target. At k = {cfg.ks[0]} the distilled draft's acceptance is "
        f"{first['distilled']:.0%} (held-out perplexity {results['distilled']['perplexity']:.1f})"
        f", the other's {first['text']:.0%} ({results['text']['perplexity']:.1f}): acceptance "
        "rewards matching the target, not the text.")
    if all(r["identical"] for rows in rows_by_draft.values() for r in rows):
        say("Every run gave plain decoding's tokens: greedy speculative decoding is the "
            "target's own greedy decoding, only faster or slower.")
    else:
        say("Some runs gave tokens DIFFERENT from plain decoding's (identical: False): "
            "greedy speculative decoding must give the target's own greedy tokens; check "
            "speculative_generate (exercise 5.4): make grade EX=5.4.")
    path = save_figure(rows_by_draft, Path(figures_dir or out) / FIGURE_NAME,
                       f"Speculative decoding, greedy: {results['text']['parameters']:,}-"
                       f"parameter drafts, {results['target']['parameters']:,}-parameter "
                       f"target, seed {seed}")
    seconds = time.perf_counter() - start
    say(f"\nWrote {path}; {format_duration(seconds)} in all.")
    if quick:
        say("(--quick is a smoke test; the full run, without --quick, takes a few minutes.)")
    return {**results, "plain_seconds": plain_seconds, "rows": rows_by_draft,
            "figure": str(path), "seconds": seconds}


def main(argv=None):
    parser = training_demo_parser(
        "speculative", "Speculative decoding with small drafts and a larger target trained "
        "on the lecture notes (exercise 5.4's demo).", FULL.steps, QUICK.steps, FIGURE_NAME)
    args = parse(parser, argv)
    code = rerun_with_one_blas_thread()
    if code is not None:
        return code
    run(steps=args.steps, quick=args.quick, seed=args.seed, figures_dir=args.figures,
        out=args.out)
    return 0
