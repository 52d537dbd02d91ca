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
