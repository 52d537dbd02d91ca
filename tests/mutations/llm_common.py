"""What the mutants of several llm exercises share: reference files, lines."""

from __future__ import annotations

REWARD, DPO = "reward.py", "dpo.py"

GQA, SCALING = "gqa.py", "scaling.py"
