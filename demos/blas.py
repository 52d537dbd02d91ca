"""How many threads NumPy's BLAS library uses, and a way to use just one."""

import os
import subprocess
import sys

# The thread counts of the BLAS libraries NumPy may use, read once, when NumPy is imported.
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                         "VECLIB_MAXIMUM_THREADS")


def blas_threads():
    """The BLAS thread variables that are set, e.g. ``"OPENBLAS_NUM_THREADS=1, ..."``."""
    found = [f"{name}={os.environ[name]}" for name in BLAS_THREAD_VARIABLES if name in os.environ]
    return ", ".join(found) or "not set (the BLAS library's default)"


def rerun_with_one_blas_thread():
    """Run this command again with one BLAS thread, unless one of the variables is set.

    The demo's matrices are small (a few hundred rows): a second BLAS thread gains little on
    an idle machine, and on a busy one (a browser, a test suite) threads that wait for each
    other made training 4-20 times slower in our measurements (lecture, §13.6).
    NumPy's BLAS reads its thread count when NumPy is imported, which has happened by now,
    hence the new process. Set e.g. ``OPENBLAS_NUM_THREADS=2`` to choose for yourself.
    Returns None when nothing was done, else the new process's exit code (on POSIX the
    process is replaced instead).
    """
    if any(name in os.environ for name in BLAS_THREAD_VARIABLES):
        return None
    env = {**os.environ, **dict.fromkeys(BLAS_THREAD_VARIABLES, "1")}
    command = [sys.executable, *sys.orig_argv[1:]]  # keeps interpreter options (-W ...)
    sys.stdout.flush()
    if os.name == "posix":
        os.execve(sys.executable, command, env)  # does not return
    try:
        return subprocess.call(command, env=env)
    except KeyboardInterrupt:
        return 130
