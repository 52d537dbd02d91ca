"""Checks of exercise 3.11: GPT-2: forward, loss, backward."""

from __future__ import annotations

import numpy as np

from ... import expect
from .. import check
from .common import (
    _close_grad,
    _diagnose,
    _fail_with,
    _matches,
    _skipped_until,
    fx,
    get,
)

# A tiny float64 GPT-2 of two blocks; its other sizes are drawn with the fixtures
# (`gpt.config.*`, see `_gpt_config`).
GPT_CONFIG = {"n_layer": 2, "dtype": "float64"}


GPT_SIZES = ("vocab_size", "block_size", "n_head", "n_embd")


def _gpt_config() -> dict:
    return {**{k: int(fx()[f"gpt.config.{k}"]) for k in GPT_SIZES}, **GPT_CONFIG}


def _gpt(impl):
    """A tiny GPT-2 whose weights are the fixture's (large enough for layout bugs to show)."""
    model = impl.GPT(impl.GPTConfig(**_gpt_config()),
                     np.random.default_rng(int(fx()["gpt.init_seed"])))
    names = [str(n) for n in fx()["gpt.names"]]
    params = model.params
    if not isinstance(params, dict):
        expect.fail("3.11 GPT(config).params should be a dict of arrays named like the Hugging "
                    "Face GPT-2 checkpoint.")
    if "lm_head.weight" in params:
        expect.fail("3.11 GPT has a separate lm_head.weight: GPT-2's head is tied to wte.weight "
                    "(logits = x @ wte.weightᵀ).")
    missing, extra = sorted(set(names) - set(params)), sorted(set(params) - set(names))
    if missing or extra:
        expect.fail(f"3.11 GPT.params should be named as in the GPT-2 checkpoint; missing "
                    f"{missing[:4]}, unexpected {extra[:4]}.")
    model.params = {name: get(f"gpt.params.{name}") for name in names}
    return model


GPT_FORWARD_BUGS = {  # fixture gpt.bug.logits.<name> -> likely mistake
    "no_causal": "the attention is not causal (a leak of the future): pass causal_mask(T) to "
                 "the attention, so that position t attends to positions <= t only.",
    "no_wpe": "the position embedding is missing: x = wte.weight[idx] + wpe.weight[:T].",
    "no_ln_f": "the final LayerNorm is missing: logits = ln_f(x) @ wte.weightᵀ after the last "
               "block.",
    "no_scale": "the attention scores are not scaled: softmax(q kᵀ / sqrt(D)) with D = n_embd "
                "/ n_head, the head width (Module 1's scaled_dot_product_attention does it).",
    "gelu_exact": "the MLP uses the exact (erf) GELU: GPT-2 uses its tanh approximation, "
                  "feed_forward's activation=\"gelu\".",
    "no_attn_c_proj": "the attention's output projection is missing: the merged heads go "
                      "through attn.c_proj (merged @ W + b) before the residual add.",
    "c_proj_transposed": "attn.c_proj.weight is used transposed: GPT-2's Conv1D weights are "
                         "(in, out) and y = x @ W + b, with no .T.",
    "residual_from_ln": "the residual adds the normalised input: x = x + attn(ln_1(x)), not "
                        "ln_1(x) + attn(ln_1(x)).",
    **{f"qkv_{order}": f"c_attn's output columns were read as {' | '.join(order)}: they are "
                       "q | k | v (columns 0:C, C:2C and 2C:3C), each split into heads."
       for order in ("kqv", "qvk", "vkq", "kvq", "vqk")},
}


GPT_DLOGITS_GRADS = ("ln_f.weight", "h.0.ln_1.weight", "wpe.weight", "wte.weight")


def _gpt_grad_hint(name: str, n_layer: int) -> str:
    """Where the gradient of `name` comes from, for the first wrong one in backward order
    (every gradient the backward computes before it is right)."""
    if name.startswith("ln_f."):
        return ("ln_f's backward receives the head's input gradient, dx = dlogits @ "
                "wte.weight ((N, V) @ (V, C)).")
    if name == "wpe.weight":
        return ("d(wpe.weight)[t] sums dx[:, t] over the batch (every sequence uses position "
                "t); the rows t >= T get 0.")
    if name == "wte.weight":
        return ("wte.weight gets two gradients: the scatter-add of the embedding lookup and "
                "the head's dlogitsᵀ x — add them.")
    i, part = int(name.split(".")[1]), name.split(".", 2)[2].rsplit(".", 1)[0]
    incoming = ("ln_f's backward" if i == n_layer - 1 else
                f"block {i + 1}: its dx plus ln_1's backward of its attention branch")
    return {
        "mlp.c_proj": f"block {i}'s MLP receives the gradient of the block's output as it is "
                      f"(from {incoming}).",
        "mlp.c_fc": "inside the MLP, c_proj's input gradient goes through the tanh-GELU "
                    "backward to c_fc.",
        "ln_2": "ln_2 receives the MLP's input gradient (feed_forward_backward's dx).",
        "attn.c_proj": f"block {i}'s attention sub-layer receives dx + ln_2's backward of the "
                       "MLP branch: the residual x = x + mlp(ln_2(x)) passes dx on unchanged "
                       "and the branch adds its part (check that the identity term is "
                       "added).",
        "attn.c_attn": "c_attn's output gradient is [dq | dk | dv] in the forward's column "
                       "order (0:C, C:2C, 2C:3C), each head merged back (B, H, T, D) -> "
                       "(B, T, C), from the attention backward (1.5) of c_proj's input "
                       "gradient split into heads.",
        "ln_1": "ln_1 receives c_attn's input gradient.",
    }[part]


def _gpt_grads(grads, expected: str, what: str) -> None:
    """Every gradient against the fixtures `{expected}.{name}`, in backward order, with a
    diagnosis of the first wrong one."""
    names = [str(n) for n in fx()["gpt.names"]]
    if not isinstance(grads, dict) or sorted(grads) != sorted(names):
        expect.fail(f"3.11 {what} should return a dict with the same keys as params.")
    for name in (n for n in reversed(names) if n.endswith(".weight") and "ln_" in n):
        bias = name[:-len("weight")] + "bias"
        if (f"{expected}.{name}" in fx() and f"{expected}.{bias}" in fx()
                and _matches(grads[name], f"{expected}.{bias}")
                and _matches(grads[bias], f"{expected}.{name}")):
            expect.fail(f"3.11 {what}: d({name}) and d({bias}) are exchanged. " + expect.cause(
                f"d({name}) and d({bias}) are swapped") + " The LayerNorm's weight (gamma) "
                "gets sum(dout * xhat), its bias (beta) sum(dout).")
    n_layer = GPT_CONFIG["n_layer"]
    for name in reversed(names):  # backward order: the first mismatch is nearest the bug
        key = f"{expected}.{name}"
        if key not in fx() or _matches(grads[name], key):
            continue
        label = f"3.11 {what}: d({name})"
        if name == "wte.weight" and expected == "gpt.grads":
            _diagnose(grads[name], key, label, {
                "gpt.bug.grads.wte_lookup_only": "the tied head's gradient is not added: "
                    "wte.weight is also the head (logits = x @ wte.weightᵀ), so d(wte.weight) "
                    "= scatter-add of the lookup's gradient + dlogitsᵀ x.",
                "gpt.bug.grads.wte_head_only": "the embedding lookup's gradient is missing: "
                    "d(wte.weight) = scatter-add of dx at the input tokens + the head's "
                    "dlogitsᵀ x."})
        if name == "wpe.weight":
            batch = fx()["gpt.idx"].shape[0]
            expected_wpe = fx()[key]
            if np.allclose(grads[name] * batch, expected_wpe, **expect.F64):
                _fail_with(grads[name], expected_wpe, label, "the batch was averaged: every "
                           "sequence adds its dx[:, t] to row t, so sum over the batch.")
        if expected != "gpt.grads":  # a few gradients only: no claim about the others
            _close_grad(grads[name], fx()[key], label, name=f"d({name})",
                        hint="Back-propagate the given dlogits exactly as backward() does the "
                             "loss's.")
        hint = _gpt_grad_hint(name, n_layer)
        if name != names[-1]:
            hint = ("The gradients your backward computes before it are right, so the error "
                    f"enters here: {hint}")
        _close_grad(grads[name], fx()[key], label, hint=hint, name=f"d({name})")


@check("3.11", weight=4)
def gpt_forward_values(impl):
    """GPT-2 logits: pre-norm blocks, learned positions, final LayerNorm, tied head"""
    model = _gpt(impl)
    idx = get("gpt.idx")
    logits = model.forward(idx)
    expected = fx()["gpt.logits"]
    label = "3.11 GPT.forward(idx)"
    expect.array(logits, label, shape=expected.shape, dtype=np.float64)
    _diagnose(logits, "gpt.logits", label,
              {f"gpt.bug.logits.{name}": why for name, why in GPT_FORWARD_BUGS.items()})
    if not _matches(logits, "gpt.logits"):  # a leak of the future, whatever its cause
        changed = idx.copy()
        changed[:, -1] = (changed[:, -1] + 1) % _gpt_config()["vocab_size"]
        later = model.forward(changed)
        if isinstance(later, np.ndarray) and later.shape == logits.shape and not np.allclose(
                later[:, :-1], logits[:, :-1], **expect.F64):
            expect.fail(f"{label}: changing only the last token changed the logits of earlier "
                        "positions: the attention is not causal (a leak of the future). Each "
                        "position may attend to itself and earlier positions only.")
    expect.close(logits, expected, label,
                 hint="Per block: x = x + attn(ln_1(x)); x = x + mlp(ln_2(x)). c_attn is "
                      "fused: its output columns are q | k | v, each split into heads; then "
                      "ln_f and logits = x @ wte.weightᵀ.")


@check("3.11", weight=6)
def gpt_loss_and_backward(impl):
    """the loss and the gradient of every parameter, the tied head's two paths summed"""
    model = _gpt(impl)
    idx, targets = get("gpt.idx"), get("gpt.targets")
    loss = model.loss(idx, targets)
    expected = float(fx()["gpt.loss"])
    if not np.isclose(float(loss), expected, rtol=1e-9):
        _skipped_until(model.forward(idx), fx()["gpt.logits"], "gpt_forward_values", "3.11")
        message = (f"3.11 GPT.loss is {float(loss):.10g}, expected {expected:.10g} (the mean "
                   "cross-entropy over the non-ignored targets; the targets are already "
                   "shifted).")
        bugs = {"ignored_as_token_0": "the ignored targets (-100) were counted (as token 0): "
                                      "pass the targets to cross_entropy as they are, it "
                                      "leaves the positions whose target is -100 out.",
                "shifted_again": "the targets were shifted again: targets[b, t] is already "
                                 "the token after idx[b, :t+1], so compare logits[:, t] with "
                                 "targets[:, t]."}
        for name, why in bugs.items():
            if np.isclose(float(loss), float(fx()[f"gpt.bug.loss.{name}"]), rtol=1e-9):
                expect.fail(f"{message} {expect.cause(why)}")
        expect.fail(message)
    _gpt_grads(model.backward(), "gpt.grads", "GPT.backward()")


@check("3.11", weight=2)
def gpt_backward_given_dlogits(impl):
    """backward(dlogits) back-propagates the dlogits it is given, also right after a loss"""
    model = _gpt(impl)
    idx = get("gpt.idx")
    _skipped_until(model.forward(idx), fx()["gpt.logits"], "gpt_forward_values", "3.11")
    model.loss(idx, get("gpt.targets"))
    grads = model.backward()
    if not (isinstance(grads, dict) and all(
            name in grads and _matches(grads[name], f"gpt.grads.{name}")
            for name in (str(n) for n in fx()["gpt.names"]))):
        expect.fail("3.11: skipped until gpt_loss_and_backward passes (this check needs a right "
                    "backward() there first, and gives its points only then).")
    grads = model.backward(get("gpt.dlogits"))
    if isinstance(grads, dict) and all(
            name in grads and _matches(grads[name], f"gpt.grads.{name}")
            for name in GPT_DLOGITS_GRADS):
        expect.fail("3.11 GPT.backward(dlogits) after loss(...) returned the loss's gradients. "
                    + expect.cause("backward(dlogits) ignored the dlogits it was given") + " "
                    "backward() differentiates the last loss; backward(dlogits) back-propagates "
                    "the dL/dlogits you pass.")
    _gpt_grads(grads, "gpt.dlogits.grads", "GPT.backward(dlogits)")


@check("3.11", weight=2, hidden=True, timeout=30)
def gpt_finite_differences(impl):
    """the gradient agrees with finite differences of your own loss (random directions)"""
    model = _gpt(impl)
    idx, targets = get("gpt.idx"), get("gpt.targets")
    loss = model.loss(idx, targets)
    if not np.isclose(float(loss), float(fx()["gpt.loss"]), rtol=1e-9):
        expect.fail("3.11: skipped until gpt_loss_and_backward passes (this check needs a right "
                    "loss there first, and gives its points only then).")
    grads = model.backward()
    params = {name: get(f"gpt.params.{name}") for name in (str(n) for n in fx()["gpt.names"])}
    rng = np.random.default_rng(int(fx()["gpt.fd_seed"]))
    for name in ("wte.weight", "h.0.attn.c_attn.weight", "h.1.mlp.c_fc.bias", "ln_f.weight"):
        direction = rng.standard_normal(params[name].shape)
        h = 1e-5
        values = []
        for sign in (1, -1):
            trial = dict(params)
            trial[name] = params[name] + sign * h * direction
            model.params = trial
            values.append(float(model.loss(idx, targets)))
        numeric = (values[0] - values[1]) / (2 * h)
        analytic = float(np.sum(grads[name] * direction))
        if not np.isclose(analytic, numeric, rtol=1e-5, atol=1e-7):
            expect.fail(f"d({name}) disagrees with finite differences of your loss along a "
                        f"random direction: {analytic:.8g} vs {numeric:.8g}.")


# --- layer_norm_epsilon, float32, block_forward's attention, kv_cache, errors -----------
def _gpt_gate(impl):
    model = _gpt(impl)
    _skipped_until(model.forward(get("gpt.idx")), fx()["gpt.logits"], "gpt_forward_values",
                   "3.11")
    return model


def _fixture_params(dtype=np.float64) -> dict:
    return {str(n): get(f"gpt.params.{n}").astype(dtype) for n in fx()["gpt.names"]}


@check("3.11")
def gpt_layer_norm_epsilon(impl):
    """config.layer_norm_epsilon reaches every LayerNorm (ln_1, ln_2, ln_f)"""
    _gpt_gate(impl)
    eps = 0.25  # large enough that every LayerNorm's eps shows in the logits
    config = {**_gpt_config(), "layer_norm_epsilon": eps}
    model = impl.GPT(impl.GPTConfig(**config), np.random.default_rng(0))
    model.params = _fixture_params()
    idx = get("gpt.idx")
    logits = model.forward(idx)
    label = f"3.11 GPT(GPTConfig(layer_norm_epsilon={eps})).forward(idx)"
    expect.array(logits, label, shape=fx()["gpt.logits"].shape, dtype=np.float64)
    if _matches(logits, "gpt.logits"):
        expect.fail(f"{label} gave the logits of eps=1e-5. " + expect.cause(
            "config.layer_norm_epsilon is not used: every LayerNorm kept eps=1e-5"))
    # Exactly, on a reduced model whose logits follow from layer_norm (3.2): q and k are zero
    # (each position attends uniformly to itself and the positions before it) and each MLP
    # is the identity of its input (c_fc = c_proj = [I 0], biases 20 and -20: GELU's linear
    # side).  ln_1, ln_2 and ln_f all shape the result.
    p, T = _fixture_params(), idx.shape[1]
    C = config["n_embd"]
    for i in range(config["n_layer"]):
        h = f"h.{i}."
        p[h + "attn.c_attn.weight"][:, :2 * C] = 0.0
        p[h + "attn.c_attn.bias"][:2 * C] = 0.0
        p[h + "mlp.c_fc.weight"], p[h + "mlp.c_proj.weight"] = np.eye(C, 4 * C), np.eye(4 * C, C)
        p[h + "mlp.c_fc.bias"], p[h + "mlp.c_proj.bias"] = np.full(4 * C, 20.0), np.full(C, -20.0)
    model.params = p
    logits = model.forward(idx)

    def ln(y, name):
        return impl.layer_norm(y, p[name + ".weight"], p[name + ".bias"], eps)[0]

    x = p["wte.weight"][idx] + p["wpe.weight"][:T]
    for i in range(config["n_layer"]):
        h = f"h.{i}."
        v = ln(x, h + "ln_1") @ p[h + "attn.c_attn.weight"][:, 2 * C:] + p[
            h + "attn.c_attn.bias"][2 * C:]
        mean = np.cumsum(v, axis=1) / np.arange(1, T + 1)[:, None]  # uniform causal weights
        x = x + mean @ p[h + "attn.c_proj.weight"] + p[h + "attn.c_proj.bias"]
        x = x + ln(x, h + "ln_2")
    expect.close(logits, ln(x, "ln_f") @ p["wte.weight"].T, f"{label}, on a reduced model "
                 "(q = k = 0, MLPs the identity)", hint="Every LayerNorm (ln_1 and ln_2 of "
                 "each block, ln_f) takes its eps from config.layer_norm_epsilon.")


@check("3.11")
def gpt_float32(impl):
    """a float32 model: float32 logits, loss and gradients"""
    _gpt_gate(impl)
    model = impl.GPT(impl.GPTConfig(**{**_gpt_config(), "dtype": "float32"}),
                     np.random.default_rng(int(fx()["gpt.init_seed"])))
    if not isinstance(model.params, dict) or any(
            getattr(p, "dtype", None) != np.float32 for p in model.params.values()):
        expect.fail("3.11 GPT(GPTConfig(dtype='float32')).params should all be float32.")
    model.params = _fixture_params(np.float32)
    idx = get("gpt.idx")
    logits = model.forward(idx)
    label = "3.11 GPT.forward(idx) of a float32 model"
    expect.array(logits, label, shape=fx()["gpt.logits"].shape, dtype=np.float32)
    expect.close(logits, fx()["gpt.logits"], label, rtol=1e-3, atol=1e-4)
    loss = model.loss(idx, get("gpt.targets"))
    if np.asarray(loss).dtype != np.float32:
        expect.fail(f"3.11 GPT.loss of a float32 model returned a {np.asarray(loss).dtype} "
                    "loss; expected float32 (the parameters' dtype).")
    grads = model.backward()
    if not isinstance(grads, dict):
        expect.fail("3.11 GPT.backward() should return a dict with the keys of params.")
    for name, grad in grads.items():
        expect.array(grad, f"3.11 GPT.backward() of a float32 model: d({name})",
                     dtype=np.float32)
    grads = model.backward(get("gpt.dlogits").astype(np.float32))
    for name, grad in grads.items():
        expect.array(grad, f"3.11 GPT.backward(dlogits) of a float32 model: d({name})",
                     dtype=np.float32)


@check("3.11")
def gpt_block_attention(impl):
    """block_forward calls the `attention` it is given (4.5's KV cache passes its own)"""
    model = _gpt_gate(impl)
    idx = get("gpt.idx")
    B, T = idx.shape
    params = _fixture_params()
    x = (params["wte.weight"][idx] + params["wpe.weight"][:T]).reshape(B * T, -1)
    mask = np.tril(np.ones((T, T), dtype=bool))
    # The sandbox passes only the course's own functions: padding_mask (1.3) takes two
    # arguments, so an attention(q, k, v, mask) call to it raises before any of its code runs.
    label = "3.11 GPT.block_forward(..., attention=padding_mask)"
    try:
        model.block_forward(x, 1, B, T, mask, attention=impl.padding_mask)
    except expect.CheckFailed:
        raise
    except Exception as exc:  # noqa: BLE001 — the error of the stand-in is the expected outcome
        if "padding_mask" in str(getattr(exc, "message", exc)):
            return
        raise
    expect.fail(f"{label} returned without calling the attention it was given. "
                + expect.cause("block_forward ignores its `attention` argument: compute the "
                               "heads with attention(q, k, v, mask) (4.5's KV cache passes its "
                               "own)"))


@check("3.11")
def gpt_raises(impl):
    """the documented errors of forward, loss and backward"""
    _gpt_gate(impl)  # the checks are given code: points only for a working model
    model = _gpt(impl)
    cfg, idx = _gpt_config(), get("gpt.idx")
    expect.raises(model.backward, RuntimeError, "3.11 GPT.backward() before any forward")
    expect.raises(model.forward, TypeError, "3.11 GPT.forward with float idx",
                  idx.astype(np.float64))
    expect.raises(model.forward, ValueError, "3.11 GPT.forward with idx of shape (T,)", idx[0])
    expect.raises(model.forward, ValueError, "3.11 GPT.forward with T > block_size",
                  np.zeros((1, cfg["block_size"] + 1), dtype=np.int64))
    bad = idx.copy()
    bad[0, 0] = cfg["vocab_size"]
    expect.raises(model.forward, ValueError, "3.11 GPT.forward with an id = vocab_size", bad)
    expect.raises(model.loss, TypeError, "3.11 GPT.loss with float idx", idx.astype(np.float64),
                  get("gpt.targets"))
    expect.raises(model.loss, ValueError, "3.11 GPT.loss with targets of another shape", idx,
                  get("gpt.targets")[:, :-1])
    model.forward(idx)
    expect.raises(model.backward, RuntimeError, "3.11 GPT.backward() after forward (no loss)")
    expect.raises(model.backward, ValueError, "3.11 GPT.backward(dlogits) of a wrong shape",
                  get("gpt.dlogits")[:, :-1])
