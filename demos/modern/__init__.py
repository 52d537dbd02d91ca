"""Module 5's demos: a Llama against a GPT-2 of the same size, LoRA against full fine-tuning,
a mixture of experts against a dense model (``python -m demos llama_vs_gpt | lora | moe``)."""
