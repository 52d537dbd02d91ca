"""Speculative decoding: a small draft model proposes, the target verifies (exercise 5.4).

Decoding one token with a large model costs one forward that reads every weight; a forward on
k + 1 tokens costs nearly the same on hardware that is bound by reading the weights. A small
*draft* model proposes k tokens x_1 .. x_k one by one (cheap); the *target* scores all of
them in one forward with its KV cache (4.5): row i of its logits is the target's distribution
p_i of the token after x_1 .. x_i (p_0 follows the committed text, p_k follows x_k). Each
draft token is then accepted or rejected (Leviathan et al., 2023; Chen et al., 2023)::

    accept x_i with probability min(1, p_i(x_i) / q_i(x_i))      i = 1 .. k, in order
    at the first rejection i:  emit a token from  r = max(0, p_i - q_i) / Z   and stop
    if all k are accepted:     emit a token from  p_k              (a free extra token)

(indices from 0 in the code: q[i], p[i] for the i-th draft position). Whatever q is, every
emitted token is distributed exactly as the target alone would sample it: the probability of
emitting y at a position is q(y) min(1, p(y)/q(y)) + (1 - sum_x min(q(x), p(x))) r(y) =
min(q(y), p(y)) + max(0, p(y) - q(y)) = p(y). A round emits between 1 and k + 1 tokens for
one target forward; the better the draft agrees with the target, the more.

Greedy decoding (temperature 0) is the limit: the draft proposes its argmax, a draft token is
accepted iff it is the target's argmax too, and the token emitted at the first mismatch (or
after all k) is the target's argmax: the output is the target's greedy output, token for
token.

Caches. After a round that keeps n of the k drafts, the target's cache holds positions it will
never use again (the rejected drafts'). ``KVCache.length`` is the whole state of a cache:
setting it back to the number of positions kept discards them (the next forward overwrites
those slots), with no copy.
"""

import numpy as np

from ..llm.kv_cache import KVCache
from ..transformer.gpt import GPT


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def draw(probs, u):
    """The token of a (V,) distribution at uniform number ``u`` in [0, 1): the first index
    whose cumulative probability exceeds ``u`` (4.4's inverse CDF; given, not an exercise).

    ``probs`` need not sum to 1 (it is normalised here), entries must be >= 0 with a positive
    sum. Returns a Python int.
    """
    cdf = np.cumsum(probs, dtype=np.float64)
    cdf /= cdf[-1]  # the last entry is exactly 1, so u < 1 always finds a token
    return int(np.sum(cdf <= u))


def probabilities(logits, temperature):
    """``softmax(logits / temperature)`` over the last axis in float64 (given, not an
    exercise); ``temperature > 0``."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _check_accept_inputs(p, q, draft_tokens):
    """(p, q, draft_tokens) as arrays, or a ValueError that names the problem (given)."""
    p, q, draft_tokens = np.asarray(p), np.asarray(q), np.asarray(draft_tokens)
    if p.ndim != 2 or p.shape[0] < 1 or p.shape[1] < 1 or p.dtype.kind != "f":
        raise ValueError(f"speculative_accept: p must be float probabilities (k+1, V), got "
                         f"{p.dtype} {p.shape}")
    k, V = p.shape[0] - 1, p.shape[1]
    if q.shape != (k, V) or (k and q.dtype.kind != "f"):
        raise ValueError(f"speculative_accept: q must be float probabilities (k, V) = {(k, V)} "
                         f"(one row fewer than p), got {q.dtype} {q.shape}")
    if draft_tokens.shape != (k,) or (k and draft_tokens.dtype.kind not in "iu"):
        raise ValueError(f"speculative_accept: draft_tokens must be k = {k} integer ids, got "
                         f"{draft_tokens.dtype} {draft_tokens.shape}")
    if k and (draft_tokens.min() < 0 or draft_tokens.max() >= V):
        raise ValueError(f"speculative_accept: draft_tokens must be in [0, V = {V}), got "
                         f"{draft_tokens.tolist()}")
    if (p < 0).any() or (q < 0).any():
        raise ValueError("speculative_accept: probabilities must be >= 0")
    return p, q, draft_tokens


def speculative_accept(p, q, draft_tokens, rng):
    """The tokens one round of speculative sampling emits (exercise 5.4).

    For i = 0 .. k-1 in order: draw ``u = rng.random()`` and accept ``x = draft_tokens[i]`` iff
    ``u < p[i, x] / q[i, x]`` (probability min(1, p/q); written ``u * q[i, x] < p[i, x]``, so a
    q of 0 needs no division). At the first rejection, i = n, stop: draw one more
    ``u = rng.random()`` and emit the token of the residual ``max(0, p[n] - q[n])``
    (normalised) at u, with ``draw``. When all k are accepted, n = k: the extra token is drawn
    the same way from ``p[k]``. So exactly n + 1 numbers are drawn from ``rng`` when n <= k - 1
    drafts are kept, k + 1 when all are. (A residual of total mass 0 can only come from
    p[n] == q[n] up to rounding, where a rejection has probability 0; p[n] is used then.)

    Args:
        p: ``(k+1, V)`` the target's probabilities at the k draft positions and the one after
            (rows sum to 1; not modified).
        q: ``(k, V)`` the draft's probabilities at the k draft positions (not modified).
        draft_tokens: ``(k,)`` integer ids, ``draft_tokens[i]`` drawn from ``q[i]``.
        rng: a ``np.random.Generator`` (only its ``random()`` is called).

    Returns:
        tokens: ``(n + 1,)`` int64: the n accepted drafts ``draft_tokens[:n]``, then the
        token drawn at position n. ``k = 0`` is allowed: one token drawn from ``p[0]``.

    Raises:
        ValueError: if the shapes do not fit (p one row more than q, draft_tokens (k,)),
            an id is outside [0, V) or a probability is negative.
    """
    p, q, draft_tokens = _check_accept_inputs(p, q, draft_tokens)
    ### BEGIN SOLUTION
    k = len(draft_tokens)
    n = 0
    while n < k:
        x = draft_tokens[n]
        if not rng.random() * q[n, x] < p[n, x]:  # rejected with probability 1 - p/q
            break
        n += 1
    if n < k:
        residual = np.maximum(p[n] - q[n], 0.0)  # where the target wants more than the draft
        dist = residual if residual.sum() > 0 else p[n]
    else:
        dist = p[k]  # every draft kept: the target's next token comes free
    out = np.empty(n + 1, dtype=np.int64)
    out[:n] = draft_tokens[:n]
    out[n] = draw(dist, rng.random())
    return out
    ### END SOLUTION


def _check_generate_inputs(target, draft, prompt, max_new_tokens, k, temperature):
    """The prompt as an int array, or an error that names the problem (given)."""
    for name, model in (("target", target), ("draft", draft)):
        if not isinstance(model, GPT):
            raise TypeError(f"speculative_generate: {name} must be a GPT (3.11), got "
                            f"{type(model).__name__}")
    if target.config.vocab_size != draft.config.vocab_size:
        raise ValueError(f"speculative_generate: target and draft must share a vocabulary, got "
                         f"vocab_size {target.config.vocab_size} and {draft.config.vocab_size}")
    prompt = np.asarray(prompt)
    if prompt.dtype.kind not in "iu" or prompt.ndim != 2 or prompt.shape[0] != 1 or \
            prompt.shape[1] < 1:
        raise ValueError(f"speculative_generate: prompt must be integer ids (1, T0), T0 >= 1 "
                         f"(one sequence), got {prompt.dtype} {prompt.shape}")
    if not _is_int(max_new_tokens) or max_new_tokens < 0:
        raise ValueError(f"speculative_generate: max_new_tokens must be an int >= 0, got "
                         f"{max_new_tokens!r}")
    if not _is_int(k) or k < 1:
        raise ValueError(f"speculative_generate: k must be an int >= 1, got {k!r}")
    if not temperature >= 0:
        raise ValueError(f"speculative_generate: temperature must be >= 0, got {temperature!r}")
    total = prompt.shape[1] + int(max_new_tokens)
    for name, model in (("target", target), ("draft", draft)):
        if total > model.config.block_size:
            raise ValueError(f"speculative_generate: T0 + max_new_tokens = {total} exceeds the "
                             f"{name}'s block_size = {model.config.block_size}")
    return prompt


def speculative_generate(target, draft, prompt, max_new_tokens, k, rng, temperature=1.0):
    """Continue ``prompt`` by ``max_new_tokens`` tokens with speculative decoding (exercise 5.4).

    One KV cache per model (``KVCache.for_model(model, 1, max_len=T0 + max_new_tokens)``).
    With ``m`` tokens committed, a round:

    1. the draft proposes ``k' = min(k, max_new_tokens left - 1)`` tokens, one forward each:
       the first forward feeds every committed token its cache lacks, each later one the
       token just proposed; the proposal is the argmax of its last logits when
       ``temperature == 0``, else a draw from ``q = softmax(logits / temperature)`` with
       ``draw(q, rng.random())``;
    2. the target runs one forward on every committed token its cache lacks followed by the
       k' proposals; its last k' + 1 rows give ``p = softmax(logits / temperature)``;
    3. ``speculative_accept(p, q, proposals, rng)`` (greedy: keep the proposals up to the
       first that is not the target's argmax, then the target's argmax there) gives the
       n + 1 tokens to commit;
    4. both caches are rolled back to the positions whose tokens are committed, at most
       ``m + n``: the last committed token has not been fed yet (the next round feeds it).

    The randomness, in order: per round the k' draft draws, then the draws of
    ``speculative_accept``; greedy draws nothing.

    Args:
        target, draft: ``GPT`` models (3.11) with the same ``vocab_size``; any dtype.
        prompt: integer ids ``(1, T0)``, ``T0 >= 1`` (one sequence).
        max_new_tokens: int >= 0.
        k: int >= 1, the draft tokens proposed per round.
        rng: a ``np.random.Generator`` (unused when greedy).
        temperature: 0 for greedy, > 0 to sample from ``softmax(logits / temperature)``.

    Returns:
        ids: ``(1, T0 + max_new_tokens)`` int64, the prompt then the new tokens; with
            temperature 0 equal to ``generate(target, prompt, max_new_tokens)`` (4.5).
        stats: ``{"rounds": target forwards, "drafted": draft tokens proposed, "accepted":
            draft tokens kept}``; ``accepted / drafted`` is the acceptance rate and
            ``max_new_tokens / rounds`` the tokens per target forward.

    Raises:
        TypeError: if a model is not a ``GPT``.
        ValueError: if the vocabularies differ, the prompt is not ``(1, T0)`` ids,
            ``max_new_tokens < 0``, ``k < 1``, ``temperature < 0`` or ``T0 + max_new_tokens``
            exceeds a model's ``block_size``.
    """
    prompt = _check_generate_inputs(target, draft, prompt, max_new_tokens, k, temperature)
    T0 = prompt.shape[1]
    total = T0 + int(max_new_tokens)
    ids = np.zeros(total, dtype=np.int64)
    ids[:T0] = prompt[0]
    stats = {"rounds": 0, "drafted": 0, "accepted": 0}
    ### BEGIN SOLUTION
    greedy = temperature == 0
    t_cache = KVCache.for_model(target, 1, max_len=total)
    d_cache = KVCache.for_model(draft, 1, max_len=total)
    m = T0  # tokens committed
    while m < total:
        k_round = min(k, total - m - 1)  # the round's last token is the target's own
        proposals = np.zeros(k_round, dtype=np.int64)
        q = np.zeros((k_round, target.config.vocab_size))
        fed = ids[d_cache.length:m]  # the committed tokens the draft has not seen
        for i in range(k_round):
            logits = draft.forward(fed[None], kv_cache=d_cache)[0, -1]  # (V,)
            if greedy:
                proposals[i] = int(np.argmax(logits))
            else:
                q[i] = probabilities(logits, temperature)
                proposals[i] = draw(q[i], rng.random())
            fed = proposals[i:i + 1]
        # one target forward: its missing committed tokens, then the k' proposals
        new = np.concatenate([ids[t_cache.length:m], proposals])
        logits = target.forward(new[None], kv_cache=t_cache)[0, -(k_round + 1):]  # (k'+1, V)
        if greedy:
            best = np.argmax(logits, axis=-1)
            n = 0
            while n < k_round and proposals[n] == best[n]:
                n += 1
            tokens = np.append(proposals[:n], best[n])
        else:
            tokens = speculative_accept(probabilities(logits, temperature), q, proposals, rng)
            n = len(tokens) - 1
        ids[m:m + n + 1] = tokens
        # roll back: keep the positions whose tokens are committed (not the last one, unfed)
        m += n + 1
        t_cache.length = min(t_cache.length, m - 1)
        d_cache.length = min(d_cache.length, m - 1)
        stats["rounds"] += 1
        stats["drafted"] += k_round
        stats["accepted"] += n
    return ids[None], stats
    ### END SOLUTION
