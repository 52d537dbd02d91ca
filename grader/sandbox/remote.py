"""The grader's side of the sandbox: a stand-in for the student's module.

`RemoteImplementation` looks like a module (`impl.softmax(x)`), but every call is sent to a
worker process (`worker.py`) that runs the student's code, and only data comes back.  Arrays
the student modified in place are copied back into the caller's arrays, generators advance
as they would locally, and objects that cannot travel (a model, a config) come back as
`RemoteObject`s whose attributes and methods are again remote.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from . import wire

WORKER_SCRIPT = Path(__file__).resolve().parent / "worker.py"
DEFAULT_CALL_TIMEOUT = 10.0
OUTPUT_SHOWN = 1500  # characters of the student's printed output quoted in a report


class StudentError(Exception):
    """The student's code raised; carries the exception type, message and their traceback."""

    def __init__(self, type_name: str, message: str, traceback: str = ""):
        super().__init__(f"{type_name}: {message}")
        self.type_name, self.message, self.traceback = type_name, message, traceback


class StudentNotImplemented(StudentError):
    """The stub's `raise NotImplementedError(...)` is still there."""


class StudentCrash(StudentError):
    """The worker process died (os._exit, a segfault, the memory limit...)."""


class StudentTimeout(StudentError):
    """The student's code did not answer in time; the worker was killed."""


class Worker:
    """One sandbox process.  Started at construction; talks once its `ready` arrives."""

    def __init__(self, target: Path, package: str, names: dict[str, str],
                 user: str | None = None):
        request_r, self._request_w = os.pipe()
        self._response_r, response_w = os.pipe()
        self._output = tempfile.TemporaryFile()
        env = dict(os.environ)
        # Tiny arrays: BLAS threads only cost start-up time and fight the grader for cores.
        env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.proc = subprocess.Popen(
            [
                sys.executable, "-I", str(WORKER_SCRIPT), str(request_r), str(response_w),
                str(target), package, json.dumps(names),
            ],
            pass_fds=(request_r, response_w),
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # so kill() takes any children the student started
            # As another, unprivileged user (Gradescope), student code can neither write the
            # results nor signal the grader.
            **_drop_privileges(user),
        )
        os.close(request_r)
        os.close(response_w)
        self._ready = False
        self.dead = False
        self._final_output: str | None = None

    def request(self, message: bytes, deadline: float) -> bytes:
        if self.dead:
            raise StudentCrash("WorkerDead", "the sandbox process is no longer running")
        self.wait_ready(deadline)
        self._send(message, deadline)
        return self._receive(deadline)

    def wait_ready(self, deadline: float) -> None:
        """Wait for the worker's start-up message (NumPy imported, limits set)."""
        if self.dead:
            raise StudentCrash("WorkerDead", "the sandbox process is no longer running")
        if not self._ready:
            self._receive(deadline)
            self._ready = True

    def _send(self, message: bytes, deadline: float) -> None:
        data = memoryview(len(message).to_bytes(8, "little") + message)
        while data:
            self._wait(self._request_w, deadline, for_write=True)
            try:
                written = os.write(self._request_w, data[: 1 << 16])
            except OSError:
                self._died()
            data = data[written:]

    def _receive(self, deadline: float) -> bytes:
        def read(fd: int, n: int) -> bytes:
            self._wait(fd, deadline)
            return os.read(fd, n)

        try:
            return wire.recv(self._response_r, deadline_read=read)
        except EOFError:
            self._died()
        except wire.WireError as exc:
            self.kill()
            raise StudentCrash("ProtocolError",
                               f"the sandbox sent an unreadable answer ({exc})") from None

    def _wait(self, fd: int, deadline: float, for_write: bool = False) -> None:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise StudentTimeout("Timeout", "your code did not finish in time")
            ready = select.select([], [fd], [], remaining) if for_write else select.select(
                [fd], [], [], remaining
            )
            if ready[0] or ready[1]:
                return

    def _died(self):
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        self.kill()
        if code is not None and code < 0:
            how = f"was killed by signal {signal.Signals(-code).name}"
        else:
            how = f"exited with code {code} (os._exit or a crash of the interpreter?)"
        raise StudentCrash("Crash", f"the process running your code {how}")

    def output_tail(self) -> str:
        """The end of what the student's code printed (stdout and stderr together)."""
        if self._final_output is not None:
            return self._final_output
        try:
            size = os.fstat(self._output.fileno()).st_size
            self._output.seek(max(0, size - OUTPUT_SHOWN))
            text = self._output.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""
        return ("..." if size > OUTPUT_SHOWN else "") + text

    def kill(self) -> None:
        if self.dead:
            return
        self.dead = True
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        self._final_output = self.output_tail()  # keep what it printed before it hung or died
        for fd in (self._request_w, self._response_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self._output.close()


    # -- peak memory, read from the kernel so the student's code cannot fake it ----------
    def reset_peak_memory(self) -> int | None:
        """Reset the worker's peak-RSS mark (Linux); returns its current RSS in bytes."""
        try:
            with open(f"/proc/{self.proc.pid}/clear_refs", "w") as f:
                f.write("5")
            return self._status_bytes("VmRSS:")
        except OSError:
            return None

    def peak_memory(self) -> int | None:
        try:
            return self._status_bytes("VmHWM:")
        except OSError:
            return None

    def _status_bytes(self, key: str) -> int:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
        raise OSError(f"no {key} in /proc/{self.proc.pid}/status")


def _drop_privileges(user: str | None) -> dict:
    """Popen arguments that start the worker as `user`, with its own group only."""
    if not user:
        return {}
    import pwd

    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


class WorkerPool:
    """Hands out fresh workers and starts the next one ahead, hiding interpreter start-up."""

    def __init__(self, target: Path, package: str, names: dict[str, str],
                 user: str | None = None):
        self._args = (Path(target).resolve(), package, names, user)
        self._spare: Worker | None = None

    def take(self) -> Worker:
        worker = self._spare or Worker(*self._args)
        self._spare = Worker(*self._args)
        return worker

    def close(self) -> None:
        if self._spare is not None:
            self._spare.kill()
            self._spare = None


class RemoteImplementation:
    """Module-like access to the student's functions, through a fresh sandbox process."""

    def __init__(self, pool: WorkerPool, timeout: float = DEFAULT_CALL_TIMEOUT):
        object.__setattr__(self, "_pool", pool)
        object.__setattr__(self, "_worker", None)
        object.__setattr__(self, "_cache", {})
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
    def worker(self) -> Worker:
        if self._worker is None or self._worker.dead:
            if self._worker is not None:
                self._cache.clear()  # handles died with the old process
            object.__setattr__(self, "_worker", self._pool.take())
        return self._worker

    def output(self) -> str:
        return self._worker.output_tail() if self._worker is not None else ""

    def close(self) -> None:
        if self._worker is not None:
            self._worker.kill()

    def _request(self, request: dict, instrument_out: list | None = None, pure: bool = False):
        worker = self.worker
        worker.wait_ready(self.deadline)  # start-up is not part of what a call measures
        baseline = worker.reset_peak_memory() if instrument_out is not None else None
        if baseline is not None:
            request["memory"] = False  # measured here, from /proc, not by the worker
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

    def __init__(self, impl: RemoteImplementation, worker: Worker, node: dict):
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


def _copy_back(original, new) -> None:
    """Reflect an in-place change made in the worker onto the caller's object."""
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
