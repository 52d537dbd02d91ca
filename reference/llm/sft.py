"""The chat template and the loss mask of supervised fine-tuning (exercise 4.9).

The template (ChatML-like): every message becomes a *turn*

    <|role|>\\n{content}<|end|>\\n

with ``role`` one of ``system``, ``user``, ``assistant``. For example ::

    [{"role": "user", "content": "Reverse: a b c"}, {"role": "assistant", "content": "c b a"}]

becomes ``"<|user|>\\nReverse: a b c<|end|>\\n<|assistant|>\\nc b a<|end|>\\n"``. A turn is
four *segments*: the header ``<|role|>\\n``, the content, the end-of-turn token ``<|end|>`` and
the separator ``\\n``. The four strings of ``SPECIAL_TOKENS`` must be special tokens of the
tokenizer (one id each, never merged with the text around them).

Supervised fine-tuning trains on the assistant's tokens only: the content of every assistant
turn and the ``<|end|>`` that closes it (so the model learns to stop), not the assistant header
(the prompt always supplies it), not the separator, and nothing of the system and user turns.
"""

import numpy as np

ROLES = ("system", "user", "assistant")
END = "<|end|>"
SPECIAL_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>", END)
IGNORE = -100  # the ignore_index of the cross-entropy (3.8) and of GPT.loss (3.11)


def header(role):
    """The header that opens a turn of ``role``: ``"<|role|>\\n"`` (given)."""
    return f"<|{role}|>\n"


def check_messages(messages):
    """Raise a ValueError / TypeError naming the problem unless ``messages`` is a conversation
    the template can write (given, not an exercise).

    A conversation is a non-empty list of dicts with exactly the keys ``"role"`` (one of
    ``ROLES``) and ``"content"`` (a str without any of ``SPECIAL_TOKENS``: text that contained
    ``<|end|>`` would end the turn early once tokenized); a ``system`` message may only come
    first.
    """
    if not isinstance(messages, (list, tuple)) or len(messages) == 0:
        raise ValueError(f"messages must be a non-empty list of {{'role', 'content'}} dicts, "
                         f"got {messages!r:.80}")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or set(message) != {"role", "content"}:
            raise ValueError(f"messages[{i}] must be a dict with exactly the keys 'role' and "
                             f"'content', got {message!r:.80}")
        role, content = message["role"], message["content"]
        if role not in ROLES:
            raise ValueError(f"messages[{i}] has role {role!r}; the roles are {ROLES}")
        if role == "system" and i > 0:
            raise ValueError(f"messages[{i}] is a system message: only the first may be one")
        if not isinstance(content, str):
            raise TypeError(f"messages[{i}]['content'] must be a str, got "
                            f"{type(content).__name__}")
        for token in SPECIAL_TOKENS:
            if token in content:
                raise ValueError(f"messages[{i}]['content'] contains the special token "
                                 f"{token!r}: it would be read as the template's own")


def special_id(tokenizer, token):
    """The one id of the special token ``token`` in ``tokenizer`` (given); ValueError if the
    tokenizer does not encode it as a single token."""
    ids = tokenizer.encode(token)
    if len(ids) != 1:
        raise ValueError(f"the tokenizer encodes {token!r} as {len(ids)} tokens: add the "
                         f"template's SPECIAL_TOKENS {SPECIAL_TOKENS} as special tokens")
    return int(ids[0])


def apply_chat_template(messages, add_generation_prompt=False):
    """The text of a conversation in the chat template (exercise 4.9).

    Each message ``{"role": r, "content": c}`` becomes ``"<|r|>\\n" + c + "<|end|>\\n"``; the
    turns are joined with nothing in between. With ``add_generation_prompt=True`` the text
    ends with the assistant header ``"<|assistant|>\\n"``: the prompt for the model to write
    the next assistant turn (at inference, generation stops at ``<|end|>``).

    Args:
        messages: a list of ``{"role": "system" | "user" | "assistant", "content": str}``,
            as ``check_messages`` describes.
        add_generation_prompt: append the assistant header.

    Returns:
        the formatted str.

    Raises:
        ValueError / TypeError: from ``check_messages``, for a malformed conversation.
    """
    check_messages(messages)
    ### BEGIN SOLUTION
    text = "".join(header(m["role"]) + m["content"] + END + "\n" for m in messages)
    if add_generation_prompt:
        text += header("assistant")
    return text
    ### END SOLUTION


def sft_loss_mask(messages, tokenizer):
    """Input ids and next-token targets of one conversation, with the loss on the assistant
    tokens only (exercise 4.9).

    Tokenize segment by segment, turn after turn, in the template's order: the header
    ``header(role)``, the content, ``<|end|>``, ``"\\n"``, each with ``tokenizer.encode``, and
    concatenate: that gives ``ids`` (N,), the tokens of ``apply_chat_template(messages)``.
    (Encoding the whole text at once gives the same ids, except where a content starts with
    whitespace, which BPE's pre-tokenizer would join to the header's newline; segment by
    segment is what inference sees too, where the prompt ends with the header.)

    A token is *trained* if it belongs to the content of an assistant turn, or is the
    ``<|end|>`` closing one; every assistant turn counts, not just the last. The model reads
    ``inputs = ids[:-1]`` and predicts at position t the token ``ids[t + 1]``, so

        targets[t] = ids[t + 1]  if token t + 1 is trained,  else IGNORE (-100),

    ready for ``GPT.loss(inputs[None], targets[None])``: the mean of -log p(y_t | y_<t) over
    the assistant's tokens.

    Args:
        messages: a conversation, as for ``apply_chat_template``.
        tokenizer: has ``encode(str) -> list of int`` and the template's ``SPECIAL_TOKENS``
            as special tokens (e.g. a ``BPETokenizer`` of 4.1).

    Returns:
        ``(inputs, targets)``: two int64 arrays of shape ``(N - 1,)``.

    Raises:
        ValueError / TypeError: a malformed conversation (``check_messages``); a tokenizer
            without the special tokens (``special_id``); no assistant turn (no loss at all).
    """
    check_messages(messages)
    for token in SPECIAL_TOKENS:
        special_id(tokenizer, token)
    if not any(m["role"] == "assistant" for m in messages):
        raise ValueError("sft_loss_mask: the conversation has no assistant turn, so no token "
                         "would be trained")
    ### BEGIN SOLUTION
    ids, trained = [], []  # every token, and whether it is an assistant token
    for m in messages:
        is_assistant = m["role"] == "assistant"
        for text, train in ((header(m["role"]), False), (m["content"], is_assistant),
                            (END, is_assistant), ("\n", False)):
            piece = [int(i) for i in tokenizer.encode(text)]
            ids += piece
            trained += [train] * len(piece)
    ids, trained = np.array(ids, dtype=np.int64), np.array(trained)
    targets = np.where(trained[1:], ids[1:], IGNORE)  # target t is token t + 1
    return ids[:-1], targets.astype(np.int64)
    ### END SOLUTION
