"""Module 4's demos (pretraining, SFT, DPO, prompting, GPT-2) and its benchmarks."""
