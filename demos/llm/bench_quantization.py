"""Quantization of the pretrained demo GPT: weight memory, logits error, perplexity change.

Usage:
    python -m demos bench_quantization [--demo DIR] [--block-size T] [--target T]
    make bench                  (part of the benchmark; trains the demo first if needed)

The model is the one ``python -m demos llm`` (``make pretrain``) trains on the lecture
notes; when ``DIR/checkpoint.npz`` is missing the demo is trained first (a few minutes, with
progress). Every 2-D weight matrix, the tied embedding included, is quantized with exercise
4.7's functions (int8 per tensor, int8 per output channel, int4 in groups) and dequantized
into a copy of the model (``quantization_report``); the held-out tokens of the demo measure
the logits error and the perplexity of each scheme against the float32 model.
"""

import time
from pathlib import Path

from ..run import parser as demo_parser
from ..text import say
from .pretrain_demo import load_demo, run
from .quantization_report import format_quantization_report, quantization_report

DEFAULT_DEMO = "runs/pretrain"


def demo_model(out_dir):
    """``load_demo(out_dir)``, training the demo into ``out_dir`` first if it is not there."""
    if not (Path(out_dir) / "checkpoint.npz").is_file():
        say(f"No pretrained demo model in {out_dir}: training it first (make pretrain).")
        run(out=out_dir)
    return load_demo(out_dir)


def main(argv=None):
    parser = demo_parser("bench_quantization", __doc__.splitlines()[0])
    parser.add_argument("--demo", default=DEFAULT_DEMO,
                        help=f"the pretraining demo's output directory (default {DEFAULT_DEMO})")
    parser.add_argument("--block-size", type=int, default=None,
                        help="window length (default: the model's context)")
    args = parser.parse_args(argv)
    model, _, val_tokens = demo_model(args.demo)
    cfg = model.config
    block = args.block_size or cfg.block_size
    n_params = model.num_parameters()
    say(f"\nQuantization of the pretrained demo GPT ({args.demo}: {cfg.n_layer} layers, "
          f"width {cfg.n_embd}, vocab {cfg.vocab_size}, {n_params:,} parameters), "
          f"{len(val_tokens):,} held-out tokens in windows of {block}")
    start = time.perf_counter()
    groups = tuple(g for g in (32, 64, 128) if cfg.n_embd % g == 0)  # groups must tile C
    rows = quantization_report(model, val_tokens, block_size=block, group_sizes=groups)
    say(format_quantization_report(rows))
    say(f"({time.perf_counter() - start:.1f} s; weights = every 2-D matrix incl. the tied "
          "embedding, scales included; |dl| = |logit difference| against the float32 model)")
    return 0
