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
    out = []
    first = style.label(label.ljust(LABEL))
    plain_first = label.ljust(LABEL)
    for path, group in groupby(places, key=lambda p: p.path):
        group = list(group)
        note = f"  ({count})" if count and not out else ""
        head = fit(plain_first, path + note if len(plain_first + path + note) <= WIDTH else path)
        out += [head[0].replace(plain_first, first, 1), *head[1:]]
        width = max(len(_at(p)) for p in group) + 2
        for place in group:
            tail = f"  {style.warn('hidden')}" if place.hidden else ""
            where = _at(place).ljust(width)
            if place.line is None and not place.hidden:
                tail = f"  {style.bad('not found')}"
            out.append(f"{INDENT}{STEP}{where}{place.what}{tail}")
        plain_first = first = INDENT
    return out or [style.label(label.ljust(LABEL)) + "none found"]


def _listed(label: str, places: list[Place], style: Style) -> list[str]:
    """One file a line, what it uses in brackets (on the next line if it does not fit)."""
    out, plain = [], label.ljust(LABEL)
    for place in places:
        lines = fit(plain, place.path)
        if place.what:
            note = f"  ({place.what})"
            if len(lines[-1]) + len(note) <= WIDTH:
                lines[-1] += note
            else:
                lines += fit(INDENT + STEP, f"({place.what})")
        out += lines
        plain = INDENT
    out = out or [plain + "none found"]
    out[0] = style.label(label.ljust(LABEL)) + out[0][LABEL:]
    return out


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
    for item in items:
        piece = f"{line}, {item}" if line else item
        if line and len(indent) + len(piece) + 1 > WIDTH:
            lines.append(indent + line + ",")
            piece = item
        line = piece
    return lines + [indent + line] if line else lines


def _fixtures(card: Card, style: Style) -> list[str]:
    out, first = [], style.label("fixtures".ljust(LABEL))
    for path, keys in card.fixtures.items():
        out.append(first + path)
        out += _wrap(_key_groups(keys, card.exercise.id), INDENT + STEP)
        first = INDENT
    return out or [first + "none found"]


def render(card: Card, colour: bool = False) -> str:
    style = Style(colour)
    ex = card.exercise
    hidden = sum(p.hidden for p in card.checks)
    count = f"{len(card.checks)} check{'s' * (len(card.checks) != 1)}" + (
        f", {hidden} hidden" if hidden else "")
    title = f"Exercise {ex.id}: {ex.title} ({ex.points} points)"
    lines = [style.label(title if len(title) <= WIDTH else title[: WIDTH - 3] + "..."), ""]
    lines += _grouped("stub", card.stub, style)
    lines += _grouped("reference", card.reference, style)
    lines += [style.label("lecture".ljust(LABEL)) + line[LABEL:]
              for line in fit(INDENT, card.lecture)]
    lines += _grouped("checks", card.checks, style, count)
    lines += _fixtures(card, style)
    lines += _listed("mutations", card.mutations, style)
    lines += _listed("demos", card.demos, style)
    lines += ["", f"Grade it: make grade EX={ex.id}"]
    return "\n".join(lines)
