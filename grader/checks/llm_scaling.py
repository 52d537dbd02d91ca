"""Checks of exercise 4.8: parameters, FLOPs and scaling laws."""

from __future__ import annotations
