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

DEFAULTS = "train_defaults_are_the_documented_ones"
EVAL_OPTIONS = "train_evaluation_and_progress_options"
CKPT_EVERY = "train_saves_every_checkpoint_every"
BAD_ARGS = "train_evaluate_and_save_reject_bad_arguments"

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
           ("train_does_the_documented_updates",), "not clipped",
           diagnosis="the gradients were not clipped"),
    Mutant("train_constant_lr", "4.3", PRE,
           ((LR, "        lr_s = lr\n"),),
           ("train_does_the_documented_updates",), "learning rate was constant",
           diagnosis="the learning rate was constant"),
    Mutant("train_schedule_one_ahead", "4.3", PRE,
           ((LR, "        lr_s = cosine_schedule(s + 1, lr, min_lr, warmup, total_steps)\n"),),
           ("train_does_the_documented_updates",), "one step ahead",
           diagnosis="the schedule is one step ahead"),
    Mutant("train_same_batch", "4.3", PRE,
           ((TRAIN_DRAW, "        x, y = get_batch(train_data, batch_size, block_size, "
                         "batch_rng(seed, 0))\n"),),
           ("train_does_the_documented_updates",), "batch of update 0",
           diagnosis="every update used the batch of update 0"),
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
           ("resume_equals_uninterrupted",), "update 2 itself differs"),
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
    # defaults and options of train, stated errors, inputs changed in place
    Mutant("default_min_lr_zero", "4.3", PRE, (), (DEFAULTS,), "min_lr defaults to lr / 10",
           diagnosis="min_lr defaults to lr / 10", append='''
_train = train
def train(model, optimizer, train_data, steps, batch_size, block_size, *,
          min_lr=0.0, **kwargs):
    return _train(model, optimizer, train_data, steps, batch_size, block_size,
                  min_lr=min_lr, **kwargs)
'''),
    Mutant("default_no_clipping", "4.3", PRE, (), (DEFAULTS,), "max_norm defaults to 1.0",
           diagnosis="max_norm defaults to 1.0", append='''
_train = train
def train(model, optimizer, train_data, steps, batch_size, block_size, *,
          max_norm=None, **kwargs):
    return _train(model, optimizer, train_data, steps, batch_size, block_size,
                  max_norm=max_norm, **kwargs)
'''),
    Mutant("default_seed_42", "4.3", PRE, (), (DEFAULTS,), "with the defaults", append='''
_train = train
def train(model, optimizer, train_data, steps, batch_size, block_size, *,
          seed=42, **kwargs):
    return _train(model, optimizer, train_data, steps, batch_size, block_size,
                  seed=seed, **kwargs)
'''),
    Mutant("default_progress_every_update", "4.3", PRE, (), (DEFAULTS,),
           "printed a line for every update", append='''
_train = train
def train(model, optimizer, train_data, steps, batch_size, block_size, *,
          progress_every=0.0, **kwargs):
    return _train(model, optimizer, train_data, steps, batch_size, block_size,
                  progress_every=progress_every, **kwargs)
'''),
    Mutant("default_total_steps_ignores_start", "4.3", PRE, (), (DEFAULTS,),
           "did not do update 2", diagnosis="total_steps defaulted to steps", append='''
_train = train
def train(model, optimizer, train_data, steps, batch_size, block_size, *,
          total_steps=None, **kwargs):
    return _train(model, optimizer, train_data, steps, batch_size, block_size,
                  total_steps=steps if total_steps is None else total_steps, **kwargs)
'''),
    Mutant("default_eval_every_update", "4.3", PRE, (), (EVAL_OPTIONS,), "expected [0, 3]",
           append='''
_train = train
def train(model, optimizer, train_data, steps, batch_size, block_size, *,
          eval_every=1, **kwargs):
    return _train(model, optimizer, train_data, steps, batch_size, block_size,
                  eval_every=eval_every, **kwargs)
'''),
    Mutant("default_one_eval_batch", "4.3", PRE, (), (EVAL_OPTIONS,), "over 1 batches",
           append='''
_train = train
def train(model, optimizer, train_data, steps, batch_size, block_size, *,
          eval_batches=1, **kwargs):
    return _train(model, optimizer, train_data, steps, batch_size, block_size,
                  eval_batches=eval_batches, **kwargs)
'''),
    Mutant("progress_every_not_passed_on", "4.3", PRE, (), (EVAL_OPTIONS,),
           "progress_every=0 printed no line", append='''
_Progress = Progress
class Progress(_Progress):
    def __init__(self, total_steps, every=2.0, out=None):
        super().__init__(total_steps, 2.0, out)
'''),
    Mutant("checkpoint_only_at_the_end", "4.3", PRE, (), (CKPT_EVERY,),
           "saved no checkpoint before update 3", append='''
_train = train
def train(*args, checkpoint_every=None, **kwargs):
    return _train(*args, checkpoint_every=None, **kwargs)
'''),
    Mutant("default_checkpoint_every_update", "4.3", PRE, (), (CKPT_EVERY,),
           "saved a checkpoint before its last update", append='''
_train = train
def train(model, optimizer, train_data, steps, batch_size, block_size, *,
          checkpoint_every=1, **kwargs):
    return _train(model, optimizer, train_data, steps, batch_size, block_size,
                  checkpoint_every=checkpoint_every, **kwargs)
'''),
    Mutant("nan_loss_swallowed", "4.3", PRE, (), (BAD_ARGS,), "expected FloatingPointError",
           append='''
_train = train
def train(*args, **kwargs):
    try:
        return _train(*args, **kwargs)
    except FloatingPointError:
        return TrainingLog()
'''),
    Mutant("dict_extra_saved_as_json", "4.3", PRE, (), (BAD_ARGS,), "expected TypeError",
           append='''
_save_checkpoint = save_checkpoint
def save_checkpoint(path, model, optimizer=None, step=0, **extra):
    extra = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in extra.items()}
    return _save_checkpoint(path, model, optimizer, step, **extra)
'''),
    Mutant("train_data_clipped_in_place", "4.3", PRE, (), ("train_does_the_documented_updates",),
           "in place", append='''
_train = train
def train(model, optimizer, train_data, *args, **kwargs):
    np.clip(train_data, 0, model.config.vocab_size - 1, out=train_data)  # "safe ids"
    return _train(model, optimizer, train_data, *args, **kwargs)
'''),
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
