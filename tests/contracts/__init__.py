"""Contract-coverage tables: every clause of every exercise's contract -> its checks.

One file per exercise, named by its id as its checks are (``ex3_2.py`` for 3.2), holding
``CONTRACT = {clause: checks}``; the clauses are those ``clauses.required`` reads from the
stub, and ``tests/test_contracts.py`` holds each table to them.
"""
