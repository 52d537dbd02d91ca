"""The course as data: modules and exercises, with their points and lecture sections.

This table is the course's syllabus: exercise ids and names are its public API (students,
lectures and notebooks cite them), so they never change.  Every exercise names the file
students edit, the functions it asks for, and the lecture section that teaches it (a
`theory.md` heading; a test checks that each one exists).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Module:
    number: int
    package: str  # the Python package in exercises/ and reference/
    title: str
    lecture: str = ""  # the lecture folder's name after "NN_", when it is not the package's

    @property
    def lecture_dir(self) -> str:
        return f"lectures/{self.number:02d}_{self.lecture or self.package}"


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    points: int
    module: Module
    file: str  # inside the module's package, e.g. "attention.py"
    names: tuple[str, ...]  # the functions / classes the student writes
    section: str  # heading of lectures/NN_topic/theory.md, e.g. "4. Scaled dot-product attention"
    # Functions the exercise also asks for beyond its public names (e.g. the cached forward
    # that `GPT.forward(idx, kv_cache=...)` reaches through the cache): their stubs name
    # this exercise.
    also: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        return f"{self.module.package}/{self.file}"

    @property
    def lecture_link(self) -> str:
        return f"{self.module.lecture_dir}/theory.md#{github_anchor(self.section)}"

    @property
    def sort_key(self) -> tuple[int, ...]:
        return tuple(int(part) for part in self.id.split("."))


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a markdown heading: lowercase, punctuation dropped, '-' for ' '."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


SELF_ATTENTION = Module(1, "self_attention", "Self-attention")

POSITIONAL_ENCODING = Module(2, "positional_encoding", "Positional encoding")

TRANSFORMER = Module(3, "transformer", "The Transformer from scratch")

LLM_FUNDAMENTALS = Module(4, "llm", "LLM fundamentals", lecture="llm_fundamentals")

MODERN = Module(5, "modern", "Modern LLMs", lecture="modern_llms")

MODULES = (SELF_ATTENTION, POSITIONAL_ENCODING, TRANSFORMER, LLM_FUNDAMENTALS, MODERN)

EXERCISES = (
    Exercise("1.1", "Stable softmax", 4, SELF_ATTENTION, "softmax.py", ("softmax",),
             "2. Softmax and its Jacobian"),
    Exercise("1.2", "Softmax backward (JVP)", 6, SELF_ATTENTION, "softmax.py",
             ("softmax_backward",), "2. Softmax and its Jacobian"),
    Exercise("1.3", "Causal and padding masks", 4, SELF_ATTENTION, "masks.py",
             ("causal_mask", "padding_mask"), "3. Masks"),
    Exercise("1.4", "Scaled dot-product attention", 8, SELF_ATTENTION, "attention.py",
             ("scaled_dot_product_attention",), "4. Scaled dot-product attention"),
    Exercise("1.5", "Attention backward", 10, SELF_ATTENTION, "attention.py",
             ("scaled_dot_product_attention_backward",), "5. The backward pass of attention"),
    Exercise("1.6", "Split and merge heads", 3, SELF_ATTENTION, "heads.py",
             ("split_heads", "merge_heads"), "6. Multi-head attention"),
    Exercise("1.7", "Multi-head attention", 8, SELF_ATTENTION, "multi_head.py",
             ("multi_head_attention",), "6. Multi-head attention"),
    Exercise("1.8", "Multi-head attention backward", 10, SELF_ATTENTION, "multi_head.py",
             ("multi_head_attention_backward",),
             "7. The backward pass of multi-head attention"),
    Exercise("1.9", "Online-softmax (Flash) attention", 7, SELF_ATTENTION, "online_softmax.py",
             ("online_softmax_attention",), "9. Online softmax and FlashAttention's recurrence"),
    Exercise("2.1", "Sinusoidal encoding", 4, POSITIONAL_ENCODING, "sinusoidal.py",
             ("sinusoidal_positional_encoding",),
             "3. Sinusoidal encodings and the linear-shift property"),
    Exercise("2.2", "Learned embedding", 5, POSITIONAL_ENCODING,
             "embedding.py", ("embedding", "embedding_backward"),
             "4. Learned position embeddings"),
    Exercise("2.3", "RoPE, half-split layout", 8, POSITIONAL_ENCODING, "rope.py",
             ("rope_cos_sin", "apply_rope", "apply_rope_backward"),
             "5. Rotary position embedding (RoPE)"),
    Exercise("2.4", "RoPE, interleaved layout", 4, POSITIONAL_ENCODING, "rope_interleaved.py",
             ("apply_rope_interleaved",), "6. The two RoPE layouts"),
    Exercise("2.5", "ALiBi slopes and bias", 6, POSITIONAL_ENCODING, "alibi.py",
             ("alibi_slopes", "alibi_bias"), "7. ALiBi"),
    Exercise("2.6", "RoPE context extension", 5, POSITIONAL_ENCODING, "rope_scaling.py",
             ("rope_scaling",), "8. Extrapolation and context extension"),
    Exercise("3.1", "Linear layer", 4, TRANSFORMER, "linear.py", ("linear", "linear_backward"),
             "2. Linear layers"),
    Exercise("3.2", "LayerNorm and RMSNorm", 8, TRANSFORMER, "norms.py",
             ("layer_norm", "layer_norm_backward", "rms_norm", "rms_norm_backward"),
             "3. LayerNorm and RMSNorm"),
    Exercise("3.3", "ReLU, GELU, SiLU", 5, TRANSFORMER, "activations.py",
             ("relu", "relu_backward", "gelu", "gelu_backward", "silu", "silu_backward"),
             "4. Activation functions"),
    Exercise("3.4", "GELU MLP and SwiGLU", 6, TRANSFORMER, "feed_forward.py",
             ("feed_forward", "feed_forward_backward", "swiglu", "swiglu_backward"),
             "5. Feed-forward networks and gated variants"),
    Exercise("3.5", "Dropout", 3, TRANSFORMER, "dropout.py", ("dropout", "dropout_backward"),
             "6. Dropout"),
    Exercise("3.6", "Encoder layer (post- and pre-norm)", 8, TRANSFORMER, "encoder.py",
             ("encoder_layer", "encoder_layer_backward"), "8. The encoder layer"),
    Exercise("3.7", "Decoder layer with cross-attention", 8, TRANSFORMER, "decoder.py",
             ("decoder_layer", "decoder_layer_backward"),
             "9. The decoder layer and cross-attention"),
    Exercise("3.8", "Cross-entropy with label smoothing", 6, TRANSFORMER, "cross_entropy.py",
             ("cross_entropy", "cross_entropy_backward"), "10. Cross-entropy and label smoothing"),
    Exercise("3.9", "The encoder-decoder Transformer", 10, TRANSFORMER, "seq2seq.py",
             ("TransformerConfig", "Transformer"), "11. The encoder-decoder Transformer"),
    Exercise("3.10", "AdamW, clipping, schedules", 7, TRANSFORMER, "optim.py",
             ("AdamW", "clip_grad_norm", "noam_schedule", "cosine_schedule"),
             "12. AdamW, gradient clipping and learning-rate schedules"),
    Exercise("3.11", "GPT-2: forward, loss, backward", 12, TRANSFORMER, "gpt.py",
             ("GPTConfig", "GPT"), "13. GPT-2"),
    Exercise("4.1", "Byte-level BPE tokenizer", 8, LLM_FUNDAMENTALS, "bpe.py",
             ("train_bpe", "BPETokenizer"), "2. Byte-level BPE"),
    Exercise("4.2", "Batches of next-token targets", 4, LLM_FUNDAMENTALS, "data.py",
             ("get_batch",), "3. Batches of next-token targets"),
    Exercise("4.3", "Pretraining loop, perplexity, checkpoints", 8, LLM_FUNDAMENTALS,
             "pretrain.py", ("train", "evaluate", "save_checkpoint", "load_checkpoint"),
             "4. Pretraining, evaluation and perplexity"),
    Exercise("4.4", "Greedy, temperature, top-k and top-p sampling", 8, LLM_FUNDAMENTALS,
             "sampling.py", ("greedy", "top_k_filter", "top_p_filter", "sample_next_token"),
             "5. Decoding strategies"),
    Exercise("4.5", "The KV cache and cached generation", 12, LLM_FUNDAMENTALS, "kv_cache.py",
             ("KVCache", "generate"), "6. The KV cache",
             also=("forward_with_cache", "cached_attention")),
    Exercise("4.6", "Grouped-query attention", 6, LLM_FUNDAMENTALS, "gqa.py",
             ("repeat_kv", "grouped_query_attention", "kv_cache_bytes"),
             "7. Grouped-query attention"),
    Exercise("4.7", "int8 and int4 quantization", 8, LLM_FUNDAMENTALS, "quantization.py",
             ("quantize_int8", "dequantize_int8", "quantize_int4", "dequantize_int4",
              "quantized_linear"), "8. Quantization"),
    Exercise("4.8", "Parameters, FLOPs and scaling laws", 6, LLM_FUNDAMENTALS, "scaling.py",
             ("count_parameters", "flops_per_token", "chinchilla_optimal", "fit_power_law"),
             "9. Parameters, FLOPs and scaling laws"),
    Exercise("4.9", "Chat template and SFT loss mask", 6, LLM_FUNDAMENTALS, "sft.py",
             ("apply_chat_template", "sft_loss_mask"),
             "12. Supervised fine-tuning and chat templates"),
    Exercise("4.10", "Bradley-Terry reward-model loss", 5, LLM_FUNDAMENTALS, "reward.py",
             ("bradley_terry_loss", "bradley_terry_loss_backward"),
             "13. Reward models and the Bradley-Terry model"),
    Exercise("4.11", "GAE, PPO's clipped objective, KL penalty", 8, LLM_FUNDAMENTALS, "ppo.py",
             ("gae", "ppo_clip_loss", "kl_penalty"), "14. RLHF with PPO"),
    Exercise("4.12", "Sequence log-probabilities and the DPO loss", 8, LLM_FUNDAMENTALS,
             "dpo.py", ("sequence_logprob", "dpo_loss", "dpo_loss_backward"),
             "15. Direct preference optimization"),
    Exercise("4.13", "Few-shot, chain-of-thought, self-consistency", 5, LLM_FUNDAMENTALS,
             "prompting.py", ("few_shot_prompt", "chain_of_thought_prompt", "self_consistency"),
             "16. Prompting"),
    Exercise("5.1", "The Llama block and model", 12, MODERN, "llama.py",
             ("LlamaConfig", "llama_block", "llama_block_backward", "Llama"),
             "2. The Llama block"),
    Exercise("5.2", "LoRA: low-rank adaptation", 6, MODERN, "lora.py",
             ("lora_init", "lora_linear", "lora_linear_backward", "merge_lora"),
             "4. Low-rank adaptation (LoRA)"),
    Exercise("5.3", "Mixture of experts", 10, MODERN, "moe.py",
             ("moe_router", "moe_layer", "moe_layer_backward", "load_balancing_loss",
              "load_balancing_loss_backward"), "5. Mixture of experts"),
    Exercise("5.4", "Speculative decoding", 8, MODERN, "speculative.py",
             ("speculative_accept", "speculative_generate"), "6. Speculative decoding"),
    Exercise("5.5", "GRPO: group-relative policy optimization", 8, MODERN, "grpo.py",
             ("group_advantages", "grpo_loss", "grpo_loss_backward"),
             "7. Reasoning from rewards: GRPO"),
)

BY_ID = {ex.id: ex for ex in EXERCISES}

# The exercises whose functions an exercise's code or its checks call (tests/test_course.py
# recomputes this from the reference and the checks).  When one of them fails, the report of
# every exercise built on it says so first; when one hangs or crashes, their checks are not
# run (`grader.dependencies`).
USES = {
    "1.4": ("1.1",), "1.5": ("1.2", "1.4"), "1.7": ("1.4", "1.6"), "1.8": ("1.5", "1.6", "1.7"),
    "2.3": ("2.6",), "2.6": ("2.3",),
    "3.4": ("3.1", "3.3"), "3.6": ("1.7", "1.8", "3.2", "3.4", "3.5"),
    "3.7": ("1.3", "1.7", "1.8", "3.2", "3.4", "3.5"),
    "3.9": ("1.3", "2.1", "2.2", "3.1", "3.2", "3.5", "3.6", "3.7", "3.8"),
    "3.11": ("1.3", "1.4", "1.5", "1.6", "2.2", "3.1", "3.2", "3.4", "3.8"),
    "4.3": ("3.10", "3.11", "4.2"), "4.5": ("1.3", "1.4", "3.2", "3.11", "4.4"),
    "4.6": ("1.4",), "4.9": ("4.1",),
    "5.1": ("1.3", "1.4", "1.5", "1.6", "2.2", "2.3", "3.1", "3.2", "3.4", "3.8", "4.5",
            "4.6"),
    "5.2": ("3.1",), "5.3": ("1.1", "1.2", "3.4"), "5.4": ("3.11", "4.5"),
}


def names_to_files() -> dict[str, str]:
    """`{"softmax": "self_attention.softmax", ...}`: where the sandbox finds each name."""
    out = {}
    for ex in EXERCISES:
        for name in ex.names + ex.also:
            out[name] = f"{ex.module.package}.{ex.file.removesuffix('.py')}"
    return out


def select(ids: list[str] | None) -> list[Exercise]:
    """Exercises by id (`"1.4"`), or a whole module by number (`"1"`); all when `ids` is empty."""
    if not ids:
        return list(EXERCISES)
    chosen: dict[str, Exercise] = {}
    for raw in ids:
        for token in raw.replace(",", " ").split():
            matches = [ex for ex in EXERCISES if ex.id == token or ex.id.split(".")[0] == token]
            if not matches:
                known = ", ".join(ex.id for ex in EXERCISES)
                raise ValueError(f"unknown exercise {token!r}; the course has {known}")
            chosen.update((ex.id, ex) for ex in matches)
    return sorted(chosen.values(), key=lambda ex: ex.sort_key)
