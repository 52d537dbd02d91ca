"""Speed of a GPT (exercise 3.11) against the same model in PyTorch, on the CPU.

Usage:
    python -m demos bench [--quick] [--threads N] [--config NAME ...] [--target T]
    make bench                  (installs PyTorch and transformers first, the parity extra)

One training step = forward + mean cross-entropy + backward (every parameter's gradient),
float32, no dropout. The PyTorch side is Hugging Face's ``GPT2LMHeadModel`` holding the very
same weights (our parameter names are its state_dict's without ``transformer.``; its
``Conv1D`` weights are ``(in, out)`` like ours; the head is tied), in eager mode with its
default attention (``sdpa``) and with ``attn_implementation="eager"``, the textbook
``softmax(q k^T / sqrt(D)) v`` that ours computes. Both run in this process with the same
number of threads: PyTorch's is set to the count NumPy's BLAS uses.

The implementations take turns within every round (the order alternates between rounds),
each timing a few steps; a round gives one time per step for each, and the table reports
the medians over the rounds, and ``ratio`` = torch's median / NumPy's median: above 1 the
NumPy reference is faster. Time on a shared machine is noisy: taking turns spreads slow
phases over both sides, and the medians ignore the rounds that another job disturbed.

It times the reference unless ``--target`` names another implementation. The ratios against
eager of the three configurations of ``CONFIGS`` are recorded in ``build/bench/train.json``
for ``python -m demos bench_summary``.
"""

import ctypes
import glob
import os
import platform
import sys
import time
from dataclasses import dataclass

import numpy as np
from implementation.transformer.gpt import GPT, GPTConfig

from .. import bench_summary
from ..run import parser as demo_parser
from ..text import say


@dataclass(frozen=True)
class BenchConfig:
    """One model size and batch to time."""

    name: str
    n_layer: int
    n_head: int
    n_embd: int
    T: int  # sequence length (and block_size)
    B: int  # batch size
    vocab_size: int = 65  # a character-level vocabulary (e.g. tiny Shakespeare)


CONFIGS = (
    BenchConfig("demo", n_layer=4, n_head=4, n_embd=128, T=64, B=8),
    BenchConfig("medium", n_layer=6, n_head=8, n_embd=256, T=128, B=8),
    BenchConfig("vocab-2k", n_layer=4, n_head=4, n_embd=128, T=128, B=8, vocab_size=2048),
)
TINY = BenchConfig("tiny", n_layer=1, n_head=2, n_embd=16, T=8, B=2, vocab_size=11)  # tests


# --- threads ---------------------------------------------------------------------------------
def _numpy_openblas():
    """NumPy's bundled OpenBLAS (``numpy.libs/libscipy_openblas*``) and its symbol prefix, or
    None: lets us read and set its thread count without threadpoolctl."""
    folder = os.path.dirname(np.__file__) + ".libs"
    for path in glob.glob(os.path.join(folder, "*openblas*")):
        lib = ctypes.CDLL(path)
        for prefix, suffix in (("scipy_openblas", "64_"), ("scipy_openblas", ""),
                               ("openblas", "64_"), ("openblas", "")):
            if hasattr(lib, f"{prefix}_get_num_threads{suffix}"):
                return lib, prefix, suffix
    return None


def blas_threads(set_to=None):
    """The number of threads of NumPy's BLAS (after setting it to ``set_to``, if given), and
    how it was found."""
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        threadpool_info = None
    if threadpool_info is not None:
        if set_to is not None:
            threadpool_limits(limits=set_to, user_api="blas")
        blas = [info for info in threadpool_info() if info["user_api"] == "blas"]
        if blas:
            return blas[0]["num_threads"], f"threadpoolctl ({blas[0]['internal_api']})"
    found = _numpy_openblas()
    if found is not None:
        lib, prefix, suffix = found
        if set_to is not None:
            getattr(lib, f"{prefix}_set_num_threads{suffix}")(int(set_to))
        return getattr(lib, f"{prefix}_get_num_threads{suffix}")(), "NumPy's OpenBLAS"
    if set_to is not None:
        raise SystemExit("bench: cannot set NumPy's BLAS threads here; install threadpoolctl, "
                         "or set OPENBLAS_NUM_THREADS / OMP_NUM_THREADS before starting")
    return os.cpu_count(), "os.cpu_count() (BLAS not identified)"


# --- the two models ----------------------------------------------------------------------
def _import_torch():
    try:
        import torch
        import torch.nn.functional as F
        from transformers import GPT2Config, GPT2LMHeadModel
    except ImportError as exc:
        raise SystemExit(
            f"bench: PyTorch and transformers are needed ({exc.name} is missing). Run "
            "`make bench`, which installs them (the parity extra) into .venv first."
        ) from None
    return torch, F, GPT2Config, GPT2LMHeadModel


def build_models(bc, attn_implementations, seed=0):
    """Our float32 GPT and one HF ``GPT2LMHeadModel`` per attention implementation, all with
    our weights."""
    torch, _, GPT2Config, GPT2LMHeadModel = _import_torch()
    ours = GPT(GPTConfig(vocab_size=bc.vocab_size, block_size=bc.T, n_layer=bc.n_layer,
                         n_head=bc.n_head, n_embd=bc.n_embd), np.random.default_rng(seed))
    theirs = {}
    for impl in attn_implementations:
        hf_config = GPT2Config(vocab_size=bc.vocab_size, n_positions=bc.T, n_layer=bc.n_layer,
                               n_head=bc.n_head, n_embd=bc.n_embd, resid_pdrop=0.0,
                               embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0,
                               use_cache=False,  # training: no KV cache to fill
                               attn_implementation=impl)
        model = GPT2LMHeadModel(hf_config).float()
        state = model.state_dict()
        with torch.no_grad():
            for name, value in ours.params.items():
                state["transformer." + name].copy_(torch.from_numpy(value))
        model.train()  # as in training; every dropout probability is 0
        theirs[impl] = model
    return ours, theirs


def make_steps(bc, ours, theirs, seed=1):
    """``{label: step()}``, each running forward + loss + backward once on the same batch."""
    torch, F, _, _ = _import_torch()
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, bc.vocab_size, (bc.B, bc.T))
    targets = rng.integers(0, bc.vocab_size, (bc.B, bc.T))  # already shifted, as GPT.loss
    idx_t, targets_t = torch.from_numpy(idx), torch.from_numpy(targets).reshape(-1)

    def numpy_step():
        loss = ours.loss(idx, targets)
        return loss, ours.backward()

    def torch_step(model):
        model.zero_grad(set_to_none=True)
        logits = model(input_ids=idx_t).logits
        loss = F.cross_entropy(logits.reshape(-1, bc.vocab_size), targets_t)
        loss.backward()
        return loss

    steps = {"numpy": numpy_step}
    for impl, model in theirs.items():
        steps[f"torch {impl}"] = (lambda m: (lambda: torch_step(m)))(model)
    return steps


def check_agreement(ours, theirs, steps):
    """Largest relative difference of the loss and of every gradient, ours vs each torch
    model (a float32 sanity check that the two compute the same thing)."""
    loss, grads = steps["numpy"]()
    worst = 0.0
    for impl, model in theirs.items():
        their_loss = steps[f"torch {impl}"]().item()
        worst = max(worst, abs(float(loss) - their_loss) / abs(their_loss))
        params = dict(model.named_parameters())
        for name, g in grads.items():
            their = params["transformer." + name].grad.numpy()
            worst = max(worst, float(np.abs(g - their).max() / (np.abs(their).max() + 1e-30)))
    return worst


# --- timing ------------------------------------------------------------------------------
def time_config(bc, rounds, steps_per_round, attn_implementations, progress=True):
    """Median ms per step of every implementation, and the ratios torch / numpy of the
    medians."""
    ours, theirs = build_models(bc, attn_implementations)
    steps = make_steps(bc, ours, theirs)
    agreement = check_agreement(ours, theirs, steps)
    for step in steps.values():  # warm up: allocator, BLAS buffers, torch's first calls
        for _ in range(2):
            step()
    labels = list(steps)
    per_step = {label: [] for label in labels}
    for r in range(rounds):
        order = labels if r % 2 == 0 else labels[::-1]
        for label in order:
            start = time.perf_counter()
            for _ in range(steps_per_round):
                steps[label]()
            per_step[label].append((time.perf_counter() - start) / steps_per_round)
        if progress:
            now = "  ".join(f"{label} {1e3 * per_step[label][-1]:.1f} ms" for label in labels)
            say(f"  {bc.name}: round {r + 1}/{rounds}  {now}", file=sys.stderr, flush=True)
    ms = {label: 1e3 * float(np.median(t)) for label, t in per_step.items()}
    return {"config": bc, "agreement": agreement, "ms": ms,
            "ratio": {label: ms[label] / ms["numpy"] for label in labels if label != "numpy"}}


def format_table(results):
    """A Markdown table of the results, under comment lines naming the configurations; short
    headers keep it within 80 columns."""
    torch_labels = list(results[0]["ratio"])
    lines = ["# configurations as layers / heads / C / T / B / V:"]
    for res in results:
        bc = res["config"]
        lines.append(f"#   {bc.name}: {bc.n_layer} / {bc.n_head} / {bc.n_embd} / {bc.T} / "
                     f"{bc.B} / {bc.vocab_size}")
    lines.append("# ms: milliseconds per step; tok/s: tokens per second;")
    lines.append("# x: torch's time / numpy's (above 1: numpy is faster)")
    short = [label.removeprefix("torch ") for label in torch_labels]  # every one is torch's
    head = ["config", "numpy ms"]
    for label in short:
        head += [f"{label} ms", "x"]
    head += ["numpy tok/s"] + [f"{label} tok/s" for label in short[:1]]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for res in results:
        bc, ms = res["config"], res["ms"]
        tokens = bc.B * bc.T
        row = [bc.name, f"{ms['numpy']:.1f}"]
        for label in torch_labels:
            row += [f"{ms[label]:.1f}", f"{res['ratio'][label]:.2f}x"]
        row += [f"{tokens / ms['numpy'] * 1e3:,.0f}"]
        row += [f"{tokens / ms[label] * 1e3:,.0f}" for label in torch_labels[:1]]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = demo_parser("bench", "Time forward + backward of a GPT against PyTorch (CPU).")
    parser.add_argument("--quick", action="store_true",
                        help="fewer rounds and steps: a smoke run, not a measurement")
    parser.add_argument("--threads", type=int, default=None,
                        help="set NumPy's BLAS and PyTorch to N threads (default: NumPy's)")
    parser.add_argument("--config", action="append", default=None,
                        choices=[bc.name for bc in CONFIGS + (TINY,)],
                        help="time only this configuration (repeatable)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per configuration")
    parser.add_argument("--no-eager", action="store_true",
                        help="skip HF's attn_implementation='eager' (time only the default)")
    args = parser.parse_args(argv)

    torch, _, _, _ = _import_torch()
    import transformers

    threads, how = blas_threads(set_to=args.threads)
    torch.set_num_threads(threads)
    rounds = args.rounds or (3 if args.quick else 9)
    steps_per_round = 1 if args.quick else 3
    impls = ("sdpa",) if args.no_eager else ("sdpa", "eager")
    chosen = [bc for bc in CONFIGS + (TINY,) if bc.name in args.config] if args.config else \
        list(CONFIGS)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    say(f"# {platform.machine()}, {os.cpu_count()} logical CPUs, load average {load:.1f}; "
          f"Python {platform.python_version()}, NumPy {np.__version__}, torch "
          f"{torch.__version__}, transformers {transformers.__version__}")
    say(f"# threads: NumPy BLAS {threads} (from {how}), torch {torch.get_num_threads()}; "
          f"float32; {rounds} rounds x {steps_per_round} steps, medians"
          + (" (--quick: not a measurement)" if args.quick else ""), flush=True)
    results = []
    for bc in chosen:
        say(f"timing {bc.name} ...", file=sys.stderr, flush=True)
        results.append(time_config(bc, rounds, steps_per_round, impls))
        say(f"  {bc.name}: loss and gradients agree with torch to "
            f"{results[-1]['agreement']:.1e} (max relative error)",
              file=sys.stderr, flush=True)
    say(format_table(results))
    record(results, threads, rounds, steps_per_round, quick=args.quick)
    return results


def record(results, threads, rounds, steps_per_round, quick=False):
    """Record the goals this run measured (``demos/bench_summary.py``): PyTorch eager's time
    per step over the reference's, for each configuration of ``CONFIGS`` timed against
    eager; the goal is at 2 threads (at another count: neither met nor missed). Nothing was
    measured before side by side: the values before are the recorded ones."""
    rows = [bench_summary.goal_row(f"train-{res['config'].name}", res["ratio"]["torch eager"],
                                   comparable=threads == 2)
            for res in results if res["config"] in CONFIGS and "torch eager" in res["ratio"]]
    if rows:
        note = (f"{threads} threads, medians of {rounds} rounds x {steps_per_round} steps"
                + (", --quick" if quick else ""))
        path = bench_summary.record("train", rows, note=note)
        say(f"# recorded in {bench_summary.recorded_in(path)}")
