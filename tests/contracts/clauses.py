"""The clauses of an exercise's contract, read from its stub: what a check must enforce.

For every function the exercise asks for (``course.Exercise.names`` and ``also``; for a
class, each method whose docstring names the exercise), the signature and the docstring
give these clauses:

- ``f: result``: the value it returns (or the state it leaves) is right;
- ``f: default p``: called without ``p``, it behaves as with ``p``'s documented default;
- ``f: option p``: a value of ``p`` other than the default does what the docstring says
  (e.g. ``generate(..., top_k=5)`` reaches the sampler);
- ``f: raises T``: each exception of its ``Raises:`` section is raised where it says;
- ``f: upstream gradient``: a backward scales with its incoming gradient (``dout``, ...);
- ``f: dtype``: its docstring speaks of dtypes (float32 in, float32 out, ...);
- ``f: inputs unchanged``: a function of arrays modifies none of them.

``tests/contracts/ex<M>_<N>.py`` maps each clause to the checks that enforce it
(``tests/test_contracts.py`` holds every clause to a check).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from grader import course

EXERCISES = Path(__file__).resolve().parents[2] / "exercises"
UPSTREAM = re.compile(r"d(out|loss|y|logits|x_out|h|probs|weights|scores|z)?$|grad_output$")


@dataclass(frozen=True)
class NA:
    """A clause that does not apply, and why (e.g. a function of no arrays)."""

    why: str


@dataclass(frozen=True)
class Gap:
    """A clause no check enforces yet, and what is missing: a strict xfail of the coverage
    test, so that adding its check asks for the mark to go."""

    why: str


def _is_exercise_method(node: ast.FunctionDef, exercise_id: str) -> bool:
    doc = ast.get_docstring(node) or ""
    return bool(re.search(rf"(exercise|part of|of) {re.escape(exercise_id)}\b", doc))


def _functions(ex: course.Exercise) -> list[tuple[str, ast.FunctionDef, bool]]:
    """(qualified name, definition, is a method) of what the exercise asks for."""
    tree = ast.parse((EXERCISES / ex.path).read_text())
    top = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    found = []
    for name in ex.names + ex.also:
        node = top.get(name)
        if node is None:  # a method named in `also` (e.g. GPT.block_forward)
            for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
                for item in cls.body:
                    if isinstance(item, ast.FunctionDef) and item.name == name:
                        found.append((f"{cls.name}.{name}", item, True))
            continue
        if isinstance(node, ast.FunctionDef):
            found.append((name, node, False))
            continue
        for item in node.body:
            if isinstance(item, ast.FunctionDef) and _is_exercise_method(item, ex.id) and \
                    item.name not in ex.also:
                found.append((f"{name}.{item.name}", item, True))
    return found


def _raised(doc: str) -> list[str]:
    section = re.split(r"\n\s*Raises:\s*\n", doc, maxsplit=1)
    if len(section) < 2:
        return []
    names = []
    for line in section[1].splitlines():
        if line.strip() and not line.startswith((" " * 8, "\t\t")) and ":" in line:
            head = line.split(":")[0]
            names += re.findall(r"\b([A-Z]\w*(?:Error|Exception))\b", head)
    return list(dict.fromkeys(names))


def required(ex: course.Exercise) -> list[str]:
    """The clauses of `ex`'s contract, in the order of its functions."""
    clauses = []
    for qualname, node, is_method in _functions(ex):
        doc = ast.get_docstring(node) or ""
        args = node.args
        params = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
        params = [p for p in params if p not in ("self", "cls")]
        clauses.append(f"{qualname}: result")
        positional = args.posonlyargs + args.args
        defaults = [a.arg for a in positional[len(positional) - len(args.defaults):]]
        defaults += [a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None]
        for p in defaults:
            clauses += [f"{qualname}: default {p}", f"{qualname}: option {p}"]
        clauses += [f"{qualname}: raises {name}" for name in _raised(doc)]
        if node.name.endswith("backward") or any(UPSTREAM.fullmatch(p) for p in params[:1]):
            clauses.append(f"{qualname}: upstream gradient")
        if re.search(r"\bdtype\b|float32", doc):
            clauses.append(f"{qualname}: dtype")
        if not is_method and params:
            clauses.append(f"{qualname}: inputs unchanged")
    return clauses
