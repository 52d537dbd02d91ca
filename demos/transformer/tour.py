"""Worked example of Module 3, and its two training demos.

Usage:
    python -m demos transformer            # a tour of the module, on your code
    python -m demos transformer --gpt      # train YOUR GPT (a minute or two)
    python -m demos transformer --seq2seq  # train YOUR encoder-decoder
    python -m demos transformer --target reference --gpt [--quick]
                                [--figures DIR]
"""

import math

import numpy as np
from implementation.transformer.activations import gelu
from implementation.transformer.cross_entropy import cross_entropy
from implementation.transformer.gpt import GPT, GPTConfig
from implementation.transformer.linear import linear
from implementation.transformer.norms import layer_norm
from implementation.transformer.optim import AdamW, cosine_schedule
from implementation.transformer.training import optimizer_step

from ..blas import rerun_with_one_blas_thread
from ..run import parser as demo_parser
from ..text import say
from .tasks import SortDigits, Split, lm_batch


def run_tour():
    """A few of the module's functions on tiny inputs; return True when every check passed."""
    rng = np.random.default_rng(0)
    checks = []  # (passed, text), printed at the end

    def check(passed, text):
        checks.append((bool(passed), text))

    x = rng.standard_normal((4, 8)).astype(np.float32)  # 4 rows, C = 8
    y, _ = linear(x, rng.standard_normal((8, 3)).astype(np.float32), np.zeros(3, np.float32))
    say(f"3.1  linear: x {x.shape} @ W (8, 3) + b -> {y.shape} {y.dtype}")
    check(y.shape == (4, 3) and y.dtype == np.float32, "linear keeps float32")

    h, _ = layer_norm(3 * x + 5, np.ones(8, np.float32), np.zeros(8, np.float32), 1e-5)
    say(f"3.2  layer_norm(3x + 5): largest |row mean| {np.abs(h.mean(-1)).max():.1e},\n"
        f"     row standard deviations {np.round(h.std(-1), 4).tolist()}")
    check(np.allclose(h.mean(-1), 0, atol=1e-5) and np.allclose(h.std(-1), 1, atol=1e-3),
          "LayerNorm rows have mean 0 and standard deviation 1")

    g, _ = gelu(np.array([-3.0, 0.0, 3.0]), approximate="tanh")
    say(f"3.3  gelu(-3, 0, 3) (tanh form) = {np.round(g, 4).tolist()}")
    check(g[1] == 0 and abs(g[2] - 3) < 0.01, "GELU(0) = 0 and GELU(3) is almost 3")

    logits = np.zeros((2, 10))
    loss, _ = cross_entropy(logits, np.array([3, -100]))
    say(f"3.8  cross_entropy of uniform logits over 10 classes, one target ignored: {loss:.4f}")
    check(abs(loss - math.log(10)) < 1e-12, "uniform logits cost ln 10 = 2.3026")

    lrs = [cosine_schedule(s, 1e-3, 1e-4, 10, 100) for s in (0, 10, 55, 100)]
    say(f"3.10 cosine_schedule at steps 0, 10, 55, 100: {' '.join(f'{lr:.1e}' for lr in lrs)}")

    task = SortDigits(n_digits=6)
    split = Split(task, 100, np.random.default_rng(1))
    prompts, answers = split.training_batch(rng, 16)
    idx, targets = lm_batch(prompts, answers)
    say(f"\n     The GPT demo's task, with 6 digits: {task.format(prompts[0], answers[0])}. "
          "The model reads")
    say(f"     {idx[0].tolist()},\n     the targets are {targets[0].tolist()}\n"
        "     (-100: not scored)")
    model = GPT(GPTConfig(vocab_size=10, block_size=idx.shape[1], n_layer=1, n_head=2,
                          n_embd=16), np.random.default_rng(0))
    optimizer = AdamW(lr=1e-2, weight_decay=0.0)
    losses = []
    for _ in range(20):  # 20 steps on one batch: the loss must fall
        losses.append(float(model.loss(idx, targets)))
        optimizer_step(optimizer, model.params, model.backward(), lr=None, max_norm=1.0)
    say(f"3.11 GPT ({model.num_parameters():,} parameters), 20 AdamW steps on one batch: "
          f"loss {losses[0]:.3f} -> {losses[-1]:.3f}")
    check(abs(losses[0] - math.log(10)) < 0.05, "a fresh GPT predicts about uniformly "
          f"(loss {losses[0]:.3f}, ln 10 = 2.303)")
    check(losses[-1] < 0.8 * losses[0], "AdamW on GPT.backward's gradients lowers the loss")

    say()
    for passed, text in checks:
        say(f"[{'ok' if passed else 'FAILED'}] {text}")
    say("\nNext: python -m demos transformer --gpt   trains a GPT to sort strings of 10\n"
        "digits (a minute or two; --quick for a short run).")
    return all(passed for passed, _ in checks)


def main(argv=None):
    parser = demo_parser("transformer", "Worked example of Module 3 (the Transformer), and "
                         "its training demos.")
    parser.add_argument("--gpt", action="store_true",
                        help="train a small GPT to sort strings of 10 digits (a minute or two)")
    parser.add_argument("--seq2seq", action="store_true",
                        help="train an encoder-decoder Transformer to reverse strings of 8 "
                             "digits (under a minute)")
    parser.add_argument("--quick", action="store_true", help="a short run (a smoke test)")
    parser.add_argument("--figures", metavar="DIR",
                        help="where the loss curve goes (default build/figures)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the run (default 0)")
    args = parser.parse_args(argv)
    if args.gpt and args.seq2seq:
        parser.error("choose one demo: --gpt or --seq2seq")
    if args.gpt or args.seq2seq:
        code = rerun_with_one_blas_thread()
        if code is not None:
            return code
    if args.seq2seq:
        from .seq2seq_demo import run

        run(quick=args.quick, seed=args.seed, figures_dir=args.figures)
        return 0
    if args.gpt:
        from .gpt_demo import run

        run(quick=args.quick, seed=args.seed, figures_dir=args.figures)
        return 0
    say(__doc__)
    return 0 if run_tour() else 1
