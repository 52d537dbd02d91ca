"""Module 2 -- positional encoding in NumPy (exercises 2.1-2.6; ``make where EX=2.3`` finds one).

Import from the files, e.g. ``from exercises.positional_encoding.alibi import alibi_bias``:
this package imports nothing, so an unfinished file never breaks the others.
"""
