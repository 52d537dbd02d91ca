"""Output that fits a terminal: every line a demo prints is at most ``WIDTH`` columns."""

from __future__ import annotations

import re
import sys
import textwrap

WIDTH = 80


def wrap(text: str, width: int = WIDTH, indent: int | None = None) -> str:
    """``text`` with each line longer than ``width`` folded at spaces, continuation lines
    indented by ``indent`` columns, by default past a leading ``[ok]``, else 4 deeper than
    the line (``#`` kept)."""
    lines = []
    for line in text.split("\n"):
        if len(line) <= width:
            lines.append(line)
            continue
        lead = re.match(r" *(\[\w+\] )?", line).end()
        hang = " " * (lead if lead > len(line) - len(line.lstrip()) else lead + 4)
        if indent is not None:
            hang = " " * indent
        if line.startswith("# "):  # a comment stays a comment (a benchmark's header)
            hang = "#" + hang[1:]
        lines.append(textwrap.fill(line, width, subsequent_indent=hang,
                                   break_long_words=False, break_on_hyphens=False))
    return "\n".join(lines)


def say(*values, sep: str = " ", end: str = "\n", file=None, flush: bool = False,
        indent: int | None = None) -> None:
    """``print``, with each line wrapped to ``WIDTH`` columns (see ``wrap``)."""
    print(wrap(sep.join(map(str, values)), indent=indent), end=end, file=file or sys.stdout,
          flush=flush)
