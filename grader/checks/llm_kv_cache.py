"""Checks of exercise 4.5: the KV cache and cached generation."""

from __future__ import annotations
