"""Checks of exercise 4.7: int8 and int4 quantization."""

from __future__ import annotations
