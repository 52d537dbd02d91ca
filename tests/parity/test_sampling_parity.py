"""Exercise 4.4 reference vs Hugging Face's logits warpers (``TemperatureLogitsWarper``,
``TopKLogitsWarper``, ``TopPLogitsWarper`` from ``transformers.generation.logits_process``).

Where the two agree, and exactly where they do not:

- ``top_k_filter`` == ``TopKLogitsWarper``: the same -inf mask on every input, ties included
  (both remove only logits strictly below the k-th largest).
- ``top_p_filter`` == ``TopPLogitsWarper(min_tokens_to_keep=1)`` whenever no token outside
  HF's kept set has the same logit as the smallest logit HF keeps. When equal logits straddle
  the boundary, HF keeps those of the tied tokens that ``torch.sort`` happens to put last, and
  we keep them all: our mask is then HF's plus exactly the tokens tied with HF's smallest kept
  logit (``expected_top_p`` below states this, and every case is checked against it).
- ``p = 1``: we return the logits unchanged (as ``generate``, which skips the warper when
  ``top_p == 1``); the warper itself removes tokens whose probability underflows to exactly 0.
- ``sample_next_token`` draws from the softmax of HF's Temperature -> TopK -> TopP chain (the
  order of ``GenerationMixin._get_logits_processor``) by the inverse CDF of one
  ``rng.random()`` per row.

Float64 and float32, (V,) and (B, V) inputs, random logits, ties, -inf and huge values.
"""

import numpy as np
import pytest
import torch
from transformers.generation.logits_process import (
    LogitsProcessorList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from reference.llm.sampling import greedy, sample_next_token, top_k_filter, top_p_filter

B, V = 6, 50
DTYPES = [np.float64, np.float32]
IDS = torch.zeros((1, 1), dtype=torch.long)  # the warpers ignore input_ids


def hf(warper, x: np.ndarray) -> np.ndarray:
    """Apply a HF warper to (V,) or (B, V) numpy logits (the warpers want a batch)."""
    scores = torch.from_numpy(np.atleast_2d(x).copy())
    out = warper(IDS, scores).numpy()
    return out[0] if x.ndim == 1 else out


def random_logits(seed: int, dtype, shape=(B, V), scale=3.0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def tied_logits(dtype) -> np.ndarray:
    """Rows made of a few distinct values, so that ties sit at every boundary."""
    rng = np.random.default_rng(7)
    levels = np.array([3.0, 1.5, 1.5, 0.0, -1.0, -np.inf])
    return levels[rng.integers(0, levels.size, (B, 12))].astype(dtype)


def extreme_logits(dtype) -> np.ndarray:
    x = random_logits(3, np.float64, (4, 9))
    x[0] += 1000.0  # exp overflows without the max subtraction
    x[1, :4] = -np.inf  # already filtered
    x[2] = np.array([800.0, 799.0, 0.0, -800.0, -1e4, 5.0, 5.0, 798.5, -np.inf])
    x[3] *= 1e-3  # nearly uniform
    return x.astype(dtype)


def cases(dtype):
    yield "random", random_logits(0, dtype)
    yield "random (V,)", random_logits(1, dtype, (V,))
    yield "peaked", random_logits(2, dtype, scale=8.0)
    yield "ties", tied_logits(dtype)
    yield "extreme", extreme_logits(dtype)


def same_mask(ours: np.ndarray, theirs: np.ndarray, what: str) -> None:
    assert ours.dtype == theirs.dtype, what
    np.testing.assert_array_equal(np.isneginf(ours), np.isneginf(theirs), err_msg=what)
    np.testing.assert_array_equal(ours, theirs, err_msg=what)  # kept values untouched


def expected_top_p(hf_out: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Our top-p output from HF's: HF's kept set plus every token tied with its smallest kept
    logit."""
    kept = ~np.isneginf(hf_out)
    smallest = np.min(np.where(kept, x, np.inf), axis=-1, keepdims=True)
    return np.where(kept | (x == smallest), x, -np.inf)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [1, 2, 5, 11, 49, 50, 80])
def test_top_k_matches_hf_exactly(k, dtype):
    for name, x in cases(dtype):
        k_ = min(k, x.shape[-1] + 3)
        same_mask(top_k_filter(x, k_), hf(TopKLogitsWarper(k_), x), f"{name}, k={k_}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [1e-6, 0.1, 0.3, 0.5, 0.75, 0.9, 0.95, 0.999])
def test_top_p_matches_hf_up_to_boundary_ties(p, dtype):
    n_exact = 0
    for name, x in cases(dtype):
        ours, theirs = top_p_filter(x, p), hf(TopPLogitsWarper(p), x)
        same_mask(ours, expected_top_p(theirs, x), f"{name}, p={p}")
        n_exact += np.array_equal(ours, theirs)
        if name != "ties":  # without equal logits the two agree bit for bit
            same_mask(ours, theirs, f"{name}, p={p}")
    assert n_exact >= 4


def test_top_p_boundary_ties_are_where_we_differ():
    """Probabilities [0.4, 0.2, 0.2, 0.2], p = 0.5: the crossing token is one of three ties.
    HF keeps the tie that torch.sort puts last (its choice depends on the sort order); we keep
    all three, independently of token order."""
    x = np.log(np.array([[0.4, 0.2, 0.2, 0.2], [0.2, 0.2, 0.2, 0.4]]))
    theirs, ours = hf(TopPLogitsWarper(0.5), x), top_p_filter(x, 0.5)
    assert (~np.isneginf(theirs)).sum(axis=-1).tolist() == [2, 2]
    assert (~np.isneginf(ours)).all()
    same_mask(ours, expected_top_p(theirs, x), "ties")
    perm = np.array([2, 0, 3, 1])
    same_mask(top_p_filter(x[:, perm], 0.5), ours[:, perm], "permuted")


def test_top_p_one():
    """p = 1: we keep everything; the warper also removes tokens of probability exactly 0."""
    x = np.array([[0.0, -800.0, 1.0, -np.inf], [2.0, 1.0, 0.5, -1.0]])
    theirs, ours = hf(TopPLogitsWarper(1.0), x), top_p_filter(x, 1.0)
    np.testing.assert_array_equal(ours, x)
    assert np.isneginf(theirs[0, 1]) and np.array_equal(theirs[1], x[1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_temperature_matches_hf(dtype):
    """Greedy after temperature and our draw both see HF's x / T (same dtype)."""
    x = random_logits(4, dtype)
    for t in (0.3, 1.0, 2.5):
        scaled = hf(TemperatureLogitsWarper(t), x)
        assert scaled.dtype == x.dtype
        np.testing.assert_array_equal(scaled, x / t)
        assert np.array_equal(greedy(scaled), np.argmax(x, axis=-1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("t, k, p", [(1.0, None, None), (0.7, 10, None), (1.3, None, 0.8),
                                     (0.5, 8, 0.9), (2.0, 3, 0.5), (1e-3, None, 0.9)])
def test_sample_draws_from_hf_chain(t, k, p, dtype):
    """Our token = inverse CDF, at u = rng.random(B), of softmax(HF chain(x)), where the chain
    is Temperature -> TopK -> TopP as in HF's generate."""
    chain = LogitsProcessorList([TemperatureLogitsWarper(t)]
                                + ([TopKLogitsWarper(k)] if k else [])
                                + ([TopPLogitsWarper(p)] if p else []))
    for name, x in cases(dtype):
        if name == "ties":
            continue  # the chain's top-p may split ties (see above)
        x2 = np.atleast_2d(x)
        probs = torch.softmax(chain(IDS, torch.from_numpy(x2.copy())).double(), dim=-1).numpy()
        cdf = np.cumsum(probs, axis=-1)
        cdf /= cdf[:, -1:]
        for seed in range(5):
            u = np.random.default_rng(seed).random(x2.shape[0])
            want = np.sum(cdf <= u[:, None], axis=-1)
            got = sample_next_token(x, np.random.default_rng(seed), temperature=t, top_k=k,
                                    top_p=p)
            got = np.atleast_1d(got)
            # The cdf's are summed in different precisions: only a u within 1e-6 of a step
            # may land on the neighbouring token.
            near = np.min(np.abs(cdf - u[:, None]), axis=-1) < 1e-6
            assert np.array_equal(got[~near], want[~near]), f"{name}, seed {seed}"
