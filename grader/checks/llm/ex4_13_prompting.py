"""Checks of exercise 4.13: few-shot and chain-of-thought prompts, self-consistency.

The prompts are compared, character for character, with strings written out by hand below
(the format of the docstrings of `prompting.py`); a mismatch is explained by the first block
that differs. `self_consistency` is checked on hand-counted votes, and its tie rule (the tied
answer that occurs first in the list wins) on many ties in both orders: a tie broken by set
or dict order of hashed strings, by the smallest answer or at random gets some of them wrong.
No fixtures: every expected value is written here.
"""

from __future__ import annotations

from ... import expect
from .. import check
from .common import call_unchanged

EXAMPLES = [("2+2", "4"), ("3+5", "8"), ("7+1", "8!")]


FEW_SHOT = "Q: 2+2\nA: 4\n\nQ: 3+5\nA: 8\n\nQ: 7+1\nA: 8!\n\nQ: 1+6\nA:"


COT_EXAMPLES = [
    ("12+9", "2+9 is 11, write 1 carry 1; 1+0+1 is 2.", "21"),
    ("5+5", "5+5 is 10, write 0 carry 1; the carry is 1.", "10"),
]


COT = ("Q: 12+9\nA: 2+9 is 11, write 1 carry 1; 1+0+1 is 2. The answer is 21.\n\n"
       "Q: 5+5\nA: 5+5 is 10, write 0 carry 1; the carry is 1. The answer is 10.\n\n"
       "Q: 4+8\nA:")


def _prompt(value, fn_name: str) -> str:
    if not isinstance(value, str):
        expect.fail(f"4.13: {fn_name} should return the prompt as one str, got "
                    f"{type(value).__name__} {value!r:.60}.")
    return value


def _expect_prompt(got, expected: str, fn_name: str, call: str, query: str,
                   instruction: str | None = None) -> None:
    """`got` must equal `expected`; otherwise say how it differs (leak, trailing space,
    separators, order, then the first block that differs)."""
    got = _prompt(got, fn_name)
    if got == expected:
        return
    head = f"4.13: {call} returned\n  {got!r}\nexpected\n  {expected!r}\n"
    tail = f"Q: {query}\nA:"
    if got.startswith(expected):
        extra = got[len(expected):]
        if not extra.strip():
            expect.fail(head + f"It ends with {extra!r} after the final 'A:': nothing comes after "
                        "the colon, not even a space (the model writes ' answer' itself; a "
                        "trailing space changes how the answer is tokenized). "
                        + expect.cause("whitespace after the final 'A:'"))
        expect.fail(head + f"It has {extra!r} after the final 'A:'. The prompt ends with "
                    "'A:'; the model writes the answer (a loop variable left over from the "
                    "examples?). " + expect.cause("an answer leaked into the query's block"))
    if instruction is not None and not got.startswith(instruction + "\n\n"):
        expect.fail(head + "The instruction is the first block of the prompt, followed by a "
                    "blank line ('\\n\\n'), then the examples and the query.")
    last = got.rsplit("\n\n", 1)[-1]
    if last.startswith(tail) and last != tail:
        expect.fail(head + f"The query's block is {last!r}: there is text after the final "
                    f"'A:', so the answer leaked into the prompt. The prompt ends with {tail!r}; "
                    "the model writes the answer.")
    if not got.endswith(tail):
        expect.fail(head + f"The prompt should end with the query's block {tail!r} (nothing "
                    "after the colon): the model continues from there.")
    got_blocks, want_blocks = got.split("\n\n"), expected.split("\n\n")
    if len(got_blocks) != len(want_blocks):
        expect.fail(head + f"It has {len(got_blocks)} blocks separated by a blank line, expected "
                    f"{len(want_blocks)}: each example (and the instruction, if any) is one "
                    "block 'Q: ...\\nA: ...', and blocks are joined by exactly one blank line, "
                    "'\\n\\n' (missing separators run the examples together).")
    if sorted(got_blocks) == sorted(want_blocks):
        expect.fail(head + "The blocks are right but in the wrong order: the examples come in "
                    "the order given (the instruction first, the query last). "
                    + expect.cause("the blocks are reordered (reversed or sorted)"))
    i = next(i for i, (g, w) in enumerate(zip(got_blocks, want_blocks)) if g != w)
    expect.fail(head + f"Block {i} is {got_blocks[i]!r}, expected {want_blocks[i]!r}: the "
                "format is exact, character for character (see the docstring).")


@check("4.13")
def few_shot_prompt_exact_format(impl):
    """few_shot_prompt: 'Q: x\\nA: y' blocks in order, '\\n\\n' between, ends with 'Q: q\\nA:'"""
    got = _call(impl, "few_shot_prompt", EXAMPLES, "1+6")
    _expect_prompt(got, FEW_SHOT, "few_shot_prompt", "few_shot_prompt(examples, '1+6')", "1+6")
    # the query may repeat an example's input: still one more block, still no answer
    got = _call(impl, "few_shot_prompt", [("hi", "bonjour")], "hi")
    _expect_prompt(got, "Q: hi\nA: bonjour\n\nQ: hi\nA:", "few_shot_prompt",
                   "few_shot_prompt([('hi', 'bonjour')], 'hi')", "hi")


@check("4.13")
def few_shot_prompt_instruction_and_zero_shot(impl):
    """few_shot_prompt: the instruction is the first block; no examples gives 'Q: q\\nA:'"""
    got = _call(impl, "few_shot_prompt", [], "capital of France?")
    _expect_prompt(got, "Q: capital of France?\nA:", "few_shot_prompt",
                   "few_shot_prompt([], 'capital of France?') (zero-shot)", "capital of France?")
    instruction = "Translate English to French."
    got = _call(impl, "few_shot_prompt", [("cheese", "fromage"), ("dog", "chien")], "cat",
                               instruction=instruction)
    expected = ("Translate English to French.\n\nQ: cheese\nA: fromage\n\nQ: dog\nA: chien\n\n"
                "Q: cat\nA:")
    _expect_prompt(got, expected, "few_shot_prompt", "few_shot_prompt(..., instruction=...)",
                   "cat", instruction)
    got = _call(impl, "few_shot_prompt", [], "cat", instruction=instruction)
    _expect_prompt(got, "Translate English to French.\n\nQ: cat\nA:", "few_shot_prompt",
                   "few_shot_prompt([], 'cat', instruction=...)", "cat", instruction)


@check("4.13")
def chain_of_thought_prompt_exact_format(impl):
    """chain_of_thought_prompt: 'A: {reasoning} The answer is {answer}.' per example"""
    got = _call(impl, "chain_of_thought_prompt", COT_EXAMPLES, "4+8")
    got = _prompt(got, "chain_of_thought_prompt")
    if got != COT and "The answer is 21." not in got:
        expect.fail(f"4.13: chain_of_thought_prompt(examples, '4+8') returned\n  {got!r}\n"
                    f"expected\n  {COT!r}\nEach example's answer line is '{{reasoning}} The "
                    "answer is {answer}.': one space after the reasoning, the exact phrase "
                    "'The answer is ', then the answer and a period (extract_answer relies on "
                    "it).")
    if got != COT and "The answer is 21." in got and got.find("The answer is 21.") < got.find(
            "write 1 carry 1"):
        expect.fail(f"4.13: chain_of_thought_prompt(examples, '4+8') returned\n  {got!r}\n"
                    f"expected\n  {COT!r}\nThe reasoning comes BEFORE the answer: the point of "
                    "a chain of thought is that the model writes the steps first and the answer "
                    "last, conditioned on them.")
    _expect_prompt(got, COT, "chain_of_thought_prompt", "chain_of_thought_prompt(examples, "
                   "'4+8')", "4+8")


@check("4.13")
def chain_of_thought_prompt_instruction_and_zero_shot(impl):
    """chain_of_thought_prompt: instruction first, '\\n\\n'; no examples gives 'Q: q\\nA:'"""
    got = _call(impl, "chain_of_thought_prompt", [], "4+8")
    _expect_prompt(got, "Q: 4+8\nA:", "chain_of_thought_prompt",
                   "chain_of_thought_prompt([], '4+8') (zero-shot)", "4+8")
    got = _call(impl, "chain_of_thought_prompt", COT_EXAMPLES[1:], "9+9",
                instruction="Add the numbers.")
    expected = ("Add the numbers.\n\nQ: 5+5\nA: 5+5 is 10, write 0 carry 1; the carry is 1. "
                "The answer is 10.\n\nQ: 9+9\nA:")
    _expect_prompt(got, expected, "chain_of_thought_prompt",
                   "chain_of_thought_prompt(examples, '9+9', instruction='Add the numbers.')",
                   "9+9", "Add the numbers.")


def _call(impl, fn_name: str, examples, *args, **kwargs):
    """A prompt function on a copy of `examples`, which it must leave unchanged."""
    return call_unchanged(getattr(impl, fn_name), fn_name, list(examples), *args, **kwargs)


def _vote(impl, answers: list, what: str = ""):
    call = f"self_consistency({answers!r})"
    result = call_unchanged(impl.self_consistency, "self_consistency", list(answers))
    if not (isinstance(result, tuple) and len(result) == 2):
        expect.fail(f"4.13: {call} returned {result!r}; it should return the pair (answer, "
                    "votes): the winning answer and its number of votes.")
    answer, votes = result
    if isinstance(votes, bool) or not isinstance(votes, int):
        expect.fail(f"4.13: {call} returned votes = {votes!r} ({type(votes).__name__}); votes "
                    "is an int, the number of entries equal to the winning answer.")
    return answer, votes


@check("4.13")
def self_consistency_majority_ignores_none(impl):
    """self_consistency: the most frequent answer and its count; None is never counted"""
    cases = [
        (["7", "3", "7", "3", "7"], ("7", 3), ""),
        ([41, 42, 42], (42, 2), "Answers can be any hashable values, ints too."),
        ([None, None, None, "5", "5"], ("5", 2),
         "None marks an unparseable completion: it is ignored, never a candidate (three "
         "failures to parse are not an answer)."),
        (["12", None, "13", None, "13", None], ("13", 2),
         "None marks an unparseable completion: it is ignored and does not count."),
        ([None, None], (None, 0),
         "With no parseable answer the result is (None, 0): None is not a vote."),
        ([], (None, 0), "An empty list gives (None, 0)."),
    ]
    for answers, expected, hint in cases:
        got = _vote(impl, answers)
        if got != expected:
            hint = hint or "Count each distinct answer (e.g. collections.Counter) and take the " \
                           "one with the most votes."
            if got[0] is None and expected[0] is not None:
                hint = ("None won the vote: ignore None entries (unparseable completions) "
                        "before counting.")
            elif got[0] == expected[0]:
                hint = ("The answer is right but the vote count is not: votes is the number of "
                        "entries equal to the answer (None entries do not count).")
            expect.fail(f"4.13: self_consistency({answers!r}) returned {got!r}, expected "
                        f"{expected!r}. {hint}")


# Ties in both orders: the tied answer that occurs first must win, whatever the strings'
# hashes (set and dict-key order of str varies with PYTHONHASHSEED) or their sort order.
TIE_PAIRS = [("b", "a"), ("17", "9"), ("cat", "dog"), ("x7", "x12"), ("no", "yes"),
             ("1024", "0.5"), ("beta", "alpha"), ("Paris", "Lyon"), ("-3", "3"), ("e", "pi")]


@check("4.13")
def self_consistency_ties_first_occurrence(impl):
    """self_consistency: a tie goes to the tied answer that occurs first, every time"""
    rule = ("Break ties by first occurrence in the list (collections.Counter.most_common keeps "
            "first-seen order; max over a dict in insertion order does too), not by set order, "
            "sorting or chance.")
    for answers, winner in [(["b", "a", "a", "b"], "b"), ([5, 2, 2, 5], 5),
                            ([None, "y", "x", "x", None, "y"], "y"),
                            (["a", "c", "b", "c", "b"], "c")]:
        got = _vote(impl, answers)
        if got != (winner, 2):
            expect.fail(f"4.13: self_consistency({answers!r}) returned {got!r}, expected "
                        f"({winner!r}, 2): the tied answers have 2 votes each and {winner!r} "
                        f"occurs first. {rule}")
    for first, second in TIE_PAIRS:
        for answers in ([first, second], [second, first], [first, second, second, first],
                        [None, second, first, first, second]):
            want = next(a for a in answers if a is not None)
            results = {_vote(impl, answers) for _ in range(3)}
            if len(results) > 1:
                expect.fail(f"4.13: self_consistency({answers!r}) returned different results "
                            f"on repeated calls: {sorted(results, key=repr)}. The vote must be "
                            f"deterministic. {rule}")
            got = results.pop()
            if got[0] != want:
                expect.fail(f"4.13: self_consistency({answers!r}) returned {got!r}: the answers "
                            f"are tied and {want!r} occurs first, so it wins. {rule}")


@check("4.13")
def prompts_refuse_bad_input(impl):
    """TypeError: examples not a list, a query or instruction not a str; ValueError: an
    example that is not a pair (few-shot) or a triple (chain of thought) of strings"""
    # the given code raises these errors: points only once the function itself runs (a stub
    # raises NotImplementedError here)
    impl.few_shot_prompt([("2+2", "4")], "1+6")
    impl.chain_of_thought_prompt([("2+2", "2 and 2.", "4")], "1+6")
    for fn_name, good, bad in (("few_shot_prompt", [("2+2", "4")], [("2+2", 4)]),
                               ("chain_of_thought_prompt", [("2+2", "2 and 2.", "4")],
                                [("2+2", "2 and 2.", 4)])):
        fn = getattr(impl, fn_name)
        expect.raises(fn, TypeError, f"4.13: {fn_name} with examples given as one str",
                      "Q: 2+2\nA: 4", "1+6")
        expect.raises(fn, TypeError, f"4.13: {fn_name} with the query 42 (not a str)", good, 42)
        expect.raises(fn, TypeError, f"4.13: {fn_name} with an instruction that is a list",
                      good, "1+6", instruction=["Add."])
        expect.raises(fn, ValueError, f"4.13: {fn_name} with the example {bad[0]!r} (the "
                      "answer is an int)", bad, "1+6")
    expect.raises(impl.few_shot_prompt, ValueError, "4.13: few_shot_prompt with a triple as "
                  "an example", [("2+2", "2 and 2.", "4")], "1+6")
