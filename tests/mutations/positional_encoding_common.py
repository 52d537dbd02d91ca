"""What the mutants of several positional_encoding exercises share: reference files, lines."""

from __future__ import annotations

SN, EM, RP, RI, AL, SC = ("sinusoidal.py", "embedding.py", "rope.py", "rope_interleaved.py",
                          "alibi.py", "rope_scaling.py")

F32 = "expected float32"
