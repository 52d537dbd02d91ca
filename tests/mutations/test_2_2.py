"""Mutation tests of 2.2 (Learned embedding): every check of the exercise fails on a
plausible student bug, and its message names the bug.  The harness and its conventions:
`tests/mutation.py`.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)
from positional_encoding_common import EM, F32

from grader.course import POSITIONAL_ENCODING

PACKAGE = POSITIONAL_ENCODING.package  # mutants edit files of reference/positional_encoding/

EMB_OUT = "    out = table[ids]  # fancy indexing copies: (...) ids -> (..., C)\n"
EMB_ZEROS = '    dtable = np.zeros(cache["table_shape"], dtype=cache["dtype"])  # (V, C)\n'
EMB_ADD = ("    c = dtable.shape[1]\n"
           "    flat_ids = (ids.reshape(-1, 1).astype(np.intp) * c + np.arange(c)).reshape(-1)"
           "  # (N*C,)\n"
           "    np.add.at(dtable.reshape(-1), flat_ids, np.reshape(dout, -1))\n")

FORWARD = """
def embedding(ids, table):
    ids, table = np.asarray(ids), np.asarray(table)
    if {bad}:
        raise ValueError(f"embedding: id out of range: {{ids.min()}} or {{ids.max()}}")
    out = {out}
    return out, {{"ids": ids, "table_shape": table.shape, "dtype": table.dtype}}
"""
BACKWARD = """
def embedding_backward(dout, cache):
    ids = cache["ids"]
    dtable = np.zeros({shape}, dtype={dtype})
    {add}
    return dtable
"""
SCATTER = "np.add.at(dtable, ids, dout)"
VALID = "np.any((ids < 0) | (ids >= table.shape[0]))"
TWO_D_ONLY = "table[ids.reshape(-1)].reshape(ids.shape[0], ids.shape[1], -1)  # (B, T) ids"
TABLE_SHAPE, TABLE_DTYPE = 'cache["table_shape"]', 'cache["dtype"]'

MUTANTS = [
    Mutant("emb_bwd_overwrites_repeats", "2.2", EM, ((EMB_ADD, "    dtable[ids] = dout\n"),),
           ("embedding_backward_scatter_add", "embedding_backward_finite_differences"),
           "repeated ids overwrite each other", diagnosis="repeated ids overwrite each other"),
    Mutant("emb_bwd_fancy_plus_equals", "2.2", EM, ((EMB_ADD, "    dtable[ids] += dout\n"),),
           ("embedding_backward_scatter_add", "embedding_backward_finite_differences"),
           "must accumulate (np.add.at)", diagnosis="repeated ids overwrite each other"),
    Mutant("emb_bwd_onehot_sums_batch_only", "2.2", EM,
           ((EMB_ZEROS, '    onehot = np.eye(cache["table_shape"][0])[ids]  # (..., V)\n'),
            (EMB_ADD, "    dtable = (onehot[..., None] * dout[..., None, :]).sum(axis=0)\n")),
           ("embedding_backward_scatter_add", "embedding_backward_table_shape_dtype",
            "embedding_backward_finite_differences"), "has shape (3, 7, 5), expected (7, 5)"),
    Mutant("emb_fwd_onehot_float64", "2.2", EM,  # np.eye is float64: float32 tables promote
           ((EMB_OUT, "    out = np.eye(table.shape[0])[ids] @ table  # one-hot times table\n"),),
           ("embedding_forward",), F32),
    Mutant("emb_fwd_flattened", "2.2", EM, ((EMB_OUT, "    out = table[ids.reshape(-1)]\n"),),
           ("embedding_forward", "embedding_any_shape"),
           "has shape (6, 5), expected (2, 3, 5)"),
    Mutant("emb_bwd_float64", "2.2", EM,  # np.zeros without the table's dtype
           ((EMB_ZEROS, '    dtable = np.zeros(cache["table_shape"])  # (V, C)\n'),),
           ("embedding_backward_scatter_add", "embedding_backward_table_shape_dtype"), F32),
    # -- stated shapes and errors: only 2-D valid ids were tried --
    Mutant("emb_fwd_2d_only", "2.2", EM, (), ("embedding_any_shape",),
           "embedding(ids of shape (), dtype int64, table (7, ...)) raised IndexError",
           append=FORWARD.format(bad=VALID, out=TWO_D_ONLY)),
    Mutant("emb_fwd_negative_ids_wrap", "2.2", EM, (), ("embedding_bad_ids",),
           "not Python-style wraparound", append=FORWARD.format(
               bad="np.any(ids >= table.shape[0])", out="table[ids]")),
    Mutant("emb_bwd_rows_from_ids", "2.2", EM, (), ("embedding_backward_table_shape_dtype",),
           "has 5 rows, expected 9", append=BACKWARD.format(
               shape="(ids.max() + 1, dout.shape[-1])", dtype=TABLE_DTYPE, add=SCATTER),
           diagnosis="the number of rows comes from the ids"),
    Mutant("emb_bwd_dtype_from_dout", "2.2", EM, (),
           ("embedding_backward_table_shape_dtype",), "returns dout's dtype",
           append=BACKWARD.format(shape=TABLE_SHAPE, dtype="dout.dtype", add=SCATTER),
           diagnosis="dtable takes the dtype of dout"),
    # -- the upstream gradient: a backward that counts ids instead of summing dout --
    Mutant("emb_bwd_ignores_dout", "2.2", EM, (),
           ("embedding_backward_scatter_add", "embedding_backward_table_shape_dtype",
            "embedding_backward_finite_differences"), "it ignores dout",
           append=BACKWARD.format(shape=TABLE_SHAPE, dtype=TABLE_DTYPE,
                                  add="np.add.at(dtable, ids, 1.0)"),
           diagnosis="it ignores dout"),
    # -- inputs modified in place through an integer array: the cached ids are the caller's
    # ids, and `astype(copy=False)` copies only the int32 ids the checks happened to use --
    Mutant("emb_bwd_scales_cached_ids", "2.2", EM, (),
           ("embedding_backward_scatter_add", "embedding_backward_table_shape_dtype",
            "embedding_backward_finite_differences"), "modified one of its inputs in place",
           append=BACKWARD.format(shape=TABLE_SHAPE, dtype=TABLE_DTYPE, add=(
               "flat = ids.reshape(-1).astype(np.intp, copy=False)\n"
               "    c = dtable.shape[1]\n"
               "    flat *= c  # row v starts at v * C in the flattened table\n"
               "    idx = (flat[:, None] + np.arange(c)).reshape(-1)\n"
               "    np.add.at(dtable.reshape(-1), idx, np.reshape(dout, -1))"))),
]

# Mutants no check catches yet (real gaps of the grader, reported, not weakened); none now.
GAPS: dict[str, str] = {}

# (mutant, check, phrase the message must contain, phrase it must not contain): bugs whose
# message must point at the right fix.
DIAGNOSED = [
    ("emb_bwd_fancy_plus_equals", "embedding_backward_scatter_add", "np.add.at", ""),
]

DIAGNOSIS_GAPS: dict[str, str] = {}

# (mutant, check, message that would blame code the mutant left correct): a bug in one
# function must not be reported as a bug of another that is right.  The check may pass, or
# fail saying the other function is not right yet, but not claim the untouched code is wrong.
NOT_BLAMED = [
    ("emb_fwd_flattened", "embedding_backward_finite_differences",
     "dtable (finite differences) is wrong"),
]

BLAME_GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["2.2"], MUTANTS, gaps=GAPS, diagnosed=DIAGNOSED,
                                diagnosis_gaps=DIAGNOSIS_GAPS, not_blamed=NOT_BLAMED,
                                blame_gaps=BLAME_GAPS))
