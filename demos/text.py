"""Output that fits a terminal: every line a demo prints is at most ``WIDTH`` columns."""

from __future__ import annotations

import re
import sys
import textwrap

WIDTH = 80


def wrap(text: str, width: int = WIDTH) -> str:
    """``text`` with each line longer than ``width`` folded at spaces, continuation lines
    indented past a leading ``[ok]``, else 4 deeper than the line (``#`` kept)."""
    lines = []
    for line in text.split("\n"):
        if len(line) <= width:
            lines.append(line)
            continue
        lead = re.match(r" *(\[\w+\] )?", line).end()
        indent = " " * (lead if lead > len(line) - len(line.lstrip()) else lead + 4)
        if line.startswith("# "):  # a comment stays a comment (a benchmark's header)
            indent = "#" + indent[1:]
        lines.append(textwrap.fill(line, width, subsequent_indent=indent,
                                   break_long_words=False, break_on_hyphens=False))
    return "\n".join(lines)


def say(*values, sep: str = " ", end: str = "\n", file=None, flush: bool = False) -> None:
    """``print``, with each line wrapped to ``WIDTH`` columns."""
    print(wrap(sep.join(map(str, values))), end=end, file=file or sys.stdout, flush=flush)
