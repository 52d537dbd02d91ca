"""Run a demo on an implementation: ``python -m demos NAME [--target T] [options]``.

Every demo, experiment and benchmark of the course is listed in ``DEMOS`` with the target it
runs on by default: your ``exercises`` for the demos that show your own code at work, the
``reference`` for the experiments and benchmarks an instructor runs.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from dataclasses import dataclass

from . import implementation
from .text import say


@dataclass(frozen=True)
class Demo:
    module: str  # under demos/, with a main(argv) -> exit code
    target: str  # the default --target
    summary: str


DEMOS = {
    "self_attention": Demo("self_attention.tour", "exercises",
                           "Module 1 at work: attention on five tokens"),
    "positional_encoding": Demo("positional_encoding.tour", "exercises",
                                "Module 2 at work: sinusoids, RoPE, ALiBi"),
    "extrapolate": Demo("positional_encoding.extrapolation", "reference",
                        "Module 2: which encoding extrapolates"),
    "transformer": Demo("transformer.tour", "exercises",
                        "Module 3 at work; --gpt, --seq2seq train"),
    "llm": Demo("llm.pretrain_demo", "exercises", "Module 4: pretrain a GPT on the lectures"),
    "sft": Demo("llm.sft_demo", "exercises", "Module 4: fine-tuning, prompt masking"),
    "dpo": Demo("llm.dpo_demo", "exercises", "Module 4: DPO on synthetic preferences"),
    "prompting": Demo("llm.prompting_demo", "exercises",
                      "Module 4: chain of thought, voting"),
    "run_gpt2": Demo("llm.run_gpt2", "exercises", "Module 4: generate text with GPT-2"),
    "modern": Demo("modern.all_demos", "exercises", "Module 5 at work: the four below"),
    "llama_vs_gpt": Demo("modern.llama_vs_gpt", "exercises",
                         "Module 5: a Llama and a GPT-2 of one size"),
    "lora": Demo("modern.lora_demo", "exercises", "Module 5: LoRA vs full fine-tuning"),
    "moe": Demo("modern.moe_demo", "exercises", "Module 5: mixture of experts vs dense"),
    "speculative": Demo("modern.speculative_demo", "exercises",
                        "Module 5: speculative decoding, draft + target"),
    "grpo": Demo("modern.grpo_demo", "exercises", "Module 5: GRPO makes a tiny GPT add better"),
    "bench": Demo("transformer.bench", "reference",
                  "GPT training speed against PyTorch"),
    "bench_decode": Demo("llm.bench_decode", "reference",
                         "KV-cached decoding against Hugging Face"),
    "bench_quantization": Demo("llm.bench_quantization", "reference",
                               "int8 / int4 weights of the demo GPT"),
    "bench_bpe": Demo("llm.bench_bpe", "reference", "BPE training against tokenizers"),
    "bench_summary": Demo("bench_summary", "reference",
                          "the speed goals: before, now, met or not"),
}


def parser(name: str, description: str, **kwargs) -> argparse.ArgumentParser:
    """The argument parser of demo ``name``, with its ``--target``."""
    demo = DEMOS[name]
    parser = argparse.ArgumentParser(prog=f"python -m demos {name}", description=description,
                                     **kwargs)
    parser.add_argument("--target", default=demo.target, metavar="T",
                        help="the implementation to run on: exercises, reference or a folder "
                             "laid out like exercises/ (default %(default)s)")
    return parser


def load(name: str, target: str | None = None):
    """Bind the implementation to ``target`` (the demo's default when None) and import the
    demo's module."""
    demo = DEMOS[name]
    implementation.use(target or demo.target)
    return importlib.import_module(f"{__package__}.{demo.module}")


def not_implemented_message(error: NotImplementedError) -> str:
    """Two friendly lines naming the unfinished exercise, from its NotImplementedError."""
    tb = error.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    function = tb.tb_frame.f_code.co_name
    found = re.search(r"\b\d+\.\d+\b", str(error))
    if found is None:
        return f"{function} is not implemented yet ({error}).\nRun `make grade` to test your work."
    ex = found.group()
    return (f"{function} (exercise {ex}) is not implemented yet.\n"
            f"Write it, then run `make grade EX={ex}`.")


def usage() -> str:
    lines = ["usage: python -m demos NAME [--target exercises|reference|DIR] [options]",
             "       python -m demos NAME --help", "",
             f"  {'NAME':<20}{'TARGET':<11}(the default --target)"]
    lines += [f"  {name:<20}{demo.target:<11}{demo.summary}" for name, demo in DEMOS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in DEMOS:
        say(f"no demo named {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    target = argparse.ArgumentParser(add_help=False)
    target.add_argument("--target")
    chosen = target.parse_known_args(rest)[0].target
    try:
        module = load(name, chosen)
    except FileNotFoundError as error:  # a --target folder that does not exist
        say(error, file=sys.stderr)
        return 2
    try:
        code = module.main(rest)
        return code if isinstance(code, int) else 0  # a benchmark returns its measurements
    except NotImplementedError as error:  # an exercise the demo needs is still a stub
        say(not_implemented_message(error), file=sys.stderr)
        return 1
