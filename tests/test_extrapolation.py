"""The length-extrapolation experiment of Module 2 (demos/positional_encoding/extrapolation.py),
on the reference.

Fast checks only: a quick run (a smoke test, its numbers mean nothing), the float64 gradient
check of the whole model for every variant, and the pieces the results rest on (the task's
targets, ALiBi through Module 1's attention, the untouched rows of the learned table).
"""

import math
from dataclasses import replace

import numpy as np
import pytest
from columns import long_lines

from demos.run import load
from reference.positional_encoding.alibi import alibi_bias
from reference.self_attention.attention import scaled_dot_product_attention
from reference.self_attention.masks import causal_mask
from reference.self_attention.softmax import softmax

E = load("extrapolate", "reference")
TINY = replace(E.FULL, d_model=16, n_heads=4, t_train=8, batch=4, steps=3)


@pytest.mark.parametrize("variant", E.VARIANTS)
def test_backward_matches_finite_differences(variant):
    errors = E._gradient_check(variant)
    unused = errors.pop("pos_unused", 0.0)
    assert unused == 0.0, f"learned rows past the training length got gradient {unused}"
    bad = {name: f"{e:.1e}" for name, e in errors.items() if not e < 1e-5}
    assert not bad, f"{variant}: analytic and numerical gradients disagree for {bad}"


def test_quick_run_returns_every_variant_and_length_and_writes_the_figure(tmp_path, capsys):
    results = E.run(quick=True, out_dir=tmp_path)
    assert list(results) == list(E.VARIANTS)
    for variant, by_length in results.items():
        assert list(by_length) == [32, 64, 128], variant
        for length, metrics in by_length.items():
            assert set(metrics) == {"loss", "accuracy"}
            assert math.isfinite(metrics["loss"]) and metrics["loss"] > 0, (variant, length)
            assert 0.0 <= metrics["accuracy"] <= 1.0, (variant, length)
    figure = tmp_path / "extrapolation.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    assert not long_lines(out)
    assert "steps/s" in out and "ETA" in out, "no progress lines"
    assert "T=128 loss" in out, "no results table"


def test_targets_are_the_latest_value_token():
    ids, targets, scored = E.make_batch(np.random.default_rng(0), 64, 40, E.FULL)
    for b in range(ids.shape[0]):
        latest = None
        for t in range(ids.shape[1]):
            if ids[b, t] < E.FULL.n_values:
                latest = ids[b, t]
            assert scored[b, t] == (latest is not None)
            if latest is not None:
                assert targets[b, t] == latest, (b, t)


def test_alibi_as_an_extra_dimension_equals_adding_the_bias():
    rng = np.random.default_rng(1)
    B, H, T, D = 2, 4, 7, 3
    q, k, v = rng.standard_normal((3, B, H, T, D))
    q_aug, k_aug = E.with_alibi(q, k, E.alibi_key_column(H, T, np.float64))
    out, _ = scaled_dot_product_attention(q_aug, k_aug, v, causal_mask(T))
    scores = q @ k.swapaxes(-1, -2) / math.sqrt(D) + alibi_bias(H, T, T)
    expected = softmax(np.where(causal_mask(T), scores, -np.inf)) @ v
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-12)


def test_training_is_float32_deterministic_and_leaves_untrained_positions_alone():
    first = E.train("learned", TINY, seed=3, log_every=1e9)
    second = E.train("learned", TINY, seed=3, log_every=1e9)
    initial = E.init_params("learned", TINY, np.random.default_rng([3, 0]))
    for name, p in first.items():
        assert p.dtype == np.float32, name
        np.testing.assert_array_equal(p, second[name], err_msg=name)
        assert not np.array_equal(p, initial[name]) or name == "pos", f"{name} never moved"
    t = TINY.t_train
    assert not np.array_equal(first["pos"][:t], initial["pos"][:t])
    np.testing.assert_array_equal(first["pos"][t:], initial["pos"][t:])


def test_the_variants_start_from_the_same_weights():
    params = {v: E.init_params(v, TINY, np.random.default_rng(0)) for v in E.VARIANTS}
    for variant in E.VARIANTS[1:]:
        for name, p in params["sinusoidal"].items():
            np.testing.assert_array_equal(p, params[variant][name], err_msg=f"{variant} {name}")


def test_command_line_quick_run_writes_the_figure(tmp_path, capsys):
    assert E.main(["--quick", "--figures", str(tmp_path)]) == 0
    assert (tmp_path / "extrapolation.png").stat().st_size > 10_000
    assert "T=128 loss" in capsys.readouterr().out
