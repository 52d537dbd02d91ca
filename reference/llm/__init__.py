"""Module 4 -- LLM fundamentals (exercises 4.1-4.13; ``make where EX=4.5`` finds one).

Import from the files, e.g. ``from exercises.llm.kv_cache import KVCache``: this package
imports nothing, so an unfinished file never breaks the others.
"""
