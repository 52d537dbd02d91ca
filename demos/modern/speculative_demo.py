"""Speculative decoding on the lecture notes: a 2-block draft, a 6-block target (given).

Usage:
    python -m demos speculative [--steps N] [--quick] [--seed N] [--figures DIR]
    python -m demos speculative --target reference      # the same, on the solutions

1. The data are the pretraining demo's (``corpus.py``): the lecture notes, its 512-token BPE,
   the same 90% / 10% split.
2. Two GPTs (exercise 3.11) with that vocabulary: a *target* of 6 blocks of width 128 and a
   *draft* of 2 blocks of width 64, about a tenth of its cost per token. Both are trained
   here, briefly, with the pretraining demo's recipe (AdamW, cosine schedule, clipping, the
   same batches). The pretraining demo's model (``runs/pretrain``) has 4 blocks: not the
   6-block target this demo is about, and training both here keeps the demo on its own.
3. Held-out prompts are continued greedily, once by plain cached decoding (``generate``,
   4.5) and once by ``speculative_generate`` (5.4) for k = 2, 4, 6: the tokens must be
   identical; the demo reports the acceptance rate, the tokens per target forward and the
   wall-clock speed-up (best of a few repetitions, so a busy machine disturbs it less).

The figure ``speculative.png`` (in ``--figures``, default ``runs/speculative``) draws the
acceptance rate, the tokens per target forward and the speed-up against k.
"""

import time
from dataclasses import dataclass, replace
from functools import partial
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
from ..run import parser as demo_parser
from ..text import say
from ..training import train
from .corpus import corpus_split, held_out_perplexity

FIGURE_NAME = "speculative.png"
NAMES = ("target", "draft")


@dataclass(frozen=True)
class SpecConfig:
    """The two models, their training run and the decoding measurements."""

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
    n_prompts: int = 6
    prompt_len: int = 16
    new_tokens: int = 48  # prompt_len + new_tokens <= block_size
    repeats: int = 3  # timings: the best of this many runs
    max_chars: int | None = None  # encode only this many characters (--quick)


FULL = SpecConfig()
QUICK = replace(FULL, target_layers=2, target_embd=32, target_heads=2, draft_layers=1,
                draft_embd=16, draft_heads=2, block_size=32, batch_size=8, steps=20, lr=1e-2,
                min_lr=1e-3, warmup=4, progress_every=1.0, n_prompts=2, prompt_len=8,
                new_tokens=16, repeats=1, max_chars=60_000)


def model_config(V, cfg, which):
    """The ``GPTConfig`` of the target or the draft."""
    layers, embd, heads = ((cfg.target_layers, cfg.target_embd, cfg.target_heads)
                           if which == "target" else
                           (cfg.draft_layers, cfg.draft_embd, cfg.draft_heads))
    return GPTConfig(vocab_size=V, block_size=cfg.block_size, n_layer=layers, n_head=heads,
                     n_embd=embd)


def pretrain(model, train_ids, cfg, seed):
    """Train ``model`` on ``batch_rng(seed, s)``'s batches; returns a ``TrainingLog``."""
    optimizer = AdamW(lr=cfg.lr, betas=(0.9, 0.95), weight_decay=cfg.weight_decay)

    def step(s):
        x, y = get_batch(train_ids, cfg.batch_size, cfg.block_size, batch_rng(seed, s))
        loss = float(model.loss(x, y))
        grads = model.backward()
        lr = cosine_schedule(s, cfg.lr, cfg.min_lr, cfg.warmup, cfg.steps)
        optimizer_step(optimizer, model.params, grads, lr, cfg.max_norm)
        return loss, x.size

    return train(step, cfg.steps, progress_every=cfg.progress_every)


def prompts(val_ids, cfg, seed):
    """``n_prompts`` held-out windows of ``prompt_len`` tokens, each ``(1, prompt_len)``."""
    starts = np.random.default_rng([seed, 2]).integers(0, len(val_ids) - cfg.prompt_len,
                                                       cfg.n_prompts)
    return [val_ids[s:s + cfg.prompt_len][None] for s in starts]


def best_time(fn, repeats):
    """``(result, seconds)``: ``fn()``'s result and the shortest of ``repeats`` wall times."""
    best = float("inf")
    for _ in range(repeats):
        tic = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - tic)
    return result, best


def forward_ms(model, n_tokens, cfg, repeats=30):
    """The best wall time, in ms, of one cached forward of ``n_tokens`` tokens after
    ``prompt_len`` cached positions (a decoding step when 1, a verification when k + 1)."""
    cache = KVCache.for_model(model, 1, max_len=cfg.block_size)
    model.forward(np.zeros((1, cfg.prompt_len), dtype=np.int64), kv_cache=cache)
    best = float("inf")
    for _ in range(repeats):
        cache.length = cfg.prompt_len  # the same position every time
        tic = time.perf_counter()
        model.forward(np.zeros((1, n_tokens), dtype=np.int64), kv_cache=cache)
        best = min(best, time.perf_counter() - tic)
    return 1000 * best


def measure(target, draft, prompt_list, cfg):
    """Greedy decoding of every prompt, plain and speculative for each k.

    Returns:
        ``(plain_seconds, rows)``: the total of the best wall times of ``generate``, and per k
        ``{"k", "acceptance", "per_forward", "seconds", "speedup", "identical"}``.
    """
    plain, plain_seconds = [], 0.0
    for prompt in prompt_list:
        ids, seconds = best_time(partial(generate, target, prompt, cfg.new_tokens), cfg.repeats)
        plain.append(ids)
        plain_seconds += seconds
    say(f"Plain cached decoding (4.5): {len(prompt_list)} x {cfg.new_tokens} tokens in "
        f"{1000 * plain_seconds:.0f} ms, one target forward per token. One decoding step: "
        f"target {forward_ms(target, 1, cfg):.2f} ms, draft {forward_ms(draft, 1, cfg):.2f} "
        f"ms.", flush=True)
    rows = []
    for k in cfg.ks:
        totals = {"rounds": 0, "drafted": 0, "accepted": 0}
        seconds, identical = 0.0, True
        for prompt, reference in zip(prompt_list, plain):
            (ids, stats), s = best_time(  # greedy: the generator is never drawn from
                partial(speculative_generate, target, draft, prompt, cfg.new_tokens, k,
                        np.random.default_rng(0), temperature=0.0), cfg.repeats)
            seconds += s
            identical &= bool(np.array_equal(ids, reference))
            for key in totals:
                totals[key] += stats[key]
        row = {"k": k, "acceptance": totals["accepted"] / totals["drafted"],
               "per_forward": len(prompt_list) * cfg.new_tokens / totals["rounds"],
               "seconds": seconds, "speedup": plain_seconds / seconds, "identical": identical}
        # the cost model: a round is (drafted / rounds) draft steps and one target forward on
        # k + 1 tokens, and it yields per_forward tokens where plain decoding pays one step each
        one, verify = forward_ms(target, 1, cfg), forward_ms(target, k + 1, cfg)
        round_ms = totals["drafted"] / totals["rounds"] * forward_ms(draft, 1, cfg) + verify
        row.update(verify_ratio=verify / one, predicted=row["per_forward"] * one / round_ms)
        rows.append(row)
        say(f"k = {k}: acceptance {row['acceptance']:.1%}, {row['per_forward']:.2f} tokens "
            f"per target forward, {1000 * seconds:.0f} ms, speed-up {row['speedup']:.2f}x, "
            f"tokens {'identical' if identical else 'DIFFERENT'} to plain decoding. A target "
            f"forward on {k + 1} tokens costs {row['verify_ratio']:.2f} of one on 1 token: "
            f"predicted speed-up {row['predicted']:.2f}x.", flush=True)
    return plain_seconds, rows


def save_figure(rows, path, title):
    """Acceptance rate and tokens per target forward (left), the speed-up measured and
    predicted by the cost model (right), against k."""
    plt = pyplot()
    ks = [r["k"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.5, 3.8))
    left.plot(ks, [r["per_forward"] for r in rows], "o-", color="C0",
              label="tokens per target forward")
    left.plot(ks, [1 + r["acceptance"] * r["k"] for r in rows], ":", color="C0", alpha=0.5,
              label="1 + acceptance x k (if every round drafted k)")
    left.set_xlabel("k (draft tokens per round)")
    left.set_ylabel("tokens per target forward")
    twin = left.twinx()
    twin.plot(ks, [100 * r["acceptance"] for r in rows], "s--", color="C1",
              label="acceptance rate")
    twin.set_ylabel("acceptance rate (%)", color="C1")
    twin.set_ylim(0, 100)
    lines = left.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    left.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="lower right")
    left.grid(alpha=0.3)
    right.bar([str(k) for k in ks], [r["speedup"] for r in rows], color="C2",
              label="measured")
    right.plot([str(k) for k in ks], [r["predicted"] for r in rows], "kD", markersize=5,
               label="predicted from step times")
    right.legend(fontsize=8)
    right.axhline(1.0, color="k", linewidth=0.8)
    right.set_xlabel("k (draft tokens per round)")
    right.set_ylabel("wall-clock speed-up over generate")
    right.grid(alpha=0.3, axis="y")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return write_png(fig, path)


def run(steps=None, quick=False, seed=0, figures_dir=None, out="runs/speculative"):
    """The demo: the data, two models trained, the decoding measurements, the figure.

    Returns:
        dict: ``"plain_seconds"``, ``"rows"`` (``measure``'s), per model (``NAMES``)
        ``{"parameters", "perplexity"}``, ``"figure"``, ``"seconds"``.
    """
    cfg = QUICK if quick else FULL
    if steps is not None:
        cfg = replace(cfg, steps=steps)
    start = time.perf_counter()
    data_cfg = PRETRAIN_QUICK if quick else PRETRAIN_FULL
    tokenizer, train_ids, val_ids, summary = corpus_split(data_cfg, cfg.max_chars)
    say(summary)
    V = len(tokenizer.vocab)
    models = {name: GPT(model_config(V, cfg, name), np.random.default_rng([seed, i]))
              for i, name in enumerate(NAMES)}
    results = {}
    for name, model in models.items():
        c = model.config
        results[name] = {"parameters": model.num_parameters()}
        say(f"{name}: {c.n_layer} blocks of width {c.n_embd}, {c.n_head} heads: "
            f"{results[name]['parameters']:,} parameters.")
    say(f"Training each: {cfg.steps} updates of {cfg.batch_size} x {cfg.block_size} tokens "
        f"(the same batches), AdamW (peak lr {cfg.lr:g}, cosine to {cfg.min_lr:g}); seed "
        f"{seed}. BLAS threads: {blas_threads()}.", flush=True)
    for name, model in models.items():
        say(f"\n== {name} ==", flush=True)
        log = pretrain(model, train_ids, cfg, seed)
        _, perplexity = held_out_perplexity(model, val_ids, cfg.block_size)
        results[name]["perplexity"] = perplexity
        say(f"Held-out perplexity {perplexity:.2f}; training took "
            f"{format_duration(log.seconds)}.", flush=True)

    say(f"\n== greedy decoding: {cfg.n_prompts} held-out prompts of {cfg.prompt_len} "
        f"tokens, {cfg.new_tokens} new tokens each, best of {cfg.repeats} ==", flush=True)
    prompt_list = prompts(val_ids, cfg, seed)
    plain_seconds, rows = measure(models["target"], models["draft"], prompt_list, cfg)
    say(f"\n  {'k':>3}{'acceptance':>12}{'tokens/forward':>16}{'ms':>8}{'speed-up':>10}"
        f"{'identical':>11}{'predicted':>11}")
    say(f"  {'-':>3}{'':>12}{1.0:>16.2f}{1000 * plain_seconds:>8.0f}{1.0:>9.2f}x"
        f"{'(plain)':>11}")
    for r in rows:
        say(f"  {r['k']:>3}{r['acceptance']:>11.1%}{r['per_forward']:>16.2f}"
            f"{1000 * r['seconds']:>8.0f}{r['speedup']:>9.2f}x{str(r['identical']):>11}"
            f"{r['predicted']:>10.2f}x")
    say("The speed-up needs a target forward on k + 1 tokens to cost about what one on 1 token "
        "does (true where reading the weights dominates: large models, GPUs) and a draft "
        "much cheaper than the target; NumPy on small models pays per token and per call, "
        "so the prediction (cost model: measured step times) can stay below 1.")
    path = save_figure(rows, Path(figures_dir or out) / FIGURE_NAME,
                       f"Speculative decoding, greedy: {results['draft']['parameters']:,}-"
                       f"parameter draft, {results['target']['parameters']:,}-parameter "
                       f"target, seed {seed}")
    seconds = time.perf_counter() - start
    say(f"\nWrote {path}; {format_duration(seconds)} in all.")
    if quick:
        say("(--quick is a smoke test; the full run, without --quick, takes a few minutes.)")
    return {**results, "plain_seconds": plain_seconds, "rows": rows, "figure": str(path),
            "seconds": seconds}


def main(argv=None):
    parser = demo_parser("speculative", "Speculative decoding with a small draft and a larger "
                         "target trained on the lecture notes (exercise 5.4's demo).")
    parser.add_argument("--steps", type=int, help=f"updates per model (default {FULL.steps}; "
                                                  f"{QUICK.steps} with --quick)")
    parser.add_argument("--quick", action="store_true", help="tiny models, a short run")
    parser.add_argument("--out", metavar="DIR", default="runs/speculative",
                        help="output directory (default runs/speculative)")
    parser.add_argument("--figures", metavar="DIR", help=f"where {FIGURE_NAME} goes "
                                                         "(default: --out)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the run (default 0)")
    args = parser.parse_args(argv)
    if args.steps is not None and args.steps < 1:
        parser.error("--steps must be at least 1")
    code = rerun_with_one_blas_thread()
    if code is not None:
        return code
    run(steps=args.steps, quick=args.quick, seed=args.seed, figures_dir=args.figures,
        out=args.out)
    return 0
