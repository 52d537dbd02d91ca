"""The terminal is the demos' user interface: no line they print is wider than 80 columns."""

from __future__ import annotations

import re

WIDTH = 80


def long_lines(text: str, width: int = WIDTH) -> list[str]:
    """The lines of ``text`` wider than ``width``; a progress line redrawn with ``\\r`` counts.
    A line holding one word alone (a long path of pytest's tmp_path) cannot be folded."""
    return [line for line in re.split(r"[\r\n]", text)
            if len(line) > width and " " in line.strip()]
