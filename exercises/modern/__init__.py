"""Module 5 -- Modern LLMs (exercises 5.1-5.3; ``make where EX=5.1`` finds one).

Import from the files, e.g. ``from exercises.modern.llama import Llama``: this package
imports nothing, so an unfinished file never breaks the others.
"""
