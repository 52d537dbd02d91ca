"""A progress line for long runs: a bar, done/total, elapsed time and an estimate of the rest.

On a terminal the line is redrawn in place (at most 79 columns, so it never wraps on an
80-column terminal; coloured unless `NO_COLOR` is set).  Anywhere else (a log file, CI) a
plain line is printed now and then: at every tenth of the work, and every `PLAIN_EVERY`
seconds in between, so logs stay short.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from typing import TextIO

WIDTH = 79  # one column short of 80: a line of exactly the width wraps on some terminals
TIMES_WIDTH = len("elapsed 0:00  left ~0:00")
PLAIN_EVERY = 30.0  # seconds between plain lines, at most
GREEN, RESET = "\x1b[32m", "\x1b[0m"


def clock(seconds: float) -> str:
    """1:05, 12:00, 1:02:03."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Call `update(done)` as work finishes and `finish()` once at the end."""

    def __init__(self, total: int, label: str = "graded", stream: TextIO | None = None):
        self.total, self.label = total, label
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self.done = 0
        self.live = _is_terminal(self.stream)
        self.colour = self.live and not os.environ.get("NO_COLOR")
        self._last_plain = (-1, self.start)  # (tenths reached, when) of the last plain line
        if self.live:
            self._draw()

    def update(self, done: int) -> None:
        self.done = done
        if self.live:
            self._draw()
            return
        tenths = 10 * done // max(self.total, 1)
        now = time.monotonic()
        if done and (tenths > self._last_plain[0]
                     or now - self._last_plain[1] >= PLAIN_EVERY):
            self._last_plain = (tenths, now)
            print(self.text(plain=True), file=self.stream, flush=True)

    def tick(self) -> None:
        """Redraw (elapsed time and estimate move on while nothing finishes)."""
        if self.live:
            self._draw()

    def finish(self) -> None:
        if self.live:
            self._draw()
            print(file=self.stream, flush=True)
        elif self._last_plain[0] < 10:
            print(self.text(plain=True), file=self.stream, flush=True)

    def text(self, plain: bool = False, width: int = WIDTH) -> str:
        """`[#####-----]  37/100  elapsed 0:42  left ~1:11` (left once something finished)."""
        elapsed = time.monotonic() - self.start
        counts = f"{self.done}/{self.total} {self.label}"
        times = f"elapsed {clock(elapsed)}"
        if 0 < self.done < self.total:
            times += f"  left ~{clock(elapsed / self.done * (self.total - self.done))}"
        if plain:
            return f"{counts}  {times}"
        times = times.ljust(TIMES_WIDTH)  # the bar keeps its length as the estimate comes
        bar_width = max(width - len(counts) - len(times) - 6, 5)
        filled = bar_width * self.done // max(self.total, 1)
        bar = "#" * filled + "-" * (bar_width - filled)
        if self.colour:
            bar = GREEN + bar[:filled] + RESET + bar[filled:]
        return f"[{bar}]  {counts}  {times}"

    def _draw(self) -> None:
        width = min(WIDTH, shutil.get_terminal_size((80, 24)).columns - 1)
        line = self.text(width=width)
        visible = len(line) - (len(GREEN) + len(RESET) if self.colour else 0)
        # Spaces over the end of a longer previous line: no escape sequence needed for that.
        self.stream.write("\r" + line + " " * max(width - visible, 0))
        self.stream.flush()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False
