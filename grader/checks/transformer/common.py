"""Helpers shared by the checks of several exercises."""

from __future__ import annotations

import numpy as np

from ... import expect, fixtures


def fx() -> dict[str, np.ndarray]:
    return fixtures.by_name("transformer")


def get(name: str) -> np.ndarray:
    return fx()[name].copy()


def _params(prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix):]: get(k) for k in fx() if k.startswith(prefix)}


def _matches(actual, name: str) -> bool:
    """Does `actual` equal the fixture `name` (e.g. a known wrong formula's output)?"""
    other = fx()[name]
    return (isinstance(actual, np.ndarray) and actual.shape == other.shape
            and bool(np.allclose(actual, other, **expect.F64)))


def _grads(result, n: int, what: str) -> tuple:
    if not (isinstance(result, tuple) and len(result) == n):
        expect.fail(f"{what} should return a tuple of {n} gradients.")
    return result


FFN_KEYS = ("W_1", "b_1", "W_2", "b_2")


MHA_KEYS = ("W_q", "b_q", "W_k", "b_k", "W_v", "b_v", "W_o", "b_o")


LN_KEYS = ("gamma", "beta")


ENCODER_KEYS = tuple(f"{p}.{k}" for p, keys in (("attn", MHA_KEYS), ("ln_1", LN_KEYS),
                                                ("ffn", FFN_KEYS), ("ln_2", LN_KEYS))
                     for k in keys)


DECODER_KEYS = tuple(f"{p}.{k}" for p, keys in (
    ("self_attn", MHA_KEYS), ("ln_1", LN_KEYS), ("cross_attn", MHA_KEYS), ("ln_2", LN_KEYS),
    ("ffn", FFN_KEYS), ("ln_3", LN_KEYS)) for k in keys)


PLACEMENTS = (("post", False), ("pre", True))


# Each layer's sub-layers in forward order: (params prefix, its LayerNorm, input, output).
SUBLAYERS = {
    "enc": (("attn", "ln_1", "x", "h"), ("ffn", "ln_2", "h", "out")),
    "dec": (("self_attn", "ln_1", "x", "h_1"), ("cross_attn", "ln_2", "h_1", "h_2"),
            ("ffn", "ln_3", "h_2", "out")),
}


SUBLAYER_TITLES = {"attn": "self-attention", "self_attn": "masked self-attention",
                   "cross_attn": "cross-attention", "ffn": "feed-forward"}


LAYER_FORMULAS = {
    ("enc", "post"): "h = ln_1(x + drop(attn(x, x))); out = ln_2(h + drop(ffn(h)))",
    ("enc", "pre"): "h = x + drop(attn(ln_1(x), ln_1(x))); out = h + drop(ffn(ln_2(h)))",
    ("dec", "post"): "h_1 = ln_1(x + drop(self_attn(x, x))); h_2 = ln_2(h_1 + "
                     "drop(cross_attn(h_1, memory))); out = ln_3(h_2 + drop(ffn(h_2)))",
    ("dec", "pre"): "h_1 = x + drop(self_attn(ln_1(x), ln_1(x))); h_2 = h_1 + "
                    "drop(cross_attn(ln_2(h_1), memory)); out = h_2 + drop(ffn(ln_3(h_2)))",
}


LAYER_IDS = {"enc": ("3.6", "encoder_layer"), "dec": ("3.7", "decoder_layer")}


def _diagnose(actual, expected_key: str, label: str, bugs: dict[str, str]) -> None:
    """If `actual` is not the fixture `expected_key` but equals a known wrong formula's
    fixture (`bugs`: fixture key -> likely mistake), fail naming that mistake."""
    if _matches(actual, expected_key):
        return
    for key, why in bugs.items():
        if key in fx() and _matches(actual, key):
            _fail_with(actual, fx()[expected_key], label, why)


def _forward_bugs(layer: str, placement: str) -> dict[str, str]:
    """Fixture key -> likely mistake, for the known wrong forwards of a layer."""
    other = "pre" if placement == "post" else "post"
    formula = LAYER_FORMULAS[(layer, placement)]
    base = f"{layer}.{placement}.bug."
    bugs = {f"{layer}.{other}.out":
            f"your layer computed the {other}-norm layer. norm_first={placement == 'pre'} "
            f"is {placement}-norm: {formula}.",
            base + "no_residual": f"every residual connection is missing: each sub-layer's "
                                  f"output is added to its input ({formula})."}
    for sub, _, src, dst in SUBLAYERS[layer]:
        bugs[base + f"no_residual_{sub}"] = (
            f"the residual connection around the {SUBLAYER_TITLES[sub]} sub-layer is missing: "
            f"{dst} adds the sub-layer's output to {src} ({formula}).")
    bugs[base + "residual_from_ln"] = (
        "the residuals add the normalised input: pre-norm adds each sub-layer's output to its "
        f"input before the LayerNorm, x + attn(ln_1(x)), not ln_1(x) + attn(ln_1(x)) "
        f"({formula}).")
    if layer == "enc":
        bugs[base + "no_mask"] = (
            "the padding mask is not applied: pass `mask` to the self-attention, so that "
            "padded source positions get weight 0.")
    else:
        bugs[base + "no_causal"] = (
            "the self-attention is not causal: with self_mask=None it uses the causal mask "
            "causal_mask(T), so that target position t sees only positions <= t.")
        bugs[base + "no_memory_mask"] = (
            "memory_mask is ignored: pass it to the cross-attention, so that padded memory "
            "(source) positions get weight 0.")
        bugs[base + "memory_normed"] = (
            "the memory went through ln_2: pre-norm normalises only the decoder stream, "
            "cross_attn(ln_2(h_1), memory) uses the encoder output as it is.")
    bugs[base + "ffn_gelu"] = (
        "the feed-forward network ran with GELU: pass `activation` on to feed_forward "
        "(ReLU by default, as in Vaswani et al.).")
    return bugs


def _dropout_bugs(layer: str, placement: str) -> dict[str, str]:
    """Fixture key -> likely mistake, for the known wrong training forwards (dropout)."""
    base = f"{layer}.{placement}.drop.bug."
    order = ", then ".join(SUBLAYER_TITLES[s[0]] for s in SUBLAYERS[layer])
    bugs = {f"{layer}.{placement}.out":
            "no dropout was applied: with train=True and dropout_p > 0, drop each sub-layer's "
            "output with dropout(y, dropout_p, rng, train) (3.5)."}
    bugs.update({key: "the dropout masks are drawn in the wrong order: one "
                      f"rng.random(shape) per sub-layer output, in the order they run ({order})."
                 for key in fx() if key.startswith(base + "order_")})
    bugs[base + "same_mask"] = ("one dropout mask is reused for several sub-layers: each "
                                "sub-layer's output gets its own draw.")
    bugs[base + "after_residual"] = (
        "dropout acts after the residual addition: it drops the sub-layer's output before "
        "the add (x + drop(attn(...))), never the residual stream itself.")
    return bugs


def _backward_bugs(layer: str, placement: str, base: str) -> dict[str, str]:
    """Fixture-key prefix -> likely mistake, for the known wrong backwards (their `.dx` and
    `.dmemory` are stored)."""
    bugs = {}
    for sub, ln, src, dst in SUBLAYERS[layer]:
        title = SUBLAYER_TITLES[sub]
        if placement == "pre":
            identity = (f"{dst} = {src} + drop({sub}({ln}({src}))) passes d{dst} to {src} "
                        f"unchanged: d{src} = d{dst} + ({ln}'s backward of the {title} "
                        "sub-layer's input gradient).")
        else:
            identity = (f"z = {src} + drop({sub}(...)) passes dz (after {ln}'s backward) to "
                        f"{src} unchanged: d{src} = dz + (the {title} sub-layer's input "
                        "gradient).")
        bugs[base + f"bwd_no_identity_{sub}"] = (
            f"the residual's gradient is missing around the {title} sub-layer: {identity}")
        both = (f"d{src} = d{dst} + ({ln}'s backward of the sub-layer's input gradient)"
                if placement == "pre" else
                f"d{src} = dz + (the sub-layer's input gradient), dz being {ln}'s backward")
        below = " (dmemory included)" if layer == "dec" else ""
        bugs[base + f"bwd_no_branch_{sub}"] = (
            f"the {title} sub-layer's gradient does not reach {src}: {src} feeds both the "
            f"residual and the sub-layer, so {both}. Without the second term every gradient "
            f"below it{below} misses that contribution.")
        bugs[base + f"no_drop_bwd_{sub}"] = (
            f"the gradient skips the {title} sub-layer's dropout: pass it through "
            "dropout_backward with that dropout's cache (the forward's mask and scale).")
    bugs[base + "bwd_no_kv"] = (
        "x is the self-attention's queries and its keys and values: its gradient adds dx_q "
        "and dx_kv.")
    return bugs


def _check_backward(layer: str, placement: str, what: str, dparams, outputs: dict,
                    expected: dict[str, str]) -> None:
    """The parameter gradients of a layer's backward, and a diagnosis when they or its
    `outputs` ({"dx": ..., "dmemory": ...}; fixture keys in `expected`) are wrong."""
    keys = ENCODER_KEYS if layer == "enc" else DECODER_KEYS
    if not isinstance(dparams, dict):
        expect.fail(f"{what} should return the parameter gradients as a dict keyed like params.")
    missing = sorted(set(keys) - set(dparams))
    if missing:
        expect.fail(f"{what}: dparams is missing {missing[:4]}; it needs every key of params.")
    grads = f"{layer}.{placement}.grads."
    for _, ln, _, _ in SUBLAYERS[layer]:
        if (_matches(dparams[f"{ln}.gamma"], f"{grads}{ln}.beta")
                and _matches(dparams[f"{ln}.beta"], f"{grads}{ln}.gamma")):
            expect.fail(f"{what}: d({ln}.gamma) and d({ln}.beta) are swapped. dgamma sums "
                        "dout * xhat over the rows, dbeta sums dout (layer_norm_backward "
                        "returns dx, dgamma, dbeta in that order).")
    base = f"{layer}.{placement}.bug."
    for prefix, why in _backward_bugs(layer, placement, base).items():
        for name, value in outputs.items():
            if f"{prefix}.{name}" in fx() and not _matches(value, expected[name]):
                _diagnose(value, expected[name], f"{what}: {name}", {f"{prefix}.{name}": why})
    # Backward order, so that the first mismatch is nearest the bug.
    order = []
    for sub, ln, _, _ in reversed(SUBLAYERS[layer]):
        parts = (ln, sub) if placement == "post" else (sub, ln)
        order += [k for part in parts for k in reversed(keys) if k.startswith(part + ".")]
    for i, key in enumerate(order):
        sub = key.split(".")[0]
        done = [s for s in dict.fromkeys(k.split(".")[0] for k in order[:i]) if s != sub]
        hint = (f"The gradients your backward computes before it ({', '.join(done)}) are "
                f"right, so the error enters at {SUBLAYER_TITLES.get(sub, sub)}: check the "
                "gradient that reaches it (a residual passes its gradient to both summands; "
                "dropout_backward uses the forward's cache)." if done else "")
        expect.close(dparams[key], fx()[grads + key], f"{what}: d({key})", hint=hint)


def _heads(layer: str) -> int:
    """The number of heads the fixtures of `layer` ("enc" or "dec") were built with."""
    return int(fx()[f"{layer}.n_heads"])


def _layer_dropout(impl, layer: str, call, backward) -> None:
    """Dropout of a layer: the identity in evaluation (no draw), then each placement in
    training against the fixtures, forward and backward. `call(placement, **kwargs)` runs
    the layer; `backward(dout, cache)` returns {"dx": ..., ("dmemory": ...)}."""
    exercise, name = LAYER_IDS[layer]
    p, seed = float(fx()[f"{layer}.drop.p"]), int(fx()[f"{layer}.drop.seed"])
    for placement, _ in PLACEMENTS:  # points only for a layer right without dropout
        plain, cache = expect.pair(call(placement), name)
        expect.require_correct(plain, fx()[f"{layer}.{placement}.out"], name, exercise)
        for out_name, value in backward(get(f"{layer}.dout"), cache).items():
            expect.require_correct(value, fx()[f"{layer}.{placement}.{out_name}"],
                                   f"{name}_backward ({out_name})", exercise)
    rng = np.random.default_rng(seed)
    state = rng.bit_generator.state
    out, _ = expect.pair(call("post", dropout_p=p, rng=rng, train=False), name)
    if not _matches(out, f"{layer}.post.out"):
        _fail_with(out, fx()[f"{layer}.post.out"], f"{exercise} {name}(dropout_p={p}, "
                   "train=False)", "dropout ran in evaluation: pass `train` on to dropout; "
                   "with train=False every dropout is the identity.")
    if rng.bit_generator.state != state:
        expect.fail(f"{exercise} {name}(dropout_p={p}, train=False) drew random numbers; in "
                    "evaluation dropout is the identity and draws none.")
    for placement, norm_first in PLACEMENTS:
        out, cache = expect.pair(call(placement, dropout_p=p, rng=np.random.default_rng(seed),
                                      train=True), name)
        label = f"{exercise} {name}(norm_first={norm_first}, dropout_p={p}, train=True)"
        expect.array(out, label, shape=fx()[f"{layer}.dout"].shape, dtype=np.float64)
        _diagnose(out, f"{layer}.{placement}.drop.out", label, _dropout_bugs(layer, placement))
        expect.close(out, fx()[f"{layer}.{placement}.drop.out"], label,
                     hint="Dropout (3.5) acts on each sub-layer's output before its residual "
                          "add: dropout(y, dropout_p, rng, train), one draw per sub-layer, in "
                          "the order the sub-layers run.")
        grads = backward(get(f"{layer}.dout"), cache)
        base = f"{layer}.{placement}.drop.bug."
        for out_name, value in grads.items():
            key = f"{layer}.{placement}.drop.{out_name}"
            bugs = {f"{prefix}.{out_name}": why
                    for prefix, why in _backward_bugs(layer, placement, base).items()}
            _diagnose(value, key, f"{label} backward: {out_name}", bugs)
            expect.close(value, fx()[key], f"{label} backward: {out_name}",
                         hint="In training the gradient passes back through each dropout "
                              "(dropout_backward with its cache) before its sub-layer.")


# --- Probe-confirmed diagnoses of backward slips, and gates of dependent checks (3.1-3.5) ---

def skipped_until(check: str, why: str, what: str = "") -> None:
    """Fail without a diagnosis: this check depends on `check` of the same exercise."""
    expect.fail(f"{what + ': ' if what else ''}skipped until {check} passes: {why} This check "
                "gives its points once that one passes and this result is right.")


def slip(actual, expected, name: str, candidates=(), factors=None) -> str:
    """The slip that turns the right `expected` into `actual`, as an `expect.cause`, or "".

    The comparison of the returned array with the known wrong answers IS the probe: each of
    `candidates` is (what a wrong formula gives on the same inputs, the slip); then a
    transposed `expected`, then a constant factor `k` (`factors`: label -> k names it)."""
    if not (isinstance(actual, np.ndarray) and actual.dtype.kind == "f"):
        return ""
    a, e = actual.astype(np.float64), np.asarray(expected, dtype=np.float64)
    tol = expect.GRAD
    for wrong, why in candidates:
        wrong = np.asarray(wrong, dtype=np.float64)
        if (a.shape == wrong.shape == e.shape and np.allclose(a, wrong, **tol)
                and not np.allclose(wrong, e, **tol)):
            return expect.cause(why)
    if (e.ndim == 2 and a.shape == e.shape[::-1] and np.allclose(a.T, e, **tol)
            and not (a.shape == e.shape and np.allclose(a, e, **tol))):
        return expect.cause(f"{name} is transposed: it should be {e.shape}, the shape of what "
                            "it is the gradient of")
    if a.shape == e.shape and np.vdot(e, e) > 0:
        k = float(np.vdot(a, e) / np.vdot(e, e))
        if abs(k) > 1e-9 and not np.isclose(k, 1.0, rtol=1e-6) and np.allclose(a, k * e, **tol):
            named = {"-1 (a sign error)": -1.0, "2": 2.0, "1/2": 0.5, **(factors or {})}
            label = next((lab for lab, v in named.items() if np.isclose(k, v, rtol=1e-6)),
                         f"{k:.6g}")
            return expect.cause(f"{name} is off by a constant factor: it is {label} times the "
                                "right gradient")
    return ""


def close_or_slip(actual, expected, name: str, label: str, hint: str = "", candidates=(),
                  factors=None, gate: tuple[bool, str] | None = None, **tol) -> None:
    """`expect.close`, whose message names the slip when `slip` confirms one (else `hint`).

    `gate` = (the student's forward is right on these inputs, the name of its check): a wrong
    result that no slip explains is skipped while that forward is wrong (the backward works
    from the forward's cache); a confirmed slip is reported whatever the forward did."""
    tol = tol or expect.F64
    found = slip(actual, expected, name, candidates, factors)
    if found and np.shape(actual) != np.shape(expected):
        expect.fail(f"{label} has shape {np.shape(actual)}, expected {np.shape(expected)}. "
                    f"{found}")
    expect.array(actual, label, shape=np.shape(expected), finite=False)
    if gate is not None and not found and not gate[0] and not matches(actual, expected, **tol):
        skipped_until(gate[1], "your forward gives a wrong output on this input, and the "
                      "backward works from its cache.", label)
    expect.close(actual, expected, label, hint=found or hint, **tol)


def matches(actual, expected, **tol) -> bool:
    """Is `actual` an array of `expected`'s shape, close to it (float64 tolerance)?"""
    return (isinstance(actual, np.ndarray) and actual.shape == np.shape(expected)
            and bool(np.allclose(actual, expected, **(tol or expect.F64))))

# --- 3.6-3.11: the upstream gradient, gates, partial credit, confirmed slips ---------
def _upstream_probe(run, dout, what: str, exercise: str, expected: dict, gate: str) -> None:
    """A backward is linear in its upstream gradient: `run(g)` (a fresh forward, then the
    backward of g; returns {name: gradient}) at 2.5 * dout must be 2.5 times that at dout.
    Equal results confirm that the upstream gradient is ignored.  Points only for gradients
    that are also right (`expected`: name -> the right gradient at dout; `gate`: the check of
    that)."""
    base, scaled = run(dout), run(2.5 * dout)
    for name, value in base.items():
        expect.array(value, f"{what}: {name}", finite=False)
        expect.array(scaled[name], f"{what}: {name} at 2.5 * the upstream gradient",
                     shape=value.shape, finite=False)
    moved = [n for n in base if np.any(base[n] != 0)]
    if moved and all(np.allclose(scaled[n], base[n], **expect.F64) for n in moved):
        expect.fail(f"{exercise} {what}: multiplying the upstream gradient by 2.5 did not change "
                    f"{', '.join(moved)}. " + expect.cause(
                        "the backward ignores the upstream gradient it is given (it uses ones "
                        "or the loss's own gradient): multiply by it (chain rule)"))
    for name in base:
        expect.close(scaled[name], 2.5 * base[name],
                     f"{exercise} {what}: {name} at 2.5 * the upstream gradient",
                     hint="A backward is linear in its upstream gradient: scaling it scales "
                          "every returned gradient. Check where the upstream gradient enters.")
    for name, right in expected.items():
        _skipped_until(base[name], right, gate, exercise)


def _skipped_until(actual, expected, check_name: str, exercise: str) -> None:
    """Gate a check on an earlier one of its exercise: fail, naming it, unless `actual`
    (what that check verifies) is right, so that its bug is not reported here again."""
    if not (isinstance(actual, np.ndarray) and actual.shape == np.shape(expected)
            and np.allclose(actual, expected, **expect.F64)):
        expect.fail(f"{exercise}: skipped until {check_name} passes (this check needs a right "
                    "answer there first, and gives its points only then).")


def _same_out(actual, key: str, label: str, hint: str, bugs: dict[str, str] = ()) -> None:
    """`actual` must be the fixture `key`; when it is instead exactly a fixture of `bugs`
    (key -> confirmed cause), say that cause."""
    expect.array(actual, label, shape=fx()[key].shape, dtype=fx()[key].dtype)
    if _matches(actual, key):
        return
    for other, why in dict(bugs).items():
        if _matches(actual, other):
            expect.fail(f"{label} differs from the expected output. {expect.cause(why)}")
    expect.close(actual, fx()[key], label, hint=hint)


def _float32_tree(value: dict) -> dict:
    return {k: np.asarray(v, dtype=np.float32) for k, v in value.items()}


# A known wrong formula's output, matched exactly, is a probe-confirmed diagnosis: it is
# stated as one (expect.cause).  3.6, 3.7 and 3.11 use it.
def _fail_with(actual, expected, label: str, why: str) -> None:
    """Fail with where `actual` and `expected` differ, then the confirmed cause `why`."""
    try:
        expect.close(actual, expected, label)
    except expect.CheckFailed as exc:
        expect.fail(f"{exc} {expect.cause(why)}")
    expect.fail(f"{label}: {expect.cause(why)}")


def _check_layer_input_grad(layer: str, placement: str, what: str, name: str, value,
                            hint: str = "") -> None:
    """One input gradient of a layer's backward (`name`: "dx" or "dmemory"), on its own for
    partial credit per gradient: against its fixture, naming a known bug whose stored
    gradient it equals."""
    key = f"{layer}.{placement}.{name}"
    expect.array(value, f"{what}: {name}", shape=fx()[key].shape, dtype=np.float64)
    base = f"{layer}.{placement}.bug."
    _diagnose(value, key, f"{what}: {name}",
              {f"{prefix}.{name}": why for prefix, why in
               _backward_bugs(layer, placement, base).items() if f"{prefix}.{name}" in fx()})
    _close_grad(value, fx()[key], f"{what}: {name}", hint=hint, name=name)


def _slip_cause(actual, expected, name: str) -> str:
    """The usual backward slips, read off the returned array itself (the probe): exactly a
    constant times the right gradient, or the right gradient transposed.  "" when neither."""
    a, e = np.asarray(actual), np.asarray(expected)
    # a gradient that is 0 up to rounding (e.g. a key bias's) has no factor to read off: its
    # noise differs with the order of any sum, and expect.close's atol judges it
    if a.dtype.kind not in "fc" or not np.all(np.isfinite(a)) or not np.any(
            np.abs(e) > expect.F64["atol"]):
        return ""
    if a.shape == e.shape:
        c = float(np.vdot(a, e) / np.vdot(e, e))
        if abs(c - 1) > 1e-6 and np.any(a) and np.allclose(a, c * e, rtol=1e-6, atol=1e-12):
            if abs(c + 1) < 1e-6:
                return f"{name} has the wrong sign: it is exactly -1 times the right gradient"
            return (f"{name} is exactly {_factor_text(c)} times the right gradient: a constant "
                    "factor is wrong or missing (a 1/N, a scale such as sqrt(d), a 2, or the "
                    "upstream gradient applied twice)")
    if a.ndim == 2 and a.shape == e.shape[::-1] and np.allclose(a, e.T, **expect.F64):
        return f"{name} is the right gradient transposed: it has the shape of its parameter"
    return ""


def _factor_text(c: float) -> str:
    """c as a student recognises it: 13/14, 1/sqrt(12), sqrt(8), or 0.928571."""
    from fractions import Fraction

    for value, form in ((c, "{}"), (c * c, "sqrt({})")):
        f = Fraction(value).limit_denominator(64)
        if f and abs(float(f) - value) <= 1e-6 * abs(value):
            text = str(f) if form == "{}" else (
                f"1/sqrt({f.denominator})" if f.numerator == 1 else form.format(f))
            return f"-{text}" if c < 0 and form != "{}" else text
    return f"{c:.6g}"


def _close_grad(actual, expected, label: str, hint: str = "", name: str = "",
                **tolerance) -> None:
    """expect.close for a gradient (`name` in messages), naming a confirmed constant factor
    or transposition (the returned array itself is the probe)."""
    why = _slip_cause(actual, expected, name or "the gradient")
    if why:
        _fail_with(actual, np.asarray(expected), label, why + (f". {hint}" if hint else ""))
    expect.close(actual, expected, label, hint=hint, **tolerance)


def _norms_only(layer: str, params: dict, placement: str) -> dict:
    """`params` with every sub-layer's output projection zeroed (W_o, b_o, W_2, b_2), so that a
    post-norm layer is its LayerNorms in a row; in pre-norm the FFN is made the identity of
    its input instead (W_1 = W_2 = [I 0], b_1 = 20 = -b_2: ReLU's positive side), so that
    out = x + ln_last(x) (features from d_ff on, if d_ff < C, pass 0).  The expected value
    then needs layer_norm (3.2) alone."""
    p = dict(params)
    for sub, *_ in SUBLAYERS[layer]:
        for name in (("W_2", "b_2") if sub == "ffn" else ("W_o", "b_o")):
            p[f"{sub}.{name}"] = np.zeros_like(p[f"{sub}.{name}"])
    if placement == "pre":
        C, F = p["ffn.W_1"].shape
        p["ffn.W_1"], p["ffn.W_2"] = np.eye(C, F), np.eye(F, C)
        # With F < C the features from F on have no hidden unit: their output is b_2 = 0.
        p["ffn.b_1"], p["ffn.b_2"] = np.full(F, 20.0), np.where(np.arange(C) < F, -20.0, 0.0)
    return p


def _norms_only_out(impl, layer: str, params: dict, placement: str, x, eps: float):
    """The output of a `_norms_only` layer from layer_norm (the student's 3.2)."""
    norms = [ln for _, ln, *_ in SUBLAYERS[layer]]

    def ln(name, y):
        return impl.layer_norm(y, params[f"{name}.gamma"], params[f"{name}.beta"], eps)[0]

    if placement == "pre":
        y = ln(norms[-1], x)
        y[..., params["ffn.W_1"].shape[1]:] = 0.0  # features without a hidden unit
        return x + y
    for name in norms:
        x = ln(name, x)
    return x
