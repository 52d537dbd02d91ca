"""The grader's handle on one worker process, and the pool that starts them ahead of time.

A `Worker` talks to its process over two pipes with deadlines: whatever the student's code
does, a request either returns an answer of bounded size (`MAX_REPLY_BYTES`) or ends in a
`StudentTimeout` / `StudentCrash`.  What the code prints goes to a file, read back per check
(its start and end when long, control characters removed).
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

from ..text import clean
from . import wire
from .forking import ForkServer, ForkServerGone
from .launch import (
    Limits,
    SandboxUnavailable,
    Scratch,
    is_subreaper,
    kill_adopted,
    kill_processes_of,
)

MAX_REPLY_BYTES = 64 << 20  # a bigger answer is refused: the grader's memory stays bounded
OUTPUT_HEAD, OUTPUT_TAIL = 400, 1100  # bytes of printed output kept per check: start and end
_SIGNALS = {  # what a signal that ended the worker most likely means
    "SIGXCPU": "used more CPU time than the time limit allows",
    "SIGSEGV": "crashed (a segmentation fault)",
}


class StudentError(Exception):
    """The student's code raised; carries the exception type, message and their traceback."""

    def __init__(self, type_name: str, message: str, traceback: str = ""):
        type_name, message = clean(type_name, 100), clean(message, 2000)
        super().__init__(f"{type_name}: {message}")
        self.type_name, self.message, self.traceback = type_name, message, clean(traceback, 3000)


class StudentNotImplemented(StudentError):
    """The stub's `raise NotImplementedError(...)` is still there."""


class StudentCrash(StudentError):
    """The worker process died (os._exit, a segfault, the memory limit...)."""


class StudentTimeout(StudentError):
    """The student's code did not answer in time; the worker was killed."""


class Worker:
    """One sandbox process.  Started at construction; talks once its `ready` arrives."""

    def __init__(self, scratch: Scratch, config: str, server: ForkServer | None = None):
        """A new process, started by `scratch`'s command, or forked by `server`."""
        request_r, self._request_w = os.pipe()
        self._response_r, response_w = os.pipe()
        self._output = tempfile.TemporaryFile()
        self._output_read = 0
        self._unread = ""  # output of a process that is gone, not yet taken
        try:
            if server is not None:
                self.proc = server.spawn((request_r, response_w, self._output.fileno()))
            else:
                self.proc = subprocess.Popen(
                    scratch.command(str(request_r), str(response_w), config),
                    pass_fds=(request_r, response_w), stdout=self._output,
                    stderr=subprocess.STDOUT, **scratch.popen_kwargs(),
                )
        except BaseException:
            for fd in (self._request_w, self._response_r):
                os.close(fd)
            self._output.close()
            raise
        finally:
            os.close(request_r)
            os.close(response_w)
        self.ready: dict | None = None  # the worker's start-up message: what it confined
        self.dead = False

    def request(self, message: bytes, deadline: float) -> bytes:
        self.wait_ready(deadline)
        self._send(message, deadline)
        return self._receive(deadline)

    def wait_ready(self, deadline: float) -> None:
        """Wait for the worker's start-up message (NumPy imported, confined)."""
        if self.dead:
            raise StudentCrash("WorkerDead", "the sandbox process is no longer running")
        if self.ready is None:
            ready, _ = wire.decode(self._receive(deadline))
            self.ready = ready if isinstance(ready, dict) else {}

    def _send(self, message: bytes, deadline: float) -> None:
        data = memoryview(len(message).to_bytes(8, "little") + message)
        while data:
            self._wait(self._request_w, deadline, for_write=True)
            try:
                written = os.write(self._request_w, data[: 1 << 16])
            except OSError:
                self._died()
            data = data[written:]

    def _receive(self, deadline: float) -> bytearray:
        try:
            return wire.recv(self._response_r, wait=lambda fd: self._wait(fd, deadline),
                             limit=MAX_REPLY_BYTES)
        except EOFError:
            self._died()
        except wire.WireError as exc:
            self.kill()
            raise StudentCrash("ProtocolError",
                               f"the sandbox sent an answer the grader refused ({exc})") from None

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
            name = signal.Signals(-code).name
            how = f"was killed by signal {name}" + (f": it {_SIGNALS[name]}" if name in _SIGNALS
                                                    else "")
        else:
            how = f"exited with code {code} (os._exit or a crash of the interpreter?)"
        raise StudentCrash("Crash", f"the process running your code {how}")

    def take_output(self) -> str:
        """What the student's code printed since the last call (its end, cleaned)."""
        text, self._unread = self._unread + self._read_output(), ""
        return text

    def _read_output(self) -> str:
        """New output: all of it, or its start and its end when it is long."""
        if self._output.closed:
            return ""
        try:
            size = os.fstat(self._output.fileno()).st_size
            new = size - self._output_read
            self._output.seek(self._output_read)
            if new <= OUTPUT_HEAD + OUTPUT_TAIL:
                data = self._output.read(new)
            else:
                head = self._output.read(OUTPUT_HEAD)
                self._output.seek(size - OUTPUT_TAIL)
                cut = f"\n... ({new - OUTPUT_HEAD - OUTPUT_TAIL} bytes not shown) ...\n"
                data = head + cut.encode() + self._output.read(OUTPUT_TAIL)
        except (OSError, ValueError):
            return ""
        self._output_read = size
        return clean(data.decode("utf-8", "replace"))

    def kill(self) -> None:
        if self.dead:
            return
        self.dead = True
        # The group takes what the student's code started; the process itself, in case a
        # forked worker is killed before it made its own group (its first step).
        for kill in (os.killpg, os.kill):
            try:
                kill(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.proc.wait()
        self._unread += self._read_output()  # what it printed before it hung or died
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


class WorkerPool:
    """Hands out fresh workers, one per exercise.  Where the system can fork, a fork server
    (`forking.py`) started with the pool makes them: Python and NumPy start once per grading
    run, not once per exercise.  Elsewhere each worker is a new interpreter, started ahead
    (`SPARES` of them, from the moment the pool exists) so that its start-up overlaps the
    grading of the exercise before; forked workers are kept ahead as well.

    Owns the grading run's `Scratch` folder; `close()` ends every worker and removes it.
    """

    SPARES = 2  # enough that short exercises never wait for the next worker on two cores
    FORK = sys.platform == "linux"  # else a new interpreter per worker (tested either way)

    def __init__(self, target: Path, names: dict[str, str], limits: Limits | None = None):
        self.scratch = Scratch(limits or Limits())
        self.target = Path(target).resolve()
        self.names = names
        self._config = json.dumps(self.scratch.worker_config(self.target, names))
        self._live: dict[int, Worker] = {}
        self._server: ForkServer | None = None
        self._restarts = 0
        if self.FORK:
            self._server = self._start_server()
            self._spares: list[Worker] = []  # the server's start-up is the slow part
        else:
            self._spares = [self._start()]

    def take(self) -> Worker:
        worker = self._spares.pop(0) if self._spares else self._start()
        while len(self._spares) < self.SPARES:
            self._spares.append(self._start())
        return worker

    def _start(self) -> Worker:
        try:
            while True:
                try:
                    worker = Worker(self.scratch, self._config, self._server)
                    break
                except ForkServerGone:
                    self._replace_server()
        except OSError as exc:  # the interpreter cannot be run (as the sandbox user)
            self.close()
            who = (f"the sandbox user {self.scratch.limits.user!r}" if self.scratch.uid
                   is not None else "this user")
            raise SandboxUnavailable(f"{who} cannot start {sys.executable}: {exc}") from None
        self._live[worker.proc.pid] = worker
        return worker

    def _start_server(self) -> ForkServer:
        try:
            return ForkServer(self.scratch, self._config)
        except OSError as exc:
            self.close()
            who = (f"the sandbox user {self.scratch.limits.user!r}" if self.scratch.uid
                   is not None else "this user")
            raise SandboxUnavailable(f"{who} cannot start {sys.executable}: {exc}") from None

    def _replace_server(self) -> None:
        """The server stopped (student code can end it where Landlock cannot stop that):
        start another; after the third, start every worker as a new interpreter."""
        self._server.close()
        self._restarts += 1
        self._server = self._start_server() if self._restarts < 3 else None

    def release(self, worker: Worker) -> None:
        """Kill `worker` and whatever it left running (a process started with `setsid` has
        left the worker's group): every process of the sandbox user, or, without one, every
        orphan this process adopted as a subreaper; the other live workers stay."""
        worker.kill()
        self._live.pop(worker.proc.pid, None)
        # The spares (started before this worker's code ran) and the fork server.
        keep = frozenset(self._live) | ({self._server.pid} if self._server else set())
        if self.scratch.uid is not None:
            kill_processes_of(self.scratch.uid, keep)
        elif is_subreaper():
            kill_adopted(keep)

    def close(self) -> None:
        self._spares = []
        for worker in list(self._live.values()):
            self.release(worker)
        if self._server is not None:
            self._server.close()
            self._server = None
        self.scratch.clean_up()
