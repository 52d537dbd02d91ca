"""Mutation tests of 4.3 (Pretraining loop, perplexity, checkpoints): every check of the
exercise fails on a plausible student bug, and its message names the bug.  The harness and
its conventions: `tests/mutation.py`.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)

from grader.course import LLM_FUNDAMENTALS

PACKAGE = LLM_FUNDAMENTALS.package  # mutants edit files of reference/llm/

PRE = "pretrain.py"
EVAL_MEAN = "    loss = float(np.mean(losses))  # equal batch sizes: the token-weighted mean\n"
EVAL_PPL = '    return {"loss": loss, "perplexity": math.exp(loss)}\n'
EVAL_DRAW = "        x, y = get_batch(data, batch_size, block_size, rng)  # (B, T) each\n"
TRAIN_DRAW = "        x, y = get_batch(train_data, batch_size, block_size, batch_rng(seed, s))\n"
LR = "        lr_s = cosine_schedule(s, lr, min_lr, warmup, total_steps)\n"
STEP = "        optimizer_step(optimizer, model.params, grads, lr_s, max_norm)\n"
EVAL_AT_0 = ("    if val_data is not None and start_step == 0:\n"
             "        run_eval(0)\n")
EVAL_RNG = "                           batch_rng(seed, EVAL_STREAM))\n"
CKPT_WHEN = "                done == end or (checkpoint_every and done % checkpoint_every == 0)):\n"
SAVE_PARAMS = '    arrays.update({f"param.{name}": p for name, p in model.params.items()})\n'
SAVE_CONFIG = '              "config": np.array(json.dumps(dataclasses.asdict(model.config))),\n'
LOAD_CONFIG = '    config = GPTConfig(**json.loads(str(arrays["config"])))\n'
LOAD = "        archive = np.load(path, allow_pickle=False)\n"
SAVE_MOMENTS = ('        arrays.update({f"optimizer.m.{name}": m for name, m in '
                "optimizer.m.items()})\n"
                '        arrays.update({f"optimizer.v.{name}": v for name, v in '
                "optimizer.v.items()})\n")
LOAD_T = '        optimizer.t = int(arrays["optimizer.t"])\n'
FORMAT_CHECK = ('    if "format" not in arrays or str(arrays["format"]) != CHECKPOINT_FORMAT:\n'
                '        raise ValueError(f"load_checkpoint: {path} is not a checkpoint '
                'written by "\n'
                '                         f"save_checkpoint (no format entry '
                '{CHECKPOINT_FORMAT!r})")\n')
NPZ_CHECK = ("    if not isinstance(archive, np.lib.npyio.NpzFile):  # a single .npy array\n"
             '        raise ValueError(f"load_checkpoint: {path} is not a checkpoint (not an '
             '.npz archive)")\n')

MUTANTS = [
    Mutant("perplexity_in_bits", "4.3", PRE,
           ((EVAL_PPL, '    return {"loss": loss, "perplexity": 2.0**loss}\n'),),
           ("evaluate_uniform_model_has_perplexity_v",
            "evaluate_is_the_mean_loss_over_the_batches"),
           "2^loss is for a loss in bits"),
    Mutant("perplexity_mean_of_exp", "4.3", PRE,
           ((EVAL_PPL, '    return {"loss": loss, '
                       '"perplexity": float(np.mean(np.exp(losses)))}\n'),),
           ("evaluate_is_the_mean_loss_over_the_batches",), "averaged the batches' perplexities"),
    Mutant("evaluate_first_batch_only", "4.3", PRE,
           ((EVAL_MEAN, "    loss = float(losses[0])\n"),),
           ("evaluate_is_the_mean_loss_over_the_batches",), "first batch only"),
    Mutant("evaluate_own_generator", "4.3", PRE,
           ((EVAL_DRAW, "        x, y = get_batch(data, batch_size, block_size, "
                        "np.random.default_rng(len(losses)))\n"),),
           ("evaluate_is_the_mean_loss_over_the_batches",), "generator given was not used"),
    Mutant("train_no_clipping", "4.3", PRE,
           ((STEP, "        optimizer_step(optimizer, model.params, grads, lr_s, None)\n"),),
           ("train_does_the_documented_updates",), "not clipped"),
    Mutant("train_constant_lr", "4.3", PRE,
           ((LR, "        lr_s = lr\n"),),
           ("train_does_the_documented_updates",), "learning rate was constant"),
    Mutant("train_schedule_one_ahead", "4.3", PRE,
           ((LR, "        lr_s = cosine_schedule(s + 1, lr, min_lr, warmup, total_steps)\n"),),
           ("train_does_the_documented_updates",), "one step ahead"),
    Mutant("train_same_batch", "4.3", PRE,
           ((TRAIN_DRAW, "        x, y = get_batch(train_data, batch_size, block_size, "
                         "batch_rng(seed, 0))\n"),),
           ("train_does_the_documented_updates",), "batch of update 0"),
    Mutant("train_never_steps", "4.3", PRE, ((STEP, "        pass\n"),),
           ("train_memorises_a_short_sequence", "train_does_the_documented_updates"),
           "Is the optimiser stepping"),
    Mutant("train_no_eval_at_start", "4.3", PRE, ((EVAL_AT_0, ""),),
           ("train_evaluates_and_checkpoints_on_schedule",), "expected [0, 2, 4, 5]"),
    Mutant("train_eval_batches_change", "4.3", PRE,
           ((EVAL_RNG, "                           batch_rng(seed, step))\n"),),
           ("train_evaluates_and_checkpoints_on_schedule",),
           "fresh batch_rng(seed, EVAL_STREAM)"),
    Mutant("train_no_final_checkpoint", "4.3", PRE,
           ((CKPT_WHEN, "                checkpoint_every and done % checkpoint_every == 0):\n"),),
           ("train_evaluates_and_checkpoints_on_schedule",), "expected 5"),
    Mutant("resume_restarts_the_batches", "4.3", PRE,
           ((TRAIN_DRAW, "        x, y = get_batch(train_data, batch_size, block_size, "
                         "batch_rng(seed, s - start_step))\n"),),
           ("resume_equals_uninterrupted",), "update 2 is not the one"),
    Mutant("params_saved_as_float32", "4.3", PRE,
           ((SAVE_PARAMS, '    arrays.update({f"param.{name}": p.astype(np.float32) '
                          "for name, p in model.params.items()})\n"),),
           ("checkpoint_round_trip_is_exact",), "float32 stays float32"),
    Mutant("config_pickled", "4.3", PRE,
           ((SAVE_CONFIG, '              "config": np.array(dataclasses.asdict(model.config), '
                          "dtype=object),\n"),
            (LOAD, "        archive = np.load(path, allow_pickle=True)\n"),
            (LOAD_CONFIG, '    config = GPTConfig(**arrays["config"].item())\n')),
           ("checkpoint_round_trip_is_exact",), "allow_pickle=False"),
    Mutant("moments_not_saved", "4.3", PRE, ((SAVE_MOMENTS, ""),),
           ("checkpoint_round_trip_is_exact",), "missing or extra"),
    Mutant("step_counter_not_restored", "4.3", PRE, ((LOAD_T, ""),),
           ("checkpoint_round_trip_is_exact", "resume_equals_uninterrupted"), "has t = 0"),
    Mutant("any_npz_is_a_checkpoint", "4.3", PRE, ((FORMAT_CHECK, ""),),
           ("checkpoint_errors_name_the_problem",), "expected ValueError"),
    Mutant("npy_file_not_refused", "4.3", PRE, ((NPZ_CHECK, ""),),
           ("checkpoint_errors_name_the_problem",), "expected ValueError"),
]

GAPS: dict[str, str] = {}

DIAGNOSED = [
    ("perplexity_in_bits", "evaluate_is_the_mean_loss_over_the_batches", "exp(loss)",
     "averaged the batches' perplexities"),
    ("step_counter_not_restored", "resume_equals_uninterrupted", "AdamW state", "update 2"),
]

DIAGNOSIS_GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["4.3"], MUTANTS, gaps=GAPS, diagnosed=DIAGNOSED,
                                diagnosis_gaps=DIAGNOSIS_GAPS))
