"""Checks of Module 1 — self-attention (exercises 1.1–1.9).

Dimensions are small and distinct (B=2, T_q=3, T_k=5, D=4, D_v=6, C=12; the causal cases
draw T_q in {3, 5, 7} < T_k in {5, 7, 8, 9, 10, 11}) so that a transposed or wrongly reduced
axis changes a shape or a value.  Expected values are fixtures generated from the reference
(`fixtures.py`), finite differences through the student's own forward, and invariants of
the math; no solution code lives here.  Every input of a fixture — values, mask sizes,
padding lengths, the fully masked row, head counts — is drawn from the fixture seed and read
back from the fixture, so the checks hold for any seed.
"""
