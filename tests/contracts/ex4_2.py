"""Contract of 4.2 (batches of next-token targets): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "get_batch: result": ("batch_targets_are_the_next_tokens", "batch_draws_the_documented_starts",
                          "batch_covers_every_window"),
    "get_batch: raises TypeError": ("batch_dtypes_and_errors",),  # float data, rng=0
    # data too short, 2-D data, batch_size=0, block_size=0
    "get_batch: raises ValueError": ("batch_dtypes_and_errors",),
    "get_batch: dtype": ("batch_dtypes_and_errors",),  # uint16 data -> int64 x, y
    "get_batch: inputs unchanged": ("batch_dtypes_and_errors",),  # call_pure on uint16 data
}
