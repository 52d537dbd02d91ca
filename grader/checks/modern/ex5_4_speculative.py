"""Checks of exercise 5.4: speculative sampling and speculative decoding.

Expected values come from a replay of the documented algorithm written here in float64: the
acceptance rule min(1, p/q) with one ``rng.random()`` per draft position examined and one for
the emitted token (an inverse CDF, as 4.4), and, for ``speculative_generate``, the same rounds
run with full forwards of the student's own models (no cache): so a round whose caches were
not rolled back, or a target fed the wrong positions, shows as tokens that differ from the
replay. Generators are twins (same seed), so the comparisons are exact, draw for draw. Greedy
decoding is compared with the grader's greedy loop on the target alone (argmax of full
forwards), which 4.5's generate must also give.

The replays of typical wrong rules (the ratio q/p, the emitted token drawn from p or from
max(0, q - p) after a rejection, the uniforms of all k positions drawn before the first test)
run on the same draws, so a message names a mistake only when the student's tokens are
exactly one of them.

One statistical check states the sampling guarantee itself: every token emitted by
``speculative_generate`` is distributed as the target's softmax, whatever the draft. Its
test and its false-failure rate are in ``tokens_follow_the_target``.
"""

from __future__ import annotations

import numpy as np

from ... import expect
from ...sandbox import instrumented_call
from .. import check
from ..llm.common import call_unchanged

V = 7  # a small vocabulary: frequencies of every token are measurable
TARGET = {"vocab_size": V, "block_size": 32, "n_layer": 2, "n_head": 2, "n_embd": 8,
          "dtype": "float64"}
DRAFT = {**TARGET, "n_layer": 1}
PROMPT = np.array([[1, 4, 2]])
SCALE = 6.0  # embeddings far from GPT-2's 0.02 init: peaked, different distributions

ROLLBACK = ("Check the caches after a round that rejects a draft: set each KVCache.length "
            "back to the number of committed tokens whose keys it holds (the last committed "
            "token is fed at the next round), and feed each model exactly the tokens its cache "
            "lacks.")
RULES = {
    "inverted": "a draft token is accepted with probability min(1, q/p) instead of min(1, p/q)",
    "from_p": ("after a rejection the token is drawn from p itself, not from the residual "
               "max(0, p - q) normalised"),
    "q_minus_p": "the residual is max(0, q - p), not max(0, p - q)",
    "upfront": ("the k uniforms are drawn before the first test, so the emitted token uses the "
                "(k+1)-th number rather than the one after the last test"),
}


# --- the grader's algorithm --------------------------------------------------------------


def _draw(probs, u):
    cdf = np.cumsum(probs, dtype=np.float64)
    cdf /= cdf[-1]
    return int(np.sum(cdf <= u))


def _softmax(logits, temperature):
    z = np.asarray(logits, dtype=np.float64) / temperature
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _accept(p, q, draft_tokens, rng, rule=None):
    """The tokens of one round (list of ints) under the documented rule, or a wrong `rule`."""
    k = len(draft_tokens)
    upfront = [rng.random() for _ in range(k)] if rule == "upfront" else None
    n = 0
    while n < k:
        x = draft_tokens[n]
        u = upfront[n] if upfront else rng.random()
        a, b = (p[n, x], q[n, x]) if rule != "inverted" else (q[n, x], p[n, x])
        if not u * b < a:
            break
        n += 1
    if n < k:
        residual = {"from_p": p[n], "q_minus_p": np.maximum(q[n] - p[n], 0.0)}.get(
            rule, np.maximum(p[n] - q[n], 0.0))
        dist = residual if residual.sum() > 0 else p[n]
    else:
        dist = p[k]
    return [int(t) for t in draft_tokens[:n]] + [_draw(dist, rng.random())]


def _generate(target, draft, prompt, new, k, rng, temperature):
    """The documented rounds with full forwards: (ids (1, T0 + new), stats)."""
    ids = [int(t) for t in prompt[0]]
    total = len(ids) + new
    stats = {"rounds": 0, "drafted": 0, "accepted": 0}
    while len(ids) < total:
        k_round = min(k, total - len(ids) - 1)
        proposals, q = [], []
        for _ in range(k_round):
            logits = draft.forward(np.array([ids + proposals]))[0, -1]
            if temperature == 0:
                proposals.append(int(np.argmax(logits)))
            else:
                q.append(_softmax(logits, temperature))
                proposals.append(_draw(q[-1], rng.random()))
        logits = target.forward(np.array([ids + proposals]))[0, -(k_round + 1):]
        if temperature == 0:
            best = np.argmax(logits, axis=-1)
            n = 0
            while n < k_round and proposals[n] == best[n]:
                n += 1
            tokens = proposals[:n] + [int(best[n])]
        else:
            tokens = _accept(_softmax(logits, temperature), np.array(q).reshape(k_round, V),
                             proposals, rng)
        ids += tokens
        stats["rounds"] += 1
        stats["drafted"] += k_round
        stats["accepted"] += len(tokens) - 1
    return np.array([ids]), stats


def _models(impl, dtype="float64", self_draft=False):
    """(target, draft): the student's GPTs with peaked random weights. The draft's embeddings
    are 0.3 of the target's plus 0.7 of its own: it agrees with the target part of the time,
    so a run has both accepted and rejected drafts (tests/mutations/test_5_4.py asserts it)."""
    out = []
    for seed, cfg in ((11, TARGET), (12, DRAFT)):
        model = impl.GPT(impl.GPTConfig(**{**cfg, "dtype": dtype}), np.random.default_rng(seed))
        params = dict(model.params)
        params["wte.weight"] = params["wte.weight"] * SCALE
        if out:
            params["wte.weight"] = 0.3 * out[0].params["wte.weight"] + 0.7 * params["wte.weight"]
        model.params = params
        out.append(model)
    return (out[0], out[0]) if self_draft else tuple(out)


def _greedy(model, prompt, new):
    ids = np.array(prompt)
    for _ in range(new):
        ids = np.concatenate([ids, [[int(np.argmax(model.forward(ids)[0, -1]))]]], axis=1)
    return ids


# --- calling the student's code ----------------------------------------------------------


def _tokens(result, what, k):
    """The student's accept result as a list of ints (n + 1 of them, n <= k)."""
    if not isinstance(result, np.ndarray) or result.ndim != 1 or result.dtype.kind not in "iu":
        expect.fail(f"5.4: {what} should return a 1-D integer array (the n accepted drafts "
                    f"then one token), got {type(result).__name__} "
                    f"{getattr(result, 'dtype', '')} {getattr(result, 'shape', '')}.")
    if not 1 <= len(result) <= k + 1:
        expect.fail(f"5.4: {what} returned {len(result)} tokens; a round emits between 1 and "
                    f"k + 1 = {k + 1}.")
    return [int(t) for t in result]


def _accept_call(impl, p, q, draft_tokens, seed):
    rng = np.random.default_rng(seed)
    what = f"speculative_accept(p, q, draft_tokens={list(draft_tokens)}, default_rng({seed}))"
    result = expect.call_pure(impl.speculative_accept, "speculative_accept", p, q,
                              np.array(draft_tokens), rng)
    return _tokens(result, what, len(draft_tokens)), rng, what


def _explain(runs):
    """The wrong rule whose replay gives exactly the student's tokens in every run (got, p, q,
    draft_tokens, seed) of a check, else None: one run could agree with a rule by chance."""
    for rule in RULES:
        if all(got == _accept(p, q, drafts, np.random.default_rng(seed), rule)
               for got, p, q, drafts, seed in runs):
            return rule
    return None


def _generate_call(impl, target, draft, new, k, seed, temperature):
    rng = None if seed is None else np.random.default_rng(seed)
    what = (f"speculative_generate(target, draft, prompt={PROMPT.tolist()}, max_new_tokens="
            f"{new}, k={k}, rng={'None' if seed is None else f'default_rng({seed})'}, "
            f"temperature={temperature})")
    result = call_unchanged(impl.speculative_generate, "speculative_generate", target, draft,
                            PROMPT.copy(), new, k, rng, temperature=temperature)
    if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict)):
        expect.fail(f"5.4: {what} should return (ids, stats), stats a dict with 'rounds', "
                    "'drafted' and 'accepted'.")
    ids, stats = result
    expect.array(ids, f"5.4: {what}: ids", shape=(1, PROMPT.shape[1] + new), dtype=np.int64)
    return ids, stats, rng, what


def _same_stats(stats, want, what):
    got = {key: stats.get(key) for key in want}
    if got != want:
        expect.fail(f"5.4: {what}: stats = {got}, expected {want} (rounds = target forwards, "
                    "drafted = draft tokens proposed, accepted = the ones kept).")


# --- speculative_accept --------------------------------------------------------------------


def _random_case(rng, k):
    """Random p (k+1, V), q (k, V), with zeros in both, and drafts drawn from q."""
    p = rng.random((k + 1, V)) ** 3 * (rng.random((k + 1, V)) > 0.2)
    q = rng.random((k, V)) ** 3 * (rng.random((k, V)) > 0.2)
    p[:, 0] += 0.05  # no row all zeros
    q[:, 1] += 0.05
    p /= p.sum(-1, keepdims=True)
    q /= q.sum(-1, keepdims=True)
    tokens = [_draw(row, rng.random()) for row in q]
    return p, q, tokens


@check("5.4")
def accept_keeps_every_draft_when_q_equals_p(impl):
    """q = p: every draft accepted (k draws), then one token drawn from p[k]"""
    rng = np.random.default_rng(40)
    for k in (1, 3):
        p, _, _ = _random_case(rng, k)
        drafts = [_draw(row, rng.random()) for row in p[:k]]
        seed = 100 + k
        got, student_rng, what = _accept_call(impl, p, p[:k].copy(), drafts, seed)
        twin = np.random.default_rng(seed)
        want = _accept(p, p[:k], drafts, twin)
        if got[:-1] != drafts:
            expect.fail(f"5.4: {what} with q = p[:k] kept {got[:-1]}, expected every draft "
                        f"{drafts}: p/q = 1 at every draft, so each is accepted (u < 1 always).")
        if got != want:
            expect.fail(f"5.4: {what} with q = p[:k]: the extra token is {got[-1]}, expected "
                        f"{want[-1]}: after k acceptances draw it from p[k] (the target's row "
                        "after the last draft) with the (k+1)-th number of rng.")
        if student_rng.bit_generator.state != twin.bit_generator.state:
            expect.fail(f"5.4: {what} did not draw exactly k + 1 = {k + 1} numbers from rng "
                        "(one rng.random() per draft tested, one for the emitted token).")


@check("5.4")
def accept_rejects_tokens_the_target_never_picks(impl):
    """a draft with p = 0 is rejected; the token then comes from max(0, p - q) / Z exactly"""
    # p never picks token 3; the draft always proposes 3. Residual max(0, p - q):
    # p = [.1, .2, .3, 0, .4, 0, 0], q = [.3, .1, .1, .5, 0, 0, 0] -> [0, .1, .2, 0, .4] / .7
    p = np.array([[0.1, 0.2, 0.3, 0.0, 0.4, 0.0, 0.0], [1, 1, 1, 1, 1, 1, 1.0]])
    p[1] /= p[1].sum()
    q = np.array([[0.3, 0.1, 0.1, 0.5, 0.0, 0.0, 0.0]])
    residual = np.array([0, 0.1, 0.2, 0, 0.4, 0, 0]) / 0.7
    runs = [(*_accept_call(impl, p, q, [3], seed), seed) for seed in range(60)]
    for got, _, what, _ in runs:
        if len(got) != 1:
            expect.fail(f"5.4: {what} kept draft token 3, whose target probability is 0: "
                        f"got {got}. Accept x with probability min(1, p(x)/q(x)), which is 0 "
                        "here.")
    for got, rng, what, seed in runs:
        twin = np.random.default_rng(seed)
        twin.random()  # the test of the draft
        want = _draw(residual, twin.random())
        if got != [want]:
            rule = _explain([(g, p, q, [3], s) for g, _, _, s in runs])
            expect.fail(f"5.4: {what} = {got}, expected [{want}] (drawn from max(0, p - q) / Z "
                        f"= {np.round(residual, 3).tolist()} with the second number of rng). "
                        + (expect.cause(RULES[rule]) if rule else ""))
        if rng.bit_generator.state != twin.bit_generator.state:
            expect.fail(f"5.4: {what} did not draw exactly 2 numbers from rng (one to test the "
                        "draft, one for the emitted token).")


@check("5.4", weight=2)
def accept_follows_the_rule_draw_by_draw(impl):
    """random p, q, drafts: the tokens of min(1, p/q) and the residual, draw for draw"""
    rng = np.random.default_rng(41)
    runs = []
    for case in range(40):
        p, q, drafts = _random_case(rng, 1 + case % 4)
        seed = 1000 + case
        got, student_rng, what = _accept_call(impl, p, q, drafts, seed)
        runs.append((got, p, q, drafts, seed, student_rng, what))
    # tokens first (a wrong rule is named there), then the count of draws
    for got, p, q, drafts, seed, _, what in runs:
        want = _accept(p, q, drafts, np.random.default_rng(seed))
        if got != want:
            rule = _explain([run[:5] for run in runs])
            expect.fail(f"5.4: {what} on random p, q = {got}, expected {want}. "
                        + (expect.cause(RULES[rule]) if rule else
                           "Test draft i with u = rng.random(): accept iff u < p[i, x] / "
                           "q[i, x]; at the first rejection draw from max(0, p - q) "
                           "normalised, after k acceptances from p[k]."))
    for _, p, q, drafts, seed, student_rng, what in runs:
        twin = np.random.default_rng(seed)
        _accept(p, q, drafts, twin)
        if student_rng.bit_generator.state != twin.bit_generator.state:
            expect.fail(f"5.4: {what} gave the right tokens but drew another count of numbers "
                        "from rng than one per draft tested plus one.")
    # k = 0: one token drawn from p[0]
    p = _random_case(rng, 1)[0][:1]
    got, _, what = _accept_call(impl, p, np.zeros((0, V)), np.zeros(0, dtype=np.int64), 7)
    want = _accept(p, np.zeros((0, V)), [], np.random.default_rng(7))
    if got != want:
        expect.fail(f"5.4: {what} with k = 0 = {got}, expected {want}: no draft, one token "
                    "drawn from p[0].")


# --- speculative_generate ------------------------------------------------------------------


@check("5.4", weight=2)
def greedy_equals_the_target_alone(impl):
    """temperature 0: the target's greedy tokens, for k = 1, 3, 4 and a draft that disagrees"""
    target, draft = _models(impl)
    new = 20
    want = _greedy(target, PROMPT, new)
    for k, self_draft in ((1, False), (3, False), (4, False), (3, True)):
        models = (target, target) if self_draft else (target, draft)
        ids, stats, _, what = _generate_call(impl, *models, new, k, 5, 0.0)
        if self_draft:
            what += " with draft = target"
        if not np.array_equal(ids, want):
            t = int(np.argmax(ids[0] != want[0]))
            expect.fail(f"5.4: {what} = {ids[0].tolist()}, expected the target's greedy "
                        f"tokens {want[0].tolist()} (first difference at position {t}). "
                        + ROLLBACK)
        _same_stats(stats, _generate(*models, PROMPT, new, k, None, 0.0)[1], what)
    # greedy draws nothing
    rng = np.random.default_rng(6)
    call_unchanged(impl.speculative_generate, "speculative_generate", target, draft,
                   PROMPT.copy(), 4, 2, rng, temperature=0.0)
    if rng.bit_generator.state != np.random.default_rng(6).bit_generator.state:
        expect.fail("5.4: speculative_generate(temperature=0) drew from rng: greedy decoding "
                    "compares argmaxes and draws nothing.")


@check("5.4", weight=2)
def sampling_replays_the_rounds(impl):
    """temperature 1 and 0.7: the documented rounds token for token, and their stats"""
    target, draft = _models(impl)
    for k, temperature, seed in ((3, 1.0, 21), (2, 0.7, 22), (5, 1.0, 23)):
        ids, stats, rng, what = _generate_call(impl, target, draft, 18, k, seed, temperature)
        twin = np.random.default_rng(seed)
        want, want_stats = _generate(target, draft, PROMPT, 18, k, twin, temperature)
        if not np.array_equal(ids, want):
            t = int(np.argmax(ids[0] != want[0]))
            expect.fail(f"5.4: {what} = {ids[0].tolist()}, expected {want[0].tolist()} (first "
                        f"difference at position {t}). Per round: k' draft draws "
                        "(draw(softmax(logits / temperature), rng.random())), one target "
                        "forward, then speculative_accept's draws. " + ROLLBACK)
        _same_stats(stats, want_stats, what)
        if rng.bit_generator.state != twin.bit_generator.state:
            expect.fail(f"5.4: {what} gave the right tokens but drew more numbers from rng "
                        "than the rounds need.")


# Chi-square test of the tokens emitted against the target's p, on two context-free GPTs:
# ln_f's weight is 0, so the final norm outputs its bias c whatever the text, and with
# wte = [I_V | 0] the logits are c[:V] at every position. Each emitted token then follows p
# = softmax(c_target) given everything before it (the guarantee of §6), so the N_DRAWS tokens
# of N_RUNS runs of speculative_generate are i.i.d. p for a correct implementation: ten
# calls do what N_DRAWS calls of one token would (and a version without caches, quadratic
# in the length, stays fast enough to be graded). The statistic X2 = sum_v (c_v - N p_v)^2 /
# (N p_v) is asymptotically chi-square with V - 1 = 6 degrees of freedom, whose tail for an
# even number 2m of degrees is exp(-x/2) sum_{i<m} (x/2)^i / i!: P(X2 > 40) = e^-20 (1 + 20 +
# 200) = 4.6e-7. So an implementation that is right but draws its numbers in another order
# than documented (not exact against the replay above) fails here with probability < 1e-6.
# Every N p_v >= 5 (asserted), where the asymptotics hold. A sampler that keeps every draft
# emits q's tokens K times in K + 1: X2 near 650 here.
N_DRAWS, CHI2_LIMIT = 1000, 40.0
N_RUNS, K_DRAWS = 10, 3  # runs of N_DRAWS / N_RUNS tokens; draft tokens per round
P_TARGET = np.array([0.25, 0.2, 0.15, 0.15, 0.1, 0.1, 0.05])  # p, sum(min(p, q)) = 0.65
Q_DRAFT = P_TARGET[::-1].copy()  # q: the draft favours what the target does not


def _context_free_models(impl):
    """(target, draft): the student's GPTs whose logits are log P_TARGET, log Q_DRAFT at every
    position, whatever the text (ln_f's weight 0: its output is its bias)."""
    out = []
    for seed, cfg, probs in ((13, TARGET, P_TARGET), (14, DRAFT, Q_DRAFT)):
        cfg = {**cfg, "n_layer": 1, "block_size": PROMPT.shape[1] + N_DRAWS // N_RUNS,
               "dtype": "float64"}
        model = impl.GPT(impl.GPTConfig(**cfg), np.random.default_rng(seed))
        params, C = dict(model.params), cfg["n_embd"]
        params["wte.weight"] = np.eye(V, C)  # the tied head reads c[:V]
        params["ln_f.weight"] = np.zeros(C)
        params["ln_f.bias"] = np.concatenate([np.log(probs), np.zeros(C - V)])
        model.params = params
        out.append(model)
    return tuple(out)


@check("5.4", timeout=30.0)
def tokens_follow_the_target(impl):
    """every token emitted is distributed as the target's softmax, whatever the draft"""
    target, draft = _context_free_models(impl)
    p, q = P_TARGET, Q_DRAFT
    assert N_DRAWS * p.min() >= 5
    length = N_DRAWS // N_RUNS
    what = (f"{N_RUNS} runs of speculative_generate(target, draft, prompt, max_new_tokens="
            f"{length}, k={K_DRAWS}, rng) (temperature left at its default, 1.0) on two GPTs "
            "whose next-token distributions, p (target) and q (draft), are the same after any "
            "text")
    runs = []
    for seed in range(31, 31 + N_RUNS):
        result = call_unchanged(impl.speculative_generate, "speculative_generate", target,
                                draft, PROMPT.copy(), length, K_DRAWS,
                                np.random.default_rng(seed))
        if not (isinstance(result, tuple) and len(result) == 2):
            expect.fail(f"5.4: {what} should return (ids, stats).")
        expect.array(result[0], f"5.4: {what}: ids", shape=(1, PROMPT.shape[1] + length),
                     dtype=np.int64)
        runs.append(np.asarray(result[0])[0, PROMPT.shape[1]:])
    new = np.concatenate(runs)
    if new.min() < 0 or new.max() >= V:
        expect.fail(f"5.4: {what} emitted ids outside [0, {V}): {new[:12].tolist()} ...")
    counts = np.bincount(new, minlength=V).astype(np.float64)
    chi2 = float(np.sum((counts - N_DRAWS * p) ** 2 / (N_DRAWS * p)))
    if chi2 > CHI2_LIMIT:
        every = (K_DRAWS * q + p) / (K_DRAWS + 1)  # every draft kept: K q-tokens, then one p
        kept_all = np.sum((counts - N_DRAWS * every) ** 2 / (N_DRAWS * every)) <= CHI2_LIMIT
        expect.fail(f"5.4: {what}: the {N_DRAWS} new tokens came out with frequencies "
                    f"{np.round(counts / N_DRAWS, 3).tolist()}, expected the target's p = "
                    f"{np.round(p, 3).tolist()} (chi-square {chi2:.1f} > {CHI2_LIMIT}; a "
                    "correct sampler exceeds it with probability < 1e-6)."
                    + (f" They fit {K_DRAWS} of the draft's q = {np.round(q, 3).tolist()} for "
                       "one of p: the draft's tokens come out as if every one were accepted."
                       if kept_all else ""))


V_BIG, NEW_BIG = 4096, 100  # logits of a full forward at the last step: 100 x 4096 x 8 B


@check("5.4")
def speculative_generate_uses_the_caches(impl):
    """each forward runs only the tokens its KV cache lacks, not the whole sequence"""
    cfg = {"vocab_size": V_BIG, "block_size": 128, "n_layer": 1, "n_head": 1, "n_embd": 8,
           "dtype": "float64"}
    model = impl.GPT(impl.GPTConfig(**cfg), np.random.default_rng(0))
    # the model drafts for itself: every proposal is kept, 25 rounds of k + 1 = 4 tokens; a
    # cached target forward returns (1, 4, V) logits (128 KiB), a full one (1, t, V), 3 MiB
    # at the last round
    ids, info = instrumented_call(impl.speculative_generate, model, model, np.array([[1]]),
                                  NEW_BIG, 3, None, temperature=0.0)
    expect.array(ids[0] if isinstance(ids, tuple) else ids,
                 f"5.4: speculative_generate(model, model, prompt (1, 1), {NEW_BIG}, k=3)",
                 shape=(1, 1 + NEW_BIG), dtype=np.int64)
    full = NEW_BIG * V_BIG * 8
    if info.peak_bytes > full / 3:
        expect.fail(f"5.4: speculative_generate(model, model, prompt (1, 1), {NEW_BIG}, k=3, "
                    f"temperature=0) allocated {info.peak_bytes / 2**20:.1f} MiB at its peak, "
                    f"about what full forwards of the whole sequence need ({full / 2**20:.1f} "
                    "MiB of logits at the last round). Give each model a KVCache (4.5) and "
                    "feed each forward only the tokens its cache lacks.")


@check("5.4")
def float32_models_decode(impl):
    """float32 models: int64 ids, the float32 target's greedy tokens"""
    target, draft = _models(impl, dtype="float32")
    want = _greedy(target, PROMPT, 10)
    ids, _, _, what = _generate_call(impl, target, draft, 10, 3, None, 0.0)
    if not np.array_equal(ids, want):
        expect.fail(f"5.4: {what} on float32 models = {ids[0].tolist()}, expected the "
                    f"target's greedy tokens {want[0].tolist()}.")


@check("5.4")
def speculative_refuses_bad_input(impl):
    """documented errors: bad shapes, ids, k, prompt, temperature; models that do not fit"""
    p, q, drafts = _random_case(np.random.default_rng(3), 2)
    rng = np.random.default_rng(0)
    target, draft = _models(impl)
    # the given code raises these errors: points only once the functions run (a stub raises
    # NotImplementedError here)
    impl.speculative_accept(p, q, np.array(drafts), rng)
    impl.speculative_generate(target, draft, PROMPT, 3, 2, rng)
    cases = (("q with as many rows as p", p, p, drafts),
             ("draft_tokens of length k + 1", p, q, drafts + [0]),
             ("a draft token = V", p, q, [drafts[0], V]),
             ("a negative probability", p, q - 0.5, drafts))
    for what, *args in cases:
        expect.raises(impl.speculative_accept, ValueError,
                      f"5.4: speculative_accept with {what}", *args[:2], np.array(args[2]), rng)
    other = impl.GPT(impl.GPTConfig(**{**DRAFT, "vocab_size": V - 1}), np.random.default_rng(0))
    gen = impl.speculative_generate
    expect.raises(gen, ValueError, "5.4: speculative_generate with k = 0", target, draft,
                  PROMPT, 3, 0, rng)
    expect.raises(gen, ValueError, "5.4: speculative_generate with a (2, T0) prompt", target,
                  draft, np.vstack([PROMPT, PROMPT]), 3, 2, rng)
    expect.raises(gen, ValueError, "5.4: speculative_generate beyond block_size", target, draft,
                  PROMPT, 30, 2, rng)
    # greedy, so that nothing but the documented check can fail on the smaller vocabulary
    expect.raises(gen, ValueError, "5.4: speculative_generate with draft vocab_size V - 1",
                  target, other, PROMPT, 3, 2, rng, temperature=0.0)
    expect.raises(gen, TypeError, "5.4: speculative_generate with a target that is not a GPT",
                  "gpt2", draft, PROMPT, 3, 2, rng)
    expect.raises(gen, ValueError, "5.4: speculative_generate with temperature -1", target,
                  draft, PROMPT, 3, 2, rng, temperature=-1.0)
