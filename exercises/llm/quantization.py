"""Weight quantization: absmax symmetric int8 and group-wise int4 (exercise 4.7).

A float weight ``w`` is stored as small integers ``q`` and a float32 scale ``s`` with
``w ~ q * s``. Everything here is *symmetric absmax* quantization (zero point 0):

- int8: ``s = absmax / 127``, ``q = round(w / s)`` in ``[-127, 127]``; one scale for the whole
  tensor (``axis=None``) or one per index of ``axis`` (per channel);
- int4: ``s = absmax / 7`` per group of ``group_size`` consecutive input rows of a column,
  ``q`` in ``[-7, 7]``, stored as 4-bit two's complement, two per byte.

Rounding is NumPy's ``np.round`` (round half to even, as ``torch.round`` and
``torch.quantize_per_tensor``). Where a tensor, channel or group is all zero the scale would
be 0 and ``w / s`` would be 0/0 = NaN: its scale is 1.0 instead (any positive scale gives
``q = 0``, which dequantizes to exactly 0).

Weights are in Module 3's layout ``(in, out)``, ``y = x @ W + b``: column ``j`` of ``W`` holds
the weights of output channel ``j``. So "per output channel" is ``axis=1`` (one scale per
column), and int4 groups run down a column (along the input axis, the axis a matmul sums
over), so that ``x @ W`` splits into one integer-valued matmul per group.
"""

import numpy as np

INT8_MAX = 127  # symmetric range [-127, 127]: -128 is never used
INT4_MAX = 7  # symmetric range [-7, 7]: the nibble 0b1000 (-8) is never produced


def _check_weight(w, where, ndim=None):
    """``w`` as a finite floating array, of ``ndim`` dimensions if given (given helper)."""
    w = np.asarray(w)
    if not np.issubdtype(w.dtype, np.floating):
        raise TypeError(f"{where}: w must be a floating array, got dtype {w.dtype}")
    if w.ndim == 0 or (ndim is not None and w.ndim != ndim):
        raise ValueError(f"{where}: w must be {'an array' if ndim is None else f'{ndim}-D'} "
                         f"(in, out), got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{where}: w has non-finite entries (inf or NaN)")
    return w


def quantize_int8(w, axis=None):
    """Absmax symmetric int8 quantization, per tensor or per channel (exercise 4.7).

    ``scale = absmax / 127`` and ``q = round(w / scale)`` (half to even), clipped to
    ``[-127, 127]``; where the absmax is 0 the scale is 1.0 (so ``q = 0``, never 0/0).

    Args:
        w: a float array (e.g. an ``(in, out)`` weight), any number of dimensions >= 1.
        axis: ``None`` for one scale for the whole tensor (absmax over every entry); an int
            for one scale per index of that axis, the absmax taken over all the other axes.
            For an ``(in, out)`` weight ``axis=1`` (or ``-1``) is per output channel: one
            scale per column. Negative values count from the end.

    Returns:
        (q, scale): ``q`` int8 of ``w``'s shape; ``scale`` float32 with ``w``'s number of
        dimensions (keepdims): size 1 on every axis it was reduced over, so ``q * scale``
        broadcasts. Per tensor: ``(1, 1)`` for a 2-D ``w``; ``axis=1`` of an ``(in, out)``
        weight: ``(1, out)``; ``axis=0``: ``(in, 1)``.

    Raises:
        ValueError / TypeError: if ``w`` is not a finite float array, or ``axis`` is out of
        range.
    """
    w = _check_weight(w, "quantize_int8")
    if axis is not None:
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"quantize_int8: axis must be None or an int, got {axis!r}")
        if not -w.ndim <= axis < w.ndim:
            raise ValueError(f"quantize_int8: axis {axis} is out of range for w of shape "
                             f"{w.shape}")
    raise NotImplementedError(
        "Exercise 4.7 (quantize_int8) is not implemented yet; "
        "see lectures/04_llm_fundamentals/theory.md#8-quantization"
    )


def dequantize_int8(q, scale):
    """The float32 weights ``q * scale`` (exercise 4.7).

    Args:
        q: int8 array from ``quantize_int8``.
        scale: its float32 scale, of a shape that broadcasts against ``q`` (``quantize_int8``
            keeps the reduced axes with size 1).

    Returns:
        float32 array of ``q``'s shape.
    """
    raise NotImplementedError(
        "Exercise 4.7 (dequantize_int8) is not implemented yet; "
        "see lectures/04_llm_fundamentals/theory.md#8-quantization"
    )


def quantize_int4(w, group_size):
    """Group-wise absmax symmetric int4 quantization, packed two values per byte (exercise 4.7).

    Each column of the ``(in, out)`` weight is cut into ``in / group_size`` groups of
    ``group_size`` consecutive rows; each group gets ``scale = absmax / 7`` (1.0 for an
    all-zero group) and ``q = round(w / scale)`` (half to even) clipped to ``[-7, 7]``.
    Each ``q`` is stored as a 4-bit two's complement nibble (``-1 -> 0b1111``, ``-7 ->
    0b1001``), two per byte along the input axis: ``packed[i, j]`` holds ``q[2i, j]`` in its
    low nibble (bits 0-3) and ``q[2i + 1, j]`` in its high nibble (bits 4-7).

    Args:
        w: float ``(in, out)`` weight.
        group_size: rows per group, a positive int dividing ``in``.

    Returns:
        (packed, scales): ``packed`` uint8 ``(in / 2, out)``; ``scales`` float32
        ``(in / group_size, out)``, ``scales[g, j]`` for rows ``g*group_size ..
        (g+1)*group_size - 1`` of column ``j``.

    Raises:
        ValueError: if ``group_size`` does not divide ``in``, or ``in`` is odd (rows are
            packed in pairs); TypeError / ValueError for a non-float or non-2-D ``w``.
    """
    w = _check_weight(w, "quantize_int4", ndim=2)
    if isinstance(group_size, bool) or not isinstance(group_size, (int, np.integer)) \
            or group_size < 1:
        raise ValueError(f"quantize_int4: group_size must be a positive int, got {group_size!r}")
    raise NotImplementedError(
        "Exercise 4.7 (quantize_int4) is not implemented yet; "
        "see lectures/04_llm_fundamentals/theory.md#8-quantization"
    )


def dequantize_int4(packed, scales, group_size):
    """Unpack int4 weights and scale them back to float32 (exercise 4.7).

    The inverse of ``quantize_int4``'s storage: the low nibble of ``packed[i, j]`` is row
    ``2i``, the high nibble row ``2i + 1``; a nibble ``v`` is sign-extended (``v - 16`` when
    ``v >= 8``, so all 16 nibbles decode to ``-8 .. 7``), then multiplied by the scale of its
    group.

    Args:
        packed: uint8 ``(in / 2, out)``.
        scales: float32 ``(in / group_size, out)``.
        group_size: rows per group.

    Returns:
        float32 ``(in, out)`` weights.

    Raises:
        ValueError: if the shapes of ``packed``, ``scales`` and ``group_size`` disagree.
    """
    raise NotImplementedError(
        "Exercise 4.7 (dequantize_int4) is not implemented yet; "
        "see lectures/04_llm_fundamentals/theory.md#8-quantization"
    )


def _check_quantized_linear(x, q, scale, bias, group_size):
    """Raise a clear error if the arguments of ``quantized_linear`` do not fit (given)."""
    if group_size is None:
        if q.dtype != np.int8 or q.ndim != 2:
            raise ValueError(f"quantized_linear: q must be int8 (in, out), got {q.dtype} "
                             f"{q.shape} (packed int4 weights need group_size=...)")
        n_in, n_out = q.shape
        if np.shape(scale) not in {(), (1,), (1, 1), (n_out,), (1, n_out)}:
            raise ValueError(f"quantized_linear: scale must be per tensor (size 1) or per "
                             f"output channel ((1, {n_out}) or ({n_out},)), got "
                             f"{np.shape(scale)}")
    else:
        if q.dtype != np.uint8 or q.ndim != 2:
            raise ValueError(f"quantized_linear: with group_size, q must be packed int4 weights "
                             f"(uint8 (in / 2, out)), got {q.dtype} {q.shape}")
        n_in, n_out = 2 * q.shape[0], q.shape[1]
        if n_in % group_size != 0 or np.shape(scale) != (n_in // group_size, n_out):
            raise ValueError(f"quantized_linear: scales must be (in / group_size, out) = "
                             f"({n_in} / {group_size}, {n_out}), got {np.shape(scale)}")
    if np.ndim(x) < 1 or np.shape(x)[-1] != n_in:
        raise ValueError(f"quantized_linear: x must be (..., in) with in = {n_in}, got "
                         f"{np.shape(x)}")
    if bias is not None and np.shape(bias) != (n_out,):
        raise ValueError(f"quantized_linear: bias must be (out,) = ({n_out},), got "
                         f"{np.shape(bias)}")


def quantized_linear(x, q, scale, bias=None, group_size=None):
    """``y = x @ (q * scale) + bias`` from quantized weights (exercise 4.7).

    int8 (``group_size=None``): the scale is per tensor or per output channel, a factor of
    each output column, so it comes out of the sum over the input axis:
    ``y[..., j] = (sum_i x[..., i] q[i, j]) * scale[j] + bias[j]`` -- one integer-valued
    matmul, then one multiply per output. The matmul runs in
    ``np.result_type(x.dtype, np.float32)`` (float32 for float32 or integer ``x``, float64
    for float64): never in int8, where ``x @ q`` of int8 activations would wrap around.

    int4 (``group_size`` given): ``q`` is ``quantize_int4``'s packed uint8 ``(in / 2, out)``
    and ``scale`` its ``(in / group_size, out)`` scales. The scale changes along the input
    axis, so the sum splits into one integer-valued matmul per group:
    ``y = sum_g (x_g @ q_g) * scale[g] + bias``, with ``x_g`` the group's input columns.

    Args:
        x: ``(..., in)`` activations (float, or integer such as int8 activations).
        q: int8 ``(in, out)``, or packed uint8 ``(in / 2, out)`` with ``group_size``.
        scale: int8: float32 of size 1 (per tensor) or ``(1, out)`` / ``(out,)`` (per output
            channel); int4: float32 ``(in / group_size, out)``.
        bias: ``(out,)`` or ``None``.
        group_size: ``None`` for int8 weights; the int4 group size for packed weights.

    Returns:
        ``(..., out)`` in ``np.result_type(x.dtype, np.float32)``.

    Raises:
        ValueError: if the shapes or dtypes do not fit.
    """
    x, q = np.asarray(x), np.asarray(q)
    _check_quantized_linear(x, q, scale, bias, group_size)
    raise NotImplementedError(
        "Exercise 4.7 (quantized_linear) is not implemented yet; "
        "see lectures/04_llm_fundamentals/theory.md#8-quantization"
    )
