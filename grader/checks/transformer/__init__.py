"""Checks of Module 3 — the Transformer from scratch (3.1–3.11).

Distinct small dimensions (batch, time, width, hidden width, classes), drawn with every
other input from the fixtures' generator: the checks read every input from the fixtures and
work for any seed.  Expected values are fixtures from the reference, plus the outputs of
typical *wrong* formulas (eps outside the sqrt, unbiased variance, smoothing over K-1
classes, L2 in the gradient...) computed by the instructor-only fixture builder, so a
message can name the mistake without the grader shipping a solution.  Backwards are also
checked by finite differences of the student's own forward (hidden checks), once that
forward is right.
"""
