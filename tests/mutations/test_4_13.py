"""Mutation tests of 4.13 (Few-shot, chain-of-thought, self-consistency): every check of the
exercise fails on a plausible student bug, and its message names the bug.  The harness and
its conventions: `tests/mutation.py`.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)

from grader.course import LLM_FUNDAMENTALS

PACKAGE = LLM_FUNDAMENTALS.package  # mutants edit files of reference/llm/

P = "prompting.py"

FS_EXAMPLES = '    blocks += [f"Q: {x}\\nA: {y}" for x, y in examples]\n'
FS_QUERY = '    blocks.append(f"Q: {query}\\nA:")  # the model writes the answer\n'
FS_JOIN = '    return "\\n\\n".join(blocks)\n    ### END SOLUTION\n\n\ndef chain_of_thought_prompt'
FS_INSTR = ('    blocks = [] if instruction is None else [instruction]\n'
            '    blocks += [f"Q: {x}\\nA: {y}"')
COT_EXAMPLES = '    blocks += [f"Q: {x}\\nA: {r} {ANSWER_PHRASE}{a}." for x, r, a in examples]\n'
COT_QUERY = '    blocks.append(f"Q: {query}\\nA:")\n'
COT_INSTR = ('    blocks = [] if instruction is None else [instruction]\n'
             '    blocks += [f"Q: {x}\\nA: {r}')
COT_JOIN = '    return "\\n\\n".join(blocks)\n    ### END SOLUTION\n\n\ndef extract_answer'
VOTES = "    votes = Counter(a for a in answers if a is not None)  # counts in first-seen order\n"
EMPTY = "    if not votes:\n        return None, 0\n"
TOP = "    answer, count = votes.most_common(1)[0]  # ties keep first-seen order\n"
RETURN = "    return answer, count\n"

FS_QUERY_IN_PLACE = """
def few_shot_prompt(examples, query, instruction=None):
    _check_examples(examples, 2, "few_shot_prompt", "(input, output)")
    examples.append((query, ""))  # the query as a last, unanswered example
    blocks = [] if instruction is None else [instruction]
    blocks += [f"Q: {x}\\nA: {y}".rstrip() for x, y in examples]
    return "\\n\\n".join(blocks)
"""

SC_REMOVES_NONE = """
_self_consistency = self_consistency

def self_consistency(answers):
    while None in answers:  # drops the unparseable answers from the caller's list
        answers.remove(None)
    return _self_consistency(answers)
"""

FS_NO_VALIDATION = """
def few_shot_prompt(examples, query, instruction=None):  # the given checks dropped
    blocks = [] if instruction is None else [instruction]
    blocks += [f"Q: {x}\\nA: {y}" for x, y in examples]
    blocks.append(f"Q: {query}\\nA:")
    return "\\n\\n".join(blocks)
"""

FS_DEFAULT_INSTRUCTION = """
def few_shot_prompt(examples, query, instruction=""):  # "" instead of None: an empty block
    blocks = [instruction] + [f"Q: {x}\\nA: {y}" for x, y in examples]
    blocks.append(f"Q: {query}\\nA:")
    return "\\n\\n".join(blocks)
"""

MUTANTS = [
    # few_shot_prompt
    Mutant("fs_single_newline", "4.13", P,
           ((FS_JOIN, FS_JOIN.replace('"\\n\\n"', '"\\n"')),),
           ("few_shot_prompt_exact_format", "few_shot_prompt_instruction_and_zero_shot"),
           "exactly one blank line"),
    Mutant("fs_reversed", "4.13", P,
           ((FS_EXAMPLES, FS_EXAMPLES.replace("in examples", "in reversed(examples)")),),
           ("few_shot_prompt_exact_format", "few_shot_prompt_instruction_and_zero_shot"),
           "wrong order", diagnosis="the blocks are reordered"),
    Mutant("fs_trailing_space", "4.13", P,
           ((FS_QUERY, FS_QUERY.replace('A:"', 'A: "')),),
           ("few_shot_prompt_exact_format", "few_shot_prompt_instruction_and_zero_shot"),
           "not even a space",
           diagnosis="whitespace after the final 'A:'"),
    Mutant("fs_leaked_answer", "4.13", P,
           ((FS_EXAMPLES, "    for x, y in examples:\n"
                          "        blocks.append(f\"Q: {x}\\nA: {y}\")\n"),
            (FS_QUERY, '    blocks.append(f"Q: {query}\\nA: {y}")\n')),
           ("few_shot_prompt_exact_format",), "after the final 'A:'",
           diagnosis="an answer leaked"),
    Mutant("fs_leaked_answer_given_examples", "4.13", P,
           ((FS_EXAMPLES, "    y = ''\n    for x, y in examples:\n"
                          "        blocks.append(f\"Q: {x}\\nA: {y}\")\n"),
            (FS_QUERY, '    blocks.append(f"Q: {query}\\nA: {y}".rstrip())\n')),
           ("few_shot_prompt_exact_format",), "after the final 'A:'",
           diagnosis="an answer leaked"),
    Mutant("fs_instruction_ignored", "4.13", P,
           ((FS_INSTR, FS_INSTR.replace("[] if instruction is None else [instruction]", "[]")),),
           ("few_shot_prompt_instruction_and_zero_shot",), "The instruction is the first block"),
    Mutant("fs_instruction_last", "4.13", P,
           ((FS_QUERY, FS_QUERY + "    blocks = blocks[1:] + blocks[:1] if instruction "
                                  "else blocks\n"),),
           ("few_shot_prompt_instruction_and_zero_shot",), "The instruction is the first block"),
    Mutant("fs_no_space_after_colon", "4.13", P,
           ((FS_EXAMPLES, FS_EXAMPLES.replace("A: {y}", "A:{y}")),),
           ("few_shot_prompt_exact_format", "few_shot_prompt_instruction_and_zero_shot"),
           "character for character"),
    # chain_of_thought_prompt
    Mutant("cot_no_period", "4.13", P,
           ((COT_EXAMPLES, COT_EXAMPLES.replace("{a}.", "{a}")),),
           ("chain_of_thought_prompt_exact_format",
            "chain_of_thought_prompt_instruction_and_zero_shot"), "a period"),
    Mutant("cot_answer_on_new_line", "4.13", P,
           ((COT_EXAMPLES, COT_EXAMPLES.replace("{r} {ANSWER", "{r}\\n{ANSWER")),),
           ("chain_of_thought_prompt_exact_format",
            "chain_of_thought_prompt_instruction_and_zero_shot"), "character for character"),
    Mutant("cot_answer_before_reasoning", "4.13", P,
           ((COT_EXAMPLES, COT_EXAMPLES.replace("{r} {ANSWER_PHRASE}{a}.",
                                                "{ANSWER_PHRASE}{a}. {r}")),),
           ("chain_of_thought_prompt_exact_format",
            "chain_of_thought_prompt_instruction_and_zero_shot"), "BEFORE the answer"),
    Mutant("cot_answer_colon", "4.13", P,
           ((COT_EXAMPLES, COT_EXAMPLES.replace("{ANSWER_PHRASE}{a}", "The answer is: {a}")),),
           ("chain_of_thought_prompt_exact_format",
            "chain_of_thought_prompt_instruction_and_zero_shot"), "the exact phrase"),
    Mutant("cot_leaked_answer", "4.13", P,
           ((COT_QUERY, '    blocks.append(f"Q: {query}\\nA: {examples[-1][1]}" if examples '
                        'else f"Q: {query}\\nA:")\n'),),
           ("chain_of_thought_prompt_exact_format",
            "chain_of_thought_prompt_instruction_and_zero_shot"), "leaked",
           diagnosis="an answer leaked"),
    Mutant("cot_trailing_space", "4.13", P,
           ((COT_QUERY, COT_QUERY.replace('A:"', 'A: "')),),
           ("chain_of_thought_prompt_exact_format",
            "chain_of_thought_prompt_instruction_and_zero_shot"), "not even a space",
           diagnosis="whitespace after the final 'A:'"),
    Mutant("cot_single_newline", "4.13", P,
           ((COT_JOIN, COT_JOIN.replace('"\\n\\n"', '"\\n"')),),
           ("chain_of_thought_prompt_exact_format",
            "chain_of_thought_prompt_instruction_and_zero_shot"), "exactly one blank line"),
    Mutant("cot_instruction_ignored", "4.13", P,
           ((COT_INSTR, COT_INSTR.replace("[] if instruction is None else [instruction]",
                                          "[]")),),
           ("chain_of_thought_prompt_instruction_and_zero_shot",),
           "The instruction is the first block"),
    # self_consistency
    Mutant("sc_none_counted", "4.13", P,
           ((VOTES, "    votes = Counter(answers)\n"),),
           ("self_consistency_majority_ignores_none",), "ignore None"),
    Mutant("sc_empty_crashes", "4.13", P, ((EMPTY, ""),),
           ("self_consistency_majority_ignores_none",), "", status="error"),
    Mutant("sc_answer_only", "4.13", P, ((RETURN, "    return answer\n"),),
           ("self_consistency_majority_ignores_none", "self_consistency_ties_first_occurrence"),
           "the pair (answer, votes)"),
    Mutant("sc_votes_include_none", "4.13", P,
           ((TOP, TOP + "    count += sum(a is None for a in answers)\n"),),
           ("self_consistency_majority_ignores_none",), "vote count is not"),
    Mutant("sc_set_order", "4.13", P,
           ((TOP, "    valid = [a for a in answers if a is not None]\n"
                  "    answer = max(set(valid), key=valid.count)\n"
                  "    count = votes[answer]\n"),),
           ("self_consistency_ties_first_occurrence",), "occurs first"),
    Mutant("sc_smallest_wins", "4.13", P,
           ((TOP, "    answer, count = min(votes.items(), key=lambda kv: (-kv[1], kv[0]))\n"),),
           ("self_consistency_ties_first_occurrence",), "occurs first"),
    Mutant("sc_last_wins", "4.13", P,
           ((TOP, "    answer, count = max(reversed(list(votes.items())), "
                  "key=lambda kv: kv[1])\n"),),
           ("self_consistency_ties_first_occurrence",), "occurs first"),
    Mutant("sc_first_to_reach_top", "4.13", P,
           ((TOP, "    top = max(votes.values())\n    seen = Counter()\n"
                  "    for answer in (a for a in answers if a is not None):\n"
                  "        seen[answer] += 1\n"
                  "        if seen[answer] == top:\n"
                  "            break\n"
                  "    count = top\n"),),
           ("self_consistency_ties_first_occurrence",), "occurs first"),
    Mutant("sc_random_tie", "4.13", P,
           ((TOP, "    import random\n    top = max(votes.values())\n"
                  "    answer = random.choice([a for a, c in votes.items() if c == top])\n"
                  "    count = top\n"),),
           ("self_consistency_ties_first_occurrence",), ""),
    # appended bugs (inputs changed in place, stated errors)
    Mutant("fs_query_appended_to_examples", "4.13", P, (), ("few_shot_prompt_exact_format",),
           "changed its argument 1 in place", append=FS_QUERY_IN_PLACE),
    Mutant("sc_removes_none_in_place", "4.13", P, (),
           ("self_consistency_majority_ignores_none",), "changed its argument 1 in place",
           append=SC_REMOVES_NONE),
    Mutant("fs_no_validation", "4.13", P, (), ("prompts_refuse_bad_input",),
           "expected TypeError", append=FS_NO_VALIDATION),
    Mutant("fs_default_instruction_empty", "4.13", P, (),
           ("few_shot_prompt_exact_format", "few_shot_prompt_instruction_and_zero_shot"),
           "returned", append=FS_DEFAULT_INSTRUCTION),
]

GAPS: dict[str, str] = {}

DIAGNOSED = [
    ("sc_none_counted", "self_consistency_majority_ignores_none", "ignore None", "vote count"),
    ("fs_reversed", "few_shot_prompt_exact_format", "wrong order", "blank line"),
]

DIAGNOSIS_GAPS: dict[str, str] = {}

NOT_BLAMED = [
    ("fs_reversed", "chain_of_thought_prompt_exact_format", "wrong order"),
    ("cot_no_period", "few_shot_prompt_exact_format", "period"),
]


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["4.13"], MUTANTS, gaps=GAPS, diagnosed=DIAGNOSED,
                                diagnosis_gaps=DIAGNOSIS_GAPS, not_blamed=NOT_BLAMED))
