"""Checks of exercise 4.4: greedy, temperature, top-k and top-p sampling."""

from __future__ import annotations
