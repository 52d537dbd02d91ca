"""What weight-only quantization costs a GPT: memory, logits error, perplexity (given).

``quantization_report(model, tokens)`` quantizes every 2-D weight matrix of a Module 3 ``GPT``
with the functions of exercise 4.7, dequantizes them into a copy of the model (a *simulation*:
the arithmetic stays float32, only the weights are rounded) and compares the copy with the
float32 model on held-out tokens::

    scheme              weights   bits/w  vs fp32  max|dlogit|  mean|dlogit|  top-1  ppl   dppl
    fp32                ...

The schemes are int8 with one scale per matrix, int8 with one scale per output channel, and
int4 with one scale per group of ``group_size`` input rows of each output column. The 1-D
parameters (biases, LayerNorm gains) stay float32 and are not counted: they are 0.1% of
GPT-2.

Orientation: a linear weight is ``(in, out)`` (``y = x @ W + b``), so per output channel is
``axis=1`` and int4 groups run along ``in``. The embedding tables ``wte`` ``(V, C)`` and
``wpe`` ``(T, C)`` are quantized as their transposes ``(C, V)`` / ``(C, T)``: the tied head
computes ``logits = x @ wte.T``, whose output channels are the rows of ``wte``, so each token
gets its own scale (per channel) and the groups run along ``C``. ``wte`` is quantized once
and the same rounded table serves the embedding lookup and the head.

Everything comes from the implementation the demos run on, so on ``--target exercises`` the
report uses your own ``quantize_int8`` ... (exercise 4.7) and ``GPT`` (3.11).
"""

import copy

import numpy as np
from implementation.llm.quantization import (
    dequantize_int4,
    dequantize_int8,
    quantize_int4,
    quantize_int8,
)
from implementation.transformer.cross_entropy import cross_entropy

EMBEDDINGS = ("wte.weight", "wpe.weight")  # (rows, C) tables: quantized as (C, rows)
FP32_BYTES = 4


def schemes(group_sizes=(32, 64, 128)):
    """The report's rows: ``(label, bits, axis or group_size)``, fp32 first (given)."""
    return ([("fp32", 32, None), ("int8 per-tensor", 8, None), ("int8 per-channel", 8, 1)]
            + [(f"int4 group {g}", 4, g) for g in group_sizes])


def weight_matrices(params):
    """Names of the 2-D weight matrices of a GPT's ``params`` (given)."""
    return [name for name, p in params.items() if name.endswith(".weight") and p.ndim == 2]


def quantize_params(params, bits, arg):
    """Round every 2-D weight matrix; returns ``(new params, weight bytes, scale bytes)``.

    ``bits`` 8: ``arg`` is the ``axis`` of ``quantize_int8`` (``None``: per tensor); ``bits``
    4: ``arg`` is the group size. The new dict shares the 1-D arrays with ``params``; the
    rounded matrices are dequantized to the dtype of the originals. The bytes are what the
    quantized storage takes: 1 (int8) or 1/2 (int4) byte per weight, and 4 per float32 scale.

    Raises:
        ValueError: if a matrix's input dimension does not split into groups of ``arg``.
    """
    out, weight_bytes, scale_bytes = dict(params), 0, 0
    for name in weight_matrices(params):
        w = params[name]
        w_in_out = w.T if name in EMBEDDINGS else w  # (in, out)
        if bits == 32:
            weight_bytes += FP32_BYTES * w.size
            continue
        if bits == 8:
            q, scale = quantize_int8(w_in_out, axis=arg)
            deq = dequantize_int8(q, scale)
        elif bits == 4:
            if w_in_out.shape[0] % arg != 0:
                raise ValueError(f"quantize_params: {name} has input dimension "
                                 f"{w_in_out.shape[0]}, not a multiple of group_size {arg}")
            q, scale = quantize_int4(w_in_out, arg)
            deq = dequantize_int4(q, scale, arg)
        else:
            raise ValueError(f"quantize_params: bits must be 32, 8 or 4, got {bits!r}")
        weight_bytes += q.nbytes  # int8: one byte a weight; int4: two weights a byte
        scale_bytes += FP32_BYTES * scale.size
        out[name] = (deq.T if name in EMBEDDINGS else deq).astype(w.dtype)
    return out, weight_bytes, scale_bytes


def _windows(tokens, block_size):
    """Non-overlapping ``(inputs, targets)`` windows of ``block_size`` tokens (given)."""
    tokens = np.asarray(tokens)
    if tokens.ndim != 1 or not np.issubdtype(tokens.dtype, np.integer):
        raise ValueError(f"tokens must be a 1-D array of token ids, got {tokens.dtype} "
                         f"{tokens.shape}")
    n = (len(tokens) - 1) // block_size
    if n < 1:
        raise ValueError(f"need at least block_size + 1 = {block_size + 1} tokens, got "
                         f"{len(tokens)}")
    idx = tokens[: n * block_size].reshape(n, block_size)
    targets = tokens[1: n * block_size + 1].reshape(n, block_size)
    return idx, targets


def quantization_report(model, tokens, block_size=256, group_sizes=(32, 64, 128),
                        batch_size=4):
    """Weight memory, logits error and perplexity of each quantization scheme (given).

    Args:
        model: a Module 3 ``GPT`` (float32 or float64 parameters); it is not modified.
        tokens: 1-D integer array of held-out token ids, cut into non-overlapping windows of
            ``block_size`` inputs (and their next tokens as targets); the tail is dropped.
        block_size: window length, at most ``model.config.block_size``.
        group_sizes: the int4 group sizes; each must divide ``n_embd`` and ``4 * n_embd``.
        batch_size: windows per forward pass (bounds the memory of the ``(B, T, V)`` logits).

    Returns:
        One dict per scheme, fp32 first, with ``scheme``, ``bits``, ``weight_bytes`` (the
        quantized values), ``scale_bytes``, ``total_bytes``, ``bits_per_weight`` (scales
        included), ``compression`` (fp32 bytes / total bytes), ``max_abs_dlogits`` and
        ``mean_abs_dlogits`` (over every position and vocabulary entry, against fp32),
        ``top1_agreement`` (fraction of positions whose argmax token is fp32's), ``loss``
        (mean next-token cross-entropy, nats), ``perplexity`` (``exp(loss)``) and ``dppl``
        (perplexity minus fp32's).
    """
    block_size = min(block_size, model.config.block_size)
    idx, targets = _windows(tokens, block_size)
    n_weights = sum(model.params[n].size for n in weight_matrices(model.params))
    rows = []
    for label, bits, arg in schemes(group_sizes):
        params, weight_bytes, scale_bytes = quantize_params(model.params, bits, arg)
        quantized = copy.copy(model)  # shares config; the forward reads .params afresh
        quantized.params = params
        nll = dmax = dsum = agree = 0.0
        for start in range(0, len(idx), batch_size):
            x, y = idx[start:start + batch_size], targets[start:start + batch_size]
            ref = model.forward(x)  # (B, T, V), in the model's dtype: GPT-2's are 100+ MB
            logits = ref if bits == 32 else quantized.forward(x)
            diff = np.abs(logits - ref)
            dmax = max(dmax, float(diff.max()))
            dsum += float(diff.sum(dtype=np.float64))
            agree += float(np.sum(logits.argmax(-1) == ref.argmax(-1)))
            nll += float(cross_entropy(logits, y)[0]) * y.size  # mean -> sum over positions
        total = weight_bytes + scale_bytes
        rows.append({
            "scheme": label, "bits": bits, "group_size": arg if bits == 4 else None,
            "weight_bytes": weight_bytes, "scale_bytes": scale_bytes, "total_bytes": total,
            "bits_per_weight": 8 * total / n_weights,
            "compression": FP32_BYTES * n_weights / total,
            "max_abs_dlogits": dmax, "mean_abs_dlogits": dsum / (targets.size * ref.shape[-1]),
            "top1_agreement": agree / targets.size,
            "loss": nll / targets.size, "perplexity": float(np.exp(nll / targets.size)),
        })
    for row in rows:
        row["dppl"] = row["perplexity"] - rows[0]["perplexity"]
    return rows


def format_quantization_report(rows):
    """The rows of ``quantization_report`` as a plain-text table, sizes in MB = 10^6 bytes
    (given)."""
    # 80 columns: |dl| is the absolute logit difference against the float32 model
    header = (f"{'scheme':<16} {'weights':>7} {'bits/w':>6} {'vs fp32':>7} {'max|dl|':>8} "
              f"{'mean|dl|':>8} {'top-1':>7} {'ppl':>7} {'dppl':>6}")
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r['scheme']:<16} {r['total_bytes'] / 1e6:>4.2f} MB {r['bits_per_weight']:>6.2f} "
            f"{r['compression']:>6.2f}x {r['max_abs_dlogits']:>8.4g} "
            f"{r['mean_abs_dlogits']:>8.4g} {r['top1_agreement']:>7.2%} "
            f"{r['perplexity']:>7.3f} {r['dppl']:>+6.3f}")
    return "\n".join(lines)
