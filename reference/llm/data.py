"""Batches of next-token prediction from one long stream of token ids (exercise 4.2).

Pretraining data is a single 1-D array: every document tokenized and joined end to end
(nanoGPT keeps it as a ``uint16`` memory map). A training example is any window of
``block_size + 1`` consecutive tokens: the first ``block_size`` are the input, and the target at
each position is the token that follows it::

    data   ... 17  4 93  8 51 ...          a window starting at s, block_size T = 4
    x          17  4 93  8                 x[t] = data[s + t]
    y              4 93  8 51              y[t] = data[s + t + 1]

so one window trains T predictions at once, each from its own prefix (the causal mask makes
position t see x[:t+1] only).
"""

import numpy as np


def get_batch(data, batch_size, block_size, rng):
    """A random batch of inputs and next-token targets from ``data`` (exercise 4.2).

    The start of each window is drawn, in one call, exactly as nanoGPT does::

        starts = rng.integers(0, len(data) - block_size, size=batch_size)

    ``integers`` excludes its upper bound, so ``s`` ranges over ``0 .. len(data) - block_size
    - 1``: every window whose target ``data[s + block_size]`` exists, the last one included,
    and nothing past the end. Windows are drawn with replacement (they may repeat or overlap).
    Drawing exactly this way makes a run reproducible from the generator's seed.

    Args:
        data: 1-D array of integer token ids, length N (any integer dtype, e.g. uint16).
        batch_size: B, the number of windows, >= 1.
        block_size: T, the length of each input, >= 1; needs ``N >= T + 1``.
        rng: a ``np.random.Generator``; advanced by the one draw above.

    Returns:
        x: ``(B, T)`` int64, ``x[b] = data[starts[b] : starts[b] + T]``.
        y: ``(B, T)`` int64, ``y[b] = data[starts[b] + 1 : starts[b] + T + 1]``, i.e. x shifted
        left by one: ``y[b, t]`` is the token that follows ``x[b, :t+1]``.

    Raises:
        TypeError: if data is not integer, or rng is not a ``np.random.Generator``.
        ValueError: if data is not 1-D, batch_size or block_size is below 1, or data is too
            short for one window (``len(data) < block_size + 1``).
    """
    data = np.asarray(data)
    if not np.issubdtype(data.dtype, np.integer):
        raise TypeError(f"get_batch: data must be integer token ids, got dtype {data.dtype}")
    if data.ndim != 1:
        raise ValueError(f"get_batch: data must be a 1-D stream of token ids, got shape "
                         f"{data.shape}")
    for name, value in (("batch_size", batch_size), ("block_size", block_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"get_batch: {name} must be a positive integer, got {value!r}")
    if len(data) < block_size + 1:
        raise ValueError(f"get_batch: data has {len(data)} tokens, too short for one window of "
                         f"block_size + 1 = {block_size + 1} (inputs plus the next token)")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"get_batch: rng must be an np.random.Generator (e.g. "
                        f"np.random.default_rng(0)), got {type(rng).__name__}")
    ### BEGIN SOLUTION
    starts = rng.integers(0, len(data) - block_size, size=batch_size)  # (B,)
    positions = starts[:, None] + np.arange(block_size)  # (B, T)
    x = data[positions].astype(np.int64)
    y = data[positions + 1].astype(np.int64)  # the next token at every position
    return x, y
    ### END SOLUTION
