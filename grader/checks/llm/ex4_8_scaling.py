"""Checks of exercise 4.8: parameters, FLOPs and scaling laws.

Every expected number is worked by hand in the comments. The tiny config (V=37, T_max=16,
2 layers, C=24) is chosen so that each typical slip moves the count by a different amount:
the head counted again +VC = +888, no position table -TC = -384, no biases -9CL = -432, no
LayerNorms -(4CL + 2C) = -240, no final LayerNorm -2C = -48.
"""

from __future__ import annotations

import math

import numpy as np

from ... import expect
from .. import check
from .common import call_unchanged

TINY = {"vocab_size": 37, "block_size": 16, "n_layer": 2, "n_head": 3, "n_embd": 24}


GPT2_SMALL = {"vocab_size": 50257, "block_size": 1024, "n_layer": 12, "n_head": 12, "n_embd": 768}


# GPT-2 medium as Hugging Face's config.json names the context length: n_positions.
GPT2_MEDIUM = {"vocab_size": 50257, "n_positions": 1024, "n_layer": 24, "n_head": 16,
               "n_embd": 1024}


def _sizes(config):
    T = config.get("block_size") or config.get("n_positions")
    return config["vocab_size"], T, config["n_layer"], config["n_embd"]


def _int(value, what):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        expect.fail(f"{what} returned {value!r} ({type(value).__name__}); a count is an int.")
    return int(value)


def _slip(text: str) -> str:
    """A slip confirmed by the result (an exact difference or ratio to the right answer, the
    probe): "cause: advice" -> "advice. Likely cause: cause."."""
    cause, _, advice = text.partition(": ")
    return (f"{advice}. " if advice else "") + expect.cause(cause)


def _count_hint(config, got, want, include_embeddings=True) -> str:
    V, T, L, C = _sizes(config)
    slips = {V * C: "the tied head was counted again: the output head reuses wte, so its V x C "
                    "weights are the same parameters",
             -T * C: "the position table wpe (block_size x C) is missing",
             -9 * C * L: "the biases are missing (3C for c_attn, C for attn.c_proj, 4C for "
                         "c_fc, C for mlp.c_proj, per block)",
             -(4 * C * L + 2 * C): "the LayerNorm weights and biases are missing (ln_1, ln_2 "
                                   "per block, and ln_f)",
             -4 * C * L: "the LayerNorm parameters were counted once per LayerNorm: each has a "
                         "weight AND a bias of C",
             -2 * C: "the final LayerNorm ln_f is missing",
             -(13 * C * L + 2 * C): "the biases and LayerNorms are missing: 12 n_layer C^2 is "
                                    "an approximation, count every parameter exactly",
             -8 * C * C * L: "the MLP is 4C wide: c_fc is C x 4C and mlp.c_proj 4C x C"}
    if not include_embeddings:
        slips[V * C + T * C] = ("wte and wpe were counted with include_embeddings=False: it "
                                "leaves them out (Kaplan's non-embedding N)")
        slips[T * C] = ("wpe was counted with include_embeddings=False: it leaves out the "
                        "position table too")
        if got == 12 * L * C * C:
            return ("that is the approximation 12 n_layer C^2: count every non-embedding "
                    "parameter exactly, biases and LayerNorms included")
    return slips.get(got - want, "")


@check("4.8", weight=2)
def count_parameters_exact(impl):
    """exact counts: GPT-2 small 124,439,808 (tied head once, wpe, biases, LayerNorms)"""
    # Per block: 2C (ln_1) + 3C^2 + 3C (c_attn) + C^2 + C (attn.c_proj) + 2C (ln_2)
    # + 4C^2 + 4C (c_fc) + 4C^2 + C (mlp.c_proj) = 12C^2 + 13C; plus VC + TC + 2C (ln_f).
    cases = [
        # tiny: 37*24 + 16*24 + 2*(12*576 + 13*24) + 48 = 888 + 384 + 14448 + 48 = 15768
        (TINY, True, 15_768, "the tiny config V=37, T_max=16, L=2, C=24"),
        (TINY, False, 14_496, "the tiny config, include_embeddings=False"),
        # GPT-2 small: 38,597,376 (wte) + 786,432 (wpe) + 12*7,087,872 + 1,536 (ln_f)
        (GPT2_SMALL, True, 124_439_808, "GPT-2 small"),
        (GPT2_SMALL, False, 85_056_000, "GPT-2 small, include_embeddings=False"),
        # GPT-2 medium: 51,463,168 + 1,048,576 + 24*12,596,224 + 2,048
        (GPT2_MEDIUM, True, 354_823_168, "GPT-2 medium (n_positions=1024)"),
    ]
    for config, include, want, name in cases:
        what = f"count_parameters({name})"
        got = _int(call_unchanged(impl.count_parameters, "count_parameters", dict(config),
                                  include_embeddings=include), what)
        if got != want:
            hint = _count_hint(config, got, want, include)
            expect.fail(f"{what} = {got:,}, expected {want:,}. " + (_slip(hint) if hint else
                        "Count wte (the head is tied: once), wpe, per block ln_1, c_attn, "
                        "attn.c_proj, ln_2, c_fc, mlp.c_proj (weights and biases), and ln_f."))
    got = _int(impl.count_parameters(dict(TINY)), "count_parameters(TINY)")
    if got == 14_496:  # the count without embeddings, right above
        expect.fail(f"count_parameters(config) = {got:,} with the default include_embeddings, "
                    "expected 15,768: the default counts every parameter. "
                    + expect.cause("the default include_embeddings is False"))
    if got != 15_768:
        expect.fail(f"count_parameters(config) = {got:,} with the default include_embeddings, "
                    "expected 15,768: the default counts every parameter.")
    got = _int(impl.count_parameters(impl.GPTConfig()), "count_parameters(GPTConfig())")
    if got != 124_439_808:
        expect.fail(f"count_parameters(GPTConfig()) = {got:,}, expected 124,439,808, while the "
                    "same sizes as a dict are counted right: read a GPTConfig's sizes as "
                    "attributes (config_value does).")


@check("4.8", weight=2)
def flops_per_token_kaplan(impl):
    """6N + 6 n_layer seq_len n_embd with N non-embedding: 566,959,104 for GPT-2 small at 1024"""
    cases = [
        # tiny, N = 14,496: 6*14,496 + 6*2*16*24 = 86,976 + 4,608 = 91,584
        (TINY, 16, 14_496, 91_584, "the tiny config, seq_len=16"),
        (TINY, 5, 14_496, 88_416, "the tiny config, seq_len=5"),
        # GPT-2 small, N = 85,056,000: 510,336,000 + 6*12*1024*768 = 510,336,000 + 56,623,104
        (GPT2_SMALL, 1024, 85_056_000, 566_959_104, "GPT-2 small, seq_len=1024"),
    ]
    for config, seq_len, n, want, name in cases:
        what = f"flops_per_token({name})"
        if impl.count_parameters(dict(config), include_embeddings=False) != n:
            # 6N counts N, the non-embedding count_parameters: a wrong count
            # is count_parameters' slip, not this one's
            expect.fail(f"4.8: {what}: skipped until count_parameters_exact passes (the "
                        "FLOPs count N is count_parameters(config, include_embeddings=False)).")
        got = _int(call_unchanged(impl.flops_per_token, "flops_per_token", dict(config),
                                  seq_len), what)
        if got == want:
            continue
        V, T, L, C = _sizes(config)
        attn = 6 * L * seq_len * C
        slips = {want // 3: "that is the forward only (2N + 2 n_layer seq_len C): training "
                            "costs 3 times the forward (the backward is twice the forward)",
                 6 * n: "the attention term 6 n_layer seq_len n_embd (scores and weighted "
                        "values) is missing",
                 2 * n + attn: "the parameters count 2N, the forward's: training is 6N "
                               "(forward + backward)",
                 want + 6 * (V * C + T * C): "N includes the embeddings: N is the "
                                             "non-embedding count (count_parameters(config, "
                                             "include_embeddings=False)), lookups in wte and "
                                             "wpe cost nothing",
                 want + attn: "the attention term counts the whole T x T score matrix: it is "
                              "6 n_layer seq_len n_embd (Kaplan counts half of it, causal "
                              "queries see half the keys on average)",
                 6 * 12 * L * C * C + attn: "N is the approximation 12 n_layer C^2: N is the "
                                            "exact non-embedding count (count_parameters("
                                            "config, include_embeddings=False))"}
        if got in slips:
            expect.fail(f"{what} = {got:,}, expected {want:,}. {_slip(slips[got])}")
        expect.fail(f"{what} = {got:,}, expected {want:,}: 6N + 6 n_layer seq_len n_embd, "
                    "N being count_parameters(config, include_embeddings=False) (is "
                    "count_parameters right?).")


@check("4.8")
def chinchilla_optimal_split(impl):
    """C = 6 N D with D = 20 N: Chinchilla's 5.88e23 FLOPs give 70B parameters, 1.4T tokens"""
    cases = [(5.88e23, 20, 70e9, 1.4e12, "5.88e23 (Chinchilla)"),
             (1.2e21, 20, 1e19 ** 0.5, 20 * 1e19 ** 0.5, "1.2e21"),  # N = sqrt(1e19)
             (6e6, 1, 1e3, 1e3, "6e6, tokens_per_param=1")]
    for compute, ratio, n_want, d_want, name in cases:
        what = f"chinchilla_optimal({name})"
        result = (impl.chinchilla_optimal(compute) if ratio == 20
                  else impl.chinchilla_optimal(compute, tokens_per_param=ratio))
        if not (isinstance(result, tuple) and len(result) == 2):
            expect.fail(f"{what} should return a pair (n_params, n_tokens), got {result!r}.")
        n, d = (float(r) for r in result)
        if math.isclose(n, n_want, rel_tol=1e-9) and math.isclose(d, d_want, rel_tol=1e-9):
            continue
        slips = [((d_want, n_want), "the pair is swapped: return (n_params, n_tokens)"),
                 ((math.sqrt(compute / 6),) * 2, "D = N: Hoffmann et al. train on about 20 "
                                                 "tokens per parameter, D = 20 N"),
                 ((math.sqrt(compute / ratio), ratio * math.sqrt(compute / ratio)),
                  "the 6 of C = 6 N D is missing"),
                 ((compute / (6 * ratio), ratio * compute / (6 * ratio)),
                  "N is not a square root: C = 6 N D = 6 r N^2, so N = sqrt(C / (6 r))")]
        hint = next((h for (nw, dw), h in slips
                     if math.isclose(n, nw, rel_tol=1e-9) and math.isclose(d, dw, rel_tol=1e-9)),
                    None)
        expect.fail(f"{what} = ({n:.6g}, {d:.6g}), expected ({n_want:.6g}, {d_want:.6g}). "
                    + (_slip(hint) if hint else "N = sqrt(C / (6 * tokens_per_param)), "
                       "D = tokens_per_param * N."))
    expect.raises(impl.chinchilla_optimal, ValueError, "chinchilla_optimal(0)", 0.0)


@check("4.8")
def fit_power_law_in_log_space(impl):
    """y = a x^b by least squares on (log x, log y): exact and noisy data, bad inputs refused"""
    x = np.array([1e6, 3e6, 1e7, 3e7, 1e8, 3e8])
    exact = 4.2 * x ** -0.076  # Kaplan-like L(N) = (N_c / N)^0.076
    noise = np.array([1.03, 0.98, 1.01, 0.97, 1.02, 0.995])
    noisy = 4.2 * x ** -0.076 * noise
    lx = np.log(x)
    for y, name in ((exact, "exact data y = 4.2 x^-0.076"), (noisy, "noisy data")):
        # Least squares on logs: b = cov(log x, log y) / var(log x), log a = mean - b mean.
        ly = np.log(y)
        b_want = np.sum((lx - lx.mean()) * (ly - ly.mean())) / np.sum((lx - lx.mean()) ** 2)
        a_want = math.exp(ly.mean() - b_want * lx.mean())
        what = f"fit_power_law on {name}"
        result = expect.call_pure(impl.fit_power_law, "fit_power_law", x.copy(), y.copy())
        if not (isinstance(result, tuple) and len(result) == 2):
            expect.fail(f"{what} should return a pair (a, b), got {result!r}.")
        a, b = (float(r) for r in result)
        if math.isclose(a, a_want, rel_tol=1e-7) and math.isclose(b, b_want, rel_tol=1e-7):
            continue
        slips = [((b_want, a_want), "a and b are swapped: return (a, b) for y = a x^b"),
                 ((math.log(a_want), b_want), "a is returned as log(a): return "
                                              "exp(intercept)"),
                 ((math.log10(a_want), b_want), "a is returned as log10(a): return "
                                                "10**intercept"),
                 ((10 ** math.log(a_want), b_want), "the intercept of a natural-log fit was "
                                                    "raised to 10**: undo the log you took"),
                 ((math.exp(math.log10(a_want)), b_want), "the intercept of a log10 fit was "
                                                          "exponentiated with exp: undo the "
                                                          "log you took")]
        hint = next((h for (aw, bw), h in slips
                     if math.isclose(a, aw, rel_tol=1e-6) and math.isclose(b, bw, rel_tol=1e-6)),
                    None)
        expect.fail(f"{what} = ({a:.6g}, {b:.6g}), expected ({a_want:.6g}, {b_want:.6g}). "
                    + (_slip(hint) if hint else "Fit a straight line log y = log a + b log x "
                       "by least squares (in log space, not on y itself)."))
    for bad_x, bad_y, name in (([1.0, 0.0, 2.0], [1.0, 2.0, 3.0], "an x of 0"),
                               ([1.0, 2.0, 3.0], [1.0, -2.0, 3.0], "a negative y"),
                               ([2.0, 2.0, 2.0], [1.0, 2.0, 3.0], "one distinct x"),
                               ([1.0, 2.0], [1.0, 2.0, 3.0], "x and y of different lengths")):
        expect.raises(impl.fit_power_law, ValueError, f"fit_power_law with {name}",
                      np.array(bad_x), np.array(bad_y))


@check("4.8")
def scaling_refuses_bad_input(impl):
    """ValueError: a size missing or not a positive int, seq_len < 1, a budget or ratio <= 0"""
    # the given code raises these errors: points only once the function itself runs (a stub
    # raises NotImplementedError here)
    impl.count_parameters(dict(TINY))
    impl.flops_per_token(dict(TINY), 5)
    impl.chinchilla_optimal(1e20)
    for config, what in (({k: v for k, v in TINY.items() if k != "vocab_size"},
                          "a config without vocab_size"),
                         ({**TINY, "n_layer": 0}, "n_layer = 0"),
                         ({**TINY, "n_embd": 24.0}, "n_embd = 24.0, not an int")):
        expect.raises(impl.count_parameters, ValueError, f"4.8: count_parameters with {what}",
                      config)
    for seq_len in (0, 2.5):
        expect.raises(impl.flops_per_token, ValueError, f"4.8: flops_per_token(config, "
                      f"seq_len={seq_len})", dict(TINY), seq_len)
    for compute, ratio in ((-1e20, 20), (1e20, 0.0), (1e20, -20), (float("inf"), 20)):
        expect.raises(impl.chinchilla_optimal, ValueError, f"4.8: chinchilla_optimal({compute}, "
                      f"tokens_per_param={ratio})", compute, tokens_per_param=ratio)
