"""What the mutants of several self_attention exercises share: reference files, lines."""

from __future__ import annotations

S, MK, A, HD, MH, ON = ("softmax.py", "masks.py", "attention.py", "heads.py", "multi_head.py",
                        "online_softmax.py")

F32 = "float32 in, float32 out"
