"""Module 3 -- the Transformer from scratch in NumPy: its building blocks with their backward
passes, the loss and the optimiser.

Exercises 3.1-3.11: linear layers, LayerNorm and RMSNorm, ReLU / GELU / SiLU,
the GELU MLP and SwiGLU feed-forward networks, dropout, the encoder and decoder layers,
cross-entropy with ignored targets and label smoothing, AdamW with gradient clipping and
learning-rate schedules; the encoder-decoder Transformer (3.9) and GPT-2 (3.11).
Given helpers (not exercises): ``erf``, ``activation_functions``, ``init_feed_forward``,
``init_swiglu``, ``init_encoder_layer``, ``init_decoder_layer``.
"""

from .activations import erf, gelu, gelu_backward, relu, relu_backward, silu, silu_backward
from .cross_entropy import cross_entropy, cross_entropy_backward
from .decoder import decoder_layer, decoder_layer_backward, init_decoder_layer
from .dropout import dropout, dropout_backward
from .encoder import encoder_layer, encoder_layer_backward, init_encoder_layer
from .feed_forward import (
    activation_functions,
    feed_forward,
    feed_forward_backward,
    init_feed_forward,
    init_swiglu,
    swiglu,
    swiglu_backward,
)
from .gpt import GPT, GPTConfig, gpt_param_shapes
from .linear import linear, linear_backward
from .norms import layer_norm, layer_norm_backward, rms_norm, rms_norm_backward
from .optim import AdamW, clip_grad_norm, cosine_schedule, noam_schedule
from .seq2seq import Transformer, TransformerConfig

__all__ = [
    "linear",
    "linear_backward",
    "layer_norm",
    "layer_norm_backward",
    "rms_norm",
    "rms_norm_backward",
    "relu",
    "relu_backward",
    "gelu",
    "gelu_backward",
    "silu",
    "silu_backward",
    "erf",
    "feed_forward",
    "feed_forward_backward",
    "swiglu",
    "swiglu_backward",
    "activation_functions",
    "init_feed_forward",
    "init_swiglu",
    "dropout",
    "dropout_backward",
    "encoder_layer",
    "encoder_layer_backward",
    "init_encoder_layer",
    "decoder_layer",
    "decoder_layer_backward",
    "init_decoder_layer",
    "cross_entropy",
    "cross_entropy_backward",
    "TransformerConfig",
    "Transformer",
    "GPTConfig",
    "GPT",
    "gpt_param_shapes",
    "AdamW",
    "clip_grad_norm",
    "noam_schedule",
    "cosine_schedule",
]
