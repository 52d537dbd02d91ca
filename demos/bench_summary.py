"""The course's speed goals in one table, each before and now (the end of make bench).

Usage:
    python -m demos bench_summary [--dir DIR]     the table of every goal
    python -m demos bench_summary --start         (make bench) the run starts now
    python -m demos bench_summary --record-test SECONDS     (make test) its time

Each benchmark of ``make bench`` ends by recording its rows with ``record(name, rows)``, in
``build/bench/<name>.json``: per goal (``GOALS``) the value before, how it was obtained
("measured", side by side in the same run, or "recorded ..." when there is nothing left to
measure it against), the value now, the goal and whether it is met, with the machine (CPU
model, cores, load average) and the date. ``make test`` records its own wall time.
``make bench`` ends with ``main``: one table of every goal, within 80 columns, each from its
last recording -- those of the benches that did not run this time keep their date, and a
goal never recorded is "not measured", with the command that measures it.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

from .run import parser as demo_parser
from .text import say, wrap

REPO = Path(__file__).resolve().parents[1]
DIR = REPO / "build" / "bench"
START = ".start"  # in DIR: when the last `make bench` started (seconds since the epoch)
TRAIN_BEFORE = "recorded, 2026-11, AMD EPYC 2 cores"


@dataclass(frozen=True)
class Goal:
    """One speed goal: which recording holds it, how its values read, what counts as met."""

    key: str
    bench: str  # the recording's name: train, decode, bpe or test
    what: str
    unit: str  # "x" (a ratio), "%" (a fraction) or "min" (seconds, shown in minutes)
    op: str  # "<=" or ">="
    target: float
    goal: str  # the target as the table shows it
    recorded: float  # the value before, as recorded when it was not measured side by side
    recorded_how: str

    def met(self, value: float) -> bool:
        return value <= self.target if self.op == "<=" else value >= self.target


GOALS = (
    Goal("bpe-512", "bpe", "BPE 512: train_bpe / tokenizers", "x", "<=", 4.0, "<= 4x",
         16.0, "recorded, AMD EPYC 2 cores, quiet"),
    Goal("bpe-2048", "bpe", "BPE 2,048: train_bpe / tokenizers", "x", "<=", 8.0, "<= 8x",
         94.0, "recorded, AMD EPYC 2 cores, quiet"),
    Goal("prefill", "decode", "prefill 16 tokens: HF / ours", "x", ">=", 1.0, ">= 1.0x",
         0.53, "recorded, AMD EPYC 2 cores"),
    Goal("decode", "decode", "KV-cached decoding / roofline", "%", ">=", 0.85, ">= 85%",
         0.71, "recorded, AMD EPYC 2 cores"),
    Goal("train-demo", "train", "train demo: torch eager / ours", "x", ">=", 1.0, ">= 1.0x",
         0.80, TRAIN_BEFORE),
    Goal("train-medium", "train", "train medium: torch eager / ours", "x", ">=", 1.0,
         ">= 1.0x", 0.75, TRAIN_BEFORE),
    Goal("train-vocab-2k", "train", "train vocab-2k: torch eager/ours", "x", ">=", 1.0,
         ">= 1.0x", 0.71, TRAIN_BEFORE),
    Goal("make-test", "test", "make test", "min", "<=", 180.0, "<= 3 min", 318.0,
         "recorded, quiet machine"),
)
BY_KEY = {goal.key: goal for goal in GOALS}
COMMANDS = {"bpe": "make bench BENCH=bpe", "decode": "make bench BENCH=decode",
            "train": "make bench BENCH=train", "test": "make test"}
NOTES = ("x: one time over another (ours: the implementation timed, the reference unless "
         "--target); train: a training step, goal at 2 threads; roofline: memory bandwidth "
         "/ bytes of weights per token")


def fmt(value: float | None, unit: str) -> str:
    """``value`` as the table shows it: ``16x``, ``1.24x``, ``71%``, ``5.3 min``."""
    if value is None:
        return "-"
    if unit == "%":
        return f"{100 * value:.0f}%"
    if unit == "min":
        return f"{value / 60:.1f} min"
    return f"{value:.0f}x" if value >= 10 else f"{value:.2f}x"


def goal_row(key: str, now: float, before: float | None = None,
             comparable: bool = True) -> dict:
    """The row of goal ``key``: ``now``, and ``before`` if it was measured in the same run
    (else the value recorded in ``GOALS``). ``comparable=False``: measured otherwise than
    the goal says (another thread count), so neither met nor missed (``met`` is None)."""
    goal = BY_KEY[key]
    measured = before is not None
    before = before if measured else goal.recorded
    return {"key": key, "what": goal.what, "before": fmt(before, goal.unit),
            "before_how": "measured" if measured else goal.recorded_how,
            "now": fmt(now, goal.unit), "goal": goal.goal,
            "met": goal.met(now) if comparable else None,
            "values": {"before": before, "now": now}}


# --- the machine -------------------------------------------------------------------------
def cpu_model() -> str:
    """The CPU's model name (Linux), else ``platform.processor()``."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def machine() -> dict:
    now = time.time()
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "load_average": load_average(),
            "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(now)), "time": now}


# --- recording ----------------------------------------------------------------------------
def record(name: str, rows: list[dict], note: str = "", directory: Path | None = None) -> Path:
    """Write ``rows`` (``goal_row``'s) as ``<directory>/<name>.json`` with the machine and the
    date; returns the path. A bench records the goals its run measured, replacing its
    previous recording."""
    directory = Path(directory or DIR)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    data = {"name": name, "rows": rows, "note": note, "machine": machine()}
    path.write_text(json.dumps(data, indent=1) + "\n")
    return path


def recorded_in(path: Path) -> str:
    """``path`` as a user would type it: relative to the current folder if inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load(directory: Path) -> dict[str, dict]:
    """Every recording in ``directory`` by name (an unreadable file counts as missing)."""
    found = {}
    for path in sorted(Path(directory).glob("*.json")):
        try:
            data = json.loads(path.read_text())
            if isinstance(data.get("rows"), list) and {"date", "time"} <= data["machine"].keys():
                found[data["name"]] = data
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
    return found


def started(directory: Path) -> float | None:
    """When the last ``make bench`` started, if it said so (``--start``)."""
    try:
        return float((Path(directory) / START).read_text())
    except (OSError, ValueError):
        return None


# --- the table ----------------------------------------------------------------------------
STATUS = {True: "met", False: "MISSED", None: "n/a"}


def format_summary(recordings: dict[str, dict], since: float | None = None) -> str:
    """The table of every goal in ``GOALS`` from ``recordings`` (``load``'s), then what
    ``*`` means, where each recording comes from, and the goals met and missed, in lines of
    at most 80 columns. ``since``: when the last ``make bench`` started, to tell its
    recordings from earlier ones."""
    rows, footnotes, absent = [], {}, {}
    for goal in GOALS:
        row = next((r for r in recordings.get(goal.bench, {}).get("rows", [])
                    if r.get("key") == goal.key), None)
        if row is None:
            absent.setdefault(goal.bench, []).append(goal.key)
            row = {"before": fmt(goal.recorded, goal.unit), "before_how": goal.recorded_how,
                   "now": "-", "status": "-"}
        how = row["before_how"]
        if how != "measured":
            footnotes.setdefault(how, []).append(goal.key)
        rows.append([goal.what, row["before"] + ("" if how == "measured" else "*"),
                     row["now"], goal.goal, row.get("status") or STATUS[row["met"]]])
    head = ["goal", "before", "now", "target", ""]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    lines = ["# speed goals: before (measured in the same run, or * recorded) and now",
             line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += [line(cells) for cells in rows]
    lines.append(f"# {NOTES}")
    lines += [f"# * {how}: {', '.join(keys)}" for how, keys in footnotes.items()]
    for bench, command in COMMANDS.items():
        data = recordings.get(bench)
        if data is None:
            lines.append(f"{bench}: not measured: run {command}")
            continue
        m = data["machine"]
        when = m["date"]
        if since is not None and bench != "test":
            last = m["time"] >= since
            when += " (last make bench)" if last else " (before the last make bench)"
        extra = f"; {data['note']}" if data.get("note") else ""
        if bench in absent:
            extra += f"; not measured: {', '.join(absent[bench])}: run {command}"
        lines.append(f"{bench}: {when}: {m['cpu']}, {m['cores']} cores, load "
                     f"{m['load_average']:.1f}{extra}")
    status = [cells[-1] for cells in rows]
    verdict = f"goals met: {status.count('met')} of {len(GOALS)}"
    missed = [goal.key for goal, s in zip(GOALS, status) if s == "MISSED"]
    if missed:
        verdict += f"; missed: {', '.join(missed)}"
    if status.count("-"):
        verdict += f"; not measured: {status.count('-')}"
    if status.count("n/a"):
        verdict += f"; n/a (at another thread count): {status.count('n/a')}"
    lines.append(verdict)
    return wrap("\n".join(lines))


def main(argv=None):
    parser = demo_parser("bench_summary", __doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DIR,
                        help="where the recordings are (default build/bench/)")
    parser.add_argument("--start", action="store_true",
                        help="note that a make bench starts now, then exit")
    parser.add_argument("--record-test", type=float, metavar="SECONDS",
                        help="record make test's wall time, then exit")
    args = parser.parse_args(argv)
    if args.start:
        args.dir.mkdir(parents=True, exist_ok=True)
        (args.dir / START).write_text(f"{time.time()}\n")
        return 0
    if args.record_test is not None:
        row = goal_row("make-test", args.record_test)
        path = record("test", [row], note="the two pytest runs", directory=args.dir)
        say(f"make test: {row['now']} (goal {row['goal']}: {STATUS[row['met']]}); "
            f"recorded in {recorded_in(path)}")
        return 0
    say(format_summary(load(args.dir), started(args.dir)))
    return 0
