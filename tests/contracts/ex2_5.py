"""Contract of 2.5 (ALiBi slopes and bias): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "alibi_slopes: result": ("alibi_slopes_values",),
    "alibi_slopes: raises ValueError": ("alibi_bad_sizes",),
    "alibi_slopes: inputs unchanged": NA("its only argument is an int: nothing that can "
                                         "change in place"),
    "alibi_bias: result": ("alibi_bias_values",),
    "alibi_bias: raises ValueError": ("alibi_bad_sizes",),
    "alibi_bias: inputs unchanged": NA("its arguments are three ints: nothing that can "
                                       "change in place"),
}
