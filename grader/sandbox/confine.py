"""Limits the worker puts on itself before any student code runs (standard library only).

The worker loads this file by path, like `wire.py`, and calls `apply` once at start-up:

- resource limits: address space, CPU seconds, processes (only for a dedicated sandbox user:
  the limit counts every process of the user), no core files, and a cap on file size;
- Landlock (Linux 5.13+; no privileges needed): from then on the process and everything it
  starts may read only the Python installation, the system libraries, the worker's own files
  and the submission, may write only into its scratch folder, may not create symlinks, may not
  open TCP connections (ABI 4+), and may not signal or reach through abstract sockets any
  process outside its own sandbox, the grader and the other workers included (ABI 6+).

A restriction cannot be lifted by the process it binds.  Where Landlock is missing (another
kernel, macOS) `apply` says so in its return value and the other layers still hold.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys

try:
    import resource
except ImportError:  # not a POSIX system: no resource limits to set
    resource = None

# Landlock's system calls have the same numbers on every architecture that has them.
_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

# Filesystem rights, by the ABI version that introduced them.
_EXECUTE, _WRITE_FILE, _READ_FILE, _READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_REMOVE_DIR, _REMOVE_FILE, _MAKE_CHAR, _MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
_MAKE_REG, _MAKE_SOCK, _MAKE_FIFO, _MAKE_BLOCK, _MAKE_SYM = (1 << 8, 1 << 9, 1 << 10, 1 << 11,
                                                           1 << 12)
_REFER, _TRUNCATE, _IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1

_FILE_RIGHTS = _EXECUTE | _WRITE_FILE | _READ_FILE | _TRUNCATE | _IOCTL_DEV
_READ = _EXECUTE | _READ_FILE | _READ_DIR
_WRITE = (_READ | _WRITE_FILE | _REMOVE_DIR | _REMOVE_FILE | _MAKE_DIR | _MAKE_REG | _REFER
          | _TRUNCATE)  # no symlinks, devices, sockets or FIFOs

# Where shared libraries that an import may still load live (public system files).
SYSTEM_READ = ("/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/local/lib",
               "/etc/ld.so.cache", "/dev/urandom", "/dev/zero")
SYSTEM_WRITE = ("/dev/null",)


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def set_limits(memory_bytes: int | None, cpu_seconds: int | None, processes: int | None,
               file_bytes: int) -> list[str]:
    """Lower this process's resource limits (soft and hard: they cannot be raised again);
    returns the names of those the system refused."""
    if resource is None:
        return ["all (no resource module)"]
    wanted = [("CORE", 0), ("FSIZE", file_bytes), ("AS", memory_bytes), ("CPU", cpu_seconds),
              ("NPROC", processes)]
    refused = []
    for name, value in wanted:
        if value is None:
            continue
        which = getattr(resource, f"RLIMIT_{name}")
        try:
            _soft, hard = resource.getrlimit(which)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):  # e.g. RLIMIT_AS on macOS
            refused.append(name)
    return refused


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, or 0 where there is none."""
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "aarch64", "arm64",
                                                             "riscv64", "ppc64le", "s390x"):
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    version = libc.syscall(_CREATE_RULESET, None, ctypes.c_size_t(0),
                           ctypes.c_uint32(_CREATE_RULESET_VERSION))
    return max(int(version), 0)


def landlock(read_only: list[str], read_write: list[str]) -> int:
    """Restrict this process and its future children; returns the ABI used (0: unavailable)."""
    abi = landlock_abi()
    if abi == 0:
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    handled_fs = _FS_BY_ABI[max(v for v in _FS_BY_ABI if v <= abi)]
    attr = _RulesetAttr(handled_fs, _NET_BIND_TCP | _NET_CONNECT_TCP if abi >= 4 else 0,
                        _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL if abi >= 6 else 0)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    ruleset = libc.syscall(_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size),
                           ctypes.c_uint32(0))
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        for paths, rights in ((read_only, _READ), (read_write, _WRITE)):
            for path in paths:
                _allow(libc, ruleset, path, rights & handled_fs)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if libc.syscall(_RESTRICT_SELF, ruleset, ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)
    return abi


def _allow(libc, ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # not on this machine: nothing to allow
    try:
        if not os.path.isdir(path):
            rights &= _FILE_RIGHTS
        rule = _PathBeneathAttr(rights, fd)
        if libc.syscall(_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule),
                        ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
    finally:
        os.close(fd)


def python_paths(private: list[str]) -> list[str]:
    """The interpreter's own folders (standard library, installed packages), leaving out any
    that holds a `private` path (an editable install of the course, say)."""
    found = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             os.path.dirname(os.path.realpath(sys.executable))}
    found.update(p for p in sys.path if p and os.path.isdir(p))
    found = {os.path.realpath(p) for p in found}
    hidden = [os.path.realpath(p) for p in private]
    return sorted(p for p in found
                  if not any(h == p or h.startswith(p.rstrip("/") + "/") for h in hidden))


def apply(config: dict) -> dict:
    """Everything above, as the grader asked for it in `config`; returns what was applied."""
    refused = set_limits(config.get("memory_bytes"), config.get("cpu_seconds"),
                         config.get("processes"), int(config["file_bytes"]))
    abi = 0
    if config.get("landlock", True):
        read_only = (python_paths(list(config.get("private", ()))) + list(SYSTEM_READ)
                     + list(config["read_only"]))
        abi = landlock(read_only, list(SYSTEM_WRITE) + list(config["read_write"]))
    return {"landlock": abi, "limits_refused": refused}


def cpu_budget(seconds: float) -> None:
    """Allow `seconds` more CPU time from now (within the hard limit); SIGXCPU after that."""
    if resource is None:
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(usage.ru_utime + usage.ru_stime + seconds) + 2
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
