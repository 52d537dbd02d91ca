"""Prompting: few-shot and chain-of-thought prompts, self-consistency (exercise 4.13).

A prompt is plain text that a model continues. The formats are fixed, character for
character, because a model is sensitive to them (lecture, §16):

Few-shot (Brown et al., 2020), for examples ``[("2+2", "4"), ("3+5", "8")]`` and query
``"1+6"``::

    Q: 2+2
    A: 4

    Q: 3+5
    A: 8

    Q: 1+6
    A:

that is ``"Q: 2+2\\nA: 4\\n\\nQ: 3+5\\nA: 8\\n\\nQ: 1+6\\nA:"``: each example is
``"Q: {input}\\nA: {output}"``, blocks are separated by one blank line (``"\\n\\n"``), the
examples come in the order given, and the prompt ends with the query's ``"Q: {query}\\nA:"``
with no space and nothing after the colon: the model writes the answer. An optional
instruction comes first, as its own block: ``"{instruction}\\n\\n"`` then the examples.

Chain of thought (Wei et al., 2022): the same layout, but each example's answer is its
reasoning followed by the answer sentence, ``"A: {reasoning} The answer is {answer}."``
(one space between the reasoning and ``"The answer is"``). ``extract_answer`` (given) reads
the answer back out of a completion.

Self-consistency (Wang et al., 2023): sample several completions, extract their answers and
take the majority vote with ``self_consistency``.
"""

from collections import Counter

ANSWER_PHRASE = "The answer is "


def _check_examples(examples, size, fn_name, what):
    """``examples`` as a list of ``size``-tuples of strings (given, not an exercise)."""
    if isinstance(examples, str) or not isinstance(examples, (list, tuple)):
        raise TypeError(f"{fn_name}: examples must be a list of {what} tuples, got "
                        f"{type(examples).__name__}")
    for i, example in enumerate(examples):
        if not isinstance(example, (list, tuple)) or len(example) != size \
                or not all(isinstance(part, str) for part in example):
            raise ValueError(f"{fn_name}: example {i} must be a {what} tuple of strings, got "
                             f"{example!r:.80}")
    return [tuple(example) for example in examples]


def _check_text(value, name, fn_name):
    if not isinstance(value, str):
        raise TypeError(f"{fn_name}: {name} must be a str, got {type(value).__name__}")


def few_shot_prompt(examples, query, instruction=None):
    """A few-shot prompt: the examples as question/answer blocks, then the query (4.13).

    Format (see the module docstring)::

        [{instruction}\\n\\n]Q: {x_1}\\nA: {y_1}\\n\\n ... Q: {x_n}\\nA: {y_n}\\n\\nQ: {query}\\nA:

    With no examples (zero-shot) the prompt is ``"Q: {query}\\nA:"`` (after the instruction,
    if any).

    Args:
        examples: list of ``(input, output)`` pairs of strings, in the order to show them.
        query: the input to answer (str).
        instruction: optional str, a task description placed first, followed by a blank line.

    Returns:
        The prompt (str), ending with ``"A:"``.

    Raises:
        TypeError: if ``examples`` is not a list/tuple, or query/instruction is not a str.
        ValueError: if an example is not a pair of strings.
    """
    examples = _check_examples(examples, 2, "few_shot_prompt", "(input, output)")
    _check_text(query, "query", "few_shot_prompt")
    if instruction is not None:
        _check_text(instruction, "instruction", "few_shot_prompt")
    raise NotImplementedError(
        "Exercise 4.13 (few_shot_prompt) is not implemented yet; "
        "see lectures/04_llm_fundamentals/theory.md#16-prompting"
    )


def chain_of_thought_prompt(examples, query, instruction=None):
    """A chain-of-thought prompt: worked examples with their reasoning, then the query (4.13).

    As ``few_shot_prompt``, but the answer of example i is ``"{reasoning_i} The answer is
    {answer_i}."``::

        [{instruction}\\n\\n]Q: {x_1}\\nA: {r_1} The answer is {a_1}.\\n\\n ... Q: {query}\\nA:

    Args:
        examples: list of ``(input, reasoning, answer)`` triples of strings, in order.
        query: the input to answer (str).
        instruction: optional str, placed first, followed by a blank line.

    Returns:
        The prompt (str), ending with ``"A:"``.

    Raises:
        TypeError: if ``examples`` is not a list/tuple, or query/instruction is not a str.
        ValueError: if an example is not a triple of strings.
    """
    examples = _check_examples(examples, 3, "chain_of_thought_prompt",
                               "(input, reasoning, answer)")
    _check_text(query, "query", "chain_of_thought_prompt")
    if instruction is not None:
        _check_text(instruction, "instruction", "chain_of_thought_prompt")
    raise NotImplementedError(
        "Exercise 4.13 (chain_of_thought_prompt) is not implemented yet; "
        "see lectures/04_llm_fundamentals/theory.md#16-prompting"
    )


def extract_answer(completion):
    """The answer stated in a chain-of-thought completion, or None (given, not an exercise).

    The answer is the text after the first ``"The answer is "``, up to the end of that line,
    with surrounding whitespace and one final ``"."`` removed: ``"3+4 is 7. The answer is
    7.\\n\\nQ: ..."`` gives ``"7"``. None when the phrase is missing or nothing follows it (an
    unparseable completion: ``self_consistency`` ignores it).
    """
    _check_text(completion, "completion", "extract_answer")
    start = completion.find(ANSWER_PHRASE)
    if start < 0:
        return None
    answer = completion[start + len(ANSWER_PHRASE):].split("\n", 1)[0].strip()
    if answer.endswith("."):
        answer = answer[:-1].rstrip()
    return answer or None


def self_consistency(answers):
    """Majority vote over the answers of several sampled reasoning paths (4.13).

    ``None`` entries (completions whose answer could not be parsed) are ignored: they are
    not a candidate and do not count. Answers are compared with ``==`` (they must be
    hashable, e.g. str or int). Ties are broken deterministically: among the answers with
    the most votes, the one that occurs FIRST in ``answers`` wins (``["b", "a", "a", "b"]``
    gives ``("b", 2)``). This does not depend on hashing or set order, so the same list
    always gives the same answer.

    Args:
        answers: list (or other iterable) of hashable answers, ``None`` for unparseable ones.

    Returns:
        ``(answer, votes)``: the winning answer and its number of votes; ``(None, 0)`` when
        there is no answer that is not None.
    """
    raise NotImplementedError(
        "Exercise 4.13 (self_consistency) is not implemented yet; "
        "see lectures/04_llm_fundamentals/theory.md#16-prompting"
    )
