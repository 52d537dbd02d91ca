"""Decoding speed of a GPT-2 with its KV cache (exercise 4.5), on the CPU: against
Hugging Face, against the memory-bandwidth roofline, and against decoding without a cache.

Usage:
    python -m demos bench_decode [--quick] [--threads N] [--config gpt2|tiny]
                                 [--no-torch] [--figure PATH] [--rounds R] [--target T]
    make bench BENCH=decode       (installs PyTorch and transformers first, the parity extra)

Everything is measured in one run (one process, the same threads), float32, batch 1, greedy,
on a GPT-2 small shape (12 layers, 12 heads, C = 768, V = 50257, block 1024) with random
weights -- speed does not depend on the values, and both sides hold the very same weights:

1. **Memory bandwidth**: a streaming read, the sum (and the max; the faster counts) of a
   float32 array far larger than the caches, split into one contiguous part per thread
   (NumPy releases the GIL in a reduction, so the parts are read at once); probed at the
   start and at the end, the faster kept. A single-thread sum and a copy are reported too.
2. **Roofline**: a decoding step reads every weight once -- per block ``12 C^2 + 13 C``
   parameters, the tied head ``V x C``, ``ln_f`` and one row of ``wpe`` -- so it cannot take
   less than ``weight bytes / bandwidth``: ``roofline tokens/s = bandwidth / weight bytes``.
   (The cache adds ``2 n_layer L C`` values read at length L; shown in the figure.)
3. **Reference vs Hugging Face**: ``generate(model, prompt, n, use_cache=True)`` (4.5) against
   ``GPT2LMHeadModel.generate(do_sample=False)`` (PyTorch, eval mode, no_grad, its default
   attention), 16-token prompt, 128 new tokens. The tokens are compared first (they must be
   identical). A clock reading is taken right after every forward -- a wrapper around
   ``model.forward`` on our side, a logits processor on HF's (both run before the argmax) --
   so the prefill (the prompt's forward) and the decode phase (the 127 one-token steps after
   it) are timed separately. The sides take turns, the order alternating between rounds;
   the report gives medians over the rounds, after one warm-up run of each. In the same
   rounds, the prefill as it was before: ``forward_with_cache`` on the whole prompt, the
   logits of every position (HF's ``generate`` computes the last position's only).
4. **Cache vs no cache**: ``generate(..., use_cache=False)`` recomputes the whole sequence at
   every step. One step at each length of a sweep, 16..1024, with and without the cache
   (the figure ``decode_tokens_per_s.png``; the target is the ratio at 256), and end to end
   from 16 to 256 tokens (the cached run's median of 3, the uncached run once: it is slow).

It times the reference unless ``--target`` names another implementation. On the GPT-2 small
shape it records its speed goals (prefill against HF, decoding against the roofline, before
and now) in ``build/bench/decode.json`` for ``python -m demos bench_summary``.
"""

import os
import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from implementation.llm.kv_cache import KVCache, forward_with_cache, generate
from implementation.transformer.gpt import GPT, GPTConfig

from .. import bench_summary
from ..bench_summary import cpu_model, load_average
from ..plotting import pyplot, write_png
from ..run import parser as demo_parser
from ..text import say
from ..transformer.bench import blas_threads

FIGURE = (Path(__file__).resolve().parents[2] / "lectures" / "04_llm_fundamentals" / "figures"
          / "decode_tokens_per_s.png")


@dataclass(frozen=True)
class DecodeConfig:
    """A model shape and the lengths to time."""

    name: str
    n_layer: int
    n_head: int
    n_embd: int
    vocab_size: int
    block_size: int
    prompt_len: int  # T0 of the HF comparison and of the cache / no-cache run
    new_tokens: int  # generated in the HF comparison
    nocache_len: int  # total length of the end-to-end cache / no-cache run
    sweep: tuple  # total lengths of the figure
    bandwidth_bytes: int  # size of the streaming-read array
    matmul_n: int  # size of the matrix-product probe

    def gpt_config(self):
        return GPTConfig(vocab_size=self.vocab_size, block_size=self.block_size,
                         n_layer=self.n_layer, n_head=self.n_head, n_embd=self.n_embd)


GPT2_SMALL = DecodeConfig("gpt2", n_layer=12, n_head=12, n_embd=768, vocab_size=50257,
                          block_size=1024, prompt_len=16, new_tokens=128, nocache_len=256,
                          sweep=(16, 32, 64, 128, 256, 512, 1024), bandwidth_bytes=2**30,
                          matmul_n=2048)
TINY = DecodeConfig("tiny", n_layer=2, n_head=2, n_embd=16, vocab_size=53, block_size=32,
                    prompt_len=4, new_tokens=8, nocache_len=16, sweep=(4, 8, 16, 32),
                    bandwidth_bytes=2**24, matmul_n=128)  # tests: seconds, no torch needed
CONFIGS = {dc.name: dc for dc in (GPT2_SMALL, TINY)}
TARGETS = {"vs_hf": 1.6, "vs_roofline": 0.85, "cache_speedup": 10.0}
# the decode rate recorded before the one-query attention path (printed next to today's)
PREVIOUS = {"machine": "AMD EPYC, 2 cores", "tokens_per_s": 46.7, "vs_roofline": "71%",
            "vs_hf": "1.08x"}


# --- machine -----------------------------------------------------------------------------
def memory_bandwidth(n_bytes, threads, repeats=7):
    """Streaming bandwidths in GB/s (1e9 bytes/s), medians over ``repeats`` after a warm-up.

    A read streams a float32 array of ``n_bytes`` (far larger than the caches) through a
    reduction, cut into ``threads`` contiguous parts reduced concurrently by as many Python
    threads (NumPy releases the GIL inside a reduction). Two reductions are timed, ``sum``
    and ``max``; ``"read"`` is the faster (the bandwidth is what the best streaming read
    reaches) and ``"read method"`` names it. Also ``"read, 1 thread"`` (sum, one thread) and
    ``"copy, 1 thread"`` (``np.copyto`` into a second array, bytes read + bytes written).
    """
    a = np.ones(n_bytes // 4, dtype=np.float32)  # written once: every page is mapped
    b = np.empty_like(a)
    parts = np.array_split(a, threads)

    def median_seconds(run):
        run()  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        return float(np.median(times))

    out = {}
    with ThreadPoolExecutor(threads) as pool:
        for name, reduce in (("sum", np.sum), ("max", np.max)):
            gbps = a.nbytes / median_seconds(lambda r=reduce: list(pool.map(r, parts))) / 1e9
            out[f"read ({name})"] = gbps
    best = max(out, key=out.get)
    out["read"] = out[best]
    out["read method"] = (f"float32 {best[6:-1]} of {a.nbytes / 2**20:.0f} MiB in {threads} "
                          f"parts on {threads} threads")
    out["read, 1 thread"] = a.nbytes / median_seconds(lambda: np.sum(a)) / 1e9
    out["copy, 1 thread"] = 2 * a.nbytes / median_seconds(lambda: np.copyto(b, a)) / 1e9
    return out


def matmul_gflops(n, repeats=5):
    """Float32 matrix-product speed in GFLOP/s: ``A @ B`` with ``n x n`` operands, 2 n^3
    FLOPs, the median of ``repeats`` after a warm-up (on NumPy's BLAS threads)."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * n**3 / float(np.median(times)) / 1e9


# --- roofline arithmetic -----------------------------------------------------------------
def weight_bytes_per_token(model):
    """Bytes of parameters one decoding step reads: all of them once (the tied ``wte`` as the
    ``V x C`` head; the token's own embedding row is inside it), except ``wpe``, of which it
    reads one row."""
    p = model.params
    n = sum(v.size for name, v in p.items() if name != "wpe.weight") + p["wpe.weight"].shape[1]
    return n * p["wte.weight"].itemsize


def matrix_flops_per_token(model):
    """FLOPs of the matrix products for one token: 2 per weight of every matrix (the head
    included), i.e. ``2 (n_layer 12 C^2 + V C)``; attention adds ``4 n_layer L C`` at
    length L (small until L is comparable to C)."""
    cfg = model.config
    return 2 * (cfg.n_layer * 12 * cfg.n_embd**2 + cfg.vocab_size * cfg.n_embd)


def kv_bytes_per_token(model, length):
    """Bytes of the cache one decoding step reads at total length ``length``: keys and
    values, ``length`` positions of C values, in every layer."""
    cfg = model.config
    return 2 * cfg.n_layer * length * cfg.n_embd * model.params["wte.weight"].itemsize


# --- timing --------------------------------------------------------------------------------
class ForwardClock:
    """Reads the clock after every forward of a run; ``stamps`` holds the readings.

    It wraps ``model.forward`` (an instance attribute shadows the method) and the module's
    ``forward_with_cache``, which ``generate`` may call without going through the model (for
    its prefill); a forward inside another (``model.forward(idx, kv_cache=cache)`` runs
    ``forward_with_cache``) is read once, when the outer one returns."""

    def __init__(self, model, progress_every=0, label=""):
        import implementation.llm.kv_cache as kv

        self.model, self.stamps, self.progress_every, self.label = model, [], progress_every, label
        self._kv, self._forward_with_cache = kv, kv.forward_with_cache
        self._depth = 0

        def timed(forward):
            def run(*args, **kwargs):
                self._depth += 1
                try:
                    out = forward(*args, **kwargs)
                finally:
                    self._depth -= 1
                if self._depth == 0:
                    self.stamps.append(time.perf_counter())
                    n = len(self.stamps)
                    if self.progress_every and n % self.progress_every == 0:
                        say(f"  {self.label}: {n} forwards", file=sys.stderr, flush=True)
                return out
            return run

        model.forward = timed(model.forward)
        kv.forward_with_cache = timed(kv.forward_with_cache)

    def remove(self):
        del self.model.forward  # the class's method again
        self._kv.forward_with_cache = self._forward_with_cache


def products_only(model, repeats):
    """A decoding step's matrix-vector products alone, back to back (nothing between them):
    one float32 row through every block's weight matrices, then through the tied head.
    Returns ``{name: (median seconds, bytes read)}`` for ``"blocks"``, ``"head"`` and
    ``"head, (C, V) copy"``: the head as the step computes it, ``x @ wte.T`` on the ``(V, C)``
    embedding (BLAS's dot-product gemv kernel), and on a contiguous transposed copy (the
    ``(in, out)`` layout of the block weights, BLAS's other kernel) -- a probe of what the
    layout costs, not something the reference does. The rest of a real step is what it
    spends besides reading weights."""
    p, C = model.params, model.config.n_embd
    rng = np.random.default_rng(0)
    x = {n: rng.standard_normal(n).astype(p["wte.weight"].dtype) for n in (C, 4 * C)}
    mats = [w for name, w in p.items() if name.startswith("h.") and w.ndim == 2]
    wte = p["wte.weight"]
    head_in_out = np.ascontiguousarray(wte.T)  # (C, V), made once, outside the timing

    def blocks():
        for w in mats:
            x[w.shape[0]] @ w  # (in,) @ (in, out): a gemv

    runs = {"blocks": (blocks, sum(w.nbytes for w in mats)),
            "head": (lambda: x[C] @ wte.T, wte.nbytes),
            "head, (C, V) copy": (lambda: x[C] @ head_in_out, wte.nbytes)}
    times = {name: [] for name in runs}
    for run, _ in runs.values():
        run()  # warm-up
    for _ in range(repeats):  # interleaved: the three see the same machine
        for name, (run, _) in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: (float(np.median(times[name])), n_bytes)
            for name, (_, n_bytes) in runs.items()}


@contextmanager
def previous_decode_path():
    """Inside: every decoding step goes through Module 1's ``scaled_dot_product_attention``
    (1.4), as ``cached_attention`` did before its one-query path (its checks, the mask
    handling, a softmax of ten passes); for the side-by-side comparison only."""
    import implementation.llm.kv_cache as kv
    from implementation.self_attention.attention import scaled_dot_product_attention

    def through_1_4(kv_cache, layer):
        def attention(q, k, v, mask=None):
            keys, values = kv_cache.update(layer, k, v)
            return scaled_dot_product_attention(q, keys, values, mask)
        return attention

    current, kv.cached_attention = kv.cached_attention, through_1_4
    try:
        yield
    finally:
        kv.cached_attention = current


def time_previous(model, prompt, n):
    """``time_reference`` on the previous decode path (``previous_decode_path``)."""
    with previous_decode_path():
        return time_reference(model, prompt, n)


def phases(start, stamps):
    """``(prefill seconds, decode tokens/s)`` from the start time and the clock readings
    taken after each forward (the first forward is the prefill)."""
    prefill = stamps[0] - start
    decode = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else float("nan")
    return prefill, decode


def time_reference(model, prompt, n, use_cache=True, progress_every=0, label="reference"):
    """One ``generate`` run: ``(ids, prefill seconds, decode tokens/s, total seconds)``."""
    clock = ForwardClock(model, progress_every, label)
    try:
        start = time.perf_counter()
        ids = generate(model, prompt, n, use_cache=use_cache)
        total = time.perf_counter() - start
    finally:
        clock.remove()
    return (ids, *phases(start, clock.stamps), total)


def _import_hf():
    try:
        import torch
        import transformers
        from transformers import GenerationConfig, GPT2Config, GPT2LMHeadModel, LogitsProcessor
    except ImportError as exc:
        raise SystemExit(
            f"bench_decode: PyTorch and transformers are needed ({exc.name} is missing). Run "
            "`make bench`, which installs them (the parity extra), or pass --no-torch."
        ) from None
    return torch, transformers, GenerationConfig, GPT2Config, GPT2LMHeadModel, LogitsProcessor


def build_hf(model):
    """Hugging Face's ``GPT2LMHeadModel`` holding ``model``'s weights, float32, eval mode."""
    torch, _, _, GPT2Config, GPT2LMHeadModel, _ = _import_hf()
    cfg = model.config
    hf_config = GPT2Config(vocab_size=cfg.vocab_size, n_positions=cfg.block_size,
                           n_layer=cfg.n_layer, n_head=cfg.n_head, n_embd=cfg.n_embd,
                           layer_norm_epsilon=cfg.layer_norm_epsilon, resid_pdrop=0.0,
                           embd_pdrop=0.0, attn_pdrop=0.0, use_cache=True,
                           bos_token_id=None, eos_token_id=None)  # no end-of-text stop
    hf = GPT2LMHeadModel(hf_config).float().eval()
    hf.generation_config.eos_token_id = None
    state = hf.state_dict()
    with torch.no_grad():
        for name, value in model.params.items():
            state["transformer." + name].copy_(torch.from_numpy(value))
    return hf


def make_hf_runner(hf):
    """``run(prompt, n) -> (ids, prefill s, decode tokens/s, total s)`` for HF's greedy
    ``generate`` (no end-of-text stop: exactly n new tokens, like ours)."""
    torch, _, GenerationConfig, _, _, LogitsProcessor = _import_hf()

    class Clock(LogitsProcessor):
        """Reads the clock after each forward (a logits processor sees every step's scores
        before the argmax) and leaves the scores alone."""

        def __init__(self):
            self.stamps = []

        def __call__(self, input_ids, scores):
            self.stamps.append(time.perf_counter())
            return scores

    def run(prompt, n):
        clock = Clock()
        config = GenerationConfig(max_new_tokens=n, do_sample=False, use_cache=True,
                                  eos_token_id=None, pad_token_id=0)
        prompt_t = torch.from_numpy(np.asarray(prompt, dtype=np.int64))
        with torch.no_grad():
            start = time.perf_counter()
            out = hf.generate(input_ids=prompt_t, attention_mask=torch.ones_like(prompt_t),
                              generation_config=config, logits_processor=[clock])
            total = time.perf_counter() - start
        return (out.numpy(), *phases(start, clock.stamps), total)

    return run


def first_difference(a, b):
    """Index of the first differing position of two id arrays (shape mismatch: -1), or None."""
    if a.shape != b.shape:
        return -1
    diff = np.flatnonzero((a != b).any(axis=0))
    return int(diff[0]) if diff.size else None


def time_prefill_all_rows(model, prompt, n):
    """Seconds of the prefill that computes the logits of every prompt position (the head on
    all T0 rows): ``forward_with_cache`` on the whole prompt, on a new cache of the size
    ``generate`` allocates (its allocation timed too, as in ``generate``'s prefill)."""
    start = time.perf_counter()
    cache = KVCache.for_model(model, prompt.shape[0], max_len=prompt.shape[1] + n)
    forward_with_cache(model, prompt, cache)
    return time.perf_counter() - start


def compare_with_hf(model, hf_run, prompt, n, rounds, progress=True):
    """Medians of prefill seconds and decode tokens/s of the reference, of its previous decode
    path (``previous_decode_path``) and of HF (left out if ``hf_run`` is None), and whether
    the tokens agree; in the same rounds, ``"prefill_all_rows"``: the median seconds of
    ``time_prefill_all_rows``."""
    ours_ids = time_reference(model, prompt, n)[0]  # warm-up runs, and the tokens to compare
    time_prefill_all_rows(model, prompt, n)
    runs = {"reference": lambda: time_reference(model, prompt, n),
            "previous": lambda: time_previous(model, prompt, n)}
    mismatch = first_difference(ours_ids, time_previous(model, prompt, n)[0])
    if hf_run is not None:
        runs["hf"] = lambda: hf_run(prompt, n)
        mismatch = mismatch if mismatch is not None else first_difference(
            ours_ids, hf_run(prompt, n)[0])
    if progress:
        same = "identical" if mismatch is None else f"DIFFERENT (first at position {mismatch})"
        say(f"  tokens of the reference, its previous path{' and HF' if hf_run else ''}: "
            f"{same}", file=sys.stderr, flush=True)
    results = {label: {"prefill": [], "decode": []} for label in runs}
    all_rows = []
    for r in range(rounds):
        labels = [*runs, "all rows"]
        for label in labels if r % 2 == 0 else labels[::-1]:
            time.sleep(0.3)  # let the other library's idle worker threads stop spinning
            if label == "all rows":
                all_rows.append(time_prefill_all_rows(model, prompt, n))
                continue
            _, prefill, decode, _ = runs[label]()
            results[label]["prefill"].append(prefill)
            results[label]["decode"].append(decode)
        if progress:
            now = "  ".join(f"{label} {results[label]['decode'][-1]:.1f} tok/s, prefill "
                            f"{1e3 * results[label]['prefill'][-1]:.0f} ms" for label in runs)
            say(f"  decode comparison: round {r + 1}/{rounds}  {now}  prefill, all rows "
                f"{1e3 * all_rows[-1]:.0f} ms", file=sys.stderr, flush=True)
    medians = {label: {k: float(np.median(v)) for k, v in res.items()}
               for label, res in results.items()}
    return {"tokens_identical": mismatch is None, "first_difference": mismatch,
            "median": medians, "runs": results,
            "prefill_all_rows": float(np.median(all_rows))}


def cache_vs_nocache(model, prompt, total_len, cached_runs=3, progress=True):
    """End to end, from the prompt to ``total_len`` tokens, with the cache (the median of
    ``cached_runs`` runs) and without (one run, between them: it is slow): seconds, tokens/s
    and whether the tokens agree."""
    n = total_len - prompt.shape[1]
    every = max(1, n // 6) if progress else 0
    runs = {"cached": [], "uncached": []}
    for k in range(cached_runs + 1):
        use_cache = k != 1  # cached, uncached, cached, ...
        label = "cached" if use_cache else "uncached"
        ids, _, _, total = time_reference(model, prompt, n, use_cache=use_cache,
                                          progress_every=0 if use_cache else every,
                                          label=f"{label} generate")
        runs[label].append((ids, total))
    out = {}
    for label, got in runs.items():
        seconds = float(np.median([t for _, t in got]))
        out[label] = {"ids": got[0][0], "seconds": seconds, "tokens_per_s": n / seconds}
    out["tokens_identical"] = bool(np.array_equal(out["cached"]["ids"], out["uncached"]["ids"]))
    out["speedup"] = out["uncached"]["seconds"] / out["cached"]["seconds"]
    return out


def sweep_lengths(model, ids, lengths, repeats_cached, repeats_uncached, progress=True):
    """Tokens/s of one decoding step at each total length L (the new token at position L-1):
    with the cache (one token's forward after L-1 cached positions) and without (the forward
    of all L tokens, what ``generate(use_cache=False)`` does per step). Medians."""
    rows = []
    cache = KVCache.for_model(model, 1)
    for L in lengths:
        cache.reset()
        model.forward(ids[:, :L - 1], kv_cache=cache) if L > 1 else None  # prefill, untimed
        cached = []
        for _ in range(repeats_cached + 1):  # the first is a warm-up
            cache.length = L - 1  # re-decode position L-1: the same work every time
            start = time.perf_counter()
            model.forward(ids[:, L - 1:L], kv_cache=cache)
            cached.append(time.perf_counter() - start)
        uncached = []
        for _ in range(repeats_uncached):
            start = time.perf_counter()
            model.forward(ids[:, :L])
            uncached.append(time.perf_counter() - start)
        model.free_activations()  # drop the full forward's activations (kept for a backward)
        row = {"length": L, "cached": 1 / float(np.median(cached[1:])),
               "uncached": 1 / float(np.median(uncached))}
        rows.append(row)
        if progress:
            say(f"  sweep: length {L:5d}  cached {row['cached']:8.1f} tok/s  uncached "
                  f"{row['uncached']:8.2f} tok/s", file=sys.stderr, flush=True)
    return rows


# --- report --------------------------------------------------------------------------------
def save_figure(path, sweep, roofline_bw, weight_bytes, kv_bytes, hf=None, title=""):
    """Tokens/s vs total length (log-log): cached and uncached steps, the roofline of the
    weights alone and of the weights plus the cache, and HF's median decode rate (a segment
    over the lengths it decoded) if given. Returns the path written."""
    plt = pyplot()

    lengths = np.array([row["length"] for row in sweep])
    fig, ax = plt.subplots(figsize=(7, 4.4))
    ax.plot(lengths, [row["cached"] for row in sweep], "o-", color="C0",
            label="reference, KV cache (one step)")
    ax.plot(lengths, [row["uncached"] for row in sweep], "s-", color="C3",
            label="reference, no cache (full forward per step)")
    dense = np.geomspace(lengths[0], lengths[-1], 100)
    ax.axhline(roofline_bw / weight_bytes, color="0.3", linestyle=":",
               label=f"roofline, weights only ({roofline_bw / 1e9:.1f} GB/s)")
    ax.plot(dense, roofline_bw / (weight_bytes + kv_bytes(dense)), color="0.3", linestyle="--",
            label="roofline, weights + KV cache")
    if hf is not None:
        (lo, hi), rate = hf
        ax.plot([lo, hi], [rate, rate], color="C2", linewidth=3, alpha=0.8,
                label="Hugging Face generate (decode phase)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(lengths, [str(n) for n in lengths])
    ax.set_xlabel("sequence length (tokens so far)")
    ax.set_ylabel("tokens / s")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="lower left")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return write_png(fig, path)


def _verdict(value, target):
    return "met" if value >= target else "MISSED"


def format_report(res):
    """A run's results: a line per quantity (wrapped on the terminal), then a Markdown
    table of the sweep over lengths."""
    dc, bw, wb = res["config"], res["bandwidth"], res["weight_bytes"]
    roof = res["roofline_tokens_per_s"]
    lines = [f"memory bandwidth, streaming read ({bw['read method']}; median; the faster of "
             f"the probes at the start and the end, {res['bandwidth_runs'][0]:.1f} and "
             f"{res['bandwidth_runs'][1]:.1f}): {bw['read']:.1f} GB/s",
             f"... other probes: sum / max on {res['threads']} threads; sum, 1 thread; copy "
             f"(read + write), 1 thread: {bw['read (sum)']:.1f} / {bw['read (max)']:.1f}; "
             f"{bw['read, 1 thread']:.1f}; {bw['copy, 1 thread']:.1f} GB/s",
             f"float32 matrix product ({dc.matmul_n} x {dc.matmul_n}, {res['threads']} "
             f"threads): {res['matmul_gflops']:.0f} GFLOP/s",
             f"machine balance = GFLOP/s / GB/s: {res['matmul_gflops'] / bw['read']:.1f} "
             "FLOP/byte",
             f"weights read per token: {wb / 1e6:.4g} MB",
             f"matrix FLOPs per token (2 per weight): {res['flops_per_token'] / 1e9:.3g} "
             f"GFLOP: {res['flops_per_token'] / wb:.2f} FLOP/byte",
             f"roofline = bandwidth / weight bytes: {roof:.1f} tokens/s"]
    cmp = res.get("hf")
    ours = res["reference_decode"]
    lines.append(f"reference decode ({dc.prompt_len} + {dc.new_tokens} tokens, median): "
                 f"{ours:.1f} tokens/s = {ours / roof:.0%} of roofline (target >= "
                 f"{TARGETS['vs_roofline']:.0%}: {_verdict(ours / roof, TARGETS['vs_roofline'])})")
    prev = res["previous_decode"]
    lines.append(f"... side by side, the previous decode path (every step through 1.4's "
                 f"attention): {prev:.1f} tokens/s = {prev / roof:.0%} of roofline; now / "
                 f"previous: {ours / prev:.2f}x")
    lines.append(f"... recorded before on {PREVIOUS['machine']}, another run: "
                 f"{PREVIOUS['tokens_per_s']} tokens/s = {PREVIOUS['vs_roofline']} of roofline, "
                 f"{PREVIOUS['vs_hf']} HF")
    prods = res["products_only"]
    t_prod = prods["blocks"][0] + prods["head"][0]
    n_prod = prods["blocks"][1] + prods["head"][1]
    gbps = n_prod / t_prod / 1e9
    lines.append(f"... its matrix-vector products alone, back to back: {1e3 * t_prod:.1f} ms "
                 f"per token ({gbps:.1f} GB/s = {gbps / bw['read']:.0%} of the probe), of "
                 f"{1e3 / ours:.1f} ms per decoded token: at most "
                 f"{1 / t_prod / roof:.0%} of roofline with nothing else in the step")
    lines.append("... by kind, GB/s: " + "; ".join(
        f"{name} {n_bytes / t / 1e9:.1f} ({1e3 * t:.1f} ms)"
        for name, (t, n_bytes) in prods.items()))
    lines.append(f"reference prefill ({dc.prompt_len} tokens): "
                 f"{1e3 * res['reference_prefill']:.1f} ms; side by side, the logits of "
                 f"every prompt position (forward_with_cache on the prompt): "
                 f"{1e3 * res['prefill_all_rows']:.1f} ms")
    if cmp is not None:
        hf = cmp["median"]["hf"]
        ratio = ours / hf["decode"]
        lines += [
            f"HF generate decode: {hf['decode']:.1f} tokens/s",
            f"reference / HF, decode: {ratio:.2f}x (target >= {TARGETS['vs_hf']}x: "
            f"{_verdict(ratio, TARGETS['vs_hf'])})",
            f"HF prefill ({dc.prompt_len} tokens): {1e3 * hf['prefill']:.1f} ms "
            f"(reference / HF time: {res['reference_prefill'] / hf['prefill']:.2f}; HF / "
            f"reference: {hf['prefill'] / res['reference_prefill']:.2f}x, target >= 1.0x: "
            f"{_verdict(hf['prefill'] / res['reference_prefill'], 1.0)})",
            f"tokens identical to HF's (and the previous path's): "
            f"{'yes' if cmp['tokens_identical'] else 'NO'}"]
    nc = res["nocache"]
    at = {row["length"]: row for row in res["sweep"]}.get(dc.nocache_len)
    if at is not None:
        ratio = at["cached"] / at["uncached"]
        lines.append(f"KV cache vs no cache: one step at length {dc.nocache_len}: "
                     f"{at['cached']:.1f} / {at['uncached']:.2f} tokens/s = {ratio:.1f}x "
                     f"(target >= {TARGETS['cache_speedup']:.0f}x: "
                     f"{_verdict(ratio, TARGETS['cache_speedup'])})")
    lines += [
        f"... end to end: generate {dc.prompt_len} -> {dc.nocache_len} tokens, cached "
        f"(median of 3) / uncached (one run): {nc['cached']['seconds']:.2f} s / "
        f"{nc['uncached']['seconds']:.2f} s = {nc['speedup']:.1f}x; tokens identical: "
        f"{'yes' if nc['tokens_identical'] else 'NO'}"]
    lines += ["", "# tok/s: tokens per second; x: cached / uncached;",
              "# roofline: bandwidth / (weight + KV cache bytes);",
              "# GFLOP/s: of the uncached steps, at 2 N L FLOPs per token",
              "| length | cached tok/s | uncached tok/s | x | roofline tok/s | GFLOP/s |",
              "|---|---|---|---|---|---|"]
    for row in res["sweep"]:
        L = row["length"]
        kv_roof = bw["read"] * 1e9 / (wb + res["kv_bytes"](L))
        gflops = res["flops_per_token"] * L * row["uncached"] / 1e9
        lines.append(f"| {L} | {row['cached']:.1f} | {row['uncached']:.2f} | "
                     f"{row['cached'] / row['uncached']:.1f}x | {kv_roof:.1f} | {gflops:.0f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = demo_parser(
        "bench_decode",
        description="Time KV-cached decoding of the reference GPT-2 against Hugging Face, the "
                    "memory-bandwidth roofline and decoding without a cache (CPU, float32).")
    parser.add_argument("--config", choices=sorted(CONFIGS), default="gpt2",
                        help="model shape (tiny: a seconds-long smoke test)")
    parser.add_argument("--quick", action="store_true",
                        help="one round, fewer repeats: a smoke run, not a measurement")
    parser.add_argument("--threads", type=int, default=None,
                        help="set NumPy's BLAS and PyTorch to N threads (default: NumPy's)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of the HF comparison")
    parser.add_argument("--no-torch", action="store_true",
                        help="skip the Hugging Face comparison (no PyTorch needed)")
    parser.add_argument("--figure", default=None,
                        help=f"where to save the plot (default for a full gpt2 run: {FIGURE}; "
                             "none otherwise)")
    args = parser.parse_args(argv)
    dc = CONFIGS[args.config]
    figure = args.figure or (FIGURE if dc is GPT2_SMALL and not args.quick else None)

    threads, how = blas_threads(set_to=args.threads)
    versions = f"Python {platform.python_version()}, NumPy {np.__version__}"
    hf_run = None
    if not args.no_torch:
        torch, transformers, *_ = _import_hf()
        torch.set_num_threads(threads)
        versions += f", torch {torch.__version__}, transformers {transformers.__version__}"
    rounds = args.rounds or (1 if args.quick else 5)
    say(f"# {cpu_model()}, {os.cpu_count()} logical CPUs, load average {load_average():.2f}; "
          f"{versions}")
    say(f"# threads: NumPy BLAS {threads} (from {how})"
          + (f", torch {torch.get_num_threads()}" if not args.no_torch else "")
          + f"; {dc.name}: {dc.n_layer} layers, {dc.n_head} heads, C = {dc.n_embd}, V = "
          f"{dc.vocab_size}, block {dc.block_size}; float32, batch 1, greedy; {rounds} rounds, "
          "medians, warm-up excluded" + (" (--quick: not a measurement)" if args.quick else ""),
          flush=True)

    say("measuring memory bandwidth ...", file=sys.stderr, flush=True)
    probe_repeats = 3 if args.quick else 7
    bandwidth = memory_bandwidth(dc.bandwidth_bytes, threads, repeats=probe_repeats)
    gflops = matmul_gflops(dc.matmul_n)
    model = GPT(dc.gpt_config(), np.random.default_rng(0))
    rng = np.random.default_rng(1)
    ids = rng.integers(0, dc.vocab_size, (1, dc.block_size))  # prompts and sweep inputs
    prompt = ids[:, :dc.prompt_len]
    wb = weight_bytes_per_token(model)
    products = [products_only(model, 5 if args.quick else 21)]
    res = {"config": dc, "threads": threads, "bandwidth": bandwidth, "weight_bytes": wb,
           "matmul_gflops": gflops, "flops_per_token": matrix_flops_per_token(model),
           "roofline_tokens_per_s": bandwidth["read"] * 1e9 / wb,
           "kv_bytes": lambda L: kv_bytes_per_token(model, L)}

    if not args.no_torch:
        say("building the Hugging Face model ...", file=sys.stderr, flush=True)
        hf_run = make_hf_runner(build_hf(model))
    say(f"reference, its previous decode path{'' if args.no_torch else ' and HF'}: "
        f"{dc.prompt_len}-token prompt, {dc.new_tokens} new tokens ...", file=sys.stderr,
        flush=True)
    decode = compare_with_hf(model, hf_run, prompt, dc.new_tokens, rounds)
    if hf_run is not None:
        res["hf"] = decode
    res["tokens_identical"] = decode["tokens_identical"]
    res["previous_decode"] = decode["median"]["previous"]["decode"]
    res["reference_decode"] = decode["median"]["reference"]["decode"]
    res["reference_prefill"] = decode["median"]["reference"]["prefill"]
    res["prefill_all_rows"] = decode["prefill_all_rows"]

    say(f"generate {dc.prompt_len} -> {dc.nocache_len} tokens with and without the cache ...",
          file=sys.stderr, flush=True)
    res["nocache"] = cache_vs_nocache(model, prompt, dc.nocache_len)
    say(f"one step at lengths {', '.join(map(str, dc.sweep))} ...", file=sys.stderr,
          flush=True)
    res["sweep"] = sweep_lengths(model, ids, dc.sweep, repeats_cached=3 if args.quick else 9,
                                 repeats_uncached=1 if args.quick else 3)
    # measured again at the end: the faster of the two is the machine's (a job that ran
    # meanwhile can only slow a probe down, and a low bandwidth would flatter the decoding)
    say("measuring memory bandwidth again ...", file=sys.stderr, flush=True)
    again = memory_bandwidth(dc.bandwidth_bytes, threads, repeats=probe_repeats)
    res["bandwidth_runs"] = (bandwidth["read"], again["read"])
    if again["read"] > bandwidth["read"]:
        res["bandwidth"] = bandwidth = again
    res["roofline_tokens_per_s"] = bandwidth["read"] * 1e9 / wb
    products.append(products_only(model, 5 if args.quick else 21))
    res["products_only"] = {name: min(run[name] for run in products) for name in products[0]}
    res["load_average_after"] = load_average()
    say(format_report(res))
    say(f"# load average at the end {res['load_average_after']:.2f}")
    if figure is not None:
        hf = None
        if "hf" in res:
            hf = ((dc.prompt_len + 1, dc.prompt_len + dc.new_tokens),
                  res["hf"]["median"]["hf"]["decode"])
        title = (f"{dc.name} ({model.num_parameters() / 1e6:.0f}M parameters), float32, batch 1, "
                 f"{threads} threads; {cpu_model()}")
        res["figure"] = save_figure(figure, res["sweep"], bandwidth["read"] * 1e9, wb,
                                    res["kv_bytes"], hf=hf, title=title)
        say(f"# figure: {res['figure']}")
    if dc is GPT2_SMALL:  # the goals are on GPT-2 small's shape
        record(res, rounds, quick=args.quick)
    return res


def record(res, rounds, quick=False):
    """Record the goals this run measured (``demos/bench_summary.py``): the decode rate as a
    fraction of the roofline, now and on the previous decode path; HF's prefill time over
    ``generate``'s, and before, over the prefill with the logits of every position."""
    roof = res["roofline_tokens_per_s"]
    rows = [bench_summary.goal_row("decode", res["reference_decode"] / roof,
                                   before=res["previous_decode"] / roof)]
    if "hf" in res:
        hf = res["hf"]["median"]["hf"]["prefill"]
        rows.insert(0, bench_summary.goal_row("prefill", hf / res["reference_prefill"],
                                              before=hf / res["prefill_all_rows"]))
    note = f"{res['threads']} threads, " + (f"medians of {rounds} rounds" if rounds > 1
                                            else "1 round")
    path = bench_summary.record("decode", rows, note=note + (", --quick" if quick else ""))
    say(f"# recorded in {bench_summary.recorded_in(path)}")
