"""Checks of Module 4 — LLM fundamentals (4.1–4.13).

One file per exercise; each file's docstring says where its expected values come from (the
contracts, hand-computed cases, or fixtures from the reference: 4.1, 4.4 and 4.5, built by
`fixtures.py`).
"""
