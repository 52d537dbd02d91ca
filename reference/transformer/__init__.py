"""Module 3 -- the Transformer in NumPy (exercises 3.1-3.11; ``make where EX=3.11`` finds one).

Import from the files, e.g. ``from exercises.transformer.gpt import GPT``: this package
imports nothing, so an unfinished file never breaks the others.
"""
