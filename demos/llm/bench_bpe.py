"""BPE training speed (exercise 4.1): ``train_bpe`` against Hugging Face ``tokenizers``, and
against the naive algorithm the reference used before.

Usage:
    python -m demos bench_bpe [--vocab-sizes 512 2048] [--rounds R] [--no-naive]
                              [--no-tokenizers] [--corpus FILE ...] [--target T]
    make bench BENCH=bpe      (installs the parity extra first, which has tokenizers)

The corpus is the four lectures' ``theory.md`` concatenated (``--corpus`` for other files),
one str; no special tokens. For each vocabulary size V (256 bytes + V - 256 merges), in one
process, side by side:

- **train_bpe**: the implementation's ``train_bpe(text, V)`` (the reference's is
  incremental, lecture §2.1);
- **tokenizers**: ``BpeTrainer(vocab_size=V, initial_alphabet=ByteLevel.alphabet())`` on a
  ``BPE`` model with the ``ByteLevel(add_prefix_space=False, use_regex=True)`` pre-tokenizer,
  ``train_from_iterator([text])``: byte-level, GPT-2's pre-tokenizer regex, the same text
  and the same number of merges. What differs: its regex has ``\\p{L}``/``\\p{N}`` where ours
  is the ``re`` transcription (a few code points differ, §11.5); its ties go to the smallest
  pair in GPT-2's byte order, not by byte value (so its merges may differ after the first
  tie); it is Rust, and may count on several threads (rayon; ``RAYON_NUM_THREADS``);
- **naive** ("before"): ``demos/llm/bpe_naive.py``, the algorithm the reference used until
  it became incremental (a full recount of every pair at every merge), timed once (slow);
  its merges must be identical to ``train_bpe``'s, and the report says whether they are.

``train_bpe`` and ``tokenizers`` take turns for ``--rounds`` rounds (medians reported), after
one untimed warm-up of each. The ratio ``train_bpe / tokenizers`` is the figure of merit
(targets: at most 4x at 512 tokens, 8x at 2,048); a loaded machine slows both sides. On the
four lectures it records both ratios, the naive one before and ``train_bpe``'s now, in
``build/bench/bpe.json`` for ``python -m demos bench_summary``.
"""

import os
import platform
import statistics
import sys
import time
from pathlib import Path

from implementation.llm.bpe import pretokenize, train_bpe

from .. import bench_summary
from ..bench_summary import cpu_model, load_average
from ..run import parser as demo_parser
from ..text import say
from .bpe_naive import train_bpe_naive

REPO = Path(__file__).resolve().parents[2]
CORPUS = sorted((REPO / "lectures").glob("0*/theory.md"))
TARGETS = {512: 4.0, 2048: 8.0}  # train_bpe / tokenizers, at most


def read_corpus(paths):
    return "".join(Path(p).read_text(encoding="utf-8") for p in paths)


def seconds(fn, *args):
    """(wall-clock seconds of ``fn(*args)``, its result)."""
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def _import_tokenizers():
    try:
        import tokenizers
    except ImportError:
        raise SystemExit("bench_bpe: Hugging Face tokenizers is needed. Run `make bench "
                         "BENCH=bpe`, which installs it (the parity extra), or pass "
                         "--no-tokenizers.") from None
    return tokenizers


def hf_train(text, vocab_size):
    """A byte-level BPE trained by ``tokenizers`` on ``text``, configured as ours."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([text], trainer)
    return tok


def _ms(s):
    return f"{s:.2f} s" if s >= 1 else f"{1000 * s:.0f} ms"


def measure(text, vocab_sizes, rounds=3, naive=True, hf=True):
    """One row per vocabulary size: the seconds of each side and what they learnt."""
    rows = []
    for vocab_size in vocab_sizes:
        ours_runs, hf_runs = [], []
        _, (vocab, merges) = seconds(train_bpe, text, vocab_size)  # warm-up
        if hf:
            hf_train(text, vocab_size)
        for r in range(rounds):  # turns, the order alternating between rounds
            sides = [("ours", ours_runs), ("hf", hf_runs)][:: 1 if r % 2 == 0 else -1]
            for side, runs in sides:
                if side == "ours":
                    runs.append(seconds(train_bpe, text, vocab_size)[0])
                elif hf:
                    t, tok = seconds(hf_train, text, vocab_size)
                    runs.append(t)
        row = {"vocab_size": vocab_size, "merges": len(merges),
               "ours": statistics.median(ours_runs)}
        if hf:
            row["hf"] = statistics.median(hf_runs)
            row["hf_merges"] = tok.get_vocab_size() - 256
        if naive:
            say(f"  naive train_bpe, vocab {vocab_size} (slow) ...", file=sys.stderr,
                flush=True)
            row["naive"], (naive_vocab, naive_merges) = seconds(train_bpe_naive, text,
                                                                vocab_size)
            row["identical"] = (naive_vocab, naive_merges) == (vocab, merges)
        rows.append(row)
    return rows


def format_rows(rows):
    """The table: each side's seconds, and naive and train_bpe as multiples of tokenizers."""
    lines = ["| vocab | tokenizers | naive (before) | ratio | train_bpe (now) | ratio |",
             "|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        hf = row.get("hf")
        cells = [f"{row['vocab_size']:,}", _ms(hf) if hf else "-"]
        for side in ("naive", "ours"):
            cells.append(_ms(row[side]) if side in row else "-")
            cells.append(f"{row[side] / hf:.2f}x" if hf and side in row else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = demo_parser("bench_bpe", __doc__.splitlines()[0])
    parser.add_argument("--vocab-sizes", type=int, nargs="+", default=[512, 2048],
                        metavar="V", help="vocabulary sizes (default: 512 2048)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="timed rounds of train_bpe and tokenizers (default 3)")
    parser.add_argument("--no-naive", action="store_true",
                        help="skip the naive algorithm (a minute at 2,048 on a loaded machine)")
    parser.add_argument("--no-tokenizers", action="store_true",
                        help="skip Hugging Face tokenizers (not installed)")
    parser.add_argument("--corpus", nargs="+", default=CORPUS, metavar="FILE",
                        help="text files, concatenated (default: the four lectures)")
    args = parser.parse_args(argv)
    hf = not args.no_tokenizers
    versions = f"Python {platform.python_version()}"
    if hf:
        versions += f", tokenizers {_import_tokenizers().__version__}"
    text = read_corpus(args.corpus)
    words = pretokenize(text)
    say(f"# {cpu_model()}, {os.cpu_count()} logical CPUs, load average {load_average():.2f}; "
        f"{versions}")
    names = ("the four lectures' theory.md" if args.corpus == CORPUS
             else ", ".join(Path(p).name for p in args.corpus))  # names fit 80 columns
    say(f"# corpus: {names}: {len(text):,} characters, {len(text.encode()):,} bytes, "
        f"{len(words):,} pre-tokens ({len(set(words)):,} distinct); train_bpe and tokenizers: "
        f"median of {args.rounds} rounds; naive: once")
    rows = measure(text, args.vocab_sizes, rounds=args.rounds, naive=not args.no_naive, hf=hf)
    say(format_rows(rows))
    say("(ratio: the time over tokenizers' time; naive: demos/llm/bpe_naive.py)")
    for row in rows:
        notes = []
        if "identical" in row:
            notes.append("train_bpe's merges " + ("identical to" if row["identical"]
                                                  else "DIFFER from") + " the naive one's")
        if "hf" in row:
            notes.append(f"{row['merges']:,} merges, tokenizers {row['hf_merges']:,}")
            target = TARGETS.get(row["vocab_size"])
            if target:
                met = "met" if row["ours"] / row["hf"] <= target else "missed"
                notes.append(f"target <= {target:g}x: {met}")
        say(f"vocab {row['vocab_size']:,}: " + "; ".join(notes))
    if args.corpus == CORPUS:  # the goals are on the four lectures
        record(rows, args.rounds)
    return {"rows": rows}


def record(rows, rounds):
    """Record the goals this run measured (``demos/bench_summary.py``): ``train_bpe`` over
    ``tokenizers`` now, and the naive algorithm over ``tokenizers`` before."""
    goals = []
    for row in rows:
        if row["vocab_size"] in TARGETS and "hf" in row:
            naive = row["naive"] / row["hf"] if "naive" in row else None
            goals.append(bench_summary.goal_row(f"bpe-{row['vocab_size']}",
                                                row["ours"] / row["hf"], before=naive))
    if goals:
        rounds = f"median of {rounds} rounds" if rounds > 1 else "1 round"
        path = bench_summary.record("bpe", goals, note=f"{rounds}, naive once")
        say(f"# recorded in {bench_summary.recorded_in(path)}")
