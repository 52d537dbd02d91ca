"""Learned embeddings: a table lookup and its scatter-add backward (exercise 2.2).

The same two functions serve token embeddings (``ids`` = token ids, table ``(V, C)``) and
learned absolute position embeddings as in GPT-2 (``ids = np.arange(T)``, table
``(max_positions, C)``): ``x = embedding(tokens, wte)[0] + embedding(np.arange(T), wpe)[0]``.
"""

import numpy as np


def embedding(ids, table):
    """Look up one table row per id: ``out[..., :] = table[ids[...]]`` (exercise 2.2).

    This is ``torch.nn.functional.embedding(ids, table)``: a gather, equivalent to one-hot
    ``ids`` times ``table`` but without building the one-hot matrix.

    Args:
        ids: integer array-like of any shape ``(...)`` (a scalar too), every id in
            ``[0, V)``. Negative ids are an error, not Python-style wraparound.
        table: ``(V, C)`` floating array, one row per id.

    Returns:
        out: ``(..., C)`` in the table's dtype (float32 table -> float32 out), a new array
            (writing into it does not change ``table``).
        cache: dict for ``embedding_backward``; its content is yours to choose (the backward
            needs the ids and the table's shape and dtype, not its values).

    Raises:
        TypeError: if ``ids`` is not an integer array.
        ValueError: if ``table`` is not 2-D, or an id is outside ``[0, V)`` (the message
            names the first bad id).
    """
    ids = np.asarray(ids)
    table = np.asarray(table)
    if not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"embedding: ids must be integers, got dtype {ids.dtype}")
    if table.ndim != 2:
        raise ValueError(f"embedding: table must be (V, C), got shape {table.shape}")
    bad = (ids < 0) | (ids >= table.shape[0])
    if np.any(bad):
        first = ids[bad].flat[0]
        raise ValueError(
            f"embedding: id {first} is out of range for a table of {table.shape[0]} rows "
            f"(valid ids are 0 .. {table.shape[0] - 1})"
        )
    ### BEGIN SOLUTION
    out = table[ids]  # fancy indexing copies: (...) ids -> (..., C)
    cache = {"ids": ids, "table_shape": table.shape, "dtype": table.dtype}
    return out, cache
    ### END SOLUTION


def embedding_backward(dout, cache):
    """Gradient of the loss w.r.t. the table (exercise 2.2).

    Every occurrence of id ``v`` copied row ``v`` once, so row ``v`` of the gradient is the
    sum of the ``dout`` rows at the places where ``ids == v``: a scatter-add (lecture,
    §4.2, with its NumPy trap). Repeated ids accumulate; rows of ids that never occur
    get 0. The integer ids have no gradient, so only ``dtable`` is returned.

    Args:
        dout: dL/d(out), shape ``(..., C)`` (the forward's ``ids.shape + (C,)``).
        cache: the cache returned by ``embedding``.

    Returns:
        dtable: ``(V, C)``, in the table's dtype.
    """
    ### BEGIN SOLUTION
    ids = cache["ids"]
    dtable = np.zeros(cache["table_shape"], dtype=cache["dtype"])  # (V, C)
    # dtable[ids[n]] += dout[n] for every n, repeats summed. np.add.at on the flattened table,
    # one index per scalar (row v, column j -> v * C + j), takes NumPy's fast 1-D path:
    # several times faster than whole rows, with the same sums in the same order.
    c = dtable.shape[1]
    flat_ids = (ids.reshape(-1, 1).astype(np.intp) * c + np.arange(c)).reshape(-1)  # (N*C,)
    np.add.at(dtable.reshape(-1), flat_ids, np.reshape(dout, -1))
    return dtable
    ### END SOLUTION
