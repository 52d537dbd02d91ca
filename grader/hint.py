"""`make hint EX=1.4`: one more hint each time it is asked, never code.

The hints of a module are in `grader/hints/<package>.md`, one `## <id> <title>` section per
exercise and one `### <level>` section per hint: first a nudge (the lecture section is
printed with it), then the key equation, then the usual mistakes and how the grader reports
them.  The level each exercise has reached is kept in `build/hints.json`, so asking again
shows one more; `--reset` starts an exercise over.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
from pathlib import Path

from . import course, screen
from .where.card import UnknownExercise, resolve

HINTS_DIR = Path(__file__).resolve().parent / "hints"
WIDTH = 80
_SECTION = re.compile(r"^## (\S+) (.+)$")
_LEVEL = re.compile(r"^### (\d+)\s*$")


class HintFileError(ValueError):
    """A hints file that does not follow the layout above."""


def hints_file(module: course.Module) -> Path:
    return HINTS_DIR / f"{module.package}.md"


def parse(text: str, where: str = "hints") -> dict[str, list[str]]:
    """`{"1.1": [level 1, level 2, ...], ...}` from one module's hints file."""
    hints: dict[str, list[str]] = {}
    current: list[str] | None = None
    lines: list[str] = []

    def close():
        if current is not None and lines:
            current.append("\n".join(lines).strip())

    for number, line in enumerate(text.splitlines(), 1):
        section, level = _SECTION.match(line), _LEVEL.match(line)
        if section:
            close()
            current, lines = None, []
            exercise_id = section.group(1)
            if exercise_id in hints:
                raise HintFileError(f"{where}:{number}: exercise {exercise_id} appears twice")
            hints[exercise_id] = []
            current_id = exercise_id
        elif level:
            if not hints:
                raise HintFileError(f"{where}:{number}: a level before any '## <id>' section")
            close()
            current, lines = hints[current_id], []
            if int(level.group(1)) != len(current) + 1:
                raise HintFileError(f"{where}:{number}: level {level.group(1)} of "
                                    f"{current_id} should be level {len(current) + 1}")
        elif current is not None:
            lines.append(line)
    close()
    return hints


def load(exercise: course.Exercise) -> list[str]:
    """The hints of one exercise, in order; at least one."""
    path = hints_file(exercise.module)
    found = parse(path.read_text(encoding="utf-8"), str(path)).get(exercise.id, [])
    if not found:
        raise HintFileError(f"{path}: no hints for exercise {exercise.id}")
    return found


def _paragraphs(text: str, indent: str = "  ") -> list[str]:
    """`text` wrapped to the terminal's 80 columns; blank lines separate paragraphs, and a
    line starting with '- ' is a list item."""
    out: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        items = re.split(r"\n(?=- )", block.strip())
        for item in items:
            bullet = item.startswith("- ")
            body = " ".join(item.split())
            out.extend(textwrap.wrap(body, WIDTH, initial_indent=indent,
                                     subsequent_indent=indent + ("  " if bullet else ""),
                                     break_on_hyphens=False, break_long_words=False))
        out.append("")
    return out[:-1]


def render(exercise: course.Exercise, hints: list[str], level: int) -> str:
    """Levels 1..`level` of `hints`, the newest last, and what to do next."""
    lines = [screen.fit(f"Hints for {exercise.id} {exercise.title}")]
    for n in range(1, level + 1):
        lines += ["", f"Hint {n} of {len(hints)}" + (" (new)" if n == level else "")]
        lines += _paragraphs(hints[n - 1])
        if n == 1:
            lines += ["", *screen.lecture_lines(exercise, "  Read: ")]
    lines.append("")
    if level < len(hints):
        lines.append(f"Another hint: make hint EX={exercise.id}   "
                     f"Grade it: make grade EX={exercise.id}")
    else:
        lines += [f"That was the last hint. Grade it: make grade EX={exercise.id}",
                  "Still stuck? Work through the lecture section again, then compare with",
                  f"reference/{exercise.path}.",
                  f"Start over: make hint EX={exercise.id} RESET=1"]
    return "\n".join(lines)


def _read_state(path: Path) -> dict[str, int]:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # none yet, or unreadable: start from the first hint
    return {k: v for k, v in state.items() if isinstance(v, int)} if isinstance(state,
                                                                                dict) else {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.hint",
                                     description="Show one more hint for an exercise.")
    parser.add_argument("exercise", help="an exercise id such as 1.4, or a function name such "
                                         "as softmax")
    parser.add_argument("--reset", action="store_true",
                        help="forget the hints seen for this exercise, then show the first")
    parser.add_argument("--state", type=Path, default=Path("build/hints.json"),
                        help="where the level reached is kept (default: build/hints.json)")
    args = parser.parse_args(argv)
    try:
        exercise = resolve(args.exercise)
        hints = load(exercise)
    except (UnknownExercise, HintFileError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    state = _read_state(args.state)
    seen = 0 if args.reset else state.get(exercise.id, 0)
    level = min(max(seen, 0) + 1, len(hints))
    state[exercise.id] = level
    try:
        args.state.parent.mkdir(parents=True, exist_ok=True)
        args.state.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n",
                              encoding="utf-8")
    except OSError as exc:  # the hint still shows; only the next one cannot follow
        print(f"note: could not remember the level in {args.state}: {exc}", file=sys.stderr)
    print(render(exercise, hints, level))
    return 0


if __name__ == "__main__":
    sys.exit(main())
