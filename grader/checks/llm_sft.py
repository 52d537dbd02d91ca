"""Checks of exercise 4.9: the chat template and the SFT loss mask."""

from __future__ import annotations
