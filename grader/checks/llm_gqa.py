"""Checks of exercise 4.6: grouped-query attention and the KV cache's size."""

from __future__ import annotations
