"""Run one task per item, each in its own process, `jobs` at a time, each with a time limit.

Every item (a student) gets a fresh process, so a crash, a hang or a leak costs that item
only: a process past its time limit is killed, and whatever it had started (sandbox workers
run in sessions of their own) is adopted by this process as a "child subreaper" and killed
too.  Where the system can `fork`, the processes are forked from this one: the grader, NumPy
and pytest are imported once instead of once per student (about 0.4 s of CPU each, a
fifth of grading a Module 1 submission).  Elsewhere they are spawned.

This process must start no threads before `run` (a forked child inherits none of them, and
the locks they held stay locked).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait

from ..sandbox.launch import become_subreaper, is_subreaper, kill_adopted

TICK = 0.5  # seconds between checks of the time limits (and redraws of the progress line)
GRACE = 5.0  # seconds an interrupted process has to clean up after itself


@dataclass(frozen=True)
class Outcome:
    item: str
    exitcode: int | None  # None: killed after the time limit
    seconds: float

    @property
    def timed_out(self) -> bool:
        return self.exitcode is None


def context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def run(items: Sequence[str], task: Callable[..., int], args: tuple, jobs: int,
        time_limit: float, on_done: Callable[[Outcome], None] | None = None,
        on_tick: Callable[[], None] | None = None) -> list[Outcome]:
    """`task(item, slot, *args)` for every item, in its own process, at most `jobs` at once;
    `slot` (0 to jobs - 1) is held by one process at a time, so that what each needs for
    itself alone (a sandbox user) can be chosen by it.  The task's return value is the
    process's exit code.  Returns the outcomes in `items` order."""
    ctx = context()
    adopting = is_subreaper() or become_subreaper()
    pending = list(items)
    free_slots = list(range(jobs))
    running: dict[int, tuple[str, multiprocessing.process.BaseProcess, float]] = {}
    slots: dict[int, int] = {}  # sentinel -> slot
    outcomes: dict[str, Outcome] = {}

    def finished(sentinel: int, exitcode: int | None) -> None:
        item, proc, started = running.pop(sentinel)
        proc.join()
        proc.close()
        free_slots.append(slots.pop(sentinel))
        outcome = Outcome(item, exitcode, time.monotonic() - started)
        outcomes[item] = outcome
        if on_done:
            on_done(outcome)

    try:
        while pending or running:
            while pending and free_slots:
                item, slot = pending.pop(0), free_slots.pop(0)
                proc = ctx.Process(target=_exit_with, args=(task, item, slot, *args),
                                   name=f"grade {item}", daemon=False)
                proc.start()
                running[proc.sentinel] = (item, proc, time.monotonic())
                slots[proc.sentinel] = slot
            ended = wait(list(running), timeout=TICK)
            for sentinel in ended:
                proc = running[sentinel][1]
                proc.join()
                finished(sentinel, proc.exitcode)
            now = time.monotonic()
            for sentinel, (_item, proc, started) in list(running.items()):
                if now - started > time_limit:
                    proc.kill()
                    finished(sentinel, None)
                    ended.append(sentinel)
            if ended and adopting:  # what a finished or killed process left behind
                kill_adopted(frozenset(p.pid for _, p, _ in running.values()))
            if on_tick:
                on_tick()
    finally:
        if running:  # interrupted: leave nothing behind
            processes = [proc for _, proc, _ in running.values()]
            stop_gently(processes, lambda proc: proc.is_alive())
            for proc in processes:
                proc.join()
        if adopting:
            kill_adopted(frozenset())
    return [outcomes[item] for item in items]


def stop_gently(processes: list, alive: Callable[[object], bool]) -> None:
    """Stop `processes` (anything with a `pid`) so that each may remove its temporary files:
    a moment to end on its own (from a terminal, Ctrl-C interrupted it too), then an
    interrupt and `GRACE` seconds, then a kill.  Callers still reap them."""
    for signum, grace in ((None, 1.0), (signal.SIGINT, GRACE), (signal.SIGKILL, 0.0)):
        live = [proc for proc in processes if alive(proc)]
        for proc in live if signum else []:
            try:
                os.kill(proc.pid, signum)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while live and time.monotonic() < deadline:
            time.sleep(0.05)
            live = [proc for proc in live if alive(proc)]
        if not live:
            return


def _exit_with(task: Callable[..., int], item: str, slot: int, *args) -> None:
    """The child's body: the task's result becomes the exit code (1 if it raised)."""
    code = 1
    try:
        code = int(task(item, slot, *args) or 0)
    except BaseException:  # noqa: BLE001 — said in the item's log, and in its exit code
        traceback.print_exc()
    finally:
        # Flush what was printed, then leave without running the parent's exit handlers
        # (a forked child inherits them: they would clean up the parent's folders).
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
