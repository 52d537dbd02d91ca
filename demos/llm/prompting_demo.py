"""The prompting demo: a written-out chain of thought lets a tiny GPT add (given).

Usage:
    python -m demos prompting [--quick] [--seed N] [--figures DIR]
    python -m demos prompting --target reference   # the same, on the solutions

Two GPTs of the same size (Module 3's ``GPT``) are trained from scratch, for the same number
of steps on the same problems, to add two 8-digit numbers (leading zeros kept). They differ
only in what they are taught to write after the ``=``:

    direct       34611220+01971229=036582449
    scratchpad   34611220+01971229=0909 2204 2204 1102 1708 6905 4116 3003 |036582449

The scratchpad (a chain of thought, Nye et al. 2021; Wei et al. 2022) goes through the digits
from the least significant, one step of four tokens per column: the two digits, the carry in,
and the digit of the sum (``6+9+0 = 15``: the step is ``6905``; the carry out, 1, is the next
step's carry in: ``4116``). Then ``|`` and the sum, most significant digit first, as in the
direct format. (The spaces above are for reading; the tokens are the 13 characters
``0123456789+=|``.)

Both models are then scored on 500 held-out problems by exact match of the final sum, greedy
(``generate`` of 4.5, with the KV cache). The scratchpad model is also sampled ``k`` times at
temperature > 0: the accuracy of one sample against the majority vote of the k answers
(``self_consistency`` of 4.13). Unparseable completions count as wrong (and as no vote).

Why the scratchpad helps: to write the first digit of the sum directly, the model must know
whether a carry ripples through all eight columns, within one forward pass of fixed depth.
With the scratchpad each column's carry is a token it has already written: one column per
step, each a short local computation. The price is more tokens: 60 per problem instead of 27
(the same steps and problems, about twice the training tokens and decoding steps).
"""

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from implementation.llm.kv_cache import generate
from implementation.llm.prompting import self_consistency
from implementation.transformer.gpt import GPT, GPTConfig
from implementation.transformer.optim import AdamW, cosine_schedule
from implementation.transformer.training import format_duration, optimizer_step

from ..blas import blas_threads, rerun_with_one_blas_thread
from ..plotting import pyplot, write_png
from ..run import parser as demo_parser
from ..text import say
from ..training import train
from ..transformer.tasks import IGNORE, digits_of, lm_batch, number_of

FIGURE_NAME = "prompting_accuracy.png"
CHARS = "0123456789+=|"
PLUS, EQUALS, BAR = 10, 11, 12
FORMATS = ("direct", "scratchpad")


@dataclass(frozen=True)
class DemoConfig:
    """The task, the models and the training runs of the demo."""

    n_digits: int = 8  # digits per operand
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    batch_size: int = 32  # problems per step, for both formats
    steps: int = 1000  # updates, for both formats
    lr: float = 3e-3
    min_lr: float = 3e-4
    warmup: int = 100
    max_norm: float = 1.0
    n_held_out: int = 500
    eval_every: int = 250
    k: int = 5  # sampled chains of thought per problem (self-consistency)
    temperature: float = 1.0
    progress_every: float = 5.0


FULL = DemoConfig()
QUICK = replace(FULL, n_digits=2, steps=60, batch_size=32, warmup=10, n_held_out=40,
                eval_every=30, k=3,
                progress_every=2.0)


def text_of(tokens):
    """Token ids -> the string they spell (``CHARS``)."""
    return "".join(CHARS[int(t)] for t in tokens)


def encode(a, b, n_digits, fmt):
    """Prompts and targets of the problems ``a + b``.

    Args:
        a, b: ``(N,)`` int operands, each ``< 10**n_digits``.
        n_digits: digits per operand.
        fmt: ``"direct"`` or ``"scratchpad"`` (module docstring).

    Returns:
        prompts ``(N, 2n + 2)`` (``a+b=``) and answers ``(N, A)`` int64, ``A = n + 1`` for
        direct, ``4n + 1 + n + 1`` for the scratchpad.
    """
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    N, n = len(a), n_digits
    da, db = digits_of(a, n), digits_of(b, n)  # (N, n), most significant first
    column = np.full((N, 1), 0, dtype=np.int64)
    prompts = np.concatenate([da, column + PLUS, db, column + EQUALS], axis=1)
    total = digits_of(a + b, n + 1)  # (N, n + 1)
    if fmt == "direct":
        return prompts, total
    steps, carry = [], np.zeros(N, dtype=np.int64)
    for i in range(n - 1, -1, -1):  # least significant column first
        s = da[:, i] + db[:, i] + carry
        steps.append(np.stack([da[:, i], db[:, i], carry, s % 10], axis=1))
        carry = s // 10
    return prompts, np.concatenate(steps + [column + BAR, total], axis=1)


def parse_sums(answers, n_digits, fmt):
    """The sum each completion states, or None when it is malformed: ``(N, A)`` -> list.

    The sum is the last ``n + 1`` tokens; the scratchpad must have its ``|`` just before them.
    """
    answers = np.asarray(answers)
    n = n_digits
    sums = []
    for row in answers:
        total = row[-(n + 1):]
        ok = np.all(total < 10) and (fmt == "direct" or row[-(n + 2)] == BAR)
        sums.append(int(number_of(total)) if ok else None)
    return sums


def held_out_problems(cfg, rng):
    """``n_held_out`` distinct problems ``(a, b)``, never trained on."""
    n = 10 ** cfg.n_digits
    codes = rng.choice(n * n, size=cfg.n_held_out, replace=False)
    return codes // n, codes % n


def training_problems(cfg, rng, held_codes):
    """A batch of random problems outside the held-out set."""
    n = 10 ** cfg.n_digits
    codes = rng.integers(0, n * n, size=cfg.batch_size)
    clash = np.isin(codes, held_codes)
    while clash.any():
        codes[clash] = rng.integers(0, n * n, size=int(clash.sum()))
        clash = np.isin(codes, held_codes)
    return codes // n, codes % n


def gpt_config(cfg, fmt):
    prompts, answers = encode([0], [0], cfg.n_digits, fmt)
    return GPTConfig(vocab_size=len(CHARS), block_size=prompts.shape[1] + answers.shape[1],
                     n_layer=cfg.n_layer, n_head=cfg.n_head, n_embd=cfg.n_embd)


def teacher_forced_accuracy(model, prompts, answers):
    """Exact match of every answer token given the true prefix (cheap, for the curves)."""
    idx, targets = lm_batch(prompts, answers)
    logits = model.forward(idx)
    right = (logits.argmax(axis=-1) == targets) | (targets == IGNORE)
    return {"accuracy": float(right.all(axis=1).mean())}


def train_format(cfg, fmt, seed, held):
    """Train one GPT on ``fmt``; the seed fixes the weights and the batches (the same
    problems for both formats)."""
    a_held, b_held = held
    held_codes = a_held * 10 ** cfg.n_digits + b_held
    held_prompts, held_answers = encode(a_held, b_held, cfg.n_digits, fmt)
    model = GPT(gpt_config(cfg, fmt), np.random.default_rng([seed, 0]))
    optimizer = AdamW(lr=cfg.lr, betas=(0.9, 0.98), weight_decay=0.0)
    data_rng = np.random.default_rng([seed, 2])

    def step_fn(step):
        idx, targets = lm_batch(*encode(*training_problems(cfg, data_rng, held_codes),
                                        cfg.n_digits, fmt))
        loss = model.loss(idx, targets)
        grads = model.backward()
        lr = cosine_schedule(step, cfg.lr, cfg.min_lr, cfg.warmup, cfg.steps)
        optimizer_step(optimizer, model.params, grads, lr, cfg.max_norm)
        return loss, idx.size

    log = train(step_fn, cfg.steps, eval_every=cfg.eval_every,
                evaluate=lambda: teacher_forced_accuracy(model, held_prompts, held_answers),
                progress_every=cfg.progress_every)
    return model, log


def decode_sums(model, prompts, n_new, cfg, fmt, temperature=0.0, rng=None):
    """Complete the prompts with ``generate`` (4.5) and parse the sums."""
    ids = generate(model, prompts, n_new, temperature=temperature, rng=rng)
    return parse_sums(ids[:, prompts.shape[1]:], cfg.n_digits, fmt), ids[:, prompts.shape[1]:]


def accuracy(sums, truth):
    return float(np.mean([s is not None and s == t for s, t in zip(sums, truth)]))


def save_figure(path, logs, results, cfg, seed):
    plt = pyplot()

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, fmt in enumerate(FORMATS):
        points = [(s, m["accuracy"]) for s, m in logs[fmt].evals]
        left.plot(*zip(*points), "o-", color=f"C{i}", markersize=4, label=fmt)
    left.set_xlabel("training step")
    left.set_ylabel("held-out exact match (teacher-forced)")
    left.set_ylim(-0.02, 1.02)
    left.legend(loc="lower right")
    left.set_title(f"{cfg.n_digits}-digit addition: learning curves")
    T = cfg.temperature
    names = ["direct\ngreedy", "scratchpad\ngreedy", f"scratchpad\n1 sample (T={T:g})",
             f"scratchpad\nvote of {cfg.k} (T={T:g})"]
    values = [results["direct"], results["scratchpad"], results["single_sample"],
              results["self_consistency"]]
    bars = right.bar(range(4), values, color=["C0", "C1", "C2", "C3"])
    for bar, value in zip(bars, values):
        right.text(bar.get_x() + bar.get_width() / 2, value + 0.01, f"{100 * value:.1f}%",
                   ha="center", va="bottom")
    right.set_xticks(range(4), names)
    right.set_ylim(0, 1.1)
    right.set_ylabel(f"held-out exact match ({cfg.n_held_out} problems)")
    right.set_title(f"after {cfg.steps} steps of {cfg.batch_size} problems each")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.suptitle(f"Chain of thought and self-consistency in a tiny GPT, seed {seed}")
    fig.tight_layout()
    return write_png(fig, path)


def run(quick=False, seed=0, figures_dir=None):
    """Train both formats, evaluate greedy, single-sample and self-consistency accuracy.

    Returns:
        dict: ``direct``, ``scratchpad`` (greedy exact match), ``single_sample`` (mean exact
        match of one sampled scratchpad), ``self_consistency`` (majority of ``k``),
        ``seconds``, ``figure``, ``config``.
    """
    cfg = QUICK if quick else FULL
    start = time.perf_counter()
    held = held_out_problems(cfg, np.random.default_rng([seed, 1]))
    truth = [int(x) for x in held[0] + held[1]]
    say(f"Task: add two {cfg.n_digits}-digit numbers; {cfg.n_held_out} problems held out. "
          f"Two GPTs (n_layer={cfg.n_layer}, n_head={cfg.n_head}, n_embd={cfg.n_embd}), each "
          f"{cfg.steps} steps of {cfg.batch_size} problems (the same problems); seed {seed}"
          f"{' (--quick)' if quick else ''}; BLAS threads: {blas_threads()}.")
    models, logs, results = {}, {}, {}
    for fmt in FORMATS:
        prompts, answers = encode(held[0][:1], held[1][:1], cfg.n_digits, fmt)
        say(f"\n[{fmt}] e.g. {text_of(prompts[0])}{text_of(answers[0])}  "
              f"({prompts.shape[1] + answers.shape[1]} tokens per problem)", flush=True)
        models[fmt], logs[fmt] = train_format(cfg, fmt, seed, held)
    say()
    for fmt in FORMATS:
        prompts, answers = encode(*held, cfg.n_digits, fmt)
        sums, written = decode_sums(models[fmt], prompts, answers.shape[1], cfg, fmt)
        results[fmt] = accuracy(sums, truth)
        wrong = [i for i, (s, t) in enumerate(zip(sums, truth)) if s != t][:2]
        say(f"{fmt:>10} greedy: {100 * results[fmt]:5.1f}% exact match"
            + ("; wrong answers, e.g." if wrong else "")
            + "".join(f"\n{'':>12}{text_of(prompts[i])}{text_of(written[i])} (true {truth[i]})"
                      for i in wrong))
    # self-consistency: k sampled scratchpads per problem, one batch of k * N
    prompts, answers = encode(*held, cfg.n_digits, "scratchpad")
    N = len(truth)
    sums, _ = decode_sums(models["scratchpad"], np.tile(prompts, (cfg.k, 1)), answers.shape[1],
                          cfg, "scratchpad", cfg.temperature,
                          np.random.default_rng([seed, 3]))
    samples = [sums[j * N:(j + 1) * N] for j in range(cfg.k)]  # k lists of N sums
    results["single_sample"] = float(np.mean([accuracy(s, truth) for s in samples]))
    votes = [self_consistency([samples[j][i] for j in range(cfg.k)])[0] for i in range(N)]
    results["self_consistency"] = accuracy(votes, truth)
    say(f"scratchpad sampled at T={cfg.temperature:g}: one sample "
        f"{100 * results['single_sample']:.1f}% (mean over {cfg.k} samples),\n"
        f"{'':>12}majority of {cfg.k} (self-consistency) "
        f"{100 * results['self_consistency']:.1f}%")
    path = save_figure(Path(figures_dir or "build/figures") / FIGURE_NAME, logs, results, cfg,
                       seed)
    seconds = time.perf_counter() - start
    tokens = {fmt: logs[fmt].tokens for fmt in FORMATS}
    say(f"Training tokens: direct {tokens['direct']:,}, scratchpad {tokens['scratchpad']:,}; "
          f"wall time {format_duration(seconds)}.")
    if quick:
        say("(--quick is a smoke test on 2-digit sums; the full run uses 8 digits.)")
    say(f"Wrote {path}")
    return {**results, "seconds": seconds, "figure": str(path), "config": cfg}


def main(argv=None):
    parser = demo_parser("prompting", "Direct answers vs a written-out chain of thought, and "
                         "self-consistency, in a tiny GPT trained on multi-digit addition.")
    parser.add_argument("--quick", action="store_true", help="a few seconds' smoke test")
    parser.add_argument("--seed", type=int, default=0, help="seed of the run (default 0)")
    parser.add_argument("--figures", metavar="DIR",
                        help=f"where {FIGURE_NAME} goes (default build/figures)")
    args = parser.parse_args(argv)
    code = rerun_with_one_blas_thread()
    if code is not None:
        return code
    run(quick=args.quick, seed=args.seed, figures_dir=args.figures)
    return 0
