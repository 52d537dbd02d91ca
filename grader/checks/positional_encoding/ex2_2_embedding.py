"""Checks of exercise 2.2: Learned embedding."""

from __future__ import annotations

import numpy as np

from ... import expect
from ...gradcheck import check_gradient_of
from .. import check
from .common import fx, get


@check("2.2", weight=2)
def embedding_forward(impl):
    """a gather of table rows, any id shape, table dtype kept, inputs untouched"""
    ids, table = get("embedding.ids"), get("embedding.table")
    out, _ = expect.pair(expect.call_pure(impl.embedding, "embedding", ids, table), "embedding")
    expect.array(out, "embedding(ids, table)", shape=ids.shape + table.shape[1:],
                 dtype=np.float64)
    expect.close(out, fx()["embedding.out"], "embedding(ids, table)",
                 hint="Row (b, t) of the output is table[ids[b, t]].")
    out32, _ = expect.pair(impl.embedding(ids.astype(np.int32), table.astype(np.float32)),
                           "embedding")
    expect.array(out32, "embedding of a float32 table", shape=out.shape, dtype=np.float32)


@check("2.2", weight=2)
def embedding_backward_scatter_add(impl):
    """the gradient scatter-adds rows, accumulating repeated ids"""
    ids, table, dout = get("embedding.ids"), get("embedding.table"), get("embedding.dout")
    _, cache = expect.pair(impl.embedding(ids, table), "embedding")
    dtable = impl.embedding_backward(dout, cache)
    expect.array(dtable, "embedding_backward", shape=table.shape, dtype=np.float64)
    expected = fx()["embedding.dtable"]
    if not np.allclose(dtable, expected, **expect.F64):
        last_write = np.zeros_like(table)
        last_write[ids.reshape(-1)] = dout.reshape(-1, table.shape[1])
        if np.allclose(dtable, last_write, **expect.F64):
            expect.fail("embedding_backward keeps only one gradient per id: `dtable[ids] = "
                        "dout` overwrites repeated ids. They must accumulate (np.add.at).")
    expect.close(dtable, expected, "embedding_backward",
                 hint="Rows of ids that never occur get a zero gradient.")
    _, cache32 = expect.pair(impl.embedding(ids, table.astype(np.float32)), "embedding")
    dtable32 = impl.embedding_backward(dout.astype(np.float32), cache32)
    expect.array(dtable32, "embedding_backward for a float32 table", shape=table.shape,
                 dtype=np.float32)


@check("2.2", hidden=True)
def embedding_backward_finite_differences(impl):
    """the backward agrees with finite differences of your own forward"""
    ids, table, dout = get("embedding.ids"), get("embedding.table"), get("embedding.dout")
    out, cache = expect.pair(impl.embedding(ids, table), "embedding")
    expect.require_correct(out, fx()["embedding.out"], "embedding", "2.2")
    dtable = impl.embedding_backward(dout, cache)

    check_gradient_of(dtable, impl.embedding, (ids, table), {}, table, dout,
                      "dtable (finite differences)")
