"""A card as text for an 80-column terminal: one labelled block per kind of place.

Paths are never cut inside a name: a line that would be too long breaks before a lecture
anchor's `#` (or, for a very long path, at a `/`).  Colour only on a terminal, never with
NO_COLOR set.
"""

from __future__ import annotations

import os
import re
from itertools import groupby

from .card import Card, Place

WIDTH = 80
LABEL = 12  # the label column: "reference   "
INDENT = " " * LABEL
STEP = "  "  # lines under a path: a line number and a name


def use_colour(stream) -> bool:
    return (hasattr(stream, "isatty") and stream.isatty() and not os.environ.get("NO_COLOR")
            and os.environ.get("TERM") != "dumb")


class Style:
    def __init__(self, colour: bool):
        self.colour = colour

    def _sgr(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.colour else text

    def label(self, text: str) -> str:
        return self._sgr("1", text)

    def warn(self, text: str) -> str:
        return self._sgr("33", text)

    def bad(self, text: str) -> str:
        return self._sgr("31", text)


def fit(first: str, text: str, rest: str = INDENT) -> list[str]:
    """`first + text`, broken into lines of at most WIDTH: before a `#`, else after a `/`;
    continuation lines start with `rest`."""
    lines, prefix = [], first
    while len(prefix) + len(text) > WIDTH:
        room = WIDTH - len(prefix)
        cut = text.rfind("#", 1, room + 1)
        if cut <= 0:
            cut = text.rfind("/", 0, room) + 1
        if cut <= 0:
            text = text[: room - 3] + "..."
            break
        lines.append(prefix + text[:cut])
        prefix, text = rest + STEP, text[cut:]
    return lines + [prefix + text]


def _at(place: Place) -> str:
    return f":{place.line}" if place.line else ":?"


def _grouped(label: str, places: list[Place], style: Style, count: str = "") -> list[str]:
    """Places by file: the file on the label's line, then `:line  name` under it."""
    out, first = [], label.ljust(LABEL)
    for path, group in groupby(places, key=lambda p: p.path):
        group = list(group)
        note = f"  ({count})" if count and not out else ""
        out += fit(first, path + note if len(first + path + note) <= WIDTH else path)
        width = max(len(_at(p)) for p in group) + 2
        for place in group:
            tail = f"  {style.warn('hidden')}" if place.hidden else ""
            if place.line is None:
                tail = f"  {style.bad('not found')}"
            out.append(f"{INDENT}{STEP}{_at(place).ljust(width)}{place.what}{tail}")
        first = INDENT
    return out or [first + "none found"]


def _listed(label: str, places: list[Place]) -> list[str]:
    """One file a line, what it uses in brackets (on the next line if it does not fit)."""
    out, first = [], label.ljust(LABEL)
    for place in places:
        lines = fit(first, place.path)
        note = f"({place.what})" if place.what else ""
        if note and len(lines[-1]) + 2 + len(note) <= WIDTH:
            lines[-1] += "  " + note
        elif note:
            lines += fit(INDENT + STEP, note)
        out += lines
        first = INDENT
    return out or [first + "none found"]


def _key_groups(keys: list[str], exercise_id: str) -> list[str]:
    """Keys shortened to their first two parts: `kv.params.* (26)`, `softmax.x`."""
    own = re.compile(rf"{re.escape(exercise_id)}(?![\d])[._/:]?")
    groups: dict[str, list[str]] = {}
    for key in keys:
        prefix = own.match(key)
        head = prefix.group(0) if prefix else ""
        parts = key[len(head):].split(".")
        stem = head + ".".join(parts[:2])
        groups.setdefault(stem + (".*" if len(parts) > 2 else ""), []).append(key)
    return [members[0] if len(members) == 1 else f"{name} ({len(members)})"
            for name, members in groups.items()]


def _wrap(items: list[str], indent: str) -> list[str]:
    """Comma-separated items in lines of at most WIDTH, never breaking inside an item."""
    lines, line = [], ""
    for i, item in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        if line and len(indent) + len(line) + 2 + len(item) + len(comma) > WIDTH:
            lines.append(f"{indent}{line},")
            line = ""
        line = f"{line}, {item}" if line else item
    return lines + [indent + line] if line else lines


def _fixtures(card: Card) -> list[str]:
    out, first = [], "fixtures".ljust(LABEL)
    for path, keys in card.fixtures.items():
        out.append(first + path)
        out += _wrap(_key_groups(keys, card.exercise.id), INDENT + STEP)
        first = INDENT
    return out or [first + "none found"]


def _labelled(block: list[str], style: Style) -> list[str]:
    """The block with its label (the first LABEL characters of its first line) in bold."""
    return [style.label(block[0][:LABEL]) + block[0][LABEL:], *block[1:]]


def render(card: Card, colour: bool = False) -> str:
    style = Style(colour)
    ex = card.exercise
    hidden = sum(p.hidden for p in card.checks)
    count = f"{len(card.checks)} check{'s' * (len(card.checks) != 1)}" + (
        f", {hidden} hidden" if hidden else "")
    title = f"Exercise {ex.id}: {ex.title} ({ex.points} points)"
    blocks = [
        _grouped("stub", card.stub, style),
        _grouped("reference", card.reference, style),
        fit("lecture".ljust(LABEL), card.lecture),
        _grouped("checks", card.checks, style, count),
        _fixtures(card),
        _listed("mutations", card.mutations),
        _listed("demos", card.demos),
    ]
    if card.hints is not None:
        blocks.insert(3, [*fit("hints".ljust(LABEL), f"{card.hints.path}:{card.hints.line}"),
                          INDENT + STEP + card.hints.what])
    lines = [style.label(title if len(title) <= WIDTH else title[: WIDTH - 3] + "..."), ""]
    for block in blocks:
        lines += _labelled(block, style)
    lines += ["", f"Grade it: make grade EX={ex.id}"]
    return "\n".join(lines)
