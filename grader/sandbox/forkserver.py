"""A clean template of a worker, forked once per exercise: Python and NumPy start only once.

Started by `process.ForkServer` as `python -I -B forkserver.py SOCKET_FD CONFIG_JSON`, exactly
as a worker is started (same user, folder, environment), from the grading run's scratch copy.
It imports `worker.py` (and so NumPy), runs no student code, and waits on its socket.  For
each `spawn` message, which carries three file descriptors (the worker's request pipe, its
response pipe and the file its output goes to), it forks a child that

1. starts a session of its own (the grader kills the worker's process group);
2. keeps only those three descriptors (the server's socket and anything else are closed);
3. becomes a worker: confines itself (`confine.apply`, a Landlock domain of its own, so it
   can neither signal nor trace this server or the other workers) before it loads any
   student code, then answers requests (`worker.serve`).

The server answers `pid N` and, whenever a child ends, says `exit N CODE` (CODE as
`subprocess.Popen.returncode`: the exit status, or minus the signal that ended it), since only
a parent can learn how its child ended.  When the grader hangs up, the server exits.

A fork takes about a millisecond where starting Python and importing NumPy takes a tenth of a
second of CPU: that was most of the CPU a grading used.
"""

from __future__ import annotations

import importlib.util
import json
import os
import select
import signal
import socket
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("_grader_worker", _HERE / "worker.py")
worker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(worker)  # NumPy and the worker's code, imported once

SPAWN_FDS = 3  # request pipe (read end), response pipe (write end), output file


def child(fds: list[int], config: dict) -> None:
    """In the forked child: become a worker on `fds`; never returns."""
    code = 1
    try:
        os.setsid()
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        request_fd, response_fd, output_fd = fds
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        _close_all_but({0, 1, 2, request_fd, response_fd})
        worker.np.random.seed()  # the legacy global generator: not the same in every child
        worker.serve(request_fd, response_fd, config)
        code = 0
    except BaseException:  # noqa: BLE001 — said in the output; the grader sees the exit code
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        os._exit(code)


def _close_all_but(keep: set[int]) -> None:
    start = 0
    for fd in sorted(keep):
        if fd > start:
            os.closerange(start, fd)
        start = fd + 1
    os.closerange(start, os.sysconf("SC_OPEN_MAX"))


def _report_exits(sock: socket.socket) -> None:
    """Reap every ended child and tell the grader how each ended."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        sock.send(f"exit {pid} {os.waitstatus_to_exitcode(status)}".encode())


def main(argv: list[str]) -> None:
    sock = socket.socket(fileno=int(argv[1]))
    config = json.loads(argv[2])
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # the wakeup byte is what matters
    sock.send(b"ready")
    while True:
        readable, _, _ = select.select([sock, wake_r], [], [])
        if wake_r in readable:
            os.read(wake_r, 4096)
            _report_exits(sock)
        if sock not in readable:
            continue
        message, fds, _flags, _addr = socket.recv_fds(sock, 64, SPAWN_FDS)
        if not message:  # the grader hung up
            return
        if message != b"spawn" or len(fds) != SPAWN_FDS:
            for fd in fds:
                os.close(fd)
            sock.send(b"error bad request")
            continue
        pid = os.fork()
        if pid == 0:
            sock.close()
            child(fds, config)
        for fd in fds:
            os.close(fd)
        sock.send(f"pid {pid}".encode())
        _report_exits(sock)


if __name__ == "__main__":
    main(sys.argv)
