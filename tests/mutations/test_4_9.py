"""Mutation tests of 4.9 (Chat template and SFT loss mask): every check of the exercise
fails on a plausible student bug, and its message names the bug.  The harness and its
conventions: `tests/mutation.py`.
"""

from __future__ import annotations

from mutation import Mutant, standard_tests

from grader.course import LLM_FUNDAMENTALS

PACKAGE = LLM_FUNDAMENTALS.package  # mutants edit files of reference/llm/

EXERCISE = "4.9"
SFT = "sft.py"

TURN = '    text = "".join(header(m["role"]) + m["content"] + END + "\\n" for m in messages)\n'
GEN = '        text += header("assistant")\n'
ROLE = '        is_assistant = m["role"] == "assistant"\n'
HEADER_SEG = ('        for text, train in ((header(m["role"]), False), '
              '(m["content"], is_assistant),\n')
END_SEG = '                            (END, is_assistant), ("\\n", False)):\n'
ENCODE = "            piece = [int(i) for i in tokenizer.encode(text)]\n"
TRAINED = "            trained += [train] * len(piece)\n"
TARGETS = "    targets = np.where(trained[1:], ids[1:], IGNORE)  # target t is token t + 1\n"
RETURN = "    return ids[:-1], targets.astype(np.int64)\n"

TEXT, GEN_PROMPT = "template_text", "template_generation_prompt"
ONLY_ASSISTANT, EVERY_TURN, TOKENS = ("mask_trains_only_assistant_tokens",
                                      "mask_every_assistant_turn",
                                      "mask_counts_tokens_not_characters")

MUTANTS = [
    # the template
    Mutant("header_without_newline", EXERCISE, SFT,
           ((TURN, TURN.replace('header(m["role"])', '"<|" + m["role"] + "|>"')),),
           (TEXT, GEN_PROMPT), "differs from the template"),
    Mutant("no_newline_after_end", EXERCISE, SFT,
           ((TURN, TURN.replace(' + "\\n" for', " for")),),
           (TEXT, GEN_PROMPT), "a newline after the header and after <|end|>"),
    Mutant("role_capitalised", EXERCISE, SFT,
           ((TURN, TURN.replace('header(m["role"])', 'header(m["role"].capitalize())')),),
           (TEXT, GEN_PROMPT), "role in lower case"),
    Mutant("turns_joined_by_newline", EXERCISE, SFT,
           ((TURN, TURN.replace('"".join', '"\\n".join')),), (TEXT,), "nothing else between"),
    Mutant("no_generation_prompt", EXERCISE, SFT, ((GEN, "        pass\n"),),
           (GEN_PROMPT,), "did not add the assistant header"),
    Mutant("generation_prompt_without_newline", EXERCISE, SFT,
           ((GEN, '        text += "<|assistant|>"\n'),), (GEN_PROMPT,), "differs from"),
    # the mask
    Mutant("loss_on_all_tokens", EXERCISE, SFT,
           ((TRAINED, "            trained += [True] * len(piece)\n"),),
           (ONLY_ASSISTANT, EVERY_TURN, TOKENS), "loss on prompt tokens"),
    Mutant("loss_on_user_content", EXERCISE, SFT,
           ((HEADER_SEG, HEADER_SEG.replace('(m["content"], is_assistant)',
                                            '(m["content"], m["role"] != "system")')),),
           (ONLY_ASSISTANT, EVERY_TURN, TOKENS), "loss on prompt tokens"),
    Mutant("loss_on_system_prompt", EXERCISE, SFT,
           ((HEADER_SEG, HEADER_SEG.replace('(m["content"], is_assistant)',
                                            '(m["content"], m["role"] != "user")')),),
           (ONLY_ASSISTANT,), "loss on prompt tokens"),
    Mutant("assistant_header_counted", EXERCISE, SFT,
           ((HEADER_SEG, HEADER_SEG.replace('(header(m["role"]), False)',
                                            '(header(m["role"]), is_assistant)')),),
           (ONLY_ASSISTANT, EVERY_TURN, TOKENS), "the assistant header is counted"),
    Mutant("end_of_turn_not_trained", EXERCISE, SFT,
           ((END_SEG, END_SEG.replace("(END, is_assistant)", "(END, False)")),),
           (ONLY_ASSISTANT, EVERY_TURN, TOKENS), "end-of-turn token is not trained"),
    Mutant("separator_trained", EXERCISE, SFT,
           ((END_SEG, END_SEG.replace('("\\n", False)', '("\\n", is_assistant)')),),
           (ONLY_ASSISTANT, EVERY_TURN, TOKENS), "newline after <|end|> is the template"),
    Mutant("mask_off_by_one", EXERCISE, SFT,
           ((TARGETS, "    targets = np.where(trained[:-1], ids[1:], IGNORE)\n"),),
           (ONLY_ASSISTANT, EVERY_TURN, TOKENS), "off by one"),
    Mutant("targets_not_shifted", EXERCISE, SFT,
           ((TARGETS, "    targets = np.where(trained[1:], ids[:-1], IGNORE)\n"),),
           (ONLY_ASSISTANT, EVERY_TURN, TOKENS), "not shifted"),
    Mutant("inputs_all_tokens", EXERCISE, SFT,
           ((RETURN, "    return ids, np.append(targets, IGNORE).astype(np.int64)\n"),),
           (ONLY_ASSISTANT, EVERY_TURN, TOKENS), "inputs has all N"),
    Mutant("only_last_assistant_turn", EXERCISE, SFT,
           ((ROLE, '        is_assistant = m is [x for x in messages '
                   'if x["role"] == "assistant"][-1]\n'),),
           (EVERY_TURN,), "only the last assistant turn is trained"),
    Mutant("content_encoded_letter_by_letter", EXERCISE, SFT,
           ((ENCODE, "            piece = [int(i) for c in ([text] if text in SPECIAL_TOKENS "
                     "else text) for i in tokenizer.encode(c)]\n"),),
           (TOKENS,), "expected ids[:-1]"),
]

GAPS: dict[str, str] = {}

DIAGNOSED = [
    ("mask_off_by_one", ONLY_ASSISTANT, "off by one", "not shifted"),
    ("assistant_header_counted", EVERY_TURN, "header is counted", "prompt tokens"),
]


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["4.9"], MUTANTS, gaps=GAPS, diagnosed=DIAGNOSED))
