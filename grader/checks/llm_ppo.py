"""Checks of exercise 4.11: GAE, PPO's clipped objective and the KL penalty."""

from __future__ import annotations
