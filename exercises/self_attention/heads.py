"""Splitting the model dimension into heads and merging it back (exercise 1.6)."""


def split_heads(x, n_heads):
    """Split the last axis into heads: ``(B, T, C) -> (B, H, T, C/H)`` (exercise 1.6).

    Head h takes the columns ``h*D : (h+1)*D`` of ``x`` (D = C / H), the PyTorch / GPT-2
    convention, so ``split_heads(x, H)[:, h] == x[:, :, h*D:(h+1)*D]``.

    Args:
        x: ``(B, T, C)``.
        n_heads: H, a positive divisor of C.

    Returns:
        ``(B, H, T, C // H)``, same dtype: a view of ``x`` (no copy when ``x`` is
        contiguous), in general not C-contiguous. Do not write into it.

    Raises:
        ValueError: if ``x`` is not 3-D or ``C % n_heads != 0``.
    """
    if x.ndim != 3:
        raise ValueError(f"split_heads: expected x of shape (B, T, C), got {x.shape}")
    if n_heads < 1 or x.shape[-1] % n_heads != 0:
        raise ValueError(f"split_heads: C = {x.shape[-1]} is not divisible by n_heads = {n_heads}")
    raise NotImplementedError(
        "Exercise 1.6 (split_heads) is not implemented yet; "
        "see lectures/01_self_attention/theory.md#6-multi-head-attention"
    )


def merge_heads(x):
    """Inverse of ``split_heads``: ``(B, H, T, D) -> (B, T, H*D)`` (exercise 1.6).

    Head h lands in the columns ``h*D : (h+1)*D`` of the result, so
    ``merge_heads(split_heads(x, H)) == x``.

    Args:
        x: ``(B, H, T, D)``.

    Returns:
        ``(B, T, H*D)``, same dtype: a view when the memory of ``x`` allows it (e.g. when
        ``x = split_heads(y, H)``, it is a view of ``y``), otherwise a C-contiguous copy.
        Do not write into it.

    Raises:
        ValueError: if ``x`` is not 4-D.
    """
    if x.ndim != 4:
        raise ValueError(f"merge_heads: expected x of shape (B, H, T, D), got {x.shape}")
    raise NotImplementedError(
        "Exercise 1.6 (merge_heads) is not implemented yet; "
        "see lectures/01_self_attention/theory.md#6-multi-head-attention"
    )
