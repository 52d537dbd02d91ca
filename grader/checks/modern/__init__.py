"""Checks of Module 5 — Modern LLMs (5.1–5.5).

One file per exercise; each file's docstring says where its expected values come from
(finite differences, the contracts, hand-computed cases, or fixtures from the reference
built by `fixtures.py`).
"""
