"""Helpers shared by the checks of several exercises."""

from __future__ import annotations

import numpy as np

from ... import expect, fixtures

AXES = (-1, 0, 1)


def fx() -> dict[str, np.ndarray]:
    return fixtures.by_name("self_attention")


def get(name: str) -> np.ndarray:
    return fx()[name].copy()


def _no_warnings(info, fn_name: str) -> None:
    """No numerical warning (0/0, overflow); a student's own prints and warnings are fine."""
    numeric = [w for w in info.warnings if w.startswith(("RuntimeWarning", "FloatingPoint"))]
    if numeric:
        expect.fail(f"{fn_name} raised a warning: {numeric[0]}. Fully masked rows and "
                    "-inf entries must be handled without 0/0 or exp overflow (use np.where, "
                    "or np.errstate around a step you then repair).")


def _case(name: str) -> dict[str, np.ndarray]:
    keys = ("q", "k", "v", "mask", "out", "weights", "dout", "dq", "dk", "dv")
    prefix = f"attention.{name}."
    return {k: get(prefix + k) for k in keys if prefix + k in fx()}


def _sdpa(impl, case, **overrides):
    args = {"q": case["q"], "k": case["k"], "v": case["v"], **overrides}
    mask = case.get("mask")
    result = expect.call_pure(impl.scaled_dot_product_attention, "scaled_dot_product_attention",
                              args["q"], args["k"], args["v"], mask=mask)
    out, cache = expect.pair(result, "scaled_dot_product_attention")
    return out, cache


PARAM_NAMES = ("W_q", "W_k", "W_v", "W_o", "b_q", "b_k", "b_v", "b_o")


def _mha_case(name: str) -> dict:
    prefix = f"mha.{name}."
    case = {k[len(prefix):]: get(k) for k in fx() if k.startswith(prefix)}
    case["params"] = {p: case.pop(f"params.{p}") for p in PARAM_NAMES}
    case["grads"] = {p: case.pop(f"grads.{p}") for p in PARAM_NAMES}
    case["n_heads"] = int(case.pop("n_heads"))
    if "mask" not in case:
        case["mask"] = None
    return case


def _mha(impl, case, x_q=None, x_kv=None):
    x_q = case["x_q"] if x_q is None else x_q
    if x_kv is None:
        x_kv = case.get("x_kv", x_q)  # self-attention cases store no x_kv: x_kv is x_q
    result = expect.call_pure(impl.multi_head_attention, "multi_head_attention", x_q, x_kv,
                              case["params"], case["n_heads"], mask=case["mask"])
    return expect.pair(result, "multi_head_attention")
