"""Module 1 -- self-attention in NumPy (exercises 1.1-1.9; ``make where EX=1.4`` finds one).

Import from the files, e.g. ``from exercises.self_attention.masks import causal_mask``: this package
imports nothing, so an unfinished file never breaks the others.
"""
