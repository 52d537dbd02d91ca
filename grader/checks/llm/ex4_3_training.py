"""Checks of exercise 4.3: the pretraining loop, perplexity and checkpoints.

Everything here follows from the documented contracts, without fixtures: the student's own
GPT (3.11) and AdamW (3.10) are the model and the optimiser; the grader replays the
documented updates and evaluations with them, call by call, and compares.  Checkpoints are
written by the student's code into a temporary directory, and the grader opens them itself
with ``np.load(..., allow_pickle=False)``.
"""

from __future__ import annotations

import io
import math
import os
import shutil
import stat
import tempfile
from contextlib import contextmanager, redirect_stdout

import numpy as np

from ... import expect
from .. import check
from .common import _call, _draw, _reraise_not_implemented, _same_state

EVAL_STREAM = 2**32 - 1  # documented in llm/pretrain.py: the evaluations' generator


@contextmanager
def _tmpdir(impl):
    """An empty folder the student's code may write into: the sandbox's own scratch space when
    the code runs sandboxed (the only place it may write), else a fresh temporary folder."""
    scratch = getattr(type(impl), "scratch_dir", None)
    if scratch is not None:
        path = str(scratch(impl, "grader-4.3-"))
    else:
        path = tempfile.mkdtemp(prefix="grader-4.3-")
        os.chmod(path, stat.S_IRWXU | stat.S_IRWXG | stat.S_IRWXO)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _open_written(path: str, mode: str = "rb"):
    """Open a file that student code wrote, or one the grader writes next to them, without
    following a link the student's code may have put there (`"rb"`: a regular file only;
    `"xb"`/`"x"`: a new file, never an existing name)."""
    if mode.startswith("x"):
        return open(path, mode)  # O_CREAT | O_EXCL: fails on any existing name, links too
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ValueError(f"{os.path.basename(path)} is not a regular file")
    return os.fdopen(fd, mode)


def _call_pure(fn, what: str, *args, **kwargs):
    """`_call` that also fails if `fn` modified an array argument in place."""
    try:
        return expect.call_pure(fn, what, *args, **kwargs)
    except expect.CheckFailed:
        raise
    except Exception as exc:  # noqa: BLE001 — explained, unless it is the stub's own
        _reraise_not_implemented(exc)
        expect.fail(f"{what} raised {getattr(exc, 'type_name', type(exc).__name__)}: "
                    f"{getattr(exc, 'message', str(exc))}.")


def _model(impl, dtype="float64", seed=0, vocab_size=7, block_size=8, n_embd=16, scale=0.0):
    """A tiny GPT of the student's (3.11); `scale` > 0 replaces wte by N(0, scale^2), so the
    predictions are far from uniform and the losses of different batches differ."""
    config = impl.GPTConfig(vocab_size=vocab_size, block_size=block_size, n_layer=1, n_head=2,
                            n_embd=n_embd, dtype=dtype)
    model = impl.GPT(config, np.random.default_rng(seed))
    if scale:
        params = model.params
        wte = np.random.default_rng(seed + 100).standard_normal(params["wte.weight"].shape)
        params["wte.weight"] = (scale * wte).astype(dtype)
        model.params = params
    return model


def _metrics(result, what: str) -> tuple[float, float]:
    if not (isinstance(result, dict) and {"loss", "perplexity"} <= set(result)):
        expect.fail(f"{what} should return a dict {{'loss': float, 'perplexity': float}}, got "
                    f"{result!r:.80}.")
    loss, ppl = result["loss"], result["perplexity"]
    if not all(isinstance(v, (float, np.floating)) and math.isfinite(v) for v in (loss, ppl)):
        expect.fail(f"{what}: loss and perplexity should be finite floats, got {loss!r}, "
                    f"{ppl!r}.")
    return float(loss), float(ppl)


@check("4.3")
def evaluate_uniform_model_has_perplexity_v(impl):
    """a model that predicts uniformly over V tokens has loss ln V and perplexity V"""
    V = 11
    model = _model(impl, vocab_size=V)
    params = model.params
    params["wte.weight"] = np.zeros_like(params["wte.weight"])  # tied head: logits = 0
    model.params = params
    data = np.random.default_rng(1).integers(0, V, 60)
    loss, ppl = _metrics(impl.evaluate(model, data, 2, 5, 3, np.random.default_rng(0)),
                         "evaluate(model, data, 2, 5, 3, rng)")
    if abs(loss - math.log(V)) > 1e-9:
        expect.fail(f"a model with all-zero logits has loss ln {V} = {math.log(V):.6f} at every "
                    f"position, but evaluate returned loss {loss:.6f}. The loss is the mean "
                    "cross-entropy in nats (model.loss).")
    if abs(ppl - V) > 1e-6:
        hint = ("perplexity is e^loss with the loss in nats; 2^loss is for a loss in bits."
                if abs(ppl - 2**loss) < 1e-6 else "perplexity = exp(mean loss).")
        expect.fail(f"a uniform model over V = {V} tokens has perplexity {V}, evaluate "
                    f"returned {ppl:.6f}: {hint}")


@check("4.3", weight=2)
def evaluate_is_the_mean_loss_over_the_batches(impl):
    """loss = mean of model.loss over n_batches get_batch draws, perplexity = exp(loss)"""
    model = _model(impl, vocab_size=9, scale=1.0)
    data = np.random.default_rng(7).integers(0, 9, 80)
    B, T, n = 3, 6, 4
    rng, mine = np.random.default_rng(4), np.random.default_rng(4)
    loss, ppl = _metrics(expect.call_pure(impl.evaluate, "evaluate", model, data, B, T, n,
                                          rng), f"evaluate(model, data, {B}, {T}, {n}, rng)")
    losses = np.array([float(model.loss(*_draw(data, B, T, mine))) for _ in range(n)])
    want = float(losses.mean())
    if abs(loss - want) > 1e-9 * max(1.0, abs(want)):
        if abs(loss - losses[0]) < 1e-9:
            hint = f"that is the first batch only: average over all n_batches = {n} batches."
        elif abs(loss - losses.sum()) < 1e-9:
            hint = "that is the sum: divide by the number of batches."
        elif _same_state(rng, np.random.default_rng(4)):
            hint = ("the generator given was not used: draw every batch with get_batch(data, "
                    "batch_size, block_size, rng), n_batches times from the same rng.")
        else:
            hint = ("draw n_batches batches one after the other with get_batch(data, "
                    "batch_size, block_size, rng) (4.2) and average model.loss(x, y).")
        expect.fail(f"evaluate returned loss {loss:.6f}; the mean of model.loss over the "
                    f"{n} batches drawn from rng is {want:.6f} (batch losses "
                    f"{np.round(losses, 4).tolist()}): {hint}")
    if abs(ppl - math.exp(want)) > 1e-9 * math.exp(want):
        hint = ""
        if abs(ppl - float(np.exp(losses).mean())) < 1e-9 * ppl:
            hint = (" You averaged the batches' perplexities: perplexity is exp of the mean "
                    "loss (the geometric mean of 1/p), not the mean of exp(loss).")
        expect.fail(f"evaluate returned perplexity {ppl:.6f}, expected exp(loss) = "
                    f"{math.exp(want):.6f}.{hint}")
    if not _same_state(rng, mine):
        expect.fail("evaluate left the generator in another state than n_batches get_batch "
                    "draws would: draw exactly n_batches batches from rng.")


def _replay(impl, variant: str, data, steps: int, B: int, T: int, sched: dict, max_norm: float,
            seed: int):
    """The documented updates, run by the grader with the student's GPT and AdamW; a variant
    other than "right" reproduces a likely mistake. Returns (losses, params)."""
    model, opt = _model(impl, seed=1), impl.AdamW(lr=0.1, betas=(0.9, 0.95), weight_decay=0.1)
    losses = []
    for s in range(steps):
        batch_step = 0 if variant == "same_batch" else s
        x, y = _draw(data, B, T, np.random.default_rng([seed, batch_step]))
        losses.append(float(model.loss(x, y)))
        grads = model.backward()
        if variant != "no_clip":
            impl.clip_grad_norm(grads, max_norm)
        if variant == "constant_lr":
            lr = sched["lr"]
        else:
            lr = impl.cosine_schedule(s + (variant == "schedule_shifted"), sched["lr"],
                                      sched["min_lr"], sched["warmup"], sched["total_steps"])
        params = model.params
        opt.step(params, grads, lr=lr)
        model.params = params
    return losses, model.params


TRAIN_BUGS = {  # variant -> (cause, advice); the replay of the variant is the probe
    "same_batch": ("every update used the batch of update 0", "Draw update s's batch from its "
                   "own generator, batch_rng(seed, s)."),
    "no_clip": ("the gradients were not clipped", "optimizer_step(optimizer, model.params, "
                "grads, lr_s, max_norm) clips to max_norm before AdamW.step."),
    "constant_lr": ("the learning rate was constant", "Use lr_s = cosine_schedule(s, lr, "
                    "min_lr, warmup, total_steps) at update s."),
    "schedule_shifted": ("the schedule is one step ahead", "Update s (0 for the first) uses "
                         "cosine_schedule(s, ...), which is 0 at s = 0 during a warmup."),
}


def _differs(params, expected) -> bool:
    return any(not np.allclose(params[k], expected[k], **expect.F64) for k in expected)


@check("4.3", weight=2)
def train_does_the_documented_updates(impl):
    """each update: batch_rng(seed, s) batch, loss, backward, clip, cosine lr, AdamW step"""
    data = np.random.default_rng(3).integers(0, 7, 90)
    B, T, steps, seed, max_norm = 2, 6, 3, 5, 0.5
    sched = {"lr": 0.1, "min_lr": 0.02, "warmup": 1, "total_steps": 3}
    model = _model(impl, seed=1)
    opt = impl.AdamW(lr=0.1, betas=(0.9, 0.95), weight_decay=0.1)
    log = expect.call_pure(impl.train, "train", model, opt, data, steps, B, T, lr=0.1,
                           min_lr=0.02, warmup=1, max_norm=max_norm, seed=seed,
                           progress_every=None)
    losses = [float(v) for v in log.losses]
    want_losses, want_params = _replay(impl, "right", data, steps, B, T, sched, max_norm, seed)
    if len(losses) != steps:
        expect.fail(f"train(..., steps={steps}) logged {len(losses)} training losses, expected "
                    f"{steps} (log.losses: one per update, the loss before it).")
    params = model.params
    if np.allclose(losses, want_losses, **expect.F64) and not _differs(params, want_params):
        return
    for bug, (cause, advice) in TRAIN_BUGS.items():
        bug_losses, bug_params = _replay(impl, bug, data, steps, B, T, sched, max_norm, seed)
        if np.allclose(losses, bug_losses, **expect.F64) and not _differs(params, bug_params):
            expect.fail(f"train's {steps} updates differ from the documented ones; they are "
                        f"those of a replay where {cause}. {advice} " + expect.cause(cause))
    if not np.isclose(losses[0], want_losses[0], **expect.F64):
        expect.fail(f"the loss of update 0 is {losses[0]:.6f}, expected {want_losses[0]:.6f}: "
                    "its batch is get_batch(train_data, batch_size, block_size, batch_rng(seed, "
                    "0)), and log.losses holds model.loss(x, y) before the update.")
    expect.fail(f"after {steps} updates the training losses are {np.round(losses, 5).tolist()} "
                f"and expected {np.round(want_losses, 5).tolist()}, or the weights differ. "
                "Update s: batch from batch_rng(seed, s), loss, backward, lr_s = "
                "cosine_schedule(s, lr, min_lr, warmup, total_steps), then optimizer_step "
                "(clip to max_norm, AdamW.step with lr_s).")


@check("4.3")
def train_memorises_a_short_sequence(impl):
    """30 updates on a repeating 5-token sequence bring the loss from ln 5 to near 0"""
    data = np.tile(np.array([3, 0, 4, 1, 2]), 30)
    model = _model(impl, vocab_size=5)
    opt = impl.AdamW(lr=0.03, weight_decay=0.0)
    log = impl.train(model, opt, data, 30, 4, 8, lr=0.03, warmup=5, progress_every=None)
    losses = [float(v) for v in log.losses]
    first, last = float(np.mean(losses[:3])), float(np.mean(losses[-5:]))
    if abs(first - math.log(5)) > 0.2:
        expect.fail(f"the first training losses average {first:.3f}; a fresh GPT predicts about "
                    f"uniformly, ln 5 = {math.log(5):.3f}. Log model.loss(x, y) of each batch.")
    if not last < 0.25 * first:
        expect.fail(f"after 30 updates on a sequence that repeats every 5 tokens the loss is "
                    f"{last:.3f} (from {first:.3f}); it should fall below {0.25 * first:.3f}. "
                    "Is the optimiser stepping with the gradients of model.backward() at a "
                    "non-zero learning rate?")


@check("4.3")
def train_evaluates_and_checkpoints_on_schedule(impl):
    """evaluations at 0, every eval_every and the end; a checkpoint of the last update"""
    data = np.random.default_rng(8).integers(0, 7, 70)
    val = np.random.default_rng(9).integers(0, 7, 40)
    B, T, seed = 2, 5, 3
    with _tmpdir(impl) as tmp:
        path = os.path.join(tmp, "run.npz")
        model = _model(impl, seed=2)
        opt = impl.AdamW(lr=0.01)
        log = impl.train(model, opt, data, 5, B, T, lr=0.01, seed=seed, val_data=val,
                         eval_every=2, eval_batches=3, checkpoint_path=path, checkpoint_every=2,
                         progress_every=None)
        evals = list(log.evals)
        steps = [int(s) for s, _ in evals]
        if steps != [0, 2, 4, 5]:
            expect.fail(f"with steps=5 and eval_every=2, train evaluated at steps {steps}, "
                        "expected [0, 2, 4, 5]: before the first update (start_step = 0), after "
                        "every update whose number is a multiple of eval_every, after the last.")
        loss, ppl = _metrics(evals[-1][1], "the last entry of log.evals")
        mine = np.random.default_rng([seed, EVAL_STREAM])
        want = float(np.mean([float(model.loss(*_draw(val, B, T, mine))) for _ in range(3)]))
        if abs(loss - want) > 1e-9 or abs(ppl - math.exp(want)) > 1e-9 * math.exp(want):
            expect.fail(f"the evaluation after the last update says loss {loss:.6f}, perplexity "
                        f"{ppl:.4f}; evaluate(model, val_data, batch_size, block_size, "
                        f"eval_batches, batch_rng(seed, EVAL_STREAM)) gives {want:.6f}, "
                        f"{math.exp(want):.4f}. Use a fresh batch_rng(seed, EVAL_STREAM) for "
                        "every evaluation.")
        if not os.path.isfile(path):
            expect.fail("train(..., checkpoint_path=path) wrote no file at path: save a "
                        "checkpoint after the last update (and every checkpoint_every updates).")
        _, _, step, _ = _call(impl.load_checkpoint, "load_checkpoint of train's checkpoint",
                              "", path)
        if int(step) != 5:
            expect.fail(f"train's last checkpoint says step {step}, expected 5 (the number of "
                        "updates done when it was saved).")


def _trained(impl, dtype: str, n_updates: int = 2):
    """A tiny model and an AdamW with non-trivial moments (a few updates by hand)."""
    model = _model(impl, dtype=dtype, seed=4, vocab_size=6)
    opt = impl.AdamW(lr=0.01, betas=(0.8, 0.9), eps=1e-7, weight_decay=0.05)
    data = np.random.default_rng(6).integers(0, 6, 50)
    for s in range(n_updates):
        model.loss(*_draw(data, 2, 4, np.random.default_rng([0, s])))
        grads, params = model.backward(), model.params
        opt.step(params, grads, lr=0.01 * (s + 1))
        model.params = params
    return model, opt


def _expect_same_arrays(got: dict, want: dict, what: str) -> None:
    if set(got) != set(want):
        expect.fail(f"{what}: keys {sorted(set(got) ^ set(want))[:4]} are missing or extra "
                    "after the round trip.")
    for name, w in want.items():
        g = got[name]
        if not isinstance(g, np.ndarray) or g.dtype != w.dtype:
            expect.fail(f"{what}[{name!r}] came back as {getattr(g, 'dtype', type(g).__name__)}"
                        f", saved as {w.dtype}: store the arrays as they are (no astype), so "
                        "float32 stays float32 and float64 stays float64.")
        if g.shape != w.shape or g.tobytes() != w.tobytes():
            expect.fail(f"{what}[{name!r}] differs after the round trip: a checkpoint must "
                        "restore every bit (no rounding, no text formatting of numbers).")


@check("4.3", weight=2)
def checkpoint_round_trip_is_exact(impl):
    """one .npz, no pickles; params, config, AdamW state, step and extras come back bit-exact"""
    with _tmpdir(impl) as tmp:
        for dtype in ("float32", "float64"):
            model, opt = _trained(impl, dtype)
            path = os.path.join(tmp, f"ckpt_{dtype}.npz")
            params_before = model.params
            _call_pure(impl.save_checkpoint, f"save_checkpoint (a {dtype} model)", path, model,
                       opt, step=7, seed=3, note="hello", lrs=np.array([0.5, 0.25]))
            _expect_same_arrays(model.params, params_before,
                                "the model's params after save_checkpoint (saving changes "
                                "nothing)")
            files = sorted(os.listdir(tmp))
            if files != sorted(f"ckpt_{d}.npz" for d in ("float32", "float64")[:len(files)]):
                expect.fail(f"save_checkpoint(path) should write exactly one file, at path; the "
                            f"directory holds {files} (np.savez appends .npz to a name without "
                            "it; temporary files must be renamed or removed).")
            try:
                with _open_written(path) as f, np.load(f, allow_pickle=False) as archive:
                    stored = {name: archive[name] for name in archive.files}
            except ValueError as exc:
                expect.fail(f"np.load(checkpoint, allow_pickle=False) fails ({exc}): a "
                            "checkpoint holds only arrays and strings (JSON for the config), "
                            "never pickled objects.")
            params = model.params
            missing = [n for n in params if f"param.{n}" not in stored]
            if missing:
                expect.fail(f"the checkpoint has no entry param.{missing[0]}: every parameter is "
                            "stored under 'param.' + its name (see the format in "
                            "llm/pretrain.py).")
            _expect_same_arrays({n: stored[f"param.{n}"] for n in params}, params,
                                "the stored param")
            with _open_written(path) as f:
                written = f.read()
            loaded = _call(impl.load_checkpoint, f"load_checkpoint (a {dtype} model)", "", path)
            with _open_written(path) as f:
                if f.read() != written:
                    expect.fail("load_checkpoint changed the file it read: reading a checkpoint "
                                "must leave it as it is.")
            if not (isinstance(loaded, tuple) and len(loaded) == 4):
                expect.fail("load_checkpoint should return (model, optimizer, step, extra).")
            model2, opt2, step, extra = loaded
            for field in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd",
                          "layer_norm_epsilon", "dtype"):
                a, b = getattr(model.config, field), getattr(model2.config, field)
                if a != b:
                    expect.fail(f"the loaded config has {field} = {b!r}, saved {a!r}.")
            _expect_same_arrays(model2.params, params, "the loaded params")
            if opt2 is None:
                expect.fail("load_checkpoint returned no optimizer, though one was saved.")
            for attr in ("lr", "eps", "weight_decay", "t"):
                if getattr(opt2, attr) != getattr(opt, attr):
                    expect.fail(f"the loaded AdamW has {attr} = {getattr(opt2, attr)!r}, saved "
                                f"{getattr(opt, attr)!r}.")
            if tuple(opt2.betas) != tuple(opt.betas):
                expect.fail(f"the loaded AdamW has betas {opt2.betas}, saved {opt.betas}.")
            _expect_same_arrays(opt2.m, opt.m, "the loaded AdamW.m")
            _expect_same_arrays(opt2.v, opt.v, "the loaded AdamW.v")
            if step != 7:
                expect.fail(f"load_checkpoint returned step {step!r}, saved 7.")
            if not (isinstance(extra, dict) and extra.get("seed") == 3
                    and extra.get("note") == "hello"
                    and np.array_equal(extra.get("lrs"), [0.5, 0.25])):
                expect.fail(f"the extras came back as {extra!r:.120}, saved seed=3, "
                            "note='hello', lrs=array([0.5, 0.25]).")
        path = os.path.join(tmp, "model_only.npz")
        model, _ = _trained(impl, "float64", 0)
        impl.save_checkpoint(path, model)
        _, opt2, step, _ = impl.load_checkpoint(path)
        if opt2 is not None or step != 0:
            expect.fail(f"a checkpoint saved without optimizer loads as optimizer {opt2!r}, "
                        f"step {step!r}; expected None and 0.")


@check("4.3", weight=2)
def resume_equals_uninterrupted(impl):
    """4 updates straight == 2 updates, save, load, 2 more with start_step=2, bit for bit"""
    data = np.random.default_rng(12).integers(0, 7, 80)
    kwargs = dict(lr=0.05, min_lr=0.01, warmup=1, total_steps=4, max_norm=1.0, seed=9,
                  progress_every=None)
    straight, opt = _model(impl, seed=5), impl.AdamW(lr=0.05, weight_decay=0.1)
    whole = impl.train(straight, opt, data, 4, 2, 6, **kwargs)
    first, opt = _model(impl, seed=5), impl.AdamW(lr=0.05, weight_decay=0.1)
    part1 = impl.train(first, opt, data, 2, 2, 6, **kwargs)
    with _tmpdir(impl) as tmp:
        path = os.path.join(tmp, "resume.npz")
        impl.save_checkpoint(path, first, opt, step=2)
        resumed, opt2, step, _ = impl.load_checkpoint(path)
    # The probe: did the checkpoint bring back the weights and AdamW's state as saved?
    restored = opt2 is not None and not _differs(resumed.params, first.params) and \
        opt2.t == opt.t and set(opt2.m) == set(opt.m) and not _differs(opt2.m, opt.m) and \
        not _differs(opt2.v, opt.v)
    part2 = impl.train(resumed, opt2, data, 2, 2, 6, start_step=step, **kwargs)
    want, got = [float(v) for v in whole.losses], [float(v) for v in
                                                   list(part1.losses) + list(part2.losses)]
    a, b = straight.params, resumed.params
    if got == want and all(a[k].tobytes() == b[k].tobytes() for k in a):
        return
    if not restored:
        hint = ("the loaded weights or AdamW state (m, v and t: without t the bias corrections "
                "restart) differ from the saved ones; see checkpoint_round_trip_is_exact")
    elif got[:3] != want[:3]:
        hint = ("the checkpoint restored weights and AdamW state, so update 2 itself differs: "
                "with start_step=2, draw from batch_rng(seed, s) and use cosine_schedule(s, ...) "
                "for the global s = 2, 3")
    else:
        hint = ("the checkpoint restored weights and AdamW state; check that train steps the "
                "optimizer it is given, with the schedule of the global step s")
    expect.fail(f"resuming from a checkpoint of step 2 gives losses {got} and the uninterrupted "
                f"run {want}{'' if got != want else ' (the weights differ)'}: {hint}.")


@check("4.3")
def checkpoint_errors_name_the_problem(impl):
    """load_checkpoint: FileNotFoundError for no file, ValueError for a file that is not one"""
    with _tmpdir(impl) as tmp:
        good = os.path.join(tmp, "good.npz")
        model, _ = _trained(impl, "float64", 0)
        impl.save_checkpoint(good, model)
        expect.raises(impl.load_checkpoint, FileNotFoundError, "load_checkpoint of a missing "
                      "file", os.path.join(tmp, "missing.npz"))
        text = os.path.join(tmp, "notes.txt")
        with _open_written(text, "x") as f:
            f.write("not a checkpoint\n")
        expect.raises(impl.load_checkpoint, ValueError, "load_checkpoint of a text file", text)
        other = os.path.join(tmp, "other.npz")
        with _open_written(other, "xb") as f:
            np.savez(f, weights=np.ones(3))
        expect.raises(impl.load_checkpoint, ValueError, "load_checkpoint of an .npz that "
                      "save_checkpoint did not write (no 'format' entry)", other)
        single = os.path.join(tmp, "single.npy")
        with _open_written(single, "xb") as f:
            np.save(f, np.arange(4))
        expect.raises(impl.load_checkpoint, ValueError, "load_checkpoint of a .npy array", single)


@contextmanager
def _printed(impl):
    """What the student's code prints to stdout inside the block: box[0] afterwards (the
    sandbox's captured output, or sys.stdout redirected when the code runs here)."""
    box: list[str] = []
    take = getattr(type(impl), "take_output", None)
    if take is not None:
        take(impl)  # what earlier calls printed is not this block's
        yield box
        box.append(take(impl))
    else:
        buffer = io.StringIO()
        with redirect_stdout(buffer):
            yield box
        box.append(buffer.getvalue())


DEFAULT_SLIPS = {  # the documented defaults, each replaced by a likely wrong one
    "min_lr": ({"min_lr": 0.0}, "min_lr defaults to lr / 10 (it was not)"),
    "warmup": ({"warmup": 1}, "warmup defaults to 0 (it was not)"),
    "max_norm": ({"max_norm": None}, "max_norm defaults to 1.0: the gradients were not clipped"),
    "seed": ({"seed": 1}, "seed defaults to 0 (the batches came from another seed)"),
}


@check("4.3", weight=2)
def train_defaults_are_the_documented_ones(impl):
    """train(..., lr=) alone: min_lr = lr/10, warmup 0, max_norm 1, seed 0, progress to stdout"""
    _gate(impl, train_does_the_documented_updates)
    data = np.random.default_rng(3).integers(0, 7, 90)
    B, T, steps = 2, 6, 3  # gradient norms ~1.8 > 1: the default max_norm clips them
    model = _model(impl, seed=1)
    opt = impl.AdamW(lr=0.1, betas=(0.9, 0.95), weight_decay=0.1)
    with _printed(impl) as printed:
        log = _call(impl.train, "train(model, optimizer, data, 3, 2, 6, lr=0.1)", "", model,
                    opt, data, steps, B, T, lr=0.1)
    sched = {"lr": 0.1, "min_lr": 0.01, "warmup": 0, "total_steps": steps}
    args = {"max_norm": 1.0, "seed": 0}
    losses = [float(v) for v in log.losses]
    params = model.params

    def matches(sched, max_norm, seed):
        variant = "right" if max_norm is not None else "no_clip"
        want, want_params = _replay(impl, variant, data, steps, B, T, sched, max_norm or 1.0,
                                    seed)
        return np.allclose(losses, want, **expect.F64) and not _differs(params, want_params)

    if len(losses) != steps or not matches(sched, **args):
        for change, cause in DEFAULT_SLIPS.values():
            changed = {k: v for k, v in change.items() if k in sched}
            if len(losses) == steps and matches({**sched, **changed},
                                                **{**args, **{k: v for k, v in change.items()
                                                              if k in args}}):
                expect.fail("train called with only lr=0.1 (every other argument left to its "
                            "default) did not do the documented updates. "
                            + expect.cause(cause))
        expect.fail(f"train(model, optimizer, data, 3, 2, 6, lr=0.1) logged the losses "
                    f"{np.round(losses, 5).tolist()}, or changed the weights, unlike the "
                    "documented updates with the defaults min_lr = lr / 10, warmup = 0, "
                    "total_steps = start_step + steps, start_step = 0, max_norm = 1.0, seed = 0.")
    if list(log.evals):
        expect.fail(f"train without val_data logged evaluations {list(log.evals)!r:.80}: with "
                    "val_data=None (the default) there is nothing to evaluate.")
    text = printed[0]
    lines = [f"step {s}/{steps}" for s in range(1, steps + 1)]
    if not (lines[0] in text and lines[-1] in text):
        expect.fail(f"train with the default progress_every (2 seconds) and out (sys.stdout) "
                    f"printed {text[:200]!r}; expected progress lines such as "
                    f"'{lines[0]}  loss ...' for the first update and '{lines[-1]}' for the "
                    "last (Module 3's Progress(steps, every=progress_every, out=out)).")
    if lines[1] in text:
        expect.fail("train with the default progress_every = 2 seconds printed a line for "
                    "every update of a run that takes milliseconds: pass "
                    "every=progress_every to Progress.")
    # total_steps defaults to start_step + steps: one update at s = 2 ends the decay at 3.
    model, opt = _model(impl, seed=1), impl.AdamW(lr=0.1, betas=(0.9, 0.95), weight_decay=0.1)
    _call(impl.train, "train(model, optimizer, data, 1, 2, 6, lr=0.1, start_step=2)", "",
          model, opt, data, 1, B, T, lr=0.1, start_step=2, progress_every=None)
    got = model.params

    def one_update(total):
        mine, adamw = _model(impl, seed=1), impl.AdamW(lr=0.1, betas=(0.9, 0.95),
                                                       weight_decay=0.1)
        mine.loss(*_draw(data, B, T, np.random.default_rng([0, 2])))
        grads, params = mine.backward(), mine.params
        impl.clip_grad_norm(grads, 1.0)
        adamw.step(params, grads, lr=impl.cosine_schedule(2, 0.1, 0.01, 0, total))
        return params

    if _differs(got, one_update(3)):
        cause = (" " + expect.cause("total_steps defaulted to steps, not start_step + steps")
                 if not _differs(got, one_update(1)) else "")
        expect.fail("train(..., steps=1, lr=0.1, start_step=2) did not do update 2 as "
                    "documented: its batch from batch_rng(0, 2), lr_2 = cosine_schedule(2, lr, "
                    "lr / 10, 0, total_steps) with total_steps = start_step + steps = 3 (the "
                    "default)." + cause)


@check("4.3")
def train_evaluation_and_progress_options(impl):
    """val_data alone: evaluations at 0 and the end, of 10 batches; progress_every 0 / None"""
    _gate(impl, train_evaluates_and_checkpoints_on_schedule)
    data = np.random.default_rng(8).integers(0, 7, 70)
    val = np.random.default_rng(9).integers(0, 7, 40)
    B, T, seed = 2, 5, 4
    model = _model(impl, seed=2)
    with _printed(impl) as printed:
        log = _call(impl.train, "train(..., val_data=val, progress_every=0)", "", model,
                    impl.AdamW(lr=0.01), data, 3, B, T, lr=0.01, seed=seed, val_data=val,
                    progress_every=0)
    evals = list(log.evals)
    if [int(s) for s, _ in evals] != [0, 3]:
        expect.fail(f"train(..., steps=3, val_data=val) without eval_every evaluated at steps "
                    f"{[int(s) for s, _ in evals]}, expected [0, 3]: eval_every=None means "
                    "before the first update and after the last only.")
    loss, _ = _metrics(evals[-1][1], "the last entry of log.evals")
    mine = np.random.default_rng([seed, EVAL_STREAM])
    batches = [float(model.loss(*_draw(val, B, T, mine))) for _ in range(10)]
    if abs(loss - float(np.mean(batches))) > 1e-9:
        n = [k for k in range(1, 11) if abs(loss - float(np.mean(batches[:k]))) < 1e-9]
        expect.fail(f"the final evaluation says loss {loss:.6f}; the mean over eval_batches = "
                    f"10 batches (the default) is {np.mean(batches):.6f}"
                    + (f", over {n[0]} batches {loss:.6f}" if n else "") + ".")
    missing = [f"step {s}/3" for s in (1, 2, 3) if f"step {s}/3" not in printed[0]]
    if missing:
        expect.fail(f"train with progress_every=0 printed no line '{missing[0]}': 0 seconds "
                    "between progress lines means a line after every update.")
    with _printed(impl) as printed:
        _call(impl.train, "train(..., val_data=val, progress_every=None)", "", model,
              impl.AdamW(lr=0.01), data, 1, B, T, lr=0.01, val_data=val, progress_every=None)
    if printed[0].strip():
        expect.fail(f"train with progress_every=None printed {printed[0][:120]!r}: None prints "
                    "nothing at all, evaluations included.")


def _failing_run(N: int, T: int) -> int:
    """A seed whose documented batches (B = 1) start in {0, 1} at updates 0, 1, 2 and at
    N - T - 1 at update 3: with token N - 2 out of range, only update 3 fails."""
    for seed in range(10_000):
        starts = [int(np.random.default_rng([seed, s]).integers(0, N - T, size=1)[0])
                  for s in range(4)]
        if max(starts[:3]) <= 1 and starts[3] == N - T - 1:
            return seed
    raise AssertionError("no such seed")  # never: about one seed in 32 fits


@check("4.3")
def train_saves_every_checkpoint_every(impl):
    """checkpoint_every=2: a checkpoint of update 2 exists when update 3 fails; None: none"""
    _gate(impl, train_evaluates_and_checkpoints_on_schedule)
    V, T = 7, 4
    data = np.array([3, 1, 4, 1, 5, 2, V, 6])  # token V (out of range) only in window start 3
    seed = _failing_run(len(data), T)
    with _tmpdir(impl) as tmp:
        for every, want in ((2, 2), (None, None)):
            path = os.path.join(tmp, f"every_{every}.npz")
            model = _model(impl, seed=3, vocab_size=V)
            every_arg = {} if every is None else {"checkpoint_every": every}  # None: default
            try:
                impl.train(model, impl.AdamW(lr=0.01), data, 5, 1, T, lr=0.01, seed=seed,
                           checkpoint_path=path, progress_every=None, **every_arg)
            except Exception as exc:  # noqa: BLE001 — the planted failure of update 3
                _reraise_not_implemented(exc)
            else:
                expect.fail(f"train(..., seed={seed}) should fail at update 3: its batch, from "
                            f"batch_rng({seed}, 3), holds token {V}, outside the model's "
                            f"vocabulary of {V} (planted by the grader). Draw update s's batch "
                            "with get_batch(train_data, batch_size, block_size, batch_rng(seed, "
                            "s)).")
            exists = os.path.isfile(path)
            if want is None:
                if exists:
                    expect.fail("train without checkpoint_every saved a checkpoint before its "
                                "last update: checkpoint_every=None saves only after the last "
                                "update (here update 3 failed, so nothing should be saved).")
                continue
            if not exists:
                expect.fail("train(..., steps=5, checkpoint_every=2) saved no checkpoint "
                            "before update 3 failed: save after every update whose number is "
                            "a multiple of checkpoint_every (here after update 2).")
            step = _call(impl.load_checkpoint, "load_checkpoint of train's checkpoint", "",
                         path)[2]
            if int(step) != 2:
                expect.fail(f"the checkpoint saved before update 3 failed says step {step}, "
                            "expected 2 (checkpoint_every=2).")


@check("4.3")
def train_evaluate_and_save_reject_bad_arguments(impl):
    """ValueError / FloatingPointError of train, ValueError of evaluate, TypeError of save"""
    data = np.random.default_rng(1).integers(0, 7, 40)
    model = _model(impl)
    opt = impl.AdamW(lr=0.01)
    expect.raises(impl.train, ValueError, "train with steps=-1", model, opt, data, -1, 2, 4,
                  lr=0.01, progress_every=None)
    expect.raises(impl.train, ValueError, "train with start_step=-1", model, opt, data, 1, 2,
                  4, lr=0.01, start_step=-1, progress_every=None)
    expect.raises(impl.train, ValueError, "train with block_size > the model's", model, opt,
                  data, 1, 2, 9, lr=0.01, progress_every=None)
    broken = _model(impl)
    params = broken.params
    params["ln_f.bias"] = np.full_like(params["ln_f.bias"], np.nan)
    broken.params = params
    expect.raises(impl.train, FloatingPointError, "train of a model whose loss is NaN", broken,
                  impl.AdamW(lr=0.01), data, 2, 2, 4, lr=0.01, progress_every=None)
    expect.raises(impl.evaluate, ValueError, "evaluate with n_batches=0", model, data, 2, 4, 0,
                  np.random.default_rng(0))
    expect.raises(impl.evaluate, ValueError, "evaluate on data shorter than one window", model,
                  data[:4], 2, 4, 1, np.random.default_rng(0))
    with _tmpdir(impl) as tmp:
        expect.raises(impl.save_checkpoint, TypeError, "save_checkpoint with an extra value "
                      "that is a dict (it would need a pickle)", os.path.join(tmp, "x.npz"),
                      model, note={"a": 1})


def _gate(impl, *checks) -> None:
    """Skip a check whose expectations rest on other checks of 4.3 until they pass: their
    bug would otherwise be reported here under a wrong name."""
    for fn in checks:
        try:
            fn(impl)
        except expect.CheckFailed:
            expect.fail(f"4.3 skipped until {fn.__name__} passes (this check relies on it).")
