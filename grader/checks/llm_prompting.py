"""Checks of exercise 4.13: few-shot and chain-of-thought prompts, self-consistency."""

from __future__ import annotations
