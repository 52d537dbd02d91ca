"""Checks of exercise 4.2: batches of next-token targets.

Everything here follows from the documented contract, without fixtures: the window starts
are ``rng.integers(0, len(data) - block_size, size=batch_size)``, so the grader redraws them
from a copy of the generator; with ``data`` an arithmetic sequence, a window and its targets
are recognisable at a glance.
"""

from __future__ import annotations

import numpy as np

from ... import expect
from .. import check
from .common import _call, _draw, _same_state


def _batch(impl, data, batch_size, block_size, rng, what="get_batch", hint=""):
    result = _call(impl.get_batch, what, hint, data, batch_size, block_size, rng)
    if not (isinstance(result, tuple) and len(result) == 2):
        expect.fail(f"{what} should return a pair (x, y), got {type(result).__name__}.")
    x, y = result
    for name, value in (("x", x), ("y", y)):
        expect.array(value, f"{what}: {name}", shape=(batch_size, block_size))
        if value.dtype != np.int64:
            expect.fail(f"{what}: {name} has dtype {value.dtype}, expected int64 (token ids "
                        "index the embedding table; cast with .astype(np.int64), whatever the "
                        "dtype of data, e.g. uint16).")
    return x, y


@check("4.2", weight=2)
def batch_targets_are_the_next_tokens(impl):
    """x is a window of data and y the same window shifted by one token"""
    data = np.arange(100, 160, dtype=np.int32)  # value v sits at position v - 100
    B, T = 4, 5
    x, y = _batch(impl, data, B, T, np.random.default_rng(0), "get_batch(data, 4, 5, rng)")
    for b in range(B):
        if not (np.all(np.diff(x[b]) == 1) and x[b, 0] >= data[0]):
            expect.fail(f"x[{b}] = {x[b].tolist()} is not a window of data = [100, 101, ..., "
                        "159]: x[b] = data[s : s + block_size] for a start s.")
    shift = y - x
    if np.all(shift == 1):
        return
    if np.all(shift == 0):
        expect.fail("y equals x: the targets are the inputs themselves, so the model would "
                    "learn to copy. y must be x shifted by one: y[b] = data[s + 1 : s + T + 1], "
                    "the next token at every position.")
    if np.all(shift == -1):
        expect.fail("y is the *previous* token (data[s - 1 : s + T - 1]): shifted the wrong "
                    "way. y[b, t] is the token that follows x[b, t]: y[b] = data[s + 1 : s + "
                    "T + 1].")
    b, t = np.argwhere(shift != 1)[0]
    expect.fail(f"y[{b}] = {y[b].tolist()} for x[{b}] = {x[b].tolist()}: y must be x shifted "
                f"by exactly one token (y[b, t] = data[s + t + 1]); position {t} is off by "
                f"{int(shift[b, t]) - 1}.")


@check("4.2", weight=2)
def batch_draws_the_documented_starts(impl):
    """starts = rng.integers(0, len(data) - block_size, size=batch_size), from the rng given"""
    data = np.arange(1000, 1050, dtype=np.int64)
    for seed, B, T in ((3, 6, 4), (11, 2, 9)):
        rng, mine = np.random.default_rng(seed), np.random.default_rng(seed)
        x, y = _batch(impl, data, B, T, rng, f"get_batch(data, {B}, {T}, rng)")
        expected, _ = _draw(data, B, T, mine)
        if np.array_equal(x, expected):
            if not _same_state(rng, mine):
                expect.fail("get_batch drew the right starts but left the generator in another "
                            "state: draw them with exactly one call, rng.integers(0, len(data) "
                            "- block_size, size=batch_size).")
            continue
        untouched = _same_state(rng, np.random.default_rng(seed))
        if untouched:
            expect.fail("get_batch did not use the generator it was given (rng is unchanged): "
                        "draw the starts from rng (rng.integers(...)), not from np.random's "
                        "global state or a new generator, so that a seed reproduces the run.")
        expect.fail(f"the windows start at {(x[:, 0] - 1000).tolist()}, expected "
                    f"{(expected[:, 0] - 1000).tolist()} (seed {seed}, len(data) = 50, block_size "
                    f"= {T}). Draw them as documented, in one call: starts = rng.integers(0, "
                    "len(data) - block_size, size=batch_size).")


@check("4.2")
def batch_covers_every_window(impl):
    """the last full window is drawn, and nothing beyond the end of data"""
    T = 4
    for n_windows in (3, 1):
        data = np.arange(T + n_windows, dtype=np.int64)  # windows start at 0 .. n_windows - 1
        x, _ = _batch(impl, data, 300, T, np.random.default_rng(5),
                      f"get_batch on data of length block_size + {n_windows}",
                      "The starts must stay in 0 .. len(data) - block_size - 1, so that the "
                      "last target data[s + block_size] exists: rng.integers(0, len(data) - "
                      "block_size) (the upper bound is excluded).")
        seen = sorted(set(x[:, 0].tolist()))
        if seen != list(range(n_windows)):
            expect.fail(f"with len(data) = block_size + {n_windows} = {len(data)} there are "
                        f"{n_windows} windows (starts 0..{n_windows - 1}; the targets of the "
                        f"last one end at data[-1]), but 300 draws started at {seen}. The upper "
                        "bound of rng.integers is excluded: rng.integers(0, len(data) - "
                        "block_size).")


@check("4.2")
def batch_dtypes_and_errors(impl):
    """int64 out of uint16 data, inputs untouched; clear errors for impossible requests"""
    data = np.arange(7, 27, dtype=np.uint16)  # nanoGPT stores tokens as uint16
    rng = np.random.default_rng(2)
    result = expect.call_pure(impl.get_batch, "get_batch", data, 3, 6, rng)
    if not (isinstance(result, tuple) and len(result) == 2):
        expect.fail(f"get_batch should return a pair (x, y), got {type(result).__name__}.")
    for name, value in zip("xy", result):
        expect.array(value, f"get_batch on uint16 data: {name}", shape=(3, 6))
        if value.dtype != np.int64:
            expect.fail(f"get_batch on uint16 data: {name} has dtype {value.dtype}, expected "
                        "int64: cast with .astype(np.int64) (uint16 overflows in arithmetic, "
                        "and the model expects int64 ids).")
    g = np.random.default_rng(0)
    expect.raises(impl.get_batch, ValueError, "get_batch with len(data) == block_size (no room "
                  "for the last target)", np.arange(5), 2, 5, g)
    expect.raises(impl.get_batch, TypeError, "get_batch on float data",
                  np.arange(20.0), 2, 4, g)
    expect.raises(impl.get_batch, TypeError, "get_batch with rng=0 (not a Generator)",
                  np.arange(20), 2, 4, 0)
    expect.raises(impl.get_batch, ValueError, "get_batch on 2-D data",
                  np.arange(20).reshape(4, 5), 2, 2, g)
    expect.raises(impl.get_batch, ValueError, "get_batch with batch_size=0",
                  np.arange(20), 0, 4, g)
    expect.raises(impl.get_batch, ValueError, "get_batch with block_size=0",
                  np.arange(20), 2, 0, g)
