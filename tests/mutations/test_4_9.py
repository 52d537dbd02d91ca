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

GENERATION_TURN_IN_PLACE = """
_apply_chat_template = apply_chat_template

def apply_chat_template(messages, add_generation_prompt=False):
    if add_generation_prompt:  # an empty assistant turn, cut after its header
        messages.append({"role": "assistant", "content": ""})
        return _apply_chat_template(messages)[:-len(END + "\\n")]
    return _apply_chat_template(messages)
"""

TEMPLATE_NO_CHECK = """
def apply_chat_template(messages, add_generation_prompt=False):  # check_messages skipped
    text = "".join(header(m["role"]) + m["content"] + END + "\\n" for m in messages)
    return text + header("assistant") if add_generation_prompt else text
"""

MASK_NO_ASSISTANT_CHECK = """
_sft_loss_mask = sft_loss_mask

def sft_loss_mask(messages, tokenizer):  # no assistant turn: every target ignored, no error
    check_messages(messages)
    if not any(m.get("role") == "assistant" for m in messages):
        ids = [i for m in messages for i in tokenizer.encode(header(m["role"]) + m["content"])]
        return np.array(ids[:-1], np.int64), np.full(len(ids) - 1, IGNORE, np.int64)
    return _sft_loss_mask(messages, tokenizer)
"""

GENERATION_PROMPT_DEFAULT = """
_apply = apply_chat_template

def apply_chat_template(messages, add_generation_prompt=True):  # "always ready to generate"
    return _apply(messages, add_generation_prompt)
"""

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
           (GEN_PROMPT,), "did not add the assistant header",
           diagnosis="add_generation_prompt is ignored"),
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
           (ONLY_ASSISTANT, EVERY_TURN, TOKENS), "token t + 1 is trained",
           diagnosis="the mask is off by one"),
    Mutant("targets_not_shifted", EXERCISE, SFT,
           ((TARGETS, "    targets = np.where(trained[1:], ids[:-1], IGNORE)\n"),),
           (ONLY_ASSISTANT, EVERY_TURN, TOKENS), "the NEXT token",
           diagnosis="the targets are not shifted"),
    Mutant("inputs_all_tokens", EXERCISE, SFT,
           ((RETURN, "    return ids, np.append(targets, IGNORE).astype(np.int64)\n"),),
           (ONLY_ASSISTANT, EVERY_TURN, TOKENS), "inputs has all N"),
    Mutant("only_last_assistant_turn", EXERCISE, SFT,
           ((ROLE, '        is_assistant = m is [x for x in messages '
                   'if x["role"] == "assistant"][-1]\n'),),
           (EVERY_TURN,), "is only the last one trained?"),
    Mutant("content_encoded_letter_by_letter", EXERCISE, SFT,
           ((ENCODE, "            piece = [int(i) for c in ([text] if text in SPECIAL_TOKENS "
                     "else text) for i in tokenizer.encode(c)]\n"),),
           (TOKENS,), "expected ids[:-1]"),
    # appended bugs (the caller's list changed, stated errors)
    Mutant("generation_prompt_as_a_turn", EXERCISE, SFT, (), (GEN_PROMPT,),
           "changed its argument 1 in place", append=GENERATION_TURN_IN_PLACE),
    Mutant("template_without_check_messages", EXERCISE, SFT, (),
           ("chat_template_refuses_bad_conversations",),
           "an empty conversation: expected ValueError",
           append=TEMPLATE_NO_CHECK),
    Mutant("mask_without_assistant_check", EXERCISE, SFT, (),
           ("chat_template_refuses_bad_conversations",), "without an assistant turn",
           append=MASK_NO_ASSISTANT_CHECK),
    Mutant("generation_prompt_by_default", EXERCISE, SFT, (), (TEXT, GEN_PROMPT),
           "differs from the template", append=GENERATION_PROMPT_DEFAULT),
]

GAPS: dict[str, str] = {}

DIAGNOSED = [
    ("mask_off_by_one", ONLY_ASSISTANT, "off by one", "not shifted"),
    ("assistant_header_counted", EVERY_TURN, "header is counted", "prompt tokens"),
]


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["4.9"], MUTANTS, gaps=GAPS, diagnosed=DIAGNOSED))
