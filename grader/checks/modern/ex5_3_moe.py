"""Checks of exercise 5.3: the Mixtral router, the sparse MoE layer and the load-balancing loss.

Expected values come from the grader's own float64 formulas below (softmax over the experts,
a stable top-k, renormalised weights, a SwiGLU written out) and from hand-computed cases
(ties, a load-balancing loss worked in the comments). Every gradient is compared with central
finite differences of those formulas (grader/gradcheck.py), so a backward is graded on its
own, not against the student's forward; the inputs keep the k-th and (k+1)-th router
probabilities of every token well apart, so no step of the differences changes the routing.
The outputs of typical wrong formulas (a softmax over the tokens, weights not renormalised or
applied twice, every token sent to every expert, f counting one slot per token, ...) are
computed the same way, so a message names the mistake only when the student's answer is
exactly one of them.
"""

from __future__ import annotations

import numpy as np

from ... import expect
from ...gradcheck import numerical_gradient
from .. import check
from ..llm.common import call_unchanged

B, T, C, E, F, K = 2, 3, 4, 5, 6, 2  # N = B * T = 6 tokens
N = B * T
NAMES = ("W_gate", "W_up", "W_down")
DLOSS = 0.7  # not 1: the upstream gradient must multiply the result

NOT_RENORMALISED = ("the top-k weights are not renormalised (divide the k chosen "
                    "probabilities by their sum, as Mixtral does)")
TOKEN_SOFTMAX = "the softmax runs over the tokens (axis 0), not over the E experts"


# --- the grader's formulas ---------------------------------------------------------------


def _softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _route(x, gate, k, axis=-1, renorm=True, high_ties=False):
    """(probs (N, E), index (N, k), weights (N, k)); ties to the lower index unless
    `high_ties`; `axis=0` is the softmax over the tokens (a slip)."""
    p = _softmax(x.reshape(-1, gate.shape[0]) @ gate, axis)
    if high_ties:  # the same stable sort on the reversed experts: ties to the higher index
        index = p.shape[1] - 1 - np.argsort(-p[:, ::-1], axis=-1, kind="stable")
    else:
        index = np.argsort(-p, axis=-1, kind="stable")
    index = index[:, :k]
    top = np.take_along_axis(p, index, axis=-1)
    return p, index, (top / top.sum(-1, keepdims=True) if renorm else top)


def _swiglu(x, params, e):
    g, u = x @ params[f"experts.{e}.W_gate"], x @ params[f"experts.{e}.W_up"]
    return (g / (1 + np.exp(-g)) * u) @ params[f"experts.{e}.W_down"]


def _layer(x, params, k, bug=None, weights=None):
    """The MoE layer of `x` (any leading shape), or a known wrong one (`bug`); `weights`
    (N, k) replaces the routing weights by constants (the backward probes)."""
    gate = params["gate"]
    x2 = x.reshape(-1, gate.shape[0])
    n_experts = gate.shape[1]
    p, index, w = _route(x2, gate, k, axis=0 if bug == "token_softmax" else -1,
                         renorm=bug != "unnormalised")
    w = w if weights is None else weights
    # every expert on every token (the grader may), then the chosen ones picked, never
    # multiplied by a zero weight: an unused expert's NaN weights stay out
    y = [_swiglu(x2, params, e) for e in range(n_experts)]
    if bug == "dense":
        out = sum(p[:, e, None] * y[e] for e in range(n_experts))
    else:
        w = {"squared": w ** 2, "unweighted": np.ones_like(w)}.get(bug, w)
        rows = np.arange(x2.shape[0])
        out = sum(w[:, j, None] * np.stack(y)[index[:, j], rows] for j in range(k))
    return out.reshape(x.shape)


def _aux(probs, index, n_experts, bug=None):
    """E * sum_i f_i P_i with f_i = (count of expert i over all k slots) / N, or a slip."""
    n = probs.shape[0]
    chosen = index[:, :1] if bug == "first_only" else index
    f = np.bincount(chosen.reshape(-1), minlength=n_experts) / n
    if bug == "per_slot":
        f = f / index.shape[1]
    loss = float(np.sum(f * probs.mean(axis=0)))
    return loss if bug == "no_factor" else n_experts * loss


def _case(seed=55, k=K, n_experts=E, margins=True):
    """x (B, T, C), params and dout with clear routing margins (asserted)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, T, C))
    params = {"gate": rng.standard_normal((C, n_experts))}
    for e in range(n_experts):
        for name, shape in (("W_gate", (C, F)), ("W_up", (C, F)), ("W_down", (F, C))):
            params[f"experts.{e}.{name}"] = rng.standard_normal(shape) / np.sqrt(shape[0])
    dout = rng.standard_normal((B, T, C))
    if margins:
        _assert_margins(x, params["gate"], k)
    return x, params, dout


def _assert_margins(x, gate, k):
    """The k-th and (k+1)-th router probabilities of every token are 1e-3 apart or more."""
    p = np.sort(_route(x, gate, k)[0], axis=-1)[:, ::-1]
    if k < p.shape[1]:
        assert np.min(p[:, k - 1] - p[:, k]) > 1e-3, "routing margins too small"


def _idle_case(seed=531):
    """Inputs where expert 3 is chosen by no token: x > 0 and its router column < 0."""
    x, params, dout = _case(seed=seed, margins=False)
    x = np.abs(x) + 0.1
    params["gate"] = 0.3 * params["gate"]
    params["gate"][:, 3] = -3.0
    assert not np.any(_route(x, params["gate"], K)[1] == 3)
    _assert_margins(x, params["gate"], K)
    return x, params, dout


def _same(actual, expected, tol=expect.F64) -> bool:
    return (isinstance(actual, np.ndarray) and actual.shape == np.shape(expected)
            and bool(np.allclose(actual, expected, **tol)))


def _copy(params):
    return {key: value.copy() for key, value in params.items()}


# --- calling the student's code ----------------------------------------------------------


def _router(impl, x, gate, k, what):
    result = expect.call_pure(impl.moe_router, "moe_router", x, gate, k)
    if not (isinstance(result, tuple) and len(result) == 4):
        expect.fail(f"5.3: {what} should return (weights, expert_index, router_probs, cache), "
                    f"got {type(result).__name__}"
                    f"{' of length ' + str(len(result)) if isinstance(result, tuple) else ''}.")
    weights, index, probs, _ = result
    n, n_experts = x.reshape(-1, gate.shape[0]).shape[0], gate.shape[1]
    expect.array(probs, f"5.3: {what}: router_probs", shape=(n, n_experts), dtype=x.dtype)
    expect.array(index, f"5.3: {what}: expert_index", shape=(n, k), dtype=np.int64)
    expect.array(weights, f"5.3: {what}: weights", shape=(n, k), dtype=x.dtype)
    return weights, index, probs


def _layer_call(impl, x, params, k, what, finite=True):
    out, cache = expect.pair(expect.call_pure(impl.moe_layer, "moe_layer", x, params, k),
                             "moe_layer")
    expect.array(out, f"5.3: {what}", shape=x.shape, dtype=x.dtype, finite=finite)
    return out, cache


def _backward(impl, x, params, k, dout, drouter_probs=None):
    """The student's (dx, dparams) after a forward that must be right first."""
    out, cache = expect.pair(impl.moe_layer(x.copy(), _copy(params), k), "moe_layer")
    if not _same(out, _layer(x, params, k)):
        expect.fail("5.3: moe_layer_backward: skipped until moe_layer_values passes (the "
                    "gradients are those of the right forward).")
    args = (dout, cache) if drouter_probs is None else (dout, cache, drouter_probs)
    result = call_unchanged(impl.moe_layer_backward, "moe_layer_backward", *args)
    if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict)):
        expect.fail("5.3: moe_layer_backward should return (dx, dparams), dparams a dict keyed "
                    "like params.")
    dx, dparams = result
    expect.array(dx, "5.3: moe_layer_backward: dx", shape=x.shape, dtype=x.dtype)
    missing = sorted(set(params) - set(dparams))
    if missing:
        expect.fail(f"5.3: moe_layer_backward's dparams lacks {missing[:4]}"
                    f"{' ...' if len(missing) > 4 else ''}: every parameter gets a gradient, "
                    "zeros for an expert no token chose.")
    for key, value in params.items():
        expect.array(dparams[key], f"5.3: moe_layer_backward: d{key}", shape=value.shape,
                     dtype=x.dtype)
    return dx, dparams


def _numeric(loss, array):
    """Central differences of the scalar `loss()` with respect to `array` (perturbed)."""
    return numerical_gradient(loss, array)


# --- the router ----------------------------------------------------------------------------


@check("5.3", weight=2)
def router_probabilities_and_top_k(impl):
    """softmax over the experts of x W_gate, the top k largest first, weights renormalised"""
    x, params, _ = _case()
    for shape in ((B, T, C), (N, C)):
        xs = x.reshape(shape)
        what = f"moe_router(x of shape {shape}, W_gate (C, E) = {(C, E)}, top_k={K})"
        weights, index, probs = _router(impl, xs, params["gate"], K, what)
        p, want_index, want_weights = _route(xs, params["gate"], K)
        if not _same(probs, p):
            if _same(probs, _route(xs, params["gate"], K, axis=0)[0]):
                expect.fail(f"5.3: {what}: router_probs sum to 1 down each expert's column. "
                            + expect.cause(TOKEN_SOFTMAX))
            expect.close(probs, p, f"5.3: {what}: router_probs", hint="p = softmax(x W_gate) "
                         "over the E experts of each token: every row sums to 1.")
        if not np.array_equal(index, want_index):
            if np.array_equal(np.sort(index, -1), np.sort(want_index, -1)):
                expect.fail(f"5.3: {what}: expert_index has the right experts in the wrong "
                            f"order, e.g. {index[0].tolist()} for token 0, expected "
                            f"{want_index[0].tolist()}: list them largest probability first "
                            "(as torch.topk).")
            expect.fail(f"5.3: {what}: expert_index is {index.tolist()}, expected "
                        f"{want_index.tolist()} (the k largest router probabilities of each "
                        "token).")
        if _same(weights, _route(xs, params["gate"], K, renorm=False)[2]):
            expect.fail(f"5.3: {what}: the weights are the chosen probabilities themselves; "
                        "their rows sum to less than 1. " + expect.cause(NOT_RENORMALISED))
        expect.close(weights, want_weights, f"5.3: {what}: weights",
                     hint="weights[n, j] = p[n, i_j] / sum_l p[n, i_l] over the k chosen.")


# Hand-made logits: x = I (4 tokens of width 4) picks the rows of W_gate = LOGITS.
LOGITS = np.array([[np.log(4.0), np.log(2.0), 0.0, 0.0],  # p = [4, 2, 1, 1] / 8
                   [1.0, 2.0, 2.0, 0.0],  # experts 1 and 2 tie
                   [3.0, 3.0, 3.0, 3.0],  # all four tie
                   [0.0, 5.0, 1.0, 5.0]])  # experts 1 and 3 tie; expert 2 is third
TIE_INDEX = {2: [[0, 1], [1, 2], [0, 1], [1, 3]], 3: [[0, 1, 2], [1, 2, 0], [0, 1, 2], [1, 3, 2]]}
_A = np.exp(5.0) / (2 * np.exp(5.0) + np.e)  # the weight of each tied 5 among {5, 5, 1}
TIE_WEIGHTS = {2: [[2 / 3, 1 / 3], [0.5, 0.5], [0.5, 0.5], [0.5, 0.5]],
               3: [[4 / 7, 2 / 7, 1 / 7], [np.exp(2) / (2 * np.exp(2) + np.e)] * 2
                   + [np.e / (2 * np.exp(2) + np.e)], [1 / 3] * 3, [_A, _A, 1 - 2 * _A]]}


@check("5.3")
def router_ties_go_to_the_lower_index(impl):
    """hand-made logits: equal probabilities keep expert order (lower index first), k = 2, 3"""
    x = np.eye(4)
    for k in (2, 3):
        what = f"moe_router on the logits {LOGITS.round(3).tolist()} (one token per row), " \
               f"top_k={k}"
        weights, index, _ = _router(impl, x, LOGITS, k, what)
        want = np.array(TIE_INDEX[k])
        if not np.array_equal(index, want):
            if np.array_equal(index, _route(x, LOGITS, k, high_ties=True)[1]):
                expect.fail(f"5.3: {what}: expert_index is {index.tolist()}, expected "
                            f"{want.tolist()}: on a tie the lower expert index comes first. "
                            + expect.cause("ties go to the higher expert index (e.g. the last "
                                           "k of an ascending argsort, reversed)"))
            expect.fail(f"5.3: {what}: expert_index is {index.tolist()}, expected "
                        f"{want.tolist()}: largest probability first, and on a tie the lower "
                        "expert index first (np.argsort(-p, kind='stable') keeps that order).")
        expect.close(weights, np.array(TIE_WEIGHTS[k]), f"5.3: {what}: weights",
                     hint="the k chosen probabilities divided by their sum.")


# --- the layer -------------------------------------------------------------------------------


LAYER_BUGS = {
    "dense": "every token went to every expert (weighted by the full softmax): only the k "
             "chosen experts of a token contribute",
    "squared": "the router weights are applied twice (w * w)",
    "unnormalised": NOT_RENORMALISED,
    "token_softmax": TOKEN_SOFTMAX,
    "unweighted": "the chosen experts' outputs are added without their router weights",
}


@check("5.3", weight=2)
def moe_layer_values(impl):
    """out[n] = sum over the k chosen experts of weight * swiglu_e(x[n]), (B, T, C) and (N, C)"""
    x, params, _ = _case()
    for k in (K, 1, E):
        for shape in ((B, T, C), (N, C)):
            xs = x.reshape(shape)
            what = f"moe_layer(x of shape {shape}, E = {E} experts, top_k={k})"
            out, _ = _layer_call(impl, xs, params, k, what)
            want = _layer(xs, params, k)
            if _same(out, want):
                continue
            for bug, why in LAYER_BUGS.items():
                if _same(out, _layer(xs, params, k, bug)) and not _same(want, _layer(
                        xs, params, k, bug)):
                    expect.fail(f"5.3: {what} is wrong. " + expect.cause(why))
            expect.close(out, want, f"5.3: {what}", hint="out[n] = sum_j weights[n, j] * "
                         "swiglu(x[n], expert expert_index[n, j]'s parameters).")


@check("5.3")
def moe_layer_runs_only_routed_tokens(impl):
    """an expert no token chose never runs: its NaN weights must not reach the output"""
    x, params, _ = _idle_case()
    out, _ = expect.pair(impl.moe_layer(x, _copy(params), K), "moe_layer")
    if not _same(out, _layer(x, params, K)):
        expect.fail("5.3: moe_layer on tokens that never choose expert 3: skipped until "
                    "moe_layer_values passes (this check only compares against a right "
                    "answer).")
    for name in NAMES:
        params[f"experts.3.{name}"] = np.full_like(params[f"experts.3.{name}"], np.nan)
    what = f"moe_layer(x, params, top_k={K}) where no token chooses expert 3"
    out, _ = _layer_call(impl, x, params, K, what, finite=False)
    if not np.all(np.isfinite(out)):
        expect.fail(f"5.3: {what}, whose weights are NaN here: the output holds NaN, so expert "
                    "3 ran on tokens not routed to it and was multiplied by a zero weight "
                    "(0 * NaN = NaN). Run each expert only on the rows that chose it "
                    "(np.nonzero(expert_index == e)): that is what makes the layer sparse. "
                    + expect.cause("every expert runs on every token (its output masked by "
                                   "zero weights)"))
    expect.close(out, _layer(x, params, K), f"5.3: {what}")


# --- the layer's backward --------------------------------------------------------------------


def _loss_of(x, params, dout, k, drouter_probs=None, **kwargs):
    """sum(dout * layer(x)) [+ sum(drouter_probs * router_probs)] as a closure."""
    def loss():
        total = np.sum(dout * _layer(x, params, k, **kwargs))
        if drouter_probs is not None:
            total += np.sum(drouter_probs * _route(x, params["gate"], k)[0])
        return total
    return loss


@check("5.3")
def moe_layer_backward_dx(impl):
    """dx by finite differences: through the experts and through the router's weights"""
    x, params, dout = _case()
    dx, _ = _backward(impl, x, params, K, dout)
    want = _numeric(_loss_of(x, params, dout, K), x)
    if _same(dx, want, expect.GRAD):
        return
    frozen = _route(x, params["gate"], K)[2]
    if _same(dx, _numeric(_loss_of(x, params, dout, K, weights=frozen), x), expect.GRAD):
        expect.fail("5.3: moe_layer_backward: dx is the gradient through the experts only. x "
                    "also reaches the output through the router weights (x -> logits -> "
                    "softmax -> weights): add dlogits W_gateᵀ. "
                    + expect.cause("dx lacks the router's path"))
    expect.close(dx, want, "5.3: moe_layer_backward: dx (finite differences)",
                 hint="dx = the routed experts' dx (scaled by their weights) + dlogits W_gateᵀ.",
                 **expect.GRAD)


@check("5.3", weight=2)
def moe_layer_backward_router(impl):
    """dgate by finite differences, through the renormalised weights and the softmax"""
    x, params, dout = _case()
    _, dparams = _backward(impl, x, params, K, dout)
    dgate = dparams["gate"]
    want = _numeric(_loss_of(x, params, dout, K), params["gate"])
    if not _same(dgate, want, expect.GRAD):
        if np.allclose(dgate, 0.0):
            expect.fail("5.3: moe_layer_backward: dgate is zero. The top-k choice is piecewise "
                        "constant, but the weights of the chosen experts depend on W_gate "
                        "through the softmax. " + expect.cause("the router gets no gradient"))
        skipped = _numeric(_loss_of(x, params, dout, K, bug="unnormalised"), params["gate"])
        if _same(dgate, skipped, expect.GRAD):
            expect.fail("5.3: moe_layer_backward: dgate is the gradient of weights that are the "
                        "chosen probabilities themselves. w_j = p_j / S with S the sum of the k "
                        "chosen: dp_j = (dw_j - sum_l dw_l w_l) / S. "
                        + expect.cause("the router's gradient skips the renormalisation of "
                                       "the top-k weights"))
        expect.close(dgate, want, "5.3: moe_layer_backward: dgate (finite differences)",
                     hint="dweights[n, j] = dout[n] . y_j[n]; through the renormalisation to "
                          "dp, then the softmax's backward to dlogits; dgate = xᵀ dlogits.",
                     **expect.GRAD)
    # top_k = 1: the one renormalised weight is always 1, the router gets nothing from out
    x1, params1, dout1 = _case(seed=54, k=1)
    _, dparams1 = _backward(impl, x1, params1, 1, dout1)
    if not np.allclose(dparams1["gate"], 0.0, atol=1e-12):
        expect.fail("5.3: moe_layer_backward with top_k=1: dgate should be 0 (the one "
                    "renormalised weight is p / p = 1 whatever W_gate is), got entries up to "
                    f"{np.abs(dparams1['gate']).max():.3g}. Differentiate through the "
                    "renormalisation, not through the chosen probability alone.")


@check("5.3", weight=2)
def moe_layer_backward_experts(impl):
    """every expert's gradients by finite differences; zeros for an expert no token chose"""
    for x, params, dout, label in (_case() + ("",), _idle_case() + (" (expert 3 idle)",)):
        _, dparams = _backward(impl, x, params, K, dout)
        weights = _route(x, params["gate"], K)[2]
        for e in range(E):
            for name in NAMES:
                key = f"experts.{e}.{name}"
                want = _numeric(_loss_of(x, params, dout, K), params[key])
                if _same(dparams[key], want, expect.GRAD):
                    continue
                plain = _numeric(_loss_of(x, params, dout, K, weights=np.ones_like(weights)),
                                 params[key])
                if np.any(want) and _same(dparams[key], plain, expect.GRAD):
                    expect.fail(f"5.3: moe_layer_backward{label}: d{key} is the gradient of "
                                "the expert's output with weight 1; out = w * y, so the expert "
                                "receives w * dout. " + expect.cause(
                                    "the experts' gradients are not scaled by the router "
                                    "weights"))
                expect.close(dparams[key], want, f"5.3: moe_layer_backward{label}: d{key} "
                             "(finite differences)", hint="Only the tokens routed to an "
                             "expert reach it (with upstream gradient w * dout); an expert no "
                             "token chose gets zeros.", **expect.GRAD)


@check("5.3")
def moe_layer_backward_adds_drouter_probs(impl):
    """drouter_probs (a loss on the router probabilities) joins dx and dgate before the softmax"""
    x, params, dout = _case()
    G = np.random.default_rng(5303).standard_normal((N, E))
    dx, dparams = _backward(impl, x, params, K, dout, G)
    what = "moe_layer_backward(dout, cache, drouter_probs)"
    want_gate = _numeric(_loss_of(x, params, dout, K, G), params["gate"])
    if not _same(dparams["gate"], want_gate, expect.GRAD):
        if _same(dparams["gate"], _numeric(_loss_of(x, params, dout, K), params["gate"]),
                 expect.GRAD):
            expect.fail(f"5.3: {what}: dgate is the same as without drouter_probs. "
                        + expect.cause("drouter_probs is ignored"))
        without = _numeric(_loss_of(x, params, dout, K), params["gate"])
        if _same(dparams["gate"], without + x.reshape(N, C).T @ G, expect.GRAD):
            expect.fail(f"5.3: {what}: drouter_probs is added after the softmax's backward. "
                        + expect.cause("drouter_probs is added to the logits' gradient, not "
                                       "to the probabilities' (before the softmax backward)"))
        expect.close(dparams["gate"], want_gate, f"5.3: {what}: dgate (finite differences)",
                     hint="Add drouter_probs to dL/d(router_probs) before the softmax's "
                          "backward.", **expect.GRAD)
    expect.close(dx, _numeric(_loss_of(x, params, dout, K, G), x),
                 f"5.3: {what}: dx (finite differences)", hint="drouter_probs reaches x "
                 "through the logits too.", **expect.GRAD)


# --- the load-balancing loss -----------------------------------------------------------------


# Worked by hand: N = 4 tokens, E = 3, k = 2 (each row's index is its top 2, ties low).
AUX_PROBS = np.array([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3], [0.2, 0.2, 0.6], [0.7, 0.1, 0.2]])
AUX_INDEX = np.array([[0, 1], [1, 2], [2, 0], [0, 2]])
# counts [3, 2, 3] over the 8 slots -> f = [3/4, 2/4, 3/4] (sum k = 2); P = [.375, .3, .325];
# sum f P = .28125 + .15 + .24375 = .675; loss = 3 * .675 = 2.025.
AUX_LOSS = 2.025
AUX_BUGS = {"per_slot": "f divides the counts by N * k slots (sum f = 1); HF's Mixtral divides "
                        "them by the N tokens (sum f = k)",
            "no_factor": "the factor E (n_experts) is missing",
            "first_only": "f counts only each token's first choice (expert_index[:, 0]), not "
                          "all k slots"}


def _aux_call(impl, probs, index, n_experts, what):
    result = call_unchanged(impl.load_balancing_loss, "load_balancing_loss", probs, index,
                            n_experts)
    loss, cache = expect.pair(result, "load_balancing_loss")
    value = np.asarray(loss)
    if value.shape != () or value.dtype.kind != "f":
        expect.fail(f"5.3: {what}: the loss should be one float, got {type(loss).__name__} of "
                    f"shape {value.shape}.")
    return float(value), cache


@check("5.3", weight=2)
def load_balancing_loss_values(impl):
    """E * sum_i f_i P_i, f counting all k slots over N tokens (HF Mixtral): worked by hand"""
    what = (f"load_balancing_loss(router_probs={AUX_PROBS.tolist()}, expert_index="
            f"{AUX_INDEX.tolist()}, n_experts=3)")
    got, _ = _aux_call(impl, AUX_PROBS, AUX_INDEX, 3, what)
    if not np.isclose(got, AUX_LOSS, **expect.F64):
        for bug, why in AUX_BUGS.items():
            if np.isclose(got, _aux(AUX_PROBS, AUX_INDEX, 3, bug), **expect.F64):
                expect.fail(f"5.3: {what} = {got:.6g}, expected {AUX_LOSS}. "
                            + expect.cause(why))
        expect.fail(f"5.3: {what} = {got:.6g}, expected {AUX_LOSS}: the counts of the experts "
                    "over all 8 slots are [3, 2, 3], so f = [3/4, 2/4, 3/4]; P (the mean "
                    "probabilities) = [0.375, 0.3, 0.325]; loss = 3 * sum f P.")
    # uniform routing: f_i = k / E and P_i = 1 / E give loss = k (here 2)
    uniform = np.full((3, 3), 1 / 3)
    got, _ = _aux_call(impl, uniform, np.array([[0, 1], [1, 2], [2, 0]]), 3,
                       "load_balancing_loss of uniform routing")
    if not np.isclose(got, 2.0, **expect.F64):
        expect.fail(f"5.3: load_balancing_loss of perfectly uniform routing (3 tokens, 3 "
                    f"experts, k = 2, every expert chosen twice) = {got:.6g}, expected k = 2.")


AUX_GRAD_BUGS = (("P", "the gradient is E P_i / N: it differentiates f, which is the constant "
                       "(P carries the gradient)", "f and P are swapped in the gradient"),
                 ("no_factor", "the factor E is missing", "the factor E (n_experts) is missing"),
                 ("no_mean", "it is N times too large: P_i is a mean over the N tokens",
                  "the 1/N of the mean P_i is missing"),
                 ("dloss_1", f"it is the gradient for dloss = 1, but dloss = {DLOSS}",
                  "load_balancing_loss_backward ignores the upstream gradient dloss"))


@check("5.3")
def load_balancing_loss_backward_values(impl):
    """drouter_probs = dloss * E * f_i / N by finite differences (f is constant)"""
    x, params, _ = _case()
    probs, index, _ = _route(x, params["gate"], K)
    _, cache = _aux_call(impl, probs, index, E, "load_balancing_loss")
    grad = call_unchanged(impl.load_balancing_loss_backward, "load_balancing_loss_backward",
                          DLOSS, cache)
    expect.array(grad, "5.3: load_balancing_loss_backward", shape=(N, E), dtype=np.float64)
    p = probs.copy()
    want = numerical_gradient(lambda: DLOSS * _aux(p, index, E), p)
    if _same(grad, want, expect.GRAD):
        return
    f = np.bincount(index.reshape(-1), minlength=E) / N
    wrong = {"P": np.broadcast_to(DLOSS * E * probs.mean(0) / N, (N, E)),
             "no_factor": want / E, "no_mean": want * N, "dloss_1": want / DLOSS}
    for key, why, cause in AUX_GRAD_BUGS:
        if _same(grad, wrong[key], expect.GRAD):
            expect.fail(f"5.3: load_balancing_loss_backward(dloss={DLOSS}): {why}. "
                        + expect.cause(cause))
    expect.close(grad, want, f"5.3: load_balancing_loss_backward(dloss={DLOSS}) (finite "
                 "differences)", hint=f"d loss / d p[n, i] = dloss * E * f_i / N, f = "
                 f"{np.round(f, 4).tolist()} here (every row the same).", **expect.GRAD)


# --- dtypes and errors -------------------------------------------------------------------------


@check("5.3")
def moe_keeps_float32(impl):
    """float32 in, float32 out: router, layer, backward, the loss and its gradient"""
    x, params, dout = _case()
    x32, dout32 = x.astype(np.float32), dout.astype(np.float32)
    p32 = {key: value.astype(np.float32) for key, value in params.items()}
    _router(impl, x32, p32["gate"], K, "moe_router of float32 inputs")
    out, cache = _layer_call(impl, x32, p32, K, "moe_layer of float32 inputs")
    expect.close(out, _layer(x, params, K), "5.3: moe_layer of float32 inputs", **expect.F32)
    dx, dparams = impl.moe_layer_backward(dout32, cache)
    expect.array(dx, "5.3: moe_layer_backward dx of float32 inputs", shape=x.shape,
                 dtype=np.float32)
    for key, value in p32.items():
        expect.array(dparams.get(key), f"5.3: moe_layer_backward d{key} of float32 inputs",
                     shape=value.shape, dtype=np.float32)
    probs32, index = cache["router_probs"], cache["expert_index"]
    loss, aux_cache = expect.pair(impl.load_balancing_loss(probs32, index, E),
                                  "load_balancing_loss")
    if np.asarray(loss).dtype != np.float32:
        expect.fail(f"5.3: load_balancing_loss of float32 router_probs returned "
                    f"{np.asarray(loss).dtype}: keep the inputs' dtype.")
    grad = impl.load_balancing_loss_backward(np.float32(1.0), aux_cache)
    expect.array(grad, "5.3: load_balancing_loss_backward of float32 inputs", shape=(N, E),
                 dtype=np.float32)


@check("5.3")
def moe_refuses_bad_input(impl):
    """ValueError for a bad top_k, mismatched shapes, missing or unexpected parameters"""
    x, params, _ = _case()
    # the given code raises these errors: points only once the functions run (a stub raises
    # NotImplementedError here)
    impl.moe_router(x, params["gate"], K)
    impl.moe_layer(x, params, K)
    impl.load_balancing_loss(AUX_PROBS, AUX_INDEX, 3)
    for k, why in ((0, "top_k=0"), (E + 1, f"top_k={E + 1} > E = {E}"), (2.0, "top_k=2.0")):
        expect.raises(impl.moe_router, ValueError, f"5.3: moe_router with {why}", x,
                      params["gate"], k)
        expect.raises(impl.moe_layer, ValueError, f"5.3: moe_layer with {why}", x, params, k)
    expect.raises(impl.moe_router, ValueError, "5.3: moe_router with W_gate of shape (C + 1, E)",
                  x, np.zeros((C + 1, E)), K)
    lacking = {k: v for k, v in params.items() if k != "experts.4.W_up"}
    expect.raises(impl.moe_layer, ValueError, "5.3: moe_layer with params lacking "
                  "'experts.4.W_up'", x, lacking, K)
    extra = {**params, f"experts.{E}.W_up": params["experts.0.W_up"]}
    expect.raises(impl.moe_layer, ValueError, f"5.3: moe_layer with a parameter of expert {E} "
                  f"when gate has E = {E} columns", x, extra, K)
    narrow = {**params, "experts.2.W_down": params["experts.2.W_down"][:, :1]}
    expect.raises(impl.moe_layer, ValueError, "5.3: moe_layer with experts.2.W_down of shape "
                  "(F, 1)", x, narrow, K)
    expect.raises(impl.load_balancing_loss, ValueError, "5.3: load_balancing_loss with "
                  "n_experts=4 for router_probs of 3 experts", AUX_PROBS, AUX_INDEX, 4)
    expect.raises(impl.load_balancing_loss, ValueError, "5.3: load_balancing_loss with an "
                  "expert index 3 >= E = 3", AUX_PROBS, np.array([[0, 3]] * 4), 3)
