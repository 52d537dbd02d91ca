"""Module 3's training demos: the reference GPT and encoder-decoder learn (briefly, seeded),
and the CLI runs.

The training runs in a child process with one BLAS thread, as the demo itself does (see
`rerun_with_one_blas_thread` in demos/blas.py): on a busy machine the
default thread pool made these small steps many times slower.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
from columns import long_lines
from conftest import REPO

from demos.transformer.tasks import IGNORE, ReverseDigits, SortDigits, Split, lm_batch

ONE_THREAD = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
              "MKL_NUM_THREADS": "1", "VECLIB_MAXIMUM_THREADS": "1"}

# A smaller run of the demo's own training function: 6 digits, one layer, 200 steps (~2 s).
BRIEF_TRAINING = """
import io, json
from dataclasses import replace
from demos.implementation import use
use("reference")
from demos.transformer.gpt_demo import FULL, train_gpt
cfg = replace(FULL, n_digits=6, n_layer=1, n_head=2, n_embd=32, batch_size=32, steps=200,
              lr=1e-2, min_lr=1e-3, warmup=20, n_held_out=100, eval_every=None)
model, split, log = train_gpt(cfg, seed=0, out=io.StringIO())
print(json.dumps({"losses": log.losses, "evals": log.evals}))
"""

# The same for the encoder-decoder: 5 digits, one layer each side, 150 steps (~2 s).
BRIEF_SEQ2SEQ = """
import io, json
from dataclasses import replace
from demos.implementation import use
use("reference")
from demos.transformer.seq2seq_demo import FULL, train_seq2seq
cfg = replace(FULL, n_digits=5, n_layers=1, d_model=32, d_ff=64, batch_size=32, steps=150,
              warmup=30, n_held_out=100, eval_every=None)
model, split, log = train_seq2seq(cfg, seed=0, out=io.StringIO())
print(json.dumps({"losses": log.losses, "evals": log.evals}))
"""


def _brief_training(script=BRIEF_TRAINING):
    done = subprocess.run([sys.executable, "-W", "error", "-c", script], cwd=REPO,
                          env=ONE_THREAD, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_task_masks_the_prompt_and_holds_rearrangements_out():
    task = SortDigits(n_digits=4)
    prompts, answers = task.problems(np.array([7039, 1000]))
    assert prompts.tolist() == [[7, 0, 3, 9], [1, 0, 0, 0]]
    assert answers.tolist() == [[0, 3, 7, 9], [0, 0, 0, 1]]
    assert task.format(prompts[0], answers[0]) == "7039 -> 0379"
    assert task.groups(np.array([7039, 9370, 1000, 1])).tolist() == [379, 379, 1, 1]
    idx, targets = lm_batch(prompts, answers)
    assert idx.tolist()[0] == [7, 0, 3, 9, 0, 3, 7]
    assert targets.tolist()[0] == [IGNORE] * 3 + [0, 3, 7, 9]  # only the answer is scored

    small = SortDigits(n_digits=3, n_symbols=3)  # 27 strings in 10 groups
    split = Split(small, 3, np.random.default_rng(0))
    codes = split.training_codes(np.random.default_rng(1), 5000)
    held = set(small.groups(split.held_out_codes).tolist())
    assert held.isdisjoint(small.groups(codes).tolist())  # no rearrangement of a held-out one
    others = [c for c in range(27) if small.groups(np.array([c]))[0] not in held]
    assert sorted(set(codes.tolist())) == others  # every other string is drawn


def test_brief_training_lowers_the_loss_deterministically():
    first, second = _brief_training(), _brief_training()
    assert first == second  # seeded: the same losses, bit for bit
    losses = np.array(first["losses"])
    start, end = losses[:5].mean(), losses[-20:].mean()
    assert abs(start - np.log(10)) < 0.1  # a fresh model is about uniform over 10 digits
    assert end < 0.25 * start, (start, end)  # about 0.06 x in practice
    (_, before), (_, after) = first["evals"]
    assert after["loss"] < 0.25 * before["loss"], (before, after)


def test_quick_demo_runs_prints_progress_and_draws(tmp_path):
    done = subprocess.run([sys.executable, "-W", "error", "-m", "demos", "transformer", "--target",
                           "reference", "--gpt", "--quick", "--figures", str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert not long_lines(out + done.stderr)
    assert re.search(r"step +\d+/\d+ +loss \d+\.\d+ +[\d,]+ tokens/s +ETA", out), out
    assert "held-out at step" in out and "held-out strings exactly right" in out
    assert "OPENBLAS_NUM_THREADS=1" in out  # the demo re-ran itself with one BLAS thread
    assert (tmp_path / "gpt_loss.png").stat().st_size > 10_000


def test_gpt_demo_on_the_stubs_names_the_missing_exercise():
    done = subprocess.run([sys.executable, "-m", "demos", "transformer", "--gpt", "--quick"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    assert re.search(r"exercise \d\.\d+", done.stderr) and "make grade EX=" in done.stderr
    assert not long_lines(done.stdout + done.stderr)


def test_reversal_task_and_teacher_forcing():
    from demos.transformer.seq2seq_demo import special_tokens, teacher_forcing

    task = ReverseDigits(n_digits=4)
    prompts, answers = task.problems(np.array([3141, 7]))
    assert prompts.tolist() == [[3, 1, 4, 1], [0, 0, 0, 7]]
    assert answers.tolist() == [[1, 4, 1, 3], [7, 0, 0, 0]]
    assert task.groups(np.array([3141, 7])).tolist() == [3141, 7]  # each its own group
    bos, eos = special_tokens(task)
    tgt, labels = teacher_forcing(answers, bos, eos)
    assert tgt.tolist()[0] == [bos, 1, 4, 1, 3] and labels.tolist()[0] == [1, 4, 1, 3, eos]


def test_brief_seq2seq_training_lowers_the_loss_deterministically():
    first, second = _brief_training(BRIEF_SEQ2SEQ), _brief_training(BRIEF_SEQ2SEQ)
    assert first == second  # seeded: the same losses, bit for bit
    losses = np.array(first["losses"])
    start, end = losses[:5].mean(), losses[-20:].mean()
    assert start > 2.0  # a fresh model: about ln 12 = 2.48 per token
    assert end < 0.5 * start, (start, end)  # label smoothing 0.1 floors it at 0.53
    (_, before), (_, after) = first["evals"]
    assert after["loss"] < 0.25 * before["loss"], (before, after)  # unsmoothed held-out loss


def test_quick_seq2seq_demo_runs_prints_progress_and_draws(tmp_path):
    done = subprocess.run([sys.executable, "-W", "error", "-m", "demos", "transformer",
                           "--target", "reference", "--seq2seq", "--quick", "--figures",
                           str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert not long_lines(out + done.stderr)
    assert re.search(r"step +\d+/\d+ +loss \d+\.\d+ +[\d,]+ tokens/s +ETA", out), out
    assert "held-out at step" in out and "held-out strings exactly right" in out
    assert (tmp_path / "seq2seq_loss.png").stat().st_size > 10_000


def test_seq2seq_demo_on_the_stubs_names_the_missing_exercise():
    done = subprocess.run([sys.executable, "-m", "demos", "transformer", "--seq2seq",
                           "--quick"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    assert re.search(r"exercise \d\.\d+", done.stderr) and "make grade EX=" in done.stderr
    assert not long_lines(done.stdout + done.stderr)
