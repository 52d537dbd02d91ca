"""Checks of exercise 4.12: sequence log-probabilities and the DPO loss with its gradient."""

from __future__ import annotations
