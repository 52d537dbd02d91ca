"""Checks of exercise 2.2: Learned embedding."""

from __future__ import annotations

import numpy as np

from ... import expect
from ...gradcheck import numerical_gradient
from .. import check
from .common import fx, get, matches, skip_unless, upstream_ignored


def _gather(ids: np.ndarray, table: np.ndarray) -> np.ndarray:
    """The docstring's definition, one id at a time: out[idx] = table[ids[idx]]."""
    rows = [table[int(i)] for i in np.reshape(ids, -1)]
    return np.array(rows, dtype=table.dtype).reshape(np.shape(ids) + table.shape[1:])


def _scatter_add(ids: np.ndarray, dout: np.ndarray, table_shape, dtype=np.float64):
    """The definition of the table's gradient: row v sums the dout rows where ids == v."""
    dtable = np.zeros(table_shape, dtype=np.float64)
    for idx in np.ndindex(np.shape(ids)):
        dtable[int(ids[idx])] += dout[idx]
    return dtable.astype(dtype)


def _forward(impl, ids, table, label: str):
    """The student's `embedding(ids, table)`, which must leave its inputs alone."""
    out, cache = expect.pair(expect.call_pure(impl.embedding, label, ids, table), "embedding")
    return out, cache


@check("2.2", weight=2)
def embedding_forward(impl):
    """a gather of table rows, table dtype kept, inputs untouched"""
    ids, table = get("embedding.ids"), get("embedding.table")
    out, _ = _forward(impl, ids, table, "embedding")
    expect.array(out, "embedding(ids, table)", shape=ids.shape + table.shape[1:],
                 dtype=np.float64)
    expect.close(out, fx()["embedding.out"], "embedding(ids, table)",
                 hint="Row (b, t) of the output is table[ids[b, t]].")
    out32, _ = _forward(impl, ids.astype(np.int32), table.astype(np.float32), "embedding")
    expect.array(out32, "embedding of a float32 table", shape=out.shape, dtype=np.float32)


def _forward_right(impl) -> None:
    ids, table = get("embedding.ids"), get("embedding.table")
    out, _ = expect.pair(impl.embedding(ids, table), "embedding")
    skip_unless(matches(out, fx()["embedding.out"]), "embedding_forward",
                "embedding(ids, table) with 2-D ids is not right")


@check("2.2")
def embedding_any_shape(impl):
    """ids of any shape: a scalar, 1-D, 3-D, empty (int32 too)"""
    _forward_right(impl)
    table = get("embedding.table")
    v = table.shape[0]
    rng = np.random.default_rng(22)
    for ids in (np.array(v - 2), rng.integers(0, v, size=4), rng.integers(0, v, size=(2, 1, 3)),
                rng.integers(0, v, size=(3, 2)).astype(np.int32), np.zeros(0, dtype=np.int64)):
        label = f"embedding(ids of shape {ids.shape}, dtype {ids.dtype}, table ({v}, ...))"
        try:
            out, _ = _forward(impl, ids, table, label)
        except Exception as exc:  # noqa: BLE001 — the student's own error, on this input
            name = getattr(exc, "type_name", type(exc).__name__)
            if name == "NotImplementedError" or not hasattr(exc, "type_name"):
                raise
            expect.fail(f"{label} raised {name}: {getattr(exc, 'message', exc)}. ids may have "
                        "any shape (...), the output is (..., C).")
        expect.array(out, label, shape=ids.shape + table.shape[1:], dtype=np.float64)
        expect.close(out, _gather(ids, table), label,
                     hint="out[..., :] = table[ids[...]] for ids of any shape.")


def _raises_naming(fn, what: str, bad, *args) -> None:
    """`fn(*args)` must raise ValueError with a message that names the id `bad`."""
    try:
        fn(*args)
    except Exception as exc:  # noqa: BLE001 — we inspect the type below
        name = getattr(exc, "type_name", type(exc).__name__)
        if name == "NotImplementedError":
            raise
        if name != "ValueError":
            expect.fail(f"{what}: expected ValueError, but {name} was raised ({exc}).")
        if str(bad) not in str(getattr(exc, "message", exc)):
            expect.fail(f"{what}: the ValueError should name the bad id {bad}; its message "
                        f"was: {getattr(exc, 'message', exc)}")
        return
    expect.fail(f"{what}: expected ValueError naming the bad id {bad}, but nothing was raised"
                + (" (negative ids are an error, not Python-style wraparound)." if bad < 0
                   else "."))


@check("2.2")
def embedding_bad_ids(impl):
    """ids outside [0, V), of any shape, raise ValueError naming the id; float ids TypeError"""
    _forward_right(impl)
    table = get("embedding.table")
    v = table.shape[0]
    ids = np.zeros((2, 2, 3), dtype=np.int64)
    ids[1, 0, 2] = -3
    _raises_naming(impl.embedding, f"embedding(3-D ids holding -3, table of {v} rows)", -3,
                   ids, table)
    too_big = np.array([0, v + 2, 1])
    _raises_naming(impl.embedding, f"embedding(ids {too_big.tolist()}, table of {v} rows)",
                   v + 2, too_big, table)
    _raises_naming(impl.embedding, f"embedding(ids = -1, a scalar, table of {v} rows)", -1,
                   np.array(-1), table)
    expect.raises(impl.embedding, TypeError, "embedding(float ids)", np.array([0.0, 1.0]),
                  table)
    expect.raises(impl.embedding, ValueError, "embedding(ids, a 1-D table)", np.array([0, 1]),
                  table[:, 0])


def _backward(impl, dout, cache, label: str):
    """The student's `embedding_backward(dout, cache)`, which must leave dout and the cache
    (the ids in it, an integer array) alone."""
    return expect.call_pure(impl.embedding_backward, label, dout, cache)


@check("2.2", weight=2)
def embedding_backward_scatter_add(impl):
    """the gradient scatter-adds rows, accumulating repeated ids"""
    ids, table, dout = get("embedding.ids"), get("embedding.table"), get("embedding.dout")
    _, cache = expect.pair(impl.embedding(ids, table), "embedding")
    dtable = _backward(impl, dout, cache, "embedding_backward")
    expect.array(dtable, "embedding_backward", shape=table.shape, dtype=np.float64)
    expected = fx()["embedding.dtable"]
    if not np.allclose(dtable, expected, **expect.F64):
        last_write = np.zeros_like(table)
        last_write[ids.reshape(-1)] = dout.reshape(-1, table.shape[1])
        if matches(dtable, last_write):
            expect.fail("embedding_backward keeps only one gradient per id: "
                        f"{expect.cause('repeated ids overwrite each other')} (`dtable[ids] = "
                        "dout` or `dtable[ids] += dout`). They must accumulate (np.add.at).")
        if upstream_ignored(impl.embedding_backward, dout, cache):
            counts = _scatter_add(ids, np.ones_like(dout), table.shape)
            seen = ("; each row holds how often its id occurs"
                    if matches(dtable, counts) else "")
            expect.fail(f"embedding_backward(dout, cache) is wrong: doubling dout leaves dtable "
                        f"unchanged{seen}. {expect.cause('it ignores dout')} Row v of dtable is "
                        "the sum of the dout rows where ids == v.")
    expect.close(dtable, expected, "embedding_backward",
                 hint="Rows of ids that never occur get a zero gradient.")
    _, cache32 = expect.pair(impl.embedding(ids, table.astype(np.float32)), "embedding")
    dtable32 = _backward(impl, dout.astype(np.float32), cache32, "embedding_backward")
    expect.array(dtable32, "embedding_backward for a float32 table", shape=table.shape,
                 dtype=np.float32)


@check("2.2")
def embedding_backward_table_shape_dtype(impl):
    """dtable takes its shape and dtype from the table, not from the ids or dout"""
    v, c = 9, 4
    rng = np.random.default_rng(2)
    ids = rng.integers(0, v - 3, size=(2, 3, 2))  # 3-D; the last rows of the table unused
    ids[0, 0, 0] = ids[1, 2, 1] = 2  # a repeat
    dout = rng.standard_normal(ids.shape + (c,))
    expected = _scatter_add(ids, dout, (v, c))
    dtypes = {}
    for table_dtype, dout_dtype in ((np.float32, np.float64), (np.float64, np.float32)):
        table = rng.standard_normal((v, c)).astype(table_dtype)
        _, cache = expect.pair(impl.embedding(ids, table), "embedding")
        label = (f"embedding_backward(dout {np.dtype(dout_dtype)}, cache) for a "
                 f"({v}, {c}) {np.dtype(table_dtype)} table and 3-D ids whose largest id is "
                 f"{ids.max()}")
        dtable = _backward(impl, dout.astype(dout_dtype), cache, label)
        if isinstance(dtable, np.ndarray) and dtable.ndim == 2 and \
                dtable.shape[0] == ids.max() + 1:
            expect.fail(f"{label} has {dtable.shape[0]} rows, expected {v}: "
                        f"{expect.cause('the number of rows comes from the ids (ids.max() + 1)')}"
                        ". The table has V rows whether or not every id occurs; keep its shape "
                        "in the cache.")
        expect.array(dtable, label, shape=(v, c))
        dtypes[(table_dtype, dout_dtype)] = dtable.dtype
        expect.close(dtable, expected, label,
                     **(expect.F32 if np.float32 in (table_dtype, dout_dtype) else expect.F64))
    if all(got == np.dtype(dout_dtype) for (_, dout_dtype), got in dtypes.items()):
        expect.fail("embedding_backward returns dout's dtype (float64 dout with a float32 "
                    f"table gave {dtypes[(np.float32, np.float64)]}): "
                    f"{expect.cause('dtable takes the dtype of dout, not of the table')} "
                    "Keep the table's dtype in the cache.")
    for (table_dtype, _), got in dtypes.items():
        if got != np.dtype(table_dtype):
            expect.fail(f"embedding_backward for a {np.dtype(table_dtype)} table returned "
                        f"{got}, expected {np.dtype(table_dtype)} (the table's dtype).")


@check("2.2", hidden=True)
def embedding_backward_finite_differences(impl):
    """the backward agrees with finite differences of the lookup"""
    rng = np.random.default_rng(7)
    table = rng.standard_normal((5, 3))
    ids = np.array([[3, 0, 3, 1, 3]])  # repeats; ids 2 and 4 unused
    dout = rng.standard_normal(ids.shape + (3,))
    _, cache = expect.pair(impl.embedding(ids, table), "embedding")
    dtable = _backward(impl, dout, cache, "embedding_backward")
    numeric = numerical_gradient(lambda: float(np.sum(dout * _gather(ids, table))), table)
    expect.close(dtable, numeric, "dtable (finite differences of the lookup, ids "
                 f"{ids.tolist()})", **expect.GRAD)
