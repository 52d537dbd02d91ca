"""Module 5 at work: its four demos one after the other (given).

Usage:
    python -m demos modern [--quick] [--seed N] [--figures DIR]
    python -m demos modern --target reference     # the same, on the solutions

Runs ``llama_vs_gpt`` (5.1), ``lora`` (5.2), ``moe`` (5.3), ``speculative`` (5.4) and
``grpo`` (5.5) with the same options; ``make modern`` runs them on the reference into the
lecture's figures. Without ``--quick``, ``lora`` needs the pretraining demo's model
(``runs/pretrain``) and trains it first if it is missing.
"""

import importlib

from ..blas import rerun_with_one_blas_thread
from ..run import DEMOS
from ..run import parser as demo_parser
from ..text import say

PARTS = ("llama_vs_gpt", "lora", "moe", "speculative", "grpo")


def main(argv=None):
    parser = demo_parser("modern", "Module 5's demos: a Llama against a GPT-2, LoRA against "
                         "full fine-tuning, a mixture of experts against a dense model, "
                         "speculative decoding against plain decoding, GRPO on a tiny GPT "
                         "that adds.")
    parser.add_argument("--quick", action="store_true", help="each demo's smoke test")
    parser.add_argument("--figures", metavar="DIR",
                        help="where the figures go (default: each demo's runs/ folder)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the runs (default 0)")
    args = parser.parse_args(argv)
    code = rerun_with_one_blas_thread()
    if code is not None:
        return code
    options = ["--seed", str(args.seed)] + ["--quick"] * args.quick
    options += ["--figures", args.figures] if args.figures else []
    for name in PARTS:
        say(f"\n{'=' * 24} python -m demos {name} {' '.join(options)}", flush=True)
        module = importlib.import_module(f"demos.{DEMOS[name].module}")
        code = module.main(options)
        if code:
            return code
    return 0
