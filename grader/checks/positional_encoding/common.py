"""Helpers shared by the checks of several exercises."""

from __future__ import annotations

import numpy as np

from ... import expect, fixtures

HEAD_DIM = 8


def fx() -> dict[str, np.ndarray]:
    return fixtures.by_name("positional_encoding")


def get(name: str) -> np.ndarray:
    return fx()[name].copy()


def _tables(name: str):
    return get(f"rope.{name}.cos"), get(f"rope.{name}.sin")


def matches(actual, expected, tol: dict | None = None) -> bool:
    """`actual` is an array of `expected`'s shape, equal within `tol` (float64 by default):
    the probes that confirm a diagnosis compare with this."""
    return (isinstance(actual, np.ndarray) and actual.shape == np.shape(expected)
            and bool(np.allclose(actual, expected, **(tol or expect.F64))))


def skip_unless(ok: bool, check_name: str, why: str) -> None:
    """Gate a check on an earlier check of the same exercise: without it, it earns nothing
    and blames nothing (its own message would only repeat the earlier bug, or misname it)."""
    if not ok:
        expect.fail(f"Skipped until {check_name} passes ({why}); this check gives its points "
                    "only to a correct answer.")


def upstream_ignored(backward, dout: np.ndarray, *args) -> bool:
    """Probe: does `backward(dout, *args)` come out the same for `2 * dout`? A backward that
    scales with its upstream gradient doubles; one that ignores it does not change."""
    once = backward(dout, *args)
    twice = backward(2.0 * dout, *args)
    return (isinstance(once, np.ndarray) and np.any(once != 0)
            and matches(twice, once))
