"""The Bradley-Terry loss of a reward model, and its gradient (exercise 4.10).

A reward model scores a (prompt, completion) pair with one number r. Given a preference pair
where people preferred the completion y_w ("chosen") to y_l ("rejected"), the Bradley-Terry
model says

    P(y_w preferred to y_l) = sigma(r_w - r_l),        sigma(z) = 1 / (1 + exp(-z)),

and the reward model is trained to maximise the likelihood of the observed preferences, i.e.
to minimise the mean negative log-likelihood over N pairs:

    loss = (1/N) sum_i -log sigma(r_w,i - r_l,i) = (1/N) sum_i log(1 + exp(-(r_w,i - r_l,i))).

``-log sigma(z) = log(1 + exp(-z))`` (softplus(-z)) is finite for every finite z, and the
computed loss must be too; ``np.log(sigmoid(z))`` is not: ``sigmoid(-800)`` rounds to 0 and its
log is -inf (lecture 4, §13).

The API is Module 3's: ``loss, cache = bradley_terry_loss(...)`` then
``dr_chosen, dr_rejected = bradley_terry_loss_backward(dloss, cache)``.
"""

import numpy as np


def as_rewards(r_chosen, r_rejected, fn_name):
    """Both reward arrays as float arrays of the same shape (N,), N >= 1 (given, not an
    exercise). Integer input becomes float64; float input keeps its dtype (not copied)."""
    arrays = []
    for name, r in (("r_chosen", r_chosen), ("r_rejected", r_rejected)):
        r = np.asarray(r)
        if r.dtype.kind not in "iuf":
            raise TypeError(f"{fn_name}: {name} should be a real array, got dtype {r.dtype}")
        arrays.append(r if r.dtype.kind == "f" else r.astype(np.float64))
    r_chosen, r_rejected = arrays
    if r_chosen.ndim != 1 or r_chosen.size == 0 or r_chosen.shape != r_rejected.shape:
        raise ValueError(f"{fn_name}: r_chosen and r_rejected should both have shape (N,) with "
                         f"N >= 1 (one reward per pair), got {r_chosen.shape} and "
                         f"{r_rejected.shape}")
    return r_chosen, r_rejected


def bradley_terry_loss(r_chosen, r_rejected):
    """Mean Bradley-Terry negative log-likelihood of N preference pairs (exercise 4.10).

    ``loss = mean_i( -log sigma(r_chosen[i] - r_rejected[i]) )``, computed stably: finite
    for rewards as large as 1e4 in absolute value (no inf, no NaN, no overflow warning).

    Args:
        r_chosen: (N,) float array, the reward of the preferred completion of each pair.
        r_rejected: (N,) float array, the reward of the other completion (same shape).

    Returns:
        loss: a NumPy float scalar of the inputs' dtype (float64 for float64 input): the MEAN
            over the N pairs (not the sum).
        cache: what ``bradley_terry_loss_backward`` needs (opaque to the caller).

    Raises:
        ValueError: if the shapes are not both (N,) with N >= 1.
        TypeError: if an input is not a real array.
    """
    r_chosen, r_rejected = as_rewards(r_chosen, r_rejected, "bradley_terry_loss")
    ### BEGIN SOLUTION
    z = r_chosen - r_rejected  # the margin, [N]
    loss = np.mean(np.logaddexp(0, -z))  # -log sigma(z) = log(1 + e^-z), finite for all z
    return loss, z
    ### END SOLUTION


def bradley_terry_loss_backward(dloss, cache):
    """Gradients of the Bradley-Terry loss with respect to both rewards (exercise 4.10).

    Derived in lecture 4, §13. Computed without overflow (no inf, no NaN, no warning)
    for ``|r_chosen - r_rejected|`` up to 1e4.

    Args:
        dloss: scalar, the upstream gradient dL/dloss.
        cache: from ``bradley_terry_loss``.

    Returns:
        (dr_chosen, dr_rejected): two (N,) arrays of the rewards' dtype.
    """
    ### BEGIN SOLUTION
    z = cache
    sigma_neg = np.exp(-np.logaddexp(0, z))  # sigma(-z) = 1 / (1 + e^z), no overflow
    dz = -dloss * sigma_neg / z.size  # d mean(-log sigma(z)) / dz, [N]
    return dz.astype(z.dtype), (-dz).astype(z.dtype)
    ### END SOLUTION
