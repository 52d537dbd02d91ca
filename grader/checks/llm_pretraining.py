"""Checks of exercises 4.2, 4.3: batches of next-token targets; the pretraining loop, perplexity and checkpoints."""

from __future__ import annotations
