"""How a worker process starts: from which folder, as whom, with what environment and limits.

One `Scratch` folder per grading run holds a copy of the worker's own code (`worker.py`,
`wire.py`, `confine.py`, `forkserver.py`: all the worker may import besides the standard
library, NumPy and the submission) and a `tmp/` folder, the only place student code may
write.  `Limits` says what the sandbox allows; the worker applies them to itself before any
student code runs (`confine.apply`).  With a sandbox `user` (Gradescope, nbgrader run as
root) the worker runs as that unprivileged user, `preflight` proves beforehand that it can run
Python and read the submission but not the grader, the expected values or the results, and
`kill_processes_of` ends every process of the user after each exercise (a process group is
not enough: `setsid` leaves it).
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKER_FILES = ("worker.py", "wire.py", "confine.py", "forkserver.py")
PACKAGE = "submission"  # the name student files are imported under, whatever their folder's
GiB = 1 << 30
FILE_BYTES = 64 << 20  # printing or writing beyond this fails with "File too large"


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot be set up as asked; grading must not go on without it."""


@dataclass(frozen=True)
class Limits:
    """What student code is allowed; one per grading run."""

    user: str | None = None  # run as this unprivileged user (needs root)
    memory_bytes: int = 4 * GiB  # address space of a worker (RLIMIT_AS)
    cpu_seconds: int = 300  # CPU time of a worker (one exercise); each call also has its own
    processes: int = 64  # processes and threads of the sandbox user (only with `user`)
    landlock: bool = True  # confine file, network and signal access where the kernel can
    private: tuple[str, ...] = field(default=())  # paths student code must not read or write

    @property
    def at_stakes(self) -> bool:
        """Grades count (a sandbox user, or private paths to protect): prove it first."""
        return bool(self.user or self.private)


class Scratch:
    """A grading run's folder: the worker's code (read-only for it) and a writable `tmp/`."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.uid = self.gid = None
        if limits.user:
            entry = _user(limits.user)
            self.uid, self.gid = entry.pw_uid, entry.pw_gid
        self.root = Path(tempfile.mkdtemp(prefix="course-grading-"))
        self.code = self.root / "worker"
        self.tmp = self.root / "tmp"
        self.code.mkdir()
        for name in WORKER_FILES:
            shutil.copyfile(HERE / name, self.code / name)
            (self.code / name).chmod(0o644)
        self.tmp.mkdir()
        # Anyone may add entries; only their owner may rename or remove them (sticky bit), so
        # student code cannot swap a folder the grader made for one of its own.
        self.tmp.chmod(0o1777)
        self.code.chmod(0o755)
        self.root.chmod(0o755 if self.uid is not None else 0o700)
        self._dirs = 0

    def worker_config(self, target: Path, names: dict[str, str]) -> dict:
        limits = self.limits
        return {
            "target": str(target), "package": PACKAGE, "names": names,
            "confine": {
                "memory_bytes": limits.memory_bytes, "cpu_seconds": limits.cpu_seconds,
                "processes": limits.processes if self.uid is not None else None,
                "file_bytes": FILE_BYTES, "landlock": limits.landlock,
                "read_only": [str(self.code), str(target)], "read_write": [str(self.tmp)],
                "private": list(limits.private),
            },
        }

    def command(self, *args: str) -> list[str]:
        """`worker.py ARGS`, or with `--fork-server` first, `forkserver.py ARGS`."""
        script = "worker.py"
        if args and args[0] == "--fork-server":
            script, args = "forkserver.py", args[1:]
        # -I: no environment variables, user site or current folder on sys.path;
        # -B: no bytecode written next to the student's files.
        return [sys.executable, "-I", "-B", str(self.code / script), *args]

    def env(self) -> dict[str, str]:
        """A minimal environment: nothing of the grader's leaks into student code."""
        return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
                "TMPDIR": str(self.tmp),
                # Tiny arrays: BLAS threads only cost start-up time and fight for cores.
                "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

    def popen_kwargs(self) -> dict:
        kwargs = {"env": self.env(), "cwd": str(self.code), "stdin": subprocess.DEVNULL,
                  "start_new_session": True}  # so a kill takes what the student started
        if self.uid is not None:  # its own group only: no supplementary groups of root
            kwargs.update(user=self.uid, group=self.gid, extra_groups=[])
        return kwargs

    def new_dir(self, prefix: str) -> Path:
        """An empty folder student code may write into (for checks that save files)."""
        self._dirs += 1
        path = Path(tempfile.mkdtemp(prefix=f"{prefix}{self._dirs}-", dir=self.tmp))
        path.chmod(0o777)
        return path

    def clean_up(self) -> None:
        """End what the sandbox user still runs, then remove the folder."""
        if self.uid is not None:
            kill_processes_of(self.uid)
        shutil.rmtree(self.root, ignore_errors=True)


def _user(name: str) -> pwd.struct_passwd:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise SandboxUnavailable(f"the sandbox user {name!r} does not exist (the Gradescope "
                                 "setup.sh creates it)") from None
    if entry.pw_uid == 0:
        raise SandboxUnavailable(f"the sandbox user {name!r} is root")
    if os.geteuid() != 0:
        raise SandboxUnavailable(f"only root can run student code as {name!r}")
    return entry


# -- processes left behind ---------------------------------------------------------------------
def _live_processes(match) -> list[int]:
    """Live (not zombie) processes whose /proc status fields satisfy `match(fields)`."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status") as f:
                status = f.read()
        except OSError:
            continue  # already gone
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("State", "").strip().startswith(("Z", "X")):
            continue  # dead, waiting to be reaped
        if match(fields):
            found.append(int(entry.name))
    return found


def processes_of(uid: int) -> list[int]:
    """Live processes whose real, effective, saved or filesystem uid is `uid` (Linux /proc)."""
    return _live_processes(lambda fields: str(uid) in fields.get("Uid", "").split())


def _kill_until_none(find, keep: frozenset[int], rounds: int = 200) -> list[int]:
    """SIGKILL what `find()` returns (but `keep`) until it returns nothing; forks made in the
    meantime are caught by the next round.  Returns every pid killed."""
    killed: list[int] = []
    for _ in range(rounds):
        pids = [pid for pid in find() if pid not in keep]
        if not pids:
            return killed
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.002)
    raise SandboxUnavailable("processes started by student code keep appearing; grading "
                             "stopped")


def kill_processes_of(uid: int, keep: frozenset[int] = frozenset()) -> None:
    """End every process of the sandbox user but `keep` (the process limit bounds how many)."""
    _kill_until_none(lambda: processes_of(uid), keep)


# Without a sandbox user, the grader adopts what its workers leave behind: as a "child
# subreaper" (Linux), orphaned descendants become its children instead of init's, and it ends
# every child it did not start itself.  Only a process that starts no other children of its
# own (the `python -m grader` command) may turn this on.
_PR_SET_CHILD_SUBREAPER, _PR_GET_CHILD_SUBREAPER = 36, 37


def become_subreaper() -> bool:
    """Adopt orphaned descendants from now on; False where the system cannot."""
    if sys.platform != "linux":
        return False
    import ctypes

    return ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def is_subreaper() -> bool:
    if sys.platform != "linux":
        return False
    import ctypes

    flag = ctypes.c_int(0)
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(flag), 0, 0, 0) == 0 and bool(
        flag.value)


def kill_adopted(keep: frozenset[int]) -> None:
    """End every child of this process but `keep` (its own workers), and reap them."""
    me = str(os.getpid())
    killed = _kill_until_none(
        lambda: _live_processes(lambda fields: fields.get("PPid", "").strip() == me), keep)
    for pid in killed:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


# -- the check before grading at stakes -------------------------------------------------------
def preflight(scratch: Scratch, target: Path, names: dict[str, str]) -> dict:
    """Start a probe exactly as a worker starts; raise `SandboxUnavailable` unless it can run
    Python and NumPy and read the submission, and can neither read nor write any private
    path.  With a sandbox user the probe proves the user's file permissions alone, without
    Landlock, which the workers add where the kernel has it.  Returns what the probe saw."""
    private = []
    for path in scratch.limits.private:
        private.append(path)
        if os.path.isdir(path):  # one file inside, too: a folder may be listable by mistake
            for folder, _dirs, files in os.walk(path):
                if files:
                    private.append(os.path.join(folder, files[0]))
                    break
    config = scratch.worker_config(target, names)
    config["probe"] = private
    if scratch.uid is not None:  # prove the user's permissions alone (Landlock adds to them)
        config["confine"]["landlock"] = False
    command = scratch.command("--probe", json.dumps(config))
    who = f"the sandbox user {scratch.limits.user!r}" if scratch.uid is not None else "a worker"
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60,
                              **scratch.popen_kwargs())
    except (OSError, subprocess.SubprocessError) as exc:
        raise SandboxUnavailable(f"{who} cannot start {sys.executable}: {exc}") from None
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise SandboxUnavailable(f"{who} cannot run {sys.executable} with NumPy and the "
                                 f"worker in {scratch.code}: {why}")
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    problems = []
    if not seen["target_readable"]:
        problems.append(f"{who} cannot read the submission in {target}")
    problems += [f"{who} can {how} {path}" for path, how in seen["private_reachable"]]
    if seen.get("limits_refused"):
        problems.append(f"the system refused these resource limits: "
                        f"{', '.join(seen['limits_refused'])}")
    if problems:
        raise SandboxUnavailable("; ".join(problems))
    return seen
