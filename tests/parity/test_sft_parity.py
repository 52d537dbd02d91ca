"""SFT targets against Hugging Face's convention: HF's causal LMs take `labels` equal to the
input ids with -100 on the prompt and shift inside (`GPT2LMHeadModel(ids, labels=...)`);
our `sft_loss_mask` shifts outside. The two losses must agree."""

import numpy as np
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from reference.llm.bpe import BPETokenizer
from reference.llm.sft import IGNORE, SPECIAL_TOKENS, sft_loss_mask

MESSAGES = [{"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Reverse: a b c"},
            {"role": "assistant", "content": "c b a"},
            {"role": "user", "content": "And d e?"},
            {"role": "assistant", "content": "e d"}]


def test_sft_loss_matches_hf_labels():
    vocab = {i: bytes([i]) for i in range(256)}
    for token in SPECIAL_TOKENS:
        vocab[len(vocab)] = token.encode()
    inputs, targets = sft_loss_mask(MESSAGES, BPETokenizer(vocab, []))
    ids = np.append(inputs, 10)  # the template ends with the separator "\n"
    labels = np.full(len(ids), IGNORE)  # HF: labels[t] = ids[t] where token t is trained
    labels[1:] = targets
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(vocab), n_positions=128, n_embd=16,
                                       n_layer=1, n_head=2)).eval()
    with torch.no_grad():
        hf = model(torch.tensor(ids)[None], labels=torch.tensor(labels)[None]).loss
        logits = model(torch.tensor(inputs)[None]).logits[0]
        ours = torch.nn.functional.cross_entropy(logits, torch.tensor(targets),
                                                 ignore_index=IGNORE)
    torch.testing.assert_close(ours, hf)
    assert (targets != IGNORE).sum() == len("c b a") + 1 + len("e d") + 1  # content + <|end|>
