"""Training utilities: the AdamW optimiser, gradient-norm clipping and two learning-rate
schedules (exercise 3.10).

Parameters and gradients are dicts of arrays with the same keys (``params["W_1"]`` and
``grads["W_1"]``); the optimiser and the clipping update the arrays in place, like PyTorch's
``optimizer.step()`` and ``clip_grad_norm_``, so every reference to a parameter sees the new
values. The schedules are plain functions of the step number: pass their value as
``AdamW.step(..., lr=...)``.
"""

import math

import numpy as np


def _check_arrays(params, grads, where):
    """Raise a clear error if params and grads do not match (given, not an exercise)."""
    missing, extra = set(params) - set(grads), set(grads) - set(params)
    if missing or extra:
        raise ValueError(
            f"{where}: params and grads must have the same keys; missing gradients "
            f"{sorted(missing)}, gradients without a parameter {sorted(extra)}"
        )
    for name, p in params.items():
        if not isinstance(p, np.ndarray) or not np.issubdtype(p.dtype, np.floating):
            raise TypeError(f"{where}: params[{name!r}] must be a floating NumPy array")
        if not p.flags.writeable:
            raise ValueError(f"{where}: params[{name!r}] is read-only; it is updated in place")
        if np.shape(grads[name]) != p.shape:
            raise ValueError(
                f"{where}: grads[{name!r}] has shape {np.shape(grads[name])}, but the "
                f"parameter is {p.shape}"
            )


class AdamW:
    """Adam with decoupled weight decay (Loshchilov & Hutter), as ``torch.optim.AdamW``
    (exercise 3.10).

    One ``step(params, grads)`` updates every parameter p (gradient g) in place, in
    PyTorch's order, with t the number of steps taken including this one::

        p -= lr * weight_decay * p                 # decoupled decay, first (not via g)
        m  = beta1 * m + (1 - beta1) * g           # first moment
        v  = beta2 * v + (1 - beta2) * g * g       # second moment
        m_hat = m / (1 - beta1^t)                  # bias corrections
        v_hat = v / (1 - beta2^t)
        p -= lr * m_hat / (sqrt(v_hat) + eps)

    With ``weight_decay=0`` this is Adam. (PyTorch decays every parameter it is given; to
    spare biases and norm gains, as GPT-2 training usually does, use two optimisers or
    ``weight_decay=0``.)

    Attributes (the state, given; ``step`` maintains it):
        lr, betas, eps, weight_decay: the hyperparameters (``lr`` is the default rate).
        t: the number of steps taken (0 before the first).
        m, v: dicts of the first and second moments, one array per parameter key with the
            parameter's shape and dtype, created as zeros at the first step.
    """

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        beta1, beta2 = betas
        if not lr >= 0.0:
            raise ValueError(f"AdamW: invalid learning rate {lr}")
        if not (0.0 <= beta1 < 1.0 and 0.0 <= beta2 < 1.0):
            raise ValueError(f"AdamW: betas must be in [0, 1), got {betas}")
        if not eps >= 0.0:
            raise ValueError(f"AdamW: invalid eps {eps}")
        if not weight_decay >= 0.0:
            raise ValueError(f"AdamW: invalid weight_decay {weight_decay}")
        self.lr = float(lr)
        self.betas = (float(beta1), float(beta2))
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)
        self.t = 0
        self.m = {}
        self.v = {}

    def step(self, params, grads, lr=None):
        """One AdamW update of every array in ``params``, in place (exercise 3.10).

        Args:
            params: dict name -> floating array; each array is modified in place (the dict
                itself is not changed). Pass the same keys at every step.
            grads: dict with the same keys and shapes (e.g. from a backward pass); read only.
            lr: the learning rate of this step, e.g. from a schedule; ``self.lr`` when None.
                (Like setting ``optimizer.param_groups[0]["lr"]`` in PyTorch: it does not
                change the bias corrections.)

        Returns:
            None.

        Raises:
            ValueError / TypeError: if the keys, shapes or dtypes do not fit, or the keys
                differ from the previous steps'.
        """
        _check_arrays(params, grads, "AdamW.step")
        if self.t > 0 and set(params) != set(self.m):
            raise ValueError(
                f"AdamW.step: the optimiser state has the keys {sorted(self.m)}, but params "
                f"has {sorted(params)}; use one optimiser per set of parameters"
            )
        lr = self.lr if lr is None else float(lr)  # Python floats keep float32 float32
        ### BEGIN SOLUTION
        self.t += 1
        beta1, beta2 = self.betas
        bias_correction1 = 1.0 - beta1**self.t
        bias_correction2 = 1.0 - beta2**self.t
        for name, p in params.items():
            g = grads[name]
            if name not in self.m:
                self.m[name], self.v[name] = np.zeros_like(p), np.zeros_like(p)
            m, v = self.m[name], self.v[name]
            p *= 1.0 - lr * self.weight_decay  # decoupled weight decay, before the update
            m *= beta1
            m += (1.0 - beta1) * g
            v *= beta2
            v += (1.0 - beta2) * (g * g)
            # sqrt(v_hat) + eps, then the update, in one buffer: no temporary of p's size
            denom = np.sqrt(v)
            denom *= 1.0 / math.sqrt(bias_correction2)
            denom += self.eps  # sqrt(v_hat) + eps
            update = np.divide(m, denom, out=denom)  # m / (sqrt(v_hat) + eps), in denom
            update *= lr / bias_correction1  # lr * m_hat / (sqrt(v_hat) + eps)
            p -= update
        ### END SOLUTION


def clip_grad_norm(grads, max_norm):
    """Scale all gradients together so their global L2 norm is at most ``max_norm``
    (exercise 3.10).

    As ``torch.nn.utils.clip_grad_norm_``: with ``total = sqrt(sum of g^2 over every entry
    of every array)``, if ``coef = max_norm / (total + 1e-6)`` is below 1, every array is
    multiplied by coef in place (the direction of the update is kept; only its length
    shrinks). Otherwise nothing changes.

    Args:
        grads: dict name -> floating array, modified in place.
        max_norm: the largest allowed global norm, > 0.

    Returns:
        total: the global norm before clipping, a Python float (worth logging: spikes show
        instabilities). If it is not finite (inf or NaN gradients), the gradients are left
        as they are (PyTorch would scale them by 0 or NaN), so the caller can skip the step.

    Raises:
        ValueError: if max_norm is not positive.
    """
    if not max_norm > 0:
        raise ValueError(f"clip_grad_norm: max_norm must be positive, got {max_norm}")
    ### BEGIN SOLUTION
    total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))  # vdot flattens
    coef = max_norm / (total + 1e-6)
    if math.isfinite(total) and coef < 1.0:
        for g in grads.values():
            g *= coef  # a Python float: float32 gradients stay float32
    return total
    ### END SOLUTION


def noam_schedule(step, d_model, warmup):
    """The learning rate of "Attention Is All You Need" (§5.3) (exercise 3.10).

    ``lr = d_model^-0.5 * min(step^-0.5, step * warmup^-1.5)``: a linear increase for the
    first ``warmup`` steps, then a decay proportional to ``1/sqrt(step)``; the peak, at
    ``step == warmup``, is ``(d_model * warmup)^-0.5``. The paper uses d_model 512 and warmup
    4000. (The Annotated Transformer multiplies it by a constant factor; do that outside.)

    Args:
        step: the step number, an integer >= 1 (the first update is step 1; with PyTorch's
            ``LambdaLR``, whose counter starts at 0, use ``lambda s: noam_schedule(s + 1, ...)``).
        d_model: the model width, >= 1.
        warmup: the number of warmup steps, >= 1.

    Returns:
        the learning rate, a Python float.

    Raises:
        ValueError: if step, d_model or warmup is below 1.
    """
    if step < 1 or d_model < 1 or warmup < 1:
        raise ValueError(
            f"noam_schedule: step, d_model and warmup must be >= 1, got step={step}, "
            f"d_model={d_model}, warmup={warmup} (the first step is 1: 0 ** -0.5 is infinite)"
        )
    ### BEGIN SOLUTION
    return float(d_model**-0.5 * min(step**-0.5, step * warmup**-1.5))
    ### END SOLUTION


def cosine_schedule(step, max_lr, min_lr, warmup, total):
    """Linear warmup, then cosine decay: the usual GPT schedule (nanoGPT, LLaMA) (exercise 3.10).

    For a step s >= 0 (the number of updates already done, 0 for the first)::

        s < warmup:           max_lr * s / warmup                          (0 at s = 0)
        warmup <= s < total:  min_lr + (max_lr - min_lr) * (1 + cos(pi * r)) / 2,
                              r = (s - warmup) / (total - warmup)          (max_lr at s = warmup)
        s >= total:           min_lr

    It is continuous: it reaches max_lr at ``s = warmup`` and min_lr at ``s = total``.
    This is Hugging Face's ``get_cosine_with_min_lr_schedule_with_warmup`` (times max_lr);
    nanoGPT's warmup differs by one step (it starts at ``max_lr / (warmup + 1)``).

    Args:
        step: s, an integer >= 0.
        max_lr: the peak rate, reached at the end of the warmup.
        min_lr: the final rate (nanoGPT uses max_lr / 10).
        warmup: the number of warmup steps, >= 0 (0: start at max_lr).
        total: the step at which the decay ends, >= warmup.

    Returns:
        the learning rate, a Python float.

    Raises:
        ValueError: if step < 0, warmup < 0 or total < warmup.
    """
    if step < 0 or warmup < 0 or total < warmup:
        raise ValueError(
            f"cosine_schedule: need step >= 0 and 0 <= warmup <= total, got step={step}, "
            f"warmup={warmup}, total={total}"
        )
    ### BEGIN SOLUTION
    if step < warmup:
        return float(max_lr * step / warmup)
    if step >= total:
        return float(min_lr)
    ratio = (step - warmup) / (total - warmup)  # 0 -> 1 over the decay
    return float(min_lr + (max_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * ratio)))
    ### END SOLUTION
