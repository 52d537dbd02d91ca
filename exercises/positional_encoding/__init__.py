"""Module 2 -- positional encoding in NumPy: sinusoidal encodings, learned embeddings, rotary
embeddings (RoPE) in both layouts, ALiBi, and RoPE context extension.

Exercises 2.1-2.6; run ``python -m demos positional_encoding`` for a worked example.
Given helpers (not exercises): ``rotate_half``, ``interleave_permutation``.
"""

from .alibi import alibi_bias, alibi_slopes
from .embedding import embedding, embedding_backward
from .rope import apply_rope, apply_rope_backward, rope_cos_sin, rotate_half
from .rope_interleaved import apply_rope_interleaved, interleave_permutation
from .rope_scaling import rope_scaling
from .sinusoidal import sinusoidal_positional_encoding

__all__ = [
    "sinusoidal_positional_encoding",
    "embedding",
    "embedding_backward",
    "rope_cos_sin",
    "apply_rope",
    "apply_rope_backward",
    "rotate_half",
    "apply_rope_interleaved",
    "interleave_permutation",
    "alibi_slopes",
    "alibi_bias",
    "rope_scaling",
]
