"""Mutation tests of 5.4 (speculative decoding): every check of the exercise fails on a
plausible student bug, and its message names the bug.  The harness and its conventions:
`tests/mutation.py`.
"""

from __future__ import annotations

import numpy as np
from mutation import Mutant, standard_tests

from grader.checks.modern import ex5_4_speculative as checks
from grader.course import MODERN

PACKAGE = MODERN.package  # mutants edit reference/modern/speculative.py
SPEC = "speculative.py"

# speculative.py, the lines the edits replace
K_LINE = "    k = len(draft_tokens)\n"
TEST = "        if not rng.random() * q[n, x] < p[n, x]:  # rejected with probability 1 - p/q\n"
RESIDUAL = ("        residual = np.maximum(p[n] - q[n], 0.0)  # where the target wants more "
            "than the draft\n")
EXTRA = "        dist = p[k]  # every draft kept: the target's next token comes free\n"
VOCAB = "    if target.config.vocab_size != draft.config.vocab_size:\n"
IDS = "    ids = np.zeros(total, dtype=np.int64)\n"
GREEDY_DRAFT = "                proposals[i] = int(np.argmax(logits))\n"
T_ROLLBACK = "        t_cache.length = min(t_cache.length, m - 1)\n"
D_ROLLBACK = "        d_cache.length = min(d_cache.length, m - 1)\n"
DRAFTED = '        stats["drafted"] += k_round\n'

KEEP_ALL = "accept_keeps_every_draft_when_q_equals_p"
REJECT = "accept_rejects_tokens_the_target_never_picks"
RULE = "accept_follows_the_rule_draw_by_draw"
GREEDY = "greedy_equals_the_target_alone"
SAMPLING = "sampling_replays_the_rounds"
FIRST = "tokens_follow_the_target"
F32 = "float32_models_decode"
ERRORS = "speculative_refuses_bad_input"
CACHES = "speculative_generate_uses_the_caches"

NO_CACHE = """
def speculative_generate(target, draft, prompt, max_new_tokens, k, rng, temperature=1.0):
    # the same rounds with full forwards of the whole sequence: right tokens, no cache
    prompt = _check_generate_inputs(target, draft, prompt, max_new_tokens, k, temperature)
    ids = [int(t) for t in prompt[0]]
    total = len(ids) + int(max_new_tokens)
    stats = {"rounds": 0, "drafted": 0, "accepted": 0}
    while len(ids) < total:
        k_round = min(k, total - len(ids) - 1)
        proposals, q = [], np.zeros((k_round, target.config.vocab_size))
        for i in range(k_round):
            logits = draft.forward(np.array([ids + proposals]))[0, -1]
            if temperature == 0:
                proposals.append(int(np.argmax(logits)))
            else:
                q[i] = probabilities(logits, temperature)
                proposals.append(draw(q[i], rng.random()))
        logits = target.forward(np.array([ids + proposals]))[0, -(k_round + 1):]
        if temperature == 0:
            best = np.argmax(logits, axis=-1)
            n = 0
            while n < k_round and proposals[n] == best[n]:
                n += 1
            tokens = proposals[:n] + [int(best[n])]
        else:
            tokens = [int(t) for t in speculative_accept(
                probabilities(logits, temperature), q, np.array(proposals, dtype=np.int64), rng)]
        ids += tokens
        stats["rounds"] += 1
        stats["drafted"] += k_round
        stats["accepted"] += len(tokens) - 1
    return np.array([ids], dtype=np.int64), stats
"""


def spec(id, edits, catches, phrase, status="failed", diagnosis="", append=""):
    return Mutant(id, "5.4", SPEC, edits, catches, phrase, status, append=append,
                  diagnosis=diagnosis)


def line(old, new):
    return ((old, new),)


MUTANTS = [
    # speculative_accept
    spec("accept_ratio_inverted",
         line(TEST, TEST.replace("q[n, x] < p[n, x]", "p[n, x] < q[n, x]")),
         (REJECT, RULE), "kept draft token 3", diagnosis=checks.RULES["inverted"]),
    spec("accept_residual_is_p", line(RESIDUAL, "        residual = p[n]\n"), (REJECT, RULE),
         "max(0, p - q) / Z", diagnosis=checks.RULES["from_p"]),
    spec("accept_residual_q_minus_p",
         line(RESIDUAL, RESIDUAL.replace("p[n] - q[n]", "q[n] - p[n]")),
         (REJECT, RULE), "max(0, p - q) / Z", diagnosis=checks.RULES["q_minus_p"]),
    spec("accept_uniforms_drawn_up_front",
         ((K_LINE, K_LINE + "    us = [rng.random() for _ in range(k)]\n"),
          (TEST, TEST.replace("rng.random()", "us[n]"))),
         (RULE,), "expected", diagnosis=checks.RULES["upfront"]),
    spec("accept_extra_token_from_last_draft_row", line(EXTRA, "        dist = p[k - 1]\n"),
         (KEEP_ALL, RULE), "the extra token is"),
    spec("accept_every_draft", line(TEST, "        if False:\n"), (FIRST, REJECT, RULE),
         "as if every one were accepted"),
    # speculative_generate
    spec("target_cache_not_rolled_back", line(T_ROLLBACK, ""), (GREEDY, SAMPLING), "IndexError",
         status="error"),
    spec("draft_cache_not_rolled_back", line(D_ROLLBACK, ""), (GREEDY, SAMPLING), "(1, 0)",
         status="error"),
    spec("drafted_counts_k_every_round", line(DRAFTED, '        stats["drafted"] += k\n'),
         (GREEDY, SAMPLING), "stats ="),
    spec("greedy_draws_from_rng",
         line(GREEDY_DRAFT, GREEDY_DRAFT.replace("int(np.argmax(logits))",
                                                 "int(np.argmax(logits)) + 0 * rng.random()")),
         (GREEDY,), "drew from rng"),
    spec("ids_int32", line(IDS, IDS.replace("int64", "int32")), (F32, GREEDY, SAMPLING),
         "expected int64"),
    spec("no_kv_cache", (), (CACHES,), "MiB at its peak", append=NO_CACHE),
    spec("vocabularies_not_compared", line(VOCAB, "    if False:\n"), (ERRORS,),
         "expected ValueError"),
]

GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["5.4"], MUTANTS, gaps=GAPS))


def test_wrong_rules_give_other_tokens_on_the_check_inputs():
    """Each wrong rule the checks can name differs from the right one on their random cases,
    so a diagnosis is never stated for a right answer."""
    rng = np.random.default_rng(41)
    differs = dict.fromkeys(checks.RULES, False)
    for case in range(40):
        p, q, drafts = checks._random_case(rng, 1 + case % 4)
        want = checks._accept(p, q, drafts, np.random.default_rng(1000 + case))
        for rule in checks.RULES:
            got = checks._accept(p, q, drafts, np.random.default_rng(1000 + case), rule)
            differs[rule] |= got != want
    assert all(differs.values()), differs


def test_the_chi_square_limit_has_the_stated_tail():
    """P(chi2(6) > 40) = e^-20 (1 + 20 + 200) < 1e-6, as the check's comment says."""
    x = checks.CHI2_LIMIT / 2
    assert np.exp(-x) * (1 + x + x * x / 2) < 1e-6


def test_the_checks_draft_disagrees_with_the_target():
    """The greedy and sampling checks exercise rejections and cache rollbacks: their draft is
    right only part of the time (with the reference's GPT)."""
    from types import SimpleNamespace

    from reference.transformer.gpt import GPT, GPTConfig

    target, draft = checks._models(SimpleNamespace(GPT=GPT, GPTConfig=GPTConfig))
    for k, seed, temperature in ((1, None, 0.0), (3, None, 0.0), (4, None, 0.0), (3, 21, 1.0),
                                 (2, 22, 0.7), (5, 23, 1.0)):
        rng = None if seed is None else np.random.default_rng(seed)
        _, stats = checks._generate(target, draft, checks.PROMPT, 18, k, rng, temperature)
        assert 0 < stats["accepted"] < stats["drafted"], stats
