"""The `--where` command: print one exercise's card, or name the problem (exit 2)."""

from __future__ import annotations

import os
import sys
import textwrap

from .card import UnknownExercise
from .find import lookup
from .render import render, use_colour


def where(query: str) -> int:
    try:
        card = lookup(query)
    except UnknownExercise as exc:
        print(textwrap.fill(f"error: {exc}", 80, break_on_hyphens=False), file=sys.stderr)
        return 2
    try:
        print(render(card, colour=use_colour(sys.stdout)), flush=True)
    except BrokenPipeError:  # `| head` stopped reading: no traceback for that
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m grader.where ID (an exercise id such as 4.5, or a function "
              "name such as softmax)", file=sys.stderr)
        return 2
    return where(argv[0])
