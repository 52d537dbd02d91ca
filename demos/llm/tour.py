"""Module 4's capstone demo: pretrain a small GPT on the course's lecture notes.

Usage:
    python -m reference.llm [--corpus FILE] [--steps N] [--out DIR] [--quick] [--seed N]
                            [--figures DIR]
    python -m exercises.llm                      # the same, on your own code

It trains your BPE tokenizer (4.1) on the corpus, pretrains a GPT with your get_batch (4.2)
and training loop (4.3), writes checkpoints, and samples text with your generate (4.4, 4.5).
The full run takes about five minutes; --quick is a smoke test of a few seconds.
"""

import argparse
import sys

from ..transformer.__main__ import _not_implemented_message, rerun_with_one_blas_thread


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog=f"python -m {__package__}",  # reference.llm or exercises.llm
        description="Pretrain a small GPT on the course's lecture notes (Module 4's demo).",
    )
    parser.add_argument("--corpus", metavar="FILE",
                        help="a UTF-8 text file to train on (default: every lectures/*/theory.md "
                             "of the course, in sorted order)")
    parser.add_argument("--steps", type=int, help="the number of updates (default 1500; "
                                                  "60 with --quick)")
    parser.add_argument("--out", metavar="DIR", default="runs/pretrain",
                        help="where the checkpoint, tokenizer and held-out tokens go "
                             "(default runs/pretrain)")
    parser.add_argument("--quick", action="store_true", help="a tiny model, a short run")
    parser.add_argument("--figures", metavar="DIR",
                        help="where pretrain_loss.png goes (default: --out)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the run (default 0)")
    args = parser.parse_args(argv)
    if args.steps is not None and args.steps < 1:
        parser.error("--steps must be at least 1")
    try:
        from .pretrain_demo import run

        run(corpus=args.corpus, steps=args.steps, out=args.out, quick=args.quick,
            seed=args.seed, figures_dir=args.figures)
        return 0
    except NotImplementedError as error:
        print(_not_implemented_message(error), file=sys.stderr)
        return 1


if __name__ == "__main__":
    code = rerun_with_one_blas_thread()
    if code is not None:
        sys.exit(code)
    sys.exit(main())
