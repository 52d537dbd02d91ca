"""The grader's side of the fork server (`forkserver.py`): workers without a Python start-up.

`ForkServer` starts the server as a worker would be started (`Scratch.command`, same user,
environment and folder) and asks it for workers; `ForkedProcess` stands for one of them where
a `subprocess.Popen` would (`pid`, `wait`, `returncode`).  Only the server, the worker's
parent, learns how a worker ended: it says so on the socket, and the answers are kept here.

The server runs no student code, and each worker confines itself in a Landlock domain of its
own, which cannot signal or trace the server; where there is no Landlock, a worker could
(as the same user) kill or, if the system's ptrace policy allows, take over the server.  What
the server says is therefore checked where it matters: a worker's pid must be a child of the
server's, so the grader never kills a process the server merely names.
"""

from __future__ import annotations

import select
import socket
import subprocess
import tempfile
import time

from .launch import Scratch

START_SECONDS = 60  # the server's start-up (NumPy's import) on a loaded machine, and more


class ForkServerGone(OSError):
    """The server is not running, or said something it should not have."""


class ForkServer:
    def __init__(self, scratch: Scratch, config: str):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._sock = ours
        self._log = tempfile.TemporaryFile()  # its own errors, should it fail to start
        try:
            self.proc = subprocess.Popen(
                scratch.command("--fork-server", str(theirs.fileno()), config),
                pass_fds=(theirs.fileno(),), stdout=subprocess.DEVNULL, stderr=self._log,
                **scratch.popen_kwargs())
        finally:
            theirs.close()
        self._ready = False
        self.exits: dict[int, int] = {}  # pid -> returncode, as the server reported them

    @property
    def pid(self) -> int:
        return self.proc.pid

    def spawn(self, fds: tuple[int, int, int]) -> ForkedProcess:
        """A new worker on (request read end, response write end, output file)."""
        deadline = time.monotonic() + START_SECONDS
        if not self._ready:
            if self._next(deadline, skip_exits=True) != b"ready":
                raise self._gone("did not start")
            self._ready = True
        try:
            socket.send_fds(self._sock, [b"spawn"], list(fds))
        except OSError:
            raise self._gone("stopped") from None
        answer = self._next(deadline, skip_exits=True)
        if not answer.startswith(b"pid "):
            raise self._gone(f"answered {answer[:40]!r}")
        pid = int(answer.split()[1])
        parent = _parent_of(pid)  # None: it has ended already
        if parent is not None and parent != self.proc.pid:
            raise self._gone(f"named pid {pid}, which is not its child")
        return ForkedProcess(pid, self)

    def returncode(self, pid: int, timeout: float | None) -> int | None:
        """How `pid` ended, waiting up to `timeout` seconds (None: as long as it takes)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while pid not in self.exits:
            if self._sock.fileno() < 0:
                return self._orphan_end(pid, deadline)
            try:
                self._next(deadline)
            except ForkServerGone:
                return self._orphan_end(pid, deadline)
            if deadline is not None and time.monotonic() >= deadline and pid not in self.exits:
                return None
        return self.exits[pid]

    def _orphan_end(self, pid: int, deadline: float | None) -> int | None:
        """The server is gone: how its worker ended cannot be learned, only that it did
        (reported as killed, which it was, or will be)."""
        while _alive(pid):
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(0.005)
        return self.exits.setdefault(pid, -9)

    def _next(self, deadline: float | None, skip_exits: bool = False) -> bytes:
        """The next message (b"" if none came before the deadline); reports of an exit are
        recorded in `exits` (and with `skip_exits`, not returned)."""
        while True:
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0)
            if not select.select([self._sock], [], [], remaining)[0]:
                return b""
            try:
                message = self._sock.recv(256)
            except OSError:
                message = b""
            if not message:
                raise self._gone("stopped")
            if message.startswith(b"exit "):
                _, pid, code = message.split()
                self.exits[int(pid)] = int(code)
                if skip_exits:
                    continue
            return message

    def _gone(self, how: str) -> ForkServerGone:
        self._log.seek(0)
        said = self._log.read()[-2000:].decode("utf-8", "replace").strip()
        return ForkServerGone(f"the fork server {how}" + (f": {said}" if said else ""))

    def close(self) -> None:
        """Hang up (the server exits), then make sure it has."""
        self._sock.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


class ForkedProcess:
    """A worker forked by the server, in place of a `subprocess.Popen`."""

    def __init__(self, pid: int, server: ForkServer):
        self.pid, self._server = pid, server
        self.returncode: int | None = None

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = self._server.returncode(self.pid, timeout)
            if self.returncode is None:
                raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout)
        return self.returncode


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("PPid:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return False
