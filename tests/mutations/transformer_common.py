"""What the mutants of several transformer exercises share: reference files, lines."""

from __future__ import annotations

from grader import fixtures

LI, NO, AC, FF, DO, CE, OP = ("linear.py", "norms.py", "activations.py", "feed_forward.py",
                              "dropout.py", "cross_entropy.py", "optim.py")

F32 = "expected float32"

# The sizes are drawn with the fixtures: the shape a wrong reduction axis gives, as the
# message states it, is read from the committed ones.
FX = fixtures.by_name("transformer")

EN, DE, GP = "encoder.py", "decoder.py", "gpt.py"
