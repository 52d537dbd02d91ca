"""Contract of 2.1 (sinusoidal encoding): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "sinusoidal_positional_encoding: result": ("sinusoidal_values", "sinusoidal_linear_shift"),
    # called without base, compared with the base-10000 table
    "sinusoidal_positional_encoding: default base": ("sinusoidal_default_base",),
    "sinusoidal_positional_encoding: option base": ("sinusoidal_values",),
    # sinusoidal_values never passes dtype and wants float64
    "sinusoidal_positional_encoding: default dtype": ("sinusoidal_values",),
    "sinusoidal_positional_encoding: option dtype": ("sinusoidal_dtype_and_edges",
                                                     "sinusoidal_float32_long"),
    "sinusoidal_positional_encoding: raises ValueError": ("sinusoidal_bad_arguments",),
    "sinusoidal_positional_encoding: raises TypeError": ("sinusoidal_bad_arguments",),
    "sinusoidal_positional_encoding: dtype": ("sinusoidal_dtype_and_edges",
                                              "sinusoidal_float32_long"),
    "sinusoidal_positional_encoding: inputs unchanged": NA(
        "its arguments are two ints, a float and a dtype: nothing that can change in place"),
}
