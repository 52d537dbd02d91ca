"""Contract of 4.3 (pretraining loop, evaluation, checkpoints): clause -> the checks that
enforce it."""

from .clauses import NA, Gap  # noqa: F401

UPDATES = "train_does_the_documented_updates"
DEFAULTS = "train_defaults_are_the_documented_ones"  # train(..., lr=0.1) and nothing else
SCHEDULE = "train_evaluates_and_checkpoints_on_schedule"
EVAL_OPTIONS = "train_evaluation_and_progress_options"
CKPT_EVERY = "train_saves_every_checkpoint_every"
RESUME = "resume_equals_uninterrupted"
BAD_ARGS = "train_evaluate_and_save_reject_bad_arguments"
ROUND_TRIP = "checkpoint_round_trip_is_exact"
CKPT_ERRORS = "checkpoint_errors_name_the_problem"

CONTRACT = {
    "train: result": (UPDATES, "train_memorises_a_short_sequence"),
    "train: default min_lr": (DEFAULTS,),  # replayed with lr / 10
    "train: option min_lr": (UPDATES, RESUME),  # min_lr=0.02, replayed
    "train: default warmup": (DEFAULTS,),  # replayed with 0
    "train: option warmup": (UPDATES, RESUME),  # warmup=1
    "train: default total_steps": (UPDATES, DEFAULTS),  # start_step + steps, also from 2
    "train: option total_steps": (RESUME,),  # total_steps=4 in a run of 2 updates
    "train: default start_step": (UPDATES, DEFAULTS),  # the batches of updates 0, 1, 2
    "train: option start_step": (RESUME, DEFAULTS),
    "train: default max_norm": (DEFAULTS,),  # gradient norms ~1.8: clipped to 1.0
    "train: option max_norm": (UPDATES,),  # max_norm=0.5, replayed
    "train: default seed": (DEFAULTS,),
    "train: option seed": (UPDATES, SCHEDULE),
    "train: default val_data": (DEFAULTS,),  # no evaluation logged
    "train: option val_data": (SCHEDULE, EVAL_OPTIONS),
    "train: default eval_every": (EVAL_OPTIONS,),  # evaluations at [0, 3] only
    "train: option eval_every": (SCHEDULE,),  # [0, 2, 4, 5]
    "train: default eval_batches": (EVAL_OPTIONS,),  # the mean of 10 batches
    "train: option eval_batches": (SCHEDULE,),  # 3 batches
    # runs to the end without one (a default path would be written, or fail, in the sandbox)
    "train: default checkpoint_path": (DEFAULTS,),
    "train: option checkpoint_path": (SCHEDULE, CKPT_EVERY),
    "train: default checkpoint_every": (CKPT_EVERY,),  # nothing saved before the last update
    "train: option checkpoint_every": (CKPT_EVERY,),  # the checkpoint of update 2 exists
    "train: default progress_every": (DEFAULTS,),  # lines for updates 1 and 3, not 2
    "train: option progress_every": (EVAL_OPTIONS,),  # 0: every update; None: nothing
    "train: default out": (DEFAULTS,),  # the progress lines reach sys.stdout
    "train: option out": NA(
        "a stream cannot be handed to the sandboxed code (only data crosses the boundary), "
        "and what the code writes to stderr arrives mixed with stdout"),
    "train: raises ValueError": (BAD_ARGS,),
    "train: raises FloatingPointError": (BAD_ARGS,),
    "train: inputs unchanged": (UPDATES,),  # call_pure on train_data
    "evaluate: result": ("evaluate_uniform_model_has_perplexity_v",
                         "evaluate_is_the_mean_loss_over_the_batches"),
    "evaluate: raises ValueError": (BAD_ARGS,),
    "evaluate: inputs unchanged": ("evaluate_is_the_mean_loss_over_the_batches",),
    "save_checkpoint: result": (ROUND_TRIP,),
    "save_checkpoint: default optimizer": (ROUND_TRIP,),  # save_checkpoint(path, model)
    "save_checkpoint: option optimizer": (ROUND_TRIP,),
    "save_checkpoint: default step": (ROUND_TRIP,),  # loads as step 0
    "save_checkpoint: option step": (ROUND_TRIP,),  # step=7
    "save_checkpoint: raises TypeError": (BAD_ARGS,),  # a dict as an extra value
    "save_checkpoint: dtype": (ROUND_TRIP,),  # float32 and float64 models, bit-exact
    "save_checkpoint: inputs unchanged": (ROUND_TRIP,),  # the extra array, the model's params
    "load_checkpoint: result": (ROUND_TRIP, RESUME),
    "load_checkpoint: raises FileNotFoundError": (CKPT_ERRORS,),
    "load_checkpoint: raises ValueError": (CKPT_ERRORS,),
    "load_checkpoint: dtype": (ROUND_TRIP,),
    "load_checkpoint: inputs unchanged": (ROUND_TRIP,),  # the file's bytes after loading
}
