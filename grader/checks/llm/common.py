"""Helpers shared by the checks of 4.2 and 4.3."""

from __future__ import annotations

import numpy as np

from ... import expect


def _reraise_not_implemented(exc: Exception) -> None:
    if getattr(exc, "type_name", type(exc).__name__) == "NotImplementedError":
        raise exc


def _call(fn, what: str, hint: str, *args, **kwargs):
    """Call the student's `fn`; turn an exception into a failure that explains `hint`."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 — explained, unless it is the stub's own
        _reraise_not_implemented(exc)
        message = getattr(exc, "message", str(exc))
        name = getattr(exc, "type_name", type(exc).__name__)
        expect.fail(f"{what} raised {name}: {message}. {hint}".rstrip())


def _same_state(a: np.random.Generator, b: np.random.Generator) -> bool:
    return a.bit_generator.state == b.bit_generator.state


def _windows(data, starts, block_size):
    pos = np.asarray(starts)[:, None] + np.arange(block_size)
    return data[pos].astype(np.int64), data[pos + 1].astype(np.int64)


def _draw(data, batch_size, block_size, rng):
    """The documented draw of get_batch (4.2), on the grader's side."""
    starts = rng.integers(0, len(data) - block_size, size=batch_size)
    return _windows(data, starts, block_size)


# -- 4.6-4.13: inputs that are lists, dicts or configs --------------


def _same_value(a, b) -> bool:
    """Deep equality of call arguments: arrays by value and dtype, containers by content."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same_value, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_value(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def call_unchanged(fn, fn_name: str, *args, **kwargs):
    """`expect.call_pure`, and also fail if a list, dict or tuple argument (a conversation, a
    config dict, a list of answers) was changed in place: callers reuse them."""
    import copy

    named = [(f"argument {i + 1}", a) for i, a in enumerate(args)] + list(kwargs.items())
    before = []
    for label, value in named:
        if isinstance(value, (list, tuple, dict)):
            try:
                before.append((label, copy.deepcopy(value)))
            except Exception:  # noqa: BLE001 — e.g. a cache holding objects of the sandbox
                pass
    result = expect.call_pure(fn, fn_name, *args, **kwargs)
    now = dict(named)
    for label, old in before:
        if not _same_value(old, now[label]):
            expect.fail(f"{fn_name} changed its {label} in place: it was {old!r:.120}, and is "
                        f"{now[label]!r:.120} after the call. Work on a copy (callers reuse "
                        "their lists and dicts).")
    return result
