"""Assertions that explain themselves, and the grader's tolerance policy.

Tolerance policy (decided up front, never tuned to a submission):
- Checks run in float64 on small inputs with distinct dimensions (B=2, T=3, ...), so a
  transposed axis fails on shape rather than passing by symmetry.
- Two exact formulas for the same float64 value agree to `rtol=1e-7, atol=1e-9` (`F64`).
- Gradients are compared with central finite differences (h=1e-6) at `rtol=1e-5, atol=1e-7`
  (`GRAD`): the truncation error is ~1e-10, while the bugs we look for are off by O(1).
- float32 checks only assert that float32 comes back and is close to the float64 answer
  within `rtol=1e-4, atol=1e-5` (`F32`), scaled by depth in deep models.
"""

from __future__ import annotations

import numpy as np

F64 = {"rtol": 1e-7, "atol": 1e-9}
GRAD = {"rtol": 1e-5, "atol": 1e-7}
F32 = {"rtol": 1e-4, "atol": 1e-5}


class CheckFailed(AssertionError):
    """A check found a wrong answer; the message tells the student what and probably why."""


CAUSE = "Likely cause: "  # how every diagnosis starts (the mutation tests look for it)


def cause(text: str) -> str:
    """A diagnosis, stated only when a probe has confirmed it: re-running the student's own
    code on inputs that tell the suspected slip from the right answer showed exactly that
    slip (e.g. the output times sqrt(d_k) matches).  Never for a guess: a guess is advice,
    phrased as what to check ("Check which axis ..."), not as what is wrong."""
    return f"{CAUSE}{text.rstrip('.')}."


def fail(message: str) -> None:
    raise CheckFailed(message)


def array(value, name: str, shape: tuple | None = None, dtype=None, finite: bool = True):
    """`value` must be an ndarray of `shape` and `dtype` with finite entries; returns it."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], np.ndarray):
        fail(f"{name} should be one array, but a pair came back — is this the (out, cache) of "
             "a forward? Return only what the docstring says.")
    if not isinstance(value, np.ndarray):
        fail(f"{name} should be a NumPy array, got {type(value).__name__}.")
    if shape is not None and value.shape != tuple(shape):
        fail(f"{name} has shape {value.shape}, expected {tuple(shape)}. Check which axis you "
             "reduced, transposed or broadcast over.")
    if dtype is not None and value.dtype != np.dtype(dtype):
        if np.dtype(dtype) == np.bool_:
            fail(f"{name} has dtype {value.dtype}, expected bool: masks are boolean arrays "
                 "(True = may attend), e.g. built with a comparison such as j <= i.")
        fail(f"{name} has dtype {value.dtype}, expected {np.dtype(dtype)}. The course keeps "
             "the input's dtype: float32 in, float32 out (a float64 constant can promote it).")
    if finite and value.dtype.kind in "fc" and not np.all(np.isfinite(value)):
        bad = np.argwhere(~np.isfinite(value))[0]
        fail(f"{name} contains {value[tuple(bad)]} at index {tuple(int(i) for i in bad)}; "
             "every entry should be finite (overflow in exp? 0/0 on a fully masked row?).")
    return value


def close(actual, expected, name: str, hint: str = "", rtol: float = F64["rtol"],
          atol: float = F64["atol"]) -> None:
    """`actual` must match `expected` elementwise within `atol + rtol*|expected|`."""
    expected = np.asarray(expected)
    array(actual, name, shape=expected.shape, finite=False)
    err = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    bound = atol + rtol * np.abs(expected.astype(np.float64))
    with np.errstate(invalid="ignore"):
        bad = ~(err <= bound)
    if not np.any(bad):
        return
    where = np.unravel_index(int(np.argmax(np.where(bad, np.nan_to_num(err, nan=np.inf), -1))),
                             err.shape)
    idx = tuple(int(i) for i in where)
    message = (f"{name} is wrong at index {idx}: got {_fmt(actual[idx])}, expected "
               f"{_fmt(expected[idx])} ({int(bad.sum())} of {bad.size} entries off; tolerance "
               f"atol={atol:g}, rtol={rtol:g}).")
    fail(message + (" " + hint if hint else ""))


def _fmt(value) -> str:
    """A scalar as a student wants to read it (no `np.float64(...)` wrapper)."""
    value = np.asarray(value)
    if value.dtype.kind in "fc":
        return f"{complex(value):.6g}" if value.dtype.kind == "c" else f"{float(value):.6g}"
    return str(value.item())


def unchanged(before: dict[str, np.ndarray], after: dict[str, np.ndarray], fn_name: str) -> None:
    """Inputs must not be modified in place."""
    for name, original in before.items():
        if not np.array_equal(original, after[name], equal_nan=True):
            fail(f"{fn_name} modified its input `{name}` in place (e.g. `x -= x.max()` or "
                 "`x[mask] = ...`). Work on a copy: callers reuse their arrays.")


def call_pure(fn, fn_name: str, *args, **kwargs):
    """Call `fn` and fail if it modified any array argument (or array in a dict) in place."""
    arrays = {}
    named = [(f"argument {i + 1}", a) for i, a in enumerate(args)] + list(kwargs.items())
    for label, value in named:
        if isinstance(value, np.ndarray):
            arrays[label] = value
        elif isinstance(value, dict):
            arrays.update({f"{label}[{k!r}]": v for k, v in value.items()
                           if isinstance(v, np.ndarray)})
    before = {name: a.copy() for name, a in arrays.items()}
    if hasattr(fn, "call"):  # sandboxed: the student's code gets read-only arrays
        try:
            result = fn.call(args, kwargs, pure=True)
        except Exception as exc:  # noqa: BLE001 — only the read-only case is ours to explain
            if "read-only" in str(exc):
                fail(f"{fn_name} modified one of its inputs in place ({exc}). Work on a copy "
                     "(e.g. `x = x - x.max(...)`, not `x -= ...`): callers reuse their arrays.")
            raise
    else:
        result = fn(*args, **kwargs)
    unchanged(before, arrays, fn_name)
    return result


def require_correct(actual, expected, what: str, exercise: str) -> None:
    """Property checks award points only to answers that are also right: fail unless
    `actual` matches `expected` (float64 tolerance)."""
    if not (isinstance(actual, np.ndarray) and actual.shape == np.shape(expected)
            and np.allclose(actual, expected, **F64)):
        fail(f"{what} is not right yet (see the first check of {exercise}); this check "
             "gives its points only to a correct answer.")


def pair(value, fn_name: str):
    """A forward with a backward returns `(out, cache)`."""
    if not (isinstance(value, tuple) and len(value) == 2):
        fail(f"{fn_name} should return a pair (out, cache), got {type(value).__name__}"
             f"{' of length ' + str(len(value)) if isinstance(value, tuple) else ''}.")
    return value


def raises(fn, exception: type[BaseException], what: str, *args, **kwargs) -> None:
    """`fn(*args)` must raise `exception` (by name, since it may come from the sandbox)."""
    try:
        fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 — we inspect the type below
        name = getattr(exc, "type_name", type(exc).__name__)
        if name == exception.__name__ or isinstance(exc, exception):
            return
        if name == "NotImplementedError":
            raise
        fail(f"{what}: expected {exception.__name__}, but {name} was raised ({exc}).")
    fail(f"{what}: expected {exception.__name__} with a message naming the problem, "
         "but nothing was raised.")
