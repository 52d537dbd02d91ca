"""Checks of Module 4 — LLM fundamentals (4.1 so far).

4.1 byte-level BPE: merges on tiny texts are computed by hand in the docstrings below; the
merges and encodings on a longer text are fixtures from the reference (`grader/data/llm.npz`),
stored with the text, the vocabulary size and the special tokens they were trained with.  The
text, the samples encoded, the vocabulary size and the special tokens (their number and
order) are drawn from the fixture seed, keeping what the checks rely on: repeated words
(frequent pairs, ties), multi-byte characters, code and whitespace runs, special tokens
inside the text and the samples.
"""

"""Checks of exercises 4.2, 4.3: batches of next-token targets; the pretraining loop,
perplexity and checkpoints.

Everything here follows from the documented contracts, without fixtures:

- 4.2: the window starts are ``rng.integers(0, len(data) - block_size, size=batch_size)``,
  so the grader redraws them from a copy of the generator; with ``data`` an arithmetic
  sequence, a window and its targets are recognisable at a glance.
- 4.3: the student's own GPT (3.11) and AdamW (3.10) are the model and the optimiser; the
  grader replays the documented updates and evaluations with them, call by call, and
  compares. Checkpoints are written by the student's code into a temporary directory, and
  the grader opens them itself with ``np.load(..., allow_pickle=False)``.
"""

"""Checks of exercise 4.4: greedy, temperature, top-k and top-p sampling.

The filters are checked on small hand-made rows whose kept sets are worked out in the comments
(probabilities chosen with margins of at least 0.03 around p, so any correct way of summing
gives the same set), then on random rows against fixtures from the reference
(`grader/data/llm_sampling.npz`). Sampling is checked two ways: statistically (20,000 draws
from a seeded rng in one batched call, 4,000 where the effect is large; every frequency within
5 binomial standard deviations, sqrt(q (1 - q) / n), of its probability; tokens that a filter
removed must never be drawn), and exactly (the draw that the docstring defines: one
u = rng.random() per row, the first index whose normalised cumulative probability exceeds u).
The fixtures' logits, k, p and draw settings (temperatures, filters and the seeds of the
generators) are drawn from the fixture seed and read back from the fixture.
"""

"""Checks of exercise 4.5: the KV cache and cached generation.

The graded property: decoding with the cache gives the logits of the full forward at every
position, whatever the schedule — the whole prompt at once, then one token per step, or a
prompt prefilled in chunks (3, then 2, then 4 tokens: fewer queries than keys, where the
causal mask must be offset), for a batch of 3. The model is a tiny float64 GPT-2 with
distinct sizes (B=3, n_layer=2, H=4, D=5, C=20, V=29, block_size=11) and weights far larger
than GPT-2's 0.02 init, so that an offset position or a misplaced key moves the logits a lot.
Expected logits, buffers and greedy tokens are fixtures from the reference
(`grader/data/llm_kv_cache.npz`), with the logits of known wrong decoders to name a bug.
The buffers' layout and the absence of a per-step copy are checked directly (shapes, where
the keys land, the peak memory of one decoding step against a 16,384-position cache).
"""

"""Checks of exercise 4.6: grouped-query attention and the KV cache's size.

The expected attention is computed here, head by head, from its definition in float64
(query head h uses kv head h // n_rep); the outputs of typical wrong formulas (tiled heads,
another scale, the mask ignored or inverted) are computed the same way, so a message can
name the mistake. Cache sizes are worked by hand in the comments.
"""

"""Checks of exercise 4.7: int8 and int4 quantization.

Everything is computed from the definitions: absmax symmetric scales (``absmax / 127``,
``absmax / 7``), round half to even, keepdims scale shapes, int4 as two's complement nibbles
with row ``2i`` in the low nibble. The hand cases use scales that are powers of two, so
``w / scale`` is exact and the rounding ties (2.5, -2.5, 0.5, 1.5) are real ties; the random
cases have no near-ties. Weights are ``(in, out)``: ``y = x @ W + b``.
"""

"""Checks of exercise 4.8: parameters, FLOPs and scaling laws.

Every expected number is worked by hand in the comments. The tiny config (V=37, T_max=16,
2 layers, C=24) is chosen so that each typical slip moves the count by a different amount:
the head counted again +VC = +888, no position table -TC = -384, no biases -9CL = -432, no
LayerNorms -(4CL + 2C) = -240, no final LayerNorm -2C = -48.
"""

"""Checks of exercise 4.9: the chat template and the SFT loss mask.

The template's strings are written out by hand below. The mask checks tokenize with the
student's `BPETokenizer` (4.1) built on a vocabulary made by hand: the 256 bytes, then (for
one check) two merges, then the template's four special tokens, so the expected ids are
the bytes of the text and the special ids 256.. (or 258..) -- computed here in a few lines,
with every token labelled by the segment it comes from (header, content, end, separator, and
the turn's role), so that a wrong target can be named: "loss on the user's tokens", "the
assistant header is trained", "off by one", ...
"""

"""Checks of exercise 4.10: the Bradley-Terry reward-model loss and its gradient.

Expected values are hand-computed (the worked example of lecture 4, section 13) or come from
the formula itself, -log sigma(z) = log(1 + e^-z), evaluated in float64 in the check; the
gradients are compared with central finite differences of that formula (grader/gradcheck.py),
so a backward is graded on its own, not against the student's forward. Known wrong formulas
(chosen and rejected swapped, the sum instead of the mean, log of a sigmoid that rounded to
0) are recognised and named in the message.
"""

"""Checks of exercise 4.11: GAE, PPO's clipped objective and the KL penalty.

Everything is computed from the definitions (float64, small hand cases whose numbers are in
the comments):

- GAE: ``delta_t = r_t + gamma V_{t+1} (1 - done_t) - V_t`` with ``V_T = last_value``;
  ``A_t = delta_t + gamma lam (1 - done_t) A_{t+1}``; ``returns = A + V``. ``done_t = 1``:
  the episode ends after step t.
- PPO: ``rho = exp(logp_new - logp_old)``; ``loss = -mean_mask min(rho A, clip(rho, 1-eps,
  1+eps) A)``; the gradient w.r.t. ``logp_new`` is ``-mask rho A / N`` where the min picks
  the unclipped term and 0 where it picks the clipped one.
- KL: ``log r = logp_ref - logp``; k1 = -log r, k2 = (log r)^2 / 2, k3 = (r - 1) - log r.

When an answer is wrong the checks compare it with the answers of known mistakes (forward
GAE, gamma and lam swapped, max instead of min, ...) to name the likely one.
"""

"""Checks of exercise 4.12: sequence log-probabilities and the DPO loss with its gradient.

Expected values come from the formulas, evaluated in float64 in the check (a stable
log-softmax; -log sigma(z) = log(1 + e^-z)) on small inputs with distinct dimensions
(B=2, T=3, V=5; N=3 pairs), and from the worked example of lecture 4, section 15. Known wrong
variants (no mask, logits and tokens shifted by one, probabilities instead of
log-probabilities, the mean instead of the sum; chosen and rejected swapped, the reference
terms with the wrong sign or paired crosswise, beta outside the sigmoid or dividing) are
computed too, so a failure names the mistake. The gradients are compared with central finite
differences of the formula (grader/gradcheck.py), independently of the student's forward.
"""

"""Checks of exercise 4.13: few-shot and chain-of-thought prompts, self-consistency.

The prompts are compared, character for character, with strings written out by hand below
(the format of the docstrings of `prompting.py`); a mismatch is explained by the first block
that differs. `self_consistency` is checked on hand-counted votes, and its tie rule (the tied
answer that occurs first in the list wins) on many ties in both orders: a tie broken by set
or dict order of hashed strings, by the smallest answer or at random gets some of them wrong.
No fixtures: every expected value is written here.
"""
