"""Contract of 2.2 (learned embedding): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "embedding: result": ("embedding_forward", "embedding_any_shape"),
    "embedding: raises TypeError": ("embedding_bad_ids",),
    "embedding: raises ValueError": ("embedding_bad_ids",),
    "embedding: dtype": ("embedding_forward",),
    # call_pure on int64 and int32 ids, scalar, 1-D, 3-D and empty ids
    "embedding: inputs unchanged": ("embedding_forward", "embedding_any_shape"),
    "embedding_backward: result": ("embedding_backward_scatter_add",
                                   "embedding_backward_table_shape_dtype",
                                   "embedding_backward_finite_differences"),
    # random dout, and a probe that doubles it
    "embedding_backward: upstream gradient": ("embedding_backward_scatter_add",
                                              "embedding_backward_finite_differences"),
    # float32 table with float64 dout and the reverse: the table's dtype wins
    "embedding_backward: dtype": ("embedding_backward_scatter_add",
                                  "embedding_backward_table_shape_dtype"),
    # call_pure on dout and the cache (the cached ids are the caller's integer array)
    "embedding_backward: inputs unchanged": ("embedding_backward_scatter_add",
                                             "embedding_backward_table_shape_dtype"),
}
