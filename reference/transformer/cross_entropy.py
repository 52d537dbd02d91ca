"""Softmax cross-entropy loss with ignored targets and label smoothing (exercise 3.8)."""

import numpy as np


def _check_cross_entropy_inputs(logits, targets, ignore_index, label_smoothing):
    """Raise a clear error if logits and targets do not fit (given, not an exercise)."""
    if not np.issubdtype(logits.dtype, np.floating):
        raise TypeError(f"cross_entropy: logits must be floating, got dtype {logits.dtype}")
    if logits.ndim < 1 or logits.shape[-1] < 1:
        raise ValueError(f"cross_entropy: logits must be (..., K) with K >= 1, got {logits.shape}")
    if not np.issubdtype(targets.dtype, np.integer):
        raise TypeError(
            f"cross_entropy: targets must be integer class ids, got dtype {targets.dtype}"
        )
    if targets.shape != logits.shape[:-1]:
        raise ValueError(
            f"cross_entropy: targets must have the logits' leading shape {logits.shape[:-1]}, "
            f"got {targets.shape} (logits are (..., K), targets (...))"
        )
    k = logits.shape[-1]
    bad = (targets != ignore_index) & ((targets < 0) | (targets >= k))
    if np.any(bad):
        raise ValueError(
            f"cross_entropy: target {targets[bad].flat[0]} is out of range for K = {k} classes "
            f"(valid ids are 0 .. {k - 1}, or ignore_index = {ignore_index})"
        )
    if not 0.0 <= label_smoothing <= 1.0:  # also rejects NaN
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")


def cross_entropy(logits, targets, ignore_index=-100, label_smoothing=0.0):
    """Mean softmax cross-entropy, as ``torch.nn.functional.cross_entropy`` (exercise 3.8).

    For every position n with ``targets[n] != ignore_index``, with ``log p = log_softmax``
    over the K classes and eps = ``label_smoothing``, the target distribution is
    ``q = (1 - eps) * onehot(targets[n]) + eps / K`` over ALL K classes (PyTorch's formula:
    the true class gets ``1 - eps + eps/K``), and::

        loss_n = -sum_k q_k log p_k = (1 - eps) * (-log p[targets[n]]) + eps * mean_k(-log p_k)
        loss   = sum of loss_n over the N non-ignored positions / N

    ``log p`` is computed by log-sum-exp (lecture 3, §10.2): finite for any finite logits,
    large ones included; with eps = 0, ``-inf`` logits (masked classes) are fine too
    as long as the target's is finite. Equals ``F.cross_entropy(logits.reshape(-1, K),
    targets.reshape(-1), ignore_index=..., label_smoothing=...)`` -- except when every
    target is ignored (N = 0): PyTorch returns NaN (0/0), this returns 0 (and a zero
    gradient), so that a batch of padding cannot poison training.

    Args:
        logits: ``(..., K)`` unnormalised scores, e.g. ``(B, T, V)``; floating dtype.
        targets: integer array-like ``(...)`` (the logits' leading shape) of class ids in
            ``[0, K)``, or ``ignore_index`` for positions without a loss (e.g. padding).
        ignore_index: the target value to skip (PyTorch's default -100); it may also be a
            valid class id (e.g. a padding token id), which is then never a target.
        label_smoothing: eps in [0, 1].

    Returns:
        loss: a NumPy scalar of the logits' dtype (float32 logits -> float32 loss).
        cache: dict for ``cross_entropy_backward``; the reference keeps ``logp`` ``(N_all,
            K)`` (log-softmax of every flattened position), the targets ``(N_all,)`` with
            ignored ones replaced by 0, the boolean ``valid`` ``(N_all,)``, N, eps and the
            logits' shape. logits and targets are not modified.

    Raises:
        TypeError: if logits are not floating or targets not integer.
        ValueError: if the shapes do not fit, a non-ignored target is outside ``[0, K)``, or
            label_smoothing is outside [0, 1].
    """
    logits, targets = np.asarray(logits), np.asarray(targets)
    _check_cross_entropy_inputs(logits, targets, ignore_index, label_smoothing)
    ### BEGIN SOLUTION
    k = logits.shape[-1]
    z = logits.reshape(-1, k)  # (N_all, K): every position a row
    t = targets.reshape(-1)  # (N_all,)
    valid = t != ignore_index  # (N_all,)
    n = int(np.count_nonzero(valid))
    t = np.where(valid, t, 0)  # a safe index for ignored rows (their loss is dropped below)

    logp = z - z.max(axis=-1, keepdims=True)  # (N_all, K), max 0: exp cannot overflow
    logp -= np.log(np.exp(logp).sum(axis=-1, keepdims=True))  # log-softmax (in place: V is big)
    per_position = -logp[np.arange(t.size), t]  # (N_all,) -log p[target]
    eps = float(label_smoothing)
    if eps > 0:  # the uniform part of q; skipped at 0, where 0 * inf would be NaN
        per_position = (1.0 - eps) * per_position - eps * logp.mean(axis=-1)
    loss = np.where(valid, per_position, 0).sum() / max(n, 1)  # all ignored -> 0, not 0/0
    loss = loss.astype(logits.dtype)  # NumPy 1.x promotes a float32 scalar divided by an int
    cache = {"logp": logp, "targets": t, "valid": valid, "n": n, "eps": eps,
             "shape": logits.shape}
    return loss, cache
    ### END SOLUTION


def cross_entropy_backward(dloss, cache):
    """Gradient of ``cross_entropy`` w.r.t. the logits (exercise 3.8).

    Derived in lecture 3, §10.3-10.5. Ignored positions get a zero row (and everything is
    zero when N = 0).

    Args:
        dloss: dL/d(loss), a scalar (1.0 when the loss is the objective itself).
        cache: the cache returned by ``cross_entropy``.

    Returns:
        dlogits: the logits' shape ``(..., K)`` and dtype (float32 logits -> float32).

    Raises:
        ValueError: if dloss is not a scalar.
    """
    if np.ndim(dloss) != 0:
        raise ValueError(f"cross_entropy_backward: dloss must be a scalar, got shape "
                         f"{np.shape(dloss)}")
    ### BEGIN SOLUTION
    logp, t, valid, n, eps = (cache[key] for key in ("logp", "targets", "valid", "n", "eps"))
    k = logp.shape[-1]
    grad = np.exp(logp)  # (N_all, K) softmax
    if eps > 0:  # minus q: the uniform part (skipped at 0: a whole pass for nothing) ...
        grad -= eps / k
    grad[np.arange(t.size), t] -= 1.0 - eps  # ... and the one-hot part
    grad *= float(dloss) / max(n, 1)  # a Python float: float32 stays float32
    grad[~valid] = 0.0  # ignored positions contribute nothing
    return grad.reshape(cache["shape"])
    ### END SOLUTION
