"""The grader's side of the sandbox: a stand-in for the student's module.

`RemoteImplementation` looks like a module (`impl.softmax(x)`), but every call is sent to a
worker process (`worker.py`) that runs the student's code, and only data comes back.  Arrays
the student modified in place are copied back into the caller's arrays, generators advance
as they would locally, and objects that cannot travel (a model, a config) come back as
`RemoteObject`s whose attributes and methods are again remote.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..expect import CheckFailed
from . import wire
from .process import StudentCrash, StudentError, StudentNotImplemented, WorkerPool

DEFAULT_CALL_TIMEOUT = 10.0


class RemoteImplementation:
    """Module-like access to the student's functions, through a fresh sandbox process."""

    def __init__(self, pool: WorkerPool, timeout: float = DEFAULT_CALL_TIMEOUT):
        object.__setattr__(self, "_pool", pool)
        object.__setattr__(self, "_worker", None)
        object.__setattr__(self, "_cache", {})
        object.__setattr__(self, "_output", "")  # printed by workers that are gone
        object.__setattr__(self, "deadline", time.monotonic() + timeout)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        if name not in self._cache:
            self._cache[name] = self._request({"op": "lookup", "name": name})
        return self._cache[name]

    def __setattr__(self, name, value):
        if name != "deadline":
            raise AttributeError("the implementation under test is read-only")
        object.__setattr__(self, name, value)

    @property
    def worker(self):
        if self._worker is None or self._worker.dead:
            if self._worker is not None:
                self._cache.clear()  # handles died with the old process
                self._pool.release(self._worker)  # and whatever it left running
                object.__setattr__(self, "_output", self._output + self._worker.take_output())
            object.__setattr__(self, "_worker", self._pool.take())
        return self._worker

    def take_output(self) -> str:
        """What the student's code printed since the last call (for the check just run)."""
        text = self._output + (self._worker.take_output() if self._worker is not None else "")
        object.__setattr__(self, "_output", "")
        return text

    def scratch_dir(self, prefix: str = "check-") -> Path:
        """An empty folder the student's code may write into (the only place it may)."""
        return self._pool.scratch.new_dir(prefix)

    def close(self) -> None:
        if self._worker is not None:
            self._pool.release(self._worker)

    def _request(self, request: dict, instrument_out: list | None = None, pure: bool = False):
        worker = self.worker
        worker.wait_ready(self.deadline)  # start-up is not part of what a call measures
        if instrument_out is not None:  # free memory back to the system first: else the
            # call could reuse pages an earlier call freed, and its peak would not show them
            worker.request(b"C" + wire.encode({"op": "trim"})[0], self.deadline)
        baseline = worker.reset_peak_memory() if instrument_out is not None else None
        if baseline is not None:
            request["memory"] = False  # measured here, from /proc, not by the worker
        if request["op"] in ("call", "perturb"):  # CPU time, on top of the wall-clock deadline
            request["cpu"] = max(self.deadline - time.monotonic(), 0.1)
        message, objects = wire.encode(request, on_other=_refuse)
        data = worker.request((b"P" if pure else b"C") + message, self.deadline)
        reply, _ = wire.decode(data, on_handle=lambda node: RemoteObject(self, worker, node))
        if "error" in reply:
            err = reply["error"]
            cls = StudentNotImplemented if err.get("not_implemented") else StudentError
            raise cls(str(err["type"]), str(err["message"]), str(err.get("traceback", "")))
        for index, new in reply.get("sync", []):
            _copy_back(objects[index], new)
        if instrument_out is not None:
            peak = worker.peak_memory() if baseline is not None else None
            if peak is not None:
                reply["peak"] = max(0, peak - baseline)
            instrument_out.append(reply)
        return reply["value"]


class RemoteObject:
    """An object living in the worker (a function, a model, a config)."""

    def __init__(self, impl: RemoteImplementation, worker, node: dict):
        handle = wire.Handle(int(node["h"]), str(node.get("type", "")), bool(node.get("callable")))
        object.__setattr__(self, "_impl", impl)
        object.__setattr__(self, "_worker", worker)
        object.__setattr__(self, "_handle", handle)

    def _check_alive(self):
        if self._worker is not self._impl._worker or self._worker.dead:
            raise StudentCrash("Stale", f"this {self._handle.type_name} lived in a crashed run")

    def __call__(self, *args, **kwargs):
        return self.call(args, kwargs)

    def call(self, args, kwargs, instrument_out: list | None = None, pure: bool = False):
        """Call in the worker; `pure=True` hands the student read-only arrays."""
        self._check_alive()
        request = {"op": "call", "fn": self._handle, "args": list(args), "kwargs": kwargs,
                   "memory": instrument_out is not None}
        return self._impl._request(request, instrument_out, pure)

    def perturbed_outputs(self, args, kwargs, x: np.ndarray, h: float, output: int | None):
        """`fn(*args, **kwargs)[output]` with each entry of `x` (an array among the arguments)
        moved by +h, then -h, in turn: all 2 * x.size calls in one request, an array of shape
        (2, x.size, *out.shape) in one answer (finite differences without a round trip each)."""
        self._check_alive()
        request = {"op": "perturb", "target": x, "fn": self._handle, "args": list(args),
                   "kwargs": kwargs, "h": h, "output": output}
        return self._impl._request(request)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        self._check_alive()
        return self._impl._request({"op": "getattr", "obj": self._handle, "attr": name})

    def __setattr__(self, name: str, value) -> None:
        self._check_alive()
        self._impl._request({"op": "setattr", "obj": self._handle, "attr": name, "value": value})

    def __repr__(self) -> str:
        return f"<student {self._handle.type_name} in the sandbox>"


def _refuse(obj):
    if isinstance(obj, RemoteObject):
        return {"h": obj._handle.id}
    raise wire.WireError(f"the grader cannot pass a {type(obj).__name__} to the sandbox")


# Objects the checks hold as constants (module-level lists, dicts and arrays, with what they
# contain): student code must not change them through an in-place edit of its input.
_CONSTANTS: dict[int, object] = {}


def protect(values) -> None:
    """Refuse in-place changes to `values` and everything they contain."""
    todo = list(values)
    while todo:
        value = todo.pop()
        if isinstance(value, (list, dict, np.ndarray)) and id(value) not in _CONSTANTS:
            _CONSTANTS[id(value)] = value  # kept alive: the id stays this object's
            if isinstance(value, dict):
                todo.extend(value.values())
            elif isinstance(value, list):
                todo.extend(value)
        elif isinstance(value, tuple):
            todo.extend(value)


def _copy_back(original, new) -> None:
    """Reflect an in-place change made in the worker onto the caller's object."""
    if _CONSTANTS.get(id(original)) is original:
        raise CheckFailed("your code changed one of its inputs in place (a list, dict or "
                          "array it was given); leave inputs as they are: work on a copy.")
    if isinstance(original, np.ndarray) and isinstance(new, np.ndarray):
        if original.shape == new.shape and original.flags.writeable:
            np.copyto(original, new, casting="unsafe")
        else:
            original.fill(np.nan) if original.dtype.kind in "fc" else None
    elif isinstance(original, dict) and isinstance(new, dict):
        original.clear()
        original.update(new)
    elif isinstance(original, list) and isinstance(new, list):
        original[:] = new
    elif isinstance(original, np.random.Generator) and isinstance(new, np.random.Generator):
        original.bit_generator.state = new.bit_generator.state


class Instrumented:
    """What `instrumented_call` saw besides the result."""

    def __init__(self, peak_bytes: int, warnings: list[str]):
        self.peak_bytes, self.warnings = peak_bytes, warnings


def instrumented_call(fn, *args, **kwargs):
    """Call `fn`; return `(result, Instrumented)` with the peak memory allocated during the call
    and the warnings it raised.  Works on sandboxed functions and on plain local ones."""
    if isinstance(fn, RemoteObject):
        seen: list = []
        result = fn.call(args, kwargs, instrument_out=seen)
        reply = seen[0]
        return result, Instrumented(int(reply.get("peak") or 0), list(reply.get("warnings", [])))
    import tracemalloc
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tracemalloc.start()
        try:
            result = fn(*args, **kwargs)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    shown = [f"{w.category.__name__}: {w.message}" for w in caught[:5]]
    return result, Instrumented(peak, shown)
