"""Pretraining a GPT on a stream of tokens: the training loop, evaluation and perplexity,
checkpoints (exercise 4.3).

Built on Module 3: ``GPT.loss`` / ``GPT.backward`` (3.11), ``AdamW``, ``clip_grad_norm`` and
``cosine_schedule`` (3.10), the progress lines of ``transformer/training.py``, and the batches
of ``get_batch`` (4.2).

Reproducibility is by construction. The batch of update ``s`` (0-based: the number of updates
done before it) is drawn from its own generator, ``batch_rng(seed, s)``, and the learning rate
is a function of ``s``; so training depends only on the weights, the optimiser state and ``s``
-- exactly what a checkpoint stores. Stopping after update ``k``, saving, loading and training
on from ``start_step=k`` therefore gives bit for bit the updates of an uninterrupted run.

A checkpoint is ONE ``.npz`` archive (NumPy's zip of ``.npy`` arrays), readable with
``np.load(path, allow_pickle=False)``: nothing in it is a pickle, so loading a file cannot run
code. Its entries (the format, fixed so that other tools can read it):

==========================  ==========================================================
``format``                  the string ``CHECKPOINT_FORMAT``: marks the file as ours
``config``                  the ``GPTConfig`` as a JSON string (``dataclasses.asdict``)
``step``                    int64: the number of updates done
``param.<name>``            every ``model.params[name]``, dtype and bits unchanged
``optimizer.hparams``       JSON ``{"lr", "betas", "eps", "weight_decay"}`` (if saved)
``optimizer.t``             int64: AdamW's step counter (its bias corrections need it)
``optimizer.m.<name>``      AdamW's first moments, one per parameter (none when t = 0)
``optimizer.v.<name>``      AdamW's second moments
``extra.<key>``             the ``**extra`` values, as arrays (numbers, strings, arrays)
==========================  ==========================================================
"""

import dataclasses
import json
import math
import os
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

from ..transformer.gpt import GPT, GPTConfig
from ..transformer.optim import AdamW, cosine_schedule
from ..transformer.training import Progress, TrainingLog, format_metrics, optimizer_step
from .data import get_batch

CHECKPOINT_FORMAT = "course-gpt-checkpoint-v1"
EVAL_STREAM = 2**32 - 1  # batch_rng(seed, EVAL_STREAM) draws the held-out batches


def batch_rng(seed, step):
    """The generator of update ``step``'s batch: ``np.random.default_rng([seed, step])``
    (given). ``train`` draws every evaluation's batches from ``batch_rng(seed, EVAL_STREAM)``,
    afresh each time, so all evaluations of a run score the same held-out windows."""
    return np.random.default_rng([seed, step])


def evaluate(model, data, batch_size, block_size, n_batches, rng):
    """Mean next-token loss of ``model`` on ``data``, and its perplexity (exercise 4.3).

    Draws ``n_batches`` batches one after the other, ``x, y = get_batch(data, batch_size,
    block_size, rng)``, and averages ``model.loss(x, y)`` over them. Every batch has the same
    number of tokens (B*T), so the mean of the batch means is the mean over all scored tokens:

        loss = (1 / (n_batches B T)) sum over the tokens of -ln p(y | x-prefix)   (nats)
        perplexity = exp(loss)

    A model that predicts uniformly over V tokens has loss ln V and perplexity V: perplexity
    is the size of a uniform choice that is as uncertain as the model.

    Args:
        model: a ``GPT`` (only ``model.loss`` is called; the weights are not changed).
        data: 1-D integer array of token ids (e.g. the validation split).
        batch_size, block_size: B and T of each batch, as for ``get_batch``.
        n_batches: the number of batches, >= 1.
        rng: a ``np.random.Generator``, advanced by the n_batches draws.

    Returns:
        dict ``{"loss": float, "perplexity": float}`` (Python floats, computed in float64).

    Raises:
        ValueError: if n_batches < 1; as ``get_batch`` for bad data or sizes.
    """
    if isinstance(n_batches, bool) or not isinstance(n_batches, (int, np.integer)) \
            or n_batches < 1:
        raise ValueError(f"evaluate: n_batches must be a positive integer, got {n_batches!r}")
    ### BEGIN SOLUTION
    losses = []
    for _ in range(n_batches):
        x, y = get_batch(data, batch_size, block_size, rng)  # (B, T) each
        losses.append(float(model.loss(x, y)))
    loss = float(np.mean(losses))  # equal batch sizes: the token-weighted mean
    return {"loss": loss, "perplexity": math.exp(loss)}
    ### END SOLUTION


def train(model, optimizer, train_data, steps, batch_size, block_size, *, lr, min_lr=None,
          warmup=0, total_steps=None, start_step=0, max_norm=1.0, seed=0, val_data=None,
          eval_every=None, eval_batches=10, checkpoint_path=None, checkpoint_every=None,
          progress_every=2.0, out=None):
    """Pretrain ``model`` with next-token batches: updates ``start_step .. start_step + steps
    - 1`` (exercise 4.3).

    Update ``s`` (the number of updates done before it) is::

        x, y  = get_batch(train_data, batch_size, block_size, batch_rng(seed, s))
        loss  = model.loss(x, y);  grads = model.backward()
        lr_s  = cosine_schedule(s, lr, min_lr, warmup, total_steps)
        optimizer_step(optimizer, model.params, grads, lr_s, max_norm)   # clip, then AdamW

    (``optimizer_step`` is Module 3's: ``clip_grad_norm`` to ``max_norm`` unless it is None,
    then ``optimizer.step``; a step with a non-finite gradient norm is skipped.)

    With ``val_data``, the model is evaluated (``evaluate(model, val_data, batch_size,
    block_size, eval_batches, batch_rng(seed, EVAL_STREAM))``) before the first update when
    ``start_step == 0``, after every update whose number ``s + 1`` is a multiple of
    ``eval_every``, and after the last one. With ``checkpoint_path``, ``save_checkpoint(
    checkpoint_path, model, optimizer, step=s + 1, seed=seed, total_steps=total_steps)`` runs
    after every update whose number is a multiple of ``checkpoint_every`` and after the last.

    To resume from a checkpoint of step k: load it, and call ``train`` again with the same
    arguments but ``start_step=k`` and ``steps`` reduced by k (keep ``total_steps``: the
    schedule must not restart). The updates are then exactly those of an uninterrupted run.

    Args:
        model: a ``GPT``; its ``params`` are updated in place.
        optimizer: an ``AdamW`` (its state is updated).
        train_data: 1-D integer array of token ids.
        steps: the number of updates of this call, >= 0.
        batch_size, block_size: B and T of every batch (``block_size <= model.config.
            block_size``).
        lr: the peak learning rate (reached after the warmup).
        min_lr: the learning rate at the end of the cosine decay (default ``lr / 10``, as
            nanoGPT; pass ``min_lr=lr`` with ``warmup=0`` for a constant rate).
        warmup: steps of linear warmup.
        total_steps: the step at which the decay ends (default ``start_step + steps``).
        start_step: the number of updates already done (0 for a fresh model).
        max_norm: clip the global gradient norm to this (None: no clipping).
        seed: seeds the batches (see ``batch_rng``).
        val_data: held-out token ids, or None (no evaluation).
        eval_every: updates between evaluations (None: only at the start and the end).
        eval_batches: batches per evaluation.
        checkpoint_path: where to save checkpoints (None: never).
        checkpoint_every: updates between checkpoints (None: only after the last update).
        progress_every: seconds between progress lines (Module 3's ``Progress``: step of this
            call, loss, tokens/s, ETA); None prints nothing at all, evaluations included.
        out: where to print (default ``sys.stdout``).

    Returns:
        a ``TrainingLog`` (``transformer/training.py``): ``losses`` (the training loss of each
        update of this call, floats, before the update), ``evals`` (a list of ``(step,
        {"loss": ..., "perplexity": ...})`` with the number of updates done at that point),
        ``tokens`` (B*T per update) and ``seconds``.

    Raises:
        ValueError: if steps < 0 or start_step < 0, or as the functions it calls.
        FloatingPointError: if the training loss is not finite.
    """
    if steps < 0 or start_step < 0:
        raise ValueError(f"train: steps and start_step must be >= 0, got steps={steps}, "
                         f"start_step={start_step}")
    if block_size > model.config.block_size:
        raise ValueError(f"train: block_size = {block_size} exceeds the model's context "
                         f"{model.config.block_size}")
    min_lr = lr / 10 if min_lr is None else min_lr
    total_steps = start_step + steps if total_steps is None else total_steps
    out = out or sys.stdout
    ### BEGIN SOLUTION
    log = TrainingLog()
    progress = None if progress_every is None else Progress(steps, every=progress_every, out=out)
    end = start_step + steps
    began = time.perf_counter()

    def run_eval(step):
        metrics = evaluate(model, val_data, batch_size, block_size, eval_batches,
                           batch_rng(seed, EVAL_STREAM))
        log.evals.append((step, metrics))
        if progress is not None:
            print(f"  validation at step {step}: {format_metrics(metrics)}", file=out, flush=True)

    if val_data is not None and start_step == 0:
        run_eval(0)
    for s in range(start_step, end):
        tic = time.perf_counter()
        x, y = get_batch(train_data, batch_size, block_size, batch_rng(seed, s))
        loss = float(model.loss(x, y))
        if not math.isfinite(loss):
            raise FloatingPointError(f"train: the training loss is {loss} at update {s}")
        grads = model.backward()
        lr_s = cosine_schedule(s, lr, min_lr, warmup, total_steps)
        optimizer_step(optimizer, model.params, grads, lr_s, max_norm)
        log.losses.append(loss)
        log.tokens += x.size
        done = s + 1
        if progress is not None:
            progress.update(done - start_step, loss, x.size, time.perf_counter() - tic)
        if val_data is not None and (done == end or (eval_every and done % eval_every == 0)):
            run_eval(done)
        if checkpoint_path is not None and (
                done == end or (checkpoint_every and done % checkpoint_every == 0)):
            save_checkpoint(checkpoint_path, model, optimizer, step=done, seed=seed,
                            total_steps=total_steps)
    log.seconds = time.perf_counter() - began
    return log
    ### END SOLUTION


def save_checkpoint(path, model, optimizer=None, step=0, **extra):
    """Write ``model`` (and ``optimizer``, ``step``, ``extra``) to ONE ``.npz`` file (exercise 4.3).

    The entries are listed in the module docstring. Parameters and moments are stored as they
    are (same dtype, same bits: float32 stays float32, float64 stays float64); the config and
    the optimiser's hyperparameters as JSON strings (JSON writes floats with ``repr``, which
    reads back exactly). The file is written under a temporary name and then renamed, so an
    interrupted save never leaves half a checkpoint at ``path``; ``path`` is used as given
    (``np.savez`` would append ``.npz`` to a name without it: write to an open file instead).

    Args:
        path: the file to write (str or ``os.PathLike``); its directory must exist.
        model: a ``GPT``.
        optimizer: its ``AdamW``, or None.
        step: the number of updates done (an int, stored as ``step``).
        **extra: more values to keep (``seed=0``, ``note="..."``, arrays): each becomes
            ``extra.<key>`` via ``np.asarray``; they come back from ``load_checkpoint``.

    Returns:
        the path written, a ``pathlib.Path``.

    Raises:
        TypeError: if an extra value would need a pickle (an object array, e.g. a dict).
    """
    path = Path(path)
    ### BEGIN SOLUTION
    arrays = {"format": np.array(CHECKPOINT_FORMAT),
              "config": np.array(json.dumps(dataclasses.asdict(model.config))),
              "step": np.array(step, dtype=np.int64)}
    arrays.update({f"param.{name}": p for name, p in model.params.items()})
    if optimizer is not None:
        hparams = {"lr": optimizer.lr, "betas": list(optimizer.betas), "eps": optimizer.eps,
                   "weight_decay": optimizer.weight_decay}
        arrays["optimizer.hparams"] = np.array(json.dumps(hparams))
        arrays["optimizer.t"] = np.array(optimizer.t, dtype=np.int64)
        arrays.update({f"optimizer.m.{name}": m for name, m in optimizer.m.items()})
        arrays.update({f"optimizer.v.{name}": v for name, v in optimizer.v.items()})
    for key, value in extra.items():
        stored = np.asarray(value)
        if stored.dtype.hasobject:
            raise TypeError(f"save_checkpoint: extra value {key!r} is not a number, string or "
                            "numeric array (it would need a pickle)")
        arrays[f"extra.{key}"] = stored
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:  # a file object: savez adds no ".npz" to the name
        np.savez(f, **arrays)
    os.replace(tmp, path)  # atomic: readers see the old file or the new one
    return path
    ### END SOLUTION


def load_checkpoint(path):
    """Read a checkpoint written by ``save_checkpoint`` (exercise 4.3).

    Opens the file with ``np.load(path, allow_pickle=False)``, rebuilds ``GPTConfig`` from its
    JSON, makes ``GPT(config)`` and replaces its parameters by the stored arrays (dtype and
    bits unchanged), and rebuilds the ``AdamW`` with its hyperparameters, ``t``, ``m`` and
    ``v``. Saving and loading is bit-exact: training on from the loaded pair continues exactly
    as the saved run would have.

    Args:
        path: a file written by ``save_checkpoint`` (str or ``os.PathLike``).

    Returns:
        ``(model, optimizer, step, extra)``: the ``GPT``; the ``AdamW`` (None if none was
        saved); the step (int); the extra values as a dict (0-d arrays as Python scalars /
        str, other arrays as arrays).

    Raises:
        FileNotFoundError: if there is no file at path.
        ValueError: if the file is not a checkpoint (not an ``.npz``, no ``format`` entry, or
            parameters that do not fit its config).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_checkpoint: no checkpoint at {path}")
    ### BEGIN SOLUTION
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"load_checkpoint: {path} is not a checkpoint ({exc})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):  # a single .npy array
        raise ValueError(f"load_checkpoint: {path} is not a checkpoint (not an .npz archive)")
    with archive:
        arrays = {name: archive[name] for name in archive.files}
    if "format" not in arrays or str(arrays["format"]) != CHECKPOINT_FORMAT:
        raise ValueError(f"load_checkpoint: {path} is not a checkpoint written by "
                         f"save_checkpoint (no format entry {CHECKPOINT_FORMAT!r})")
    config = GPTConfig(**json.loads(str(arrays["config"])))
    model = GPT(config, np.random.default_rng(0))  # random weights, replaced just below
    stored = {k.removeprefix("param."): v for k, v in arrays.items() if k.startswith("param.")}
    if set(stored) != set(model.params) or any(
            stored[name].shape != p.shape for name, p in model.params.items()):
        raise ValueError(f"load_checkpoint: {path}: the parameters do not fit its config "
                         f"{config}")
    model.params = {name: stored[name] for name in model.params}  # the config's order
    optimizer = None
    if "optimizer.hparams" in arrays:
        hparams = json.loads(str(arrays["optimizer.hparams"]))
        optimizer = AdamW(lr=hparams["lr"], betas=tuple(hparams["betas"]), eps=hparams["eps"],
                          weight_decay=hparams["weight_decay"])
        optimizer.t = int(arrays["optimizer.t"])
        for moment in ("m", "v"):
            setattr(optimizer, moment, {name: arrays[f"optimizer.{moment}.{name}"]
                                        for name in model.params
                                        if f"optimizer.{moment}.{name}" in arrays})
    extra = {k.removeprefix("extra."): (v.item() if v.ndim == 0 else v)
             for k, v in arrays.items() if k.startswith("extra.")}
    return model, optimizer, int(arrays["step"]), extra
    ### END SOLUTION
