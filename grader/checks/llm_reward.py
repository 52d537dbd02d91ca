"""Checks of exercise 4.10: the Bradley-Terry reward-model loss and its gradient."""

from __future__ import annotations
