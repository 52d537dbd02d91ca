"""Mutation tests of 5.3 (mixture of experts): every check of the exercise fails on a
plausible student bug, and its message names the bug.  The harness and its conventions:
`tests/mutation.py`.
"""

from __future__ import annotations

import numpy as np
from mutation import Mutant, standard_tests

from grader.checks.modern import ex5_3_moe as checks
from grader.course import MODERN

PACKAGE = MODERN.package  # mutants edit reference/modern/moe.py
MOE = "moe.py"

# moe.py, the lines the edits replace
PROBS = "    probs = softmax(x2 @ W_gate, axis=-1)  # (N, E), Module 1\n"
INDEX = '    index = np.argsort(-probs, axis=-1, kind="stable")[:, :top_k]  # (N, k)\n'
RENORM = "    weights = top / top.sum(axis=-1, keepdims=True)  # Mixtral: renormalise over the k\n"
ROUTER_TOP_K = '    _check_top_k(top_k, W_gate.shape[1], "moe_router")\n'
LAYER_TOP_K = '    _check_top_k(top_k, n_experts, "moe_layer")\n'
OUT_ZEROS = "    out = np.zeros_like(x2)\n"
ADD_OUT = ("        out[rows] += weights[rows, slots, None] * y  # rows are distinct: a token "
           "picks e once\n")
EXPERT_BACK = ('        dx_e, grads = swiglu_backward(weights[rows, slots, None] * d2[rows], '
               'expert["cache"])\n')
DTOP = "    dtop = (dweights - np.sum(dweights * weights, axis=-1, keepdims=True)) / top_sum\n"
ADD_DROUTER = "        dprobs = dprobs + drouter_probs\n"
DLOGITS = "    dlogits = softmax_backward(dprobs, probs, axis=-1)  # Module 1\n"
DX_ROUTER = "    dx += dlogits @ W_gate.T\n"
DGATE = '    dparams = {"gate": x2.T @ dlogits}\n'
IDLE_ZEROS = ('                            else np.zeros(cache["param_shapes"][key], '
              'dtype=x2.dtype))\n')
COUNTS = ("    counts = np.bincount(expert_index.reshape(-1), minlength=n_experts)  # (E,) over "
          "all slots\n")
F_LINE = "    f = (counts / n_tokens).astype(router_probs.dtype)  # sums to k, as HF counts\n"
LOSS = "    loss = router_probs.dtype.type(n_experts * np.sum(f * P))\n"
ROW = ('    row = (dloss * cache["n_experts"] / n_tokens) * f  # d(E * sum_i f_i P_i)/d p[n, '
       'i]\n')

ROUTER = "router_probabilities_and_top_k"
TIES = "router_ties_go_to_the_lower_index"
VALUES = "moe_layer_values"
SPARSE = "moe_layer_runs_only_routed_tokens"
BACK_DX = "moe_layer_backward_dx"
BACK_GATE = "moe_layer_backward_router"
BACK_EXPERTS = "moe_layer_backward_experts"
BACK_DROUTER = "moe_layer_backward_adds_drouter_probs"
AUX = "load_balancing_loss_values"
AUX_BACK = "load_balancing_loss_backward_values"
F32 = "moe_keeps_float32"
ERRORS = "moe_refuses_bad_input"


def moe(id, edits, catches, phrase, status="failed", diagnosis="", append=""):
    return Mutant(id, "5.3", MOE, edits, catches, phrase, status, append=append,
                  diagnosis=diagnosis)


def line(old, new):
    return ((old, new),)


DENSE = """
_moe_layer = moe_layer

def moe_layer(x, params, top_k):  # every token to every expert, weighted by the full softmax
    return _moe_layer(x, params, params["gate"].shape[1])
"""

MASKED_DENSE = """
_moe_layer = moe_layer

def moe_layer(x, params, top_k):  # every expert runs on every token, masked by zero weights
    out, cache = _moe_layer(x, params, top_k)
    x2 = x.reshape(-1, x.shape[-1])
    weights, index = cache["router"]["weights"], cache["expert_index"]
    dense = np.zeros_like(x2)
    for e in range(params["gate"].shape[1]):
        w = np.sum(np.where(index == e, weights, 0.0), axis=-1)  # 0 where e was not chosen
        dense += w[:, None] * swiglu(x2, expert_params(params, e))[0]
    return dense.reshape(x.shape), cache
"""

AUX_GRAD_OF_F = """
_load_balancing_loss = load_balancing_loss

def load_balancing_loss(router_probs, expert_index, n_experts):
    loss, cache = _load_balancing_loss(router_probs, expert_index, n_experts)
    return loss, {**cache, "P": router_probs.mean(axis=0)}

def load_balancing_loss_backward(dloss, cache):  # f and P swapped: the gradient of f P in f
    row = dloss * cache["n_experts"] / cache["n_tokens"] * cache["P"]
    return np.broadcast_to(row, (cache["n_tokens"], row.size)).copy()
"""

MUTANTS = [
    # the router
    moe("router_softmax_over_tokens", line(PROBS, PROBS.replace("axis=-1", "axis=0")),
        (ROUTER, VALUES), "down each expert's column", diagnosis=checks.TOKEN_SOFTMAX),
    moe("router_not_renormalised", line(RENORM, "    weights = top\n"), (ROUTER, VALUES),
        "sum to less than 1", diagnosis=checks.NOT_RENORMALISED),
    moe("router_ties_to_higher_index",
        line(INDEX, '    index = np.argsort(probs, axis=-1, kind="stable")[:, ::-1][:, :top_k]\n'),
        (TIES,), "the lower expert index comes first",
        diagnosis="ties go to the higher expert index"),
    moe("router_smallest_first",
        line(INDEX, '    index = np.argsort(probs, axis=-1, kind="stable")[:, -top_k:]\n'),
        (ROUTER, TIES), "in the wrong order"),
    # the layer
    moe("layer_dense_softmax", (), (VALUES,), "is wrong", append=DENSE,
        diagnosis="every token went to every expert"),
    moe("layer_weights_applied_twice",
        line(ADD_OUT, ADD_OUT.replace("weights[rows, slots, None] * y",
                                      "weights[rows, slots, None] ** 2 * y")),
        (VALUES,), "is wrong", diagnosis="the router weights are applied twice"),
    moe("layer_unweighted_sum", line(ADD_OUT, "        out[rows] += y\n"), (VALUES,), "is wrong",
        diagnosis="added without their router weights"),
    moe("layer_every_expert_on_every_token", (), (SPARSE,), "0 * NaN", append=MASKED_DENSE,
        diagnosis="every expert runs on every token"),
    moe("layer_output_float64", line(OUT_ZEROS, "    out = np.zeros(x2.shape)\n"), (F32,),
        "float32 in, float32 out"),
    moe("layer_no_top_k_validation", ((ROUTER_TOP_K, ""), (LAYER_TOP_K, "")), (ERRORS,),
        "expected ValueError"),
    # the layer's backward
    moe("backward_router_gets_nothing",
        line(DGATE, '    dparams = {"gate": np.zeros_like(W_gate)}\n'), (BACK_GATE,),
        "dgate is zero", diagnosis="the router gets no gradient"),
    moe("backward_skips_renormalisation", line(DTOP, "    dtop = dweights\n"), (BACK_GATE,),
        "chosen probabilities themselves", diagnosis="skips the renormalisation"),
    moe("backward_dx_without_router", line(DX_ROUTER, ""), (BACK_DX,),
        "through the experts only", diagnosis="dx lacks the router's path"),
    moe("backward_experts_unweighted",
        line(EXPERT_BACK, EXPERT_BACK.replace("weights[rows, slots, None] * d2[rows]",
                                              "d2[rows]")),
        (BACK_EXPERTS,), "with weight 1", diagnosis="not scaled by the router weights"),
    moe("backward_idle_expert_none",
        line(IDLE_ZEROS, "                            else None)\n"), (BACK_EXPERTS,),
        "NoneType"),
    moe("backward_ignores_drouter_probs", line(ADD_DROUTER, "        pass\n"), (BACK_DROUTER,),
        "the same as without drouter_probs", diagnosis="drouter_probs is ignored"),
    moe("backward_drouter_after_softmax",
        ((ADD_DROUTER, "        pass\n"),
         (DLOGITS, "    dlogits = softmax_backward(dprobs, probs, axis=-1) + (\n"
                   "        0 if drouter_probs is None else drouter_probs)\n")),
        (BACK_DROUTER,), "after the softmax's backward",
        diagnosis="drouter_probs is added to the logits' gradient"),
    # the load-balancing loss
    moe("aux_f_over_slots",
        line(F_LINE, F_LINE.replace("counts / n_tokens",
                                    "counts / (n_tokens * expert_index.shape[1])")),
        (AUX,), "expected 2.025", diagnosis="f divides the counts by N * k slots"),
    moe("aux_without_factor_e", line(LOSS, LOSS.replace("n_experts * ", "")), (AUX,),
        "expected 2.025", diagnosis="the factor E (n_experts) is missing"),
    moe("aux_first_choice_only",
        line(COUNTS, COUNTS.replace("expert_index.reshape(-1)", "expert_index[:, 0]")),
        (AUX, AUX_BACK), "expected 2.025", diagnosis="only each token's first choice"),
    moe("aux_loss_python_float", line(LOSS, LOSS.replace("router_probs.dtype.type(", "float(")),
        (F32,), "keep the inputs' dtype"),
    moe("aux_backward_differentiates_f", (), (AUX_BACK,), "it differentiates f",
        append=AUX_GRAD_OF_F, diagnosis="f and P are swapped in the gradient"),
    moe("aux_backward_without_factor_e", line(ROW, ROW.replace(' * cache["n_experts"]', "")),
        (AUX_BACK,), "the factor E is missing", diagnosis="the factor E (n_experts) is missing"),
    moe("aux_backward_without_mean", line(ROW, ROW.replace(" / n_tokens", "")), (AUX_BACK,),
        "N times too large", diagnosis="the 1/N of the mean P_i is missing"),
    moe("aux_backward_ignores_dloss", line(ROW, ROW.replace("(dloss * ", "(1.0 * ")),
        (AUX_BACK,), "dloss = 0.7", diagnosis="ignores the upstream gradient dloss"),
]

GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["5.3"], MUTANTS, gaps=GAPS))


def test_check_inputs_have_clear_routing_margins():
    """No step of the finite differences (1e-6) can change which experts a token chooses."""
    for seed, k in ((55, 2), (54, 1)):
        checks._case(seed=seed, k=k)  # asserts a margin > 1e-3 between the k-th and (k+1)-th
    x, params, _ = checks._idle_case()
    assert not np.any(checks._route(x, params["gate"], checks.K)[1] == 3)


def test_renormalised_top_k_equals_a_softmax_over_the_chosen_logits():
    """Not a bug to diagnose: p_i / sum_chosen p_j = exp(z_i) / sum_chosen exp(z_j)."""
    x, params, _ = checks._case()
    logits = x.reshape(-1, checks.C) @ params["gate"]
    _, index, weights = checks._route(x, params["gate"], checks.K)
    np.testing.assert_allclose(weights, checks._softmax(np.take_along_axis(logits, index, -1)),
                               rtol=1e-12)
