"""Checks of Module 2 — positional encoding (exercises 2.1–2.6).

Small distinct dimensions (B=2, H=3, T=5, head_dim=8); RoPE inputs are scaled up (std 3) so
that confusing the two layouts moves outputs by O(1), not by a tolerance-sized amount.
Expected values are fixtures from the reference (`fixtures.py`), finite differences of the
grader's own forward math (so a wrong forward does not hide a backward's bugs), and the
math's invariants (norm preservation, RoPE's
relative property, the sinusoid's linear shift).  No solution code lives here.  Every
input of a fixture (sizes, bases, positions, ids, head counts, the scaling factor) is drawn
from the fixture seed and read back from the fixture, so the checks hold for any seed.
"""
