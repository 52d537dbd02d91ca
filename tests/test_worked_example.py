"""Lecture 1's worked example (§4.4) recomputed with plain NumPy: every rounded number the
lecture states there must be the one these inputs give, so the example cannot drift."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import REPO

LECTURE = REPO / "lectures" / "01_self_attention" / "theory.md"
HEADING = "\n### §4.4 Worked example\n"

Q = np.array([[1, 0], [0, 1], [1, 1]], dtype=float)
K = np.array([[1, 0], [0, 1], [1, -1]], dtype=float)
V = np.array([[1, 0], [0, 1], [1, 1]], dtype=float)


def subsection() -> str:
    """The text of §4.4, whitespace collapsed, up to the next heading or check-yourself block."""
    text = LECTURE.read_text(encoding="utf-8")
    assert HEADING in text, "lecture 1 has no '### §4.4 Worked example'"
    start = text.index(HEADING) + len(HEADING)
    ends = [text.find(marker, start) for marker in ("\n### ", "\n## ", "\n**Check yourself**")]
    body = text[start: min(end for end in ends if end > 0)]
    return re.sub(r"\s+", " ", body)


def number(x: float) -> str:
    """An entry as the lecture writes it: an integer as is, anything else to 4 decimals."""
    return str(int(round(x))) if abs(x - round(x)) < 1e-12 else f"{x:.4f}"


def bmatrix(a: np.ndarray) -> str:
    rows = " \\\\ ".join(" & ".join(number(x) for x in row) for row in a)
    return f"\\begin{{bmatrix}} {rows} \\end{{bmatrix}}"


def vector(a: np.ndarray) -> str:
    return "(" + ", ".join(number(x) for x in a) + ")"


def worked_example() -> dict:
    s = 1 / np.sqrt(Q.shape[1])
    raw = Q @ K.T
    scores = s * raw
    e = np.exp(scores)
    weights = e / e.sum(axis=1, keepdims=True)
    out = weights @ V
    d_out = np.zeros_like(out)
    d_out[0, 0] = 1.0  # the loss is O_11
    d_v = weights.T @ d_out
    d_weights = d_out @ V.T
    rho = (weights * d_weights).sum(axis=1, keepdims=True)
    d_scores = weights * (d_weights - rho)
    d_q = s * d_scores @ K
    return dict(s=s, raw=raw, scores=scores, e=e, weights=weights, out=out, d_v=d_v,
                d_weights=d_weights, rho=rho, d_scores=d_scores, d_q=d_q)


def test_the_numbers_are_what_the_lecture_says():
    w = worked_example()
    # The closed forms the text uses.
    p = w["weights"]
    assert np.allclose(w["d_scores"][0], p[0, 0] * p[0, 1] * np.array([1, -2, 1]))
    assert np.allclose(w["d_q"][0], w["s"] * p[0, 0] * p[0, 1] * np.array([2, -3]))
    assert np.allclose(w["rho"][0, 0], w["out"][0, 0])
    assert np.allclose(w["d_scores"].sum(axis=1), 0)
    assert np.allclose(w["d_q"][1:], 0) and np.allclose(w["d_scores"][1:], 0)
    # The derivative by central differences matches the one stated.
    h = 1e-6

    def o_11(q):
        e = np.exp(q @ K.T / np.sqrt(2))
        return (e / e.sum(axis=1, keepdims=True) @ V)[0, 0]

    bump = np.zeros_like(Q)
    bump[0, 0] = h
    assert abs((o_11(Q + bump) - o_11(Q - bump)) / (2 * h) - w["d_q"][0, 0]) < 1e-8


@pytest.mark.parametrize("what", ["inputs", "scores", "exponentials", "weights", "output",
                                  "gradient"])
def test_the_lecture_states_the_recomputed_values(what):
    w = worked_example()
    text = subsection()
    e_pos, e_neg = np.exp(1 / np.sqrt(2)), np.exp(-1 / np.sqrt(2))
    expected = {
        "inputs": [f"Q = {bmatrix(Q)}", f"K = {bmatrix(K)}", f"V = {bmatrix(V)}"],
        "scores": [f"Q K^\\top = {bmatrix(w['raw'])}", bmatrix(w["scores"]),
                   f"{w['s']:.4f}"],
        "exponentials": [f"{e_pos:.4f}", f"{e_neg:.4f}",
                         f"{w['e'][0].sum():.4f}", f"{w['e'][1].sum():.4f}"],
        "weights": [f"P \\approx {bmatrix(w['weights'])}"],
        "output": [f"O \\approx {bmatrix(w['out'])}"],
        "gradient": [f"dV \\approx {bmatrix(w['d_v'])}",
                     f"dP_{{1\\cdot}} = {vector(w['d_weights'][0])}",
                     f"{w['rho'][0, 0]:.4f}",
                     vector(w["d_scores"][0]), vector(w["d_q"][0])],
    }[what]
    for piece in expected:
        assert piece in text, f"§4.4 of lecture 1 does not state {piece!r}"
