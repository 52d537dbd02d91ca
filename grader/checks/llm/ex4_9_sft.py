"""Checks of exercise 4.9: the chat template and the SFT loss mask.

The template's strings are written out by hand below. The mask checks tokenize with the
student's `BPETokenizer` (4.1) built on a vocabulary made by hand: the 256 bytes, then (for
one check) two merges, then the template's four special tokens, so the expected ids are
the bytes of the text and the special ids 256.. (or 258..) -- computed here in a few lines,
with every token labelled by the segment it comes from (header, content, end, separator, and
the turn's role), so that a wrong target can be named: "loss on the user's tokens", "the
assistant header is trained", "off by one", ...
"""

from __future__ import annotations

import copy

import numpy as np

from ... import expect
from .. import check
from .common import call_unchanged

SPECIALS = ("<|system|>", "<|user|>", "<|assistant|>", "<|end|>")


IGNORE = -100


SYSTEM = {"role": "system", "content": "Be brief."}


USER = {"role": "user", "content": "Hi!"}


ASSISTANT = {"role": "assistant", "content": "Hello."}


ONE_TURN = [SYSTEM, USER, ASSISTANT]


ONE_TURN_TEXT = ("<|system|>\nBe brief.<|end|>\n<|user|>\nHi!<|end|>\n"
                 "<|assistant|>\nHello.<|end|>\n")


MULTI_TURN = [{"role": "user", "content": "Reverse: a b"},
              {"role": "assistant", "content": "b a"},
              {"role": "user", "content": "Again: c d e"},
              {"role": "assistant", "content": "e d c"}]


MULTI_TURN_TEXT = ("<|user|>\nReverse: a b<|end|>\n<|assistant|>\nb a<|end|>\n"
                   "<|user|>\nAgain: c d e<|end|>\n<|assistant|>\ne d c<|end|>\n")


TEMPLATE_RULE = ("Each message is '<|role|>\\n' + content + '<|end|>\\n' (role in lower case, "
                 "a newline after the header and after <|end|>, nothing else between turns).")


# A tokenizer with two merges: "ab" = 256, "abc" = 257; the special tokens are 258.. .
MERGES = [(97, 98), (256, 99)]


MERGED = {"abc": 257, "ab": 256}


def _tokenizer(impl, merges=()):
    """The student's BPETokenizer (4.1) on the 256 bytes, `merges` and the special tokens."""
    vocab = {i: bytes([i]) for i in range(256)}
    for a, b in merges:
        vocab[len(vocab)] = vocab[a] + vocab[b]
    for token in SPECIALS:
        vocab[len(vocab)] = token.encode()
    return impl.BPETokenizer(vocab, [tuple(m) for m in merges])


def _encode(text: str, first_special: int) -> list[int]:
    """The ids of a segment: a special token, or bytes with the merges of MERGES applied
    (only when first_special == 258, and only to the strings "abc" / "ab" as whole words)."""
    if text in SPECIALS:
        return [first_special + SPECIALS.index(text)]
    ids = []
    for k, word in enumerate(text.split(" ")):
        if k > 0:
            ids.append(32)  # the space joins the next word's pre-token; no merge holds it
        merged = first_special == 258 and word in MERGED
        ids.extend([MERGED[word]] if merged else word.encode())
    return ids


def _expected(messages, first_special=256):
    """ids (N,) and a label per token: (segment, role, turn index)."""
    ids, labels = [], []
    for turn, m in enumerate(messages):
        for segment, text in (("header", f"<|{m['role']}|>\n"), ("content", m["content"]),
                              ("end", "<|end|>"), ("separator", "\n")):
            if segment == "header":
                piece = _encode(text[:-1], first_special) + [10]
            else:
                piece = _encode(text, first_special)
            ids += piece
            labels += [(segment, m["role"], turn)] * len(piece)
    return np.array(ids, dtype=np.int64), labels


def _check_tokenizer(tok, first_special):
    """The checks lean on 4.1's encode; say so if it does not encode as expected."""
    for text in ("<|end|>", "Hi!\n", "abc ab"):
        got = [int(i) for i in tok.encode(text)]
        want = _encode(text, first_special)
        if got != want:
            expect.fail(f"4.9's checks tokenize with your BPETokenizer (4.1), and it encodes "
                        f"{text!r} as {got}, expected {want} (bytes, merges, special tokens "
                        "as one id each). Make 4.1's checks pass first.")


def _mask(impl, messages, tok, what):
    result = call_unchanged(impl.sft_loss_mask, "sft_loss_mask", copy.deepcopy(messages), tok)
    if not (isinstance(result, tuple) and len(result) == 2):
        expect.fail(f"4.9 sft_loss_mask should return a pair (inputs, targets), got "
                    f"{type(result).__name__}.")
    inputs, targets = result
    for name, value in (("inputs", inputs), ("targets", targets)):
        if not isinstance(value, np.ndarray) or value.ndim != 1 or value.dtype != np.int64:
            got = (f"{value.dtype} array of shape {value.shape}" if isinstance(value, np.ndarray)
                   else type(value).__name__)
            expect.fail(f"4.9 sft_loss_mask({what}): {name} should be a 1-D int64 array, got "
                        f"{got}.")
    return inputs, targets


def _describe(label) -> str:
    segment, role, turn = label
    names = {"header": f"the {role} header <|{role}|>\\n",
             "content": f"the {role}'s content",
             "end": f"the <|end|> closing the {role} turn",
             "separator": "the newline after <|end|>"}
    return f"{names[segment]} (turn {turn})"


def _expect_mask(impl, messages, what, first_special=256, merges=()):
    """sft_loss_mask(messages) must be (ids[:-1], targets) with targets[t] = ids[t+1] on the
    assistant's content and <|end|> tokens, -100 elsewhere; name the first wrong target."""
    tok = _tokenizer(impl, merges)
    _check_tokenizer(tok, first_special)
    ids, labels = _expected(messages, first_special)
    trained = np.array([seg in ("content", "end") and role == "assistant"
                        for seg, role, _ in labels])
    want = np.where(trained[1:], ids[1:], IGNORE)
    inputs, targets = _mask(impl, messages, tok, what)
    n = len(ids)
    if inputs.shape == (n,) and np.array_equal(inputs, ids):
        expect.fail(f"4.9 sft_loss_mask({what}): inputs has all N = {n} tokens; the model reads "
                    "ids[:-1] (the last token is never an input: nothing follows it), and "
                    "inputs and targets both have N - 1 entries.")
    if not np.array_equal(inputs, ids[:-1]):
        expect.fail(f"4.9 sft_loss_mask({what}): inputs = {inputs.tolist()}, expected ids[:-1] "
                    f"= {ids[:-1].tolist()}: the template's tokens, encoded segment by segment "
                    "(header, content, <|end|>, newline for each turn), without the last.")
    if targets.shape != want.shape:
        expect.fail(f"4.9 sft_loss_mask({what}): targets has shape {targets.shape}, expected "
                    f"{want.shape}: one target per input position.")
    if np.array_equal(targets, want):
        return
    if np.array_equal(targets, np.where(trained[:-1], ids[1:], IGNORE)):
        expect.fail(f"4.9 sft_loss_mask({what}): target t is kept where token t (the input) "
                    "is an assistant token, but target t is token t + 1: keep ids[t + 1] where "
                    "token t + 1 is trained (trained[1:]), so the first assistant token is "
                    "predicted from the header's last token and the header itself is never a "
                    "target. " + expect.cause("the mask is off by one"))
    if np.array_equal(targets, np.where(trained[1:], ids[:-1], IGNORE)) or np.array_equal(
            targets, np.where(trained[:-1], ids[:-1], IGNORE)):
        expect.fail(f"4.9 sft_loss_mask({what}): target t must be the NEXT token ids[t + 1], "
                    "not the input ids[t] itself (the model at position t predicts what "
                    "follows). " + expect.cause("the targets are not shifted"))
    t = int(np.flatnonzero(targets != want)[0])
    label = _describe(labels[t + 1])
    if want[t] == IGNORE:
        segment, role, _ = labels[t + 1]
        if role in ("system", "user"):
            hint = ("loss on prompt tokens: the system and user turns are given at inference, "
                    "the model must not be trained to write them.")
        elif segment == "header":
            hint = ("the assistant header is counted: the prompt always ends with "
                    "<|assistant|>\\n, so the model never has to produce it; train from the "
                    "first content token on.")
        else:
            hint = ("the newline after <|end|> is the template's separator, not part of the "
                    "answer: generation stops at <|end|>.")
        expect.fail(f"4.9 sft_loss_mask({what}): targets[{t}] = {int(targets[t])}, expected "
                    f"-100: the token it predicts, ids[{t + 1}], is {label}. Hint: {hint}")
    segment, role, turn = labels[t + 1]
    if segment == "end":
        hint = ("the end-of-turn token is not trained: the model must learn to close its "
                "answer with <|end|>, or it never stops at inference.")
    elif targets[t] == IGNORE and any(r == "assistant" and k > turn for _, r, k in labels):
        hint = ("this assistant turn is not trained, and a later one follows: every "
                "assistant turn of the conversation is an answer to learn (is only the last "
                "one trained?).")
    else:
        hint = ("tokenize the content with tokenizer.encode and train every token it gives "
                "(the number of tokens is not the number of characters).")
    expect.fail(f"4.9 sft_loss_mask({what}): targets[{t}] = {int(targets[t])}, expected "
                f"{int(want[t])} = ids[{t + 1}], {label}. Hint: {hint}")


def _template(impl, messages, **kwargs):
    """apply_chat_template on a copy of `messages` (the sandbox writes changes back), which it
    must leave unchanged."""
    return call_unchanged(impl.apply_chat_template, "apply_chat_template",
                          copy.deepcopy(messages), **kwargs)


def _expect_text(got, want: str, what: str) -> None:
    if not isinstance(got, str):
        expect.fail(f"4.9 apply_chat_template({what}) should return a str, got "
                    f"{type(got).__name__}.")
    if got == want:
        return
    i = next((k for k, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
    lo = max(0, i - 20)
    expect.fail(f"4.9 apply_chat_template({what}) differs from the template at character {i}: "
                f"got ...{got[lo:i + 20]!r}, expected ...{want[lo:i + 20]!r}. {TEMPLATE_RULE}")


@check("4.9")
def template_text(impl):
    """apply_chat_template writes '<|role|>\\n' + content + '<|end|>\\n' per message"""
    _expect_text(_template(impl, ONE_TURN), ONE_TURN_TEXT, "system, user, assistant")
    _expect_text(_template(impl, MULTI_TURN), MULTI_TURN_TEXT, "two exchanges")


@check("4.9")
def template_generation_prompt(impl):
    """add_generation_prompt=True ends the text with the assistant header '<|assistant|>\\n'"""
    prompt = [SYSTEM, USER]
    want = "<|system|>\nBe brief.<|end|>\n<|user|>\nHi!<|end|>\n"
    _expect_text(_template(impl, prompt), want, "a prompt, no generation prompt")
    got = _template(impl, prompt, add_generation_prompt=True)
    if isinstance(got, str) and got == want:
        expect.fail("4.9 apply_chat_template(..., add_generation_prompt=True) did not add the "
                    "assistant header: the prompt must end with '<|assistant|>\\n', exactly as "
                    "the assistant turns of training begin, so that the model writes the answer. "
                    + expect.cause("add_generation_prompt is ignored"))
    _expect_text(got, want + "<|assistant|>\n", "add_generation_prompt=True")


@check("4.9", weight=2)
def mask_trains_only_assistant_tokens(impl):
    """sft_loss_mask: targets ids[t+1] on the assistant's content and <|end|>, -100 elsewhere"""
    _expect_mask(impl, ONE_TURN, "system, user, assistant")
    _expect_mask(impl, [USER, ASSISTANT], "user, assistant")


@check("4.9")
def mask_every_assistant_turn(impl):
    """sft_loss_mask of a multi-turn conversation trains every assistant turn"""
    _expect_mask(impl, MULTI_TURN, "two exchanges")


@check("4.9")
def mask_counts_tokens_not_characters(impl):
    """sft_loss_mask with a tokenizer that merges ('abc' is one token) masks whole tokens"""
    messages = [{"role": "user", "content": "Spell abc ab"},
                {"role": "assistant", "content": "abc ab abc"}]
    _expect_mask(impl, messages, "a tokenizer with merges", first_special=258, merges=MERGES)


BAD_CONVERSATIONS = (
    ([], ValueError, "an empty conversation"),
    ([{"role": "bot", "content": "Hi"}], ValueError, "the role 'bot'"),
    ([USER, SYSTEM, ASSISTANT], ValueError, "a system message that is not first"),
    ([{"role": "user", "content": "Hi", "name": "Ann"}], ValueError, "an extra key 'name'"),
    ([{"role": "user", "content": "Hi<|end|>"}, ASSISTANT], ValueError,
     "a content holding '<|end|>'"),
    ([{"role": "user", "content": 42}, ASSISTANT], TypeError, "a content that is an int"),
)


@check("4.9")
def chat_template_refuses_bad_conversations(impl):
    """ValueError / TypeError for a malformed conversation; ValueError with no assistant turn"""
    # the given code raises these errors: points only once the function itself runs (a stub
    # raises NotImplementedError here)
    impl.apply_chat_template(copy.deepcopy(ONE_TURN))
    for messages, error, what in BAD_CONVERSATIONS:
        expect.raises(impl.apply_chat_template, error, f"4.9: apply_chat_template with {what}",
                      copy.deepcopy(messages))
    tok = _tokenizer(impl)
    for messages, error, what in BAD_CONVERSATIONS[1:]:
        expect.raises(impl.sft_loss_mask, error, f"4.9: sft_loss_mask with {what}",
                      copy.deepcopy(messages), tok)
    expect.raises(impl.sft_loss_mask, ValueError, "4.9: sft_loss_mask of a conversation without "
                  "an assistant turn (no token to train)", [copy.deepcopy(USER)], tok)
