"""The lectures teach as the exercises need: a call-out for every exercise in the section it
links to, check-yourself questions and a common-mistakes box there, one way to name an
exercise ("Exercise 4.5") and a section ("§4.4"), and the diagrams drawn from text."""

from __future__ import annotations

import re

import pytest
from conftest import REPO

from grader import course

LINKED = sorted({(ex.module, ex.section) for ex in course.EXERCISES},
                key=lambda item: (item[0].number, item[1]))
MIN_QUESTIONS, MAX_QUESTIONS = 2, 5


def theory(module: course.Module) -> str:
    return (REPO / module.lecture_dir / "theory.md").read_text(encoding="utf-8")


def section_text(module: course.Module, heading: str) -> str:
    """The `## heading` section of the module's lecture, up to the next `## `."""
    text = theory(module)
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start: end if end > 0 else len(text)]


def _prose(text: str) -> str:
    """`text` without fenced code blocks, inline code and math (where "Section" or "(4.5)"
    may mean something else)."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$", "", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    return re.sub(r"\$[^$\n]*\$", "", text)


@pytest.mark.parametrize("ex", course.EXERCISES, ids=lambda ex: ex.id)
def test_every_exercise_has_a_call_out_in_the_section_it_links_to(ex):
    text = section_text(ex.module, ex.section)
    call_outs = re.findall(r"^> \*\*Exercises? ([^*]+)\*\*", text, re.M)
    named = {i for c in call_outs for i in re.findall(r"\d+\.\d+", c)}
    assert ex.id in named, f"§{ex.section}: no '> **Exercise {ex.id}** — ...' call-out"


@pytest.mark.parametrize("module, heading", LINKED, ids=lambda x: getattr(x, "package", x))
def test_every_linked_section_has_check_yourself_and_common_mistakes(module, heading):
    text = section_text(module, heading)
    where = f"{module.lecture_dir}/theory.md, section '{heading}'"
    assert "\n**Check yourself**" in text, f"{where}: no **Check yourself** block"
    block = text[text.index("\n**Check yourself**"):]
    questions = re.findall(r"<details>\s*<summary>(.+?)</summary>(.*?)</details>", block, re.S)
    assert MIN_QUESTIONS <= len(questions) <= MAX_QUESTIONS, \
        f"{where}: {len(questions)} check-yourself questions"
    assert all(len(answer.split()) >= 5 for _, answer in questions), f"{where}: an empty answer"
    mistakes = re.search(r"^> \*\*Common mistakes\*\*.*\n((?:>.*\n)+)", text, re.M)
    assert mistakes, f"{where}: no '> **Common mistakes**' box"
    assert mistakes.group(1).count("> -") >= 2, f"{where}: fewer than two common mistakes"


@pytest.mark.parametrize("module", course.MODULES, ids=lambda m: m.package)
def test_one_name_for_an_exercise_and_one_for_a_section(module):
    prose = _prose(theory(module))
    sections = re.findall(r"\b[Ss]ections? \d+(?:\.\d+)?", prose)
    assert sections == [], f"{module.lecture_dir}: write §4.4, not {sections[:5]}"
    bare = re.findall(r"\((\d\.\d{1,2})\)", prose)
    assert bare == [], f"{module.lecture_dir}: write (Exercise 4.5), not ({bare[0]})"


DIAGRAMS = {  # what a diagram must show -> the lecture and a word its source contains
    "queries, keys and values": ("01_self_attention", "W_q"),
    "head splitting, with shapes": ("01_self_attention", "split_heads"),
    "pre-norm and post-norm blocks": ("03_transformer", "LayerNorm"),
    "the encoder-decoder": ("03_transformer", "cross-attention"),
    "the KV cache: prefill and decode": ("04_llm_fundamentals", "prefill"),
    "grouped-query attention": ("04_llm_fundamentals", "group"),
    "SFT, reward model, PPO and DPO": ("04_llm_fundamentals", "DPO"),
    "the Llama block, with shapes": ("05_modern_llms", "post_attention_layernorm"),
    "LoRA's frozen and trained paths": ("05_modern_llms", "lora_A"),
    "MoE routing: router, top-k, experts": ("05_modern_llms", "router_probs"),
    "speculative decoding: draft, verify, accept, roll back": ("05_modern_llms", "draft_tokens"),
    "GRPO: group, verifier, advantages, loss": ("05_modern_llms", "group_advantages"),
}


def test_the_diagrams_are_drawn_from_text_in_their_lectures():
    found = {}
    for lecture in {lecture for lecture, _ in DIAGRAMS.values()}:
        text = (REPO / "lectures" / lecture / "theory.md").read_text(encoding="utf-8")
        found[lecture] = re.findall(r"```mermaid\n(.*?)```", text, re.S)
    for what, (lecture, word) in DIAGRAMS.items():
        assert any(word in source for source in found[lecture]), \
            f"lectures/{lecture}: no Mermaid diagram of {what} (mentioning {word!r})"


def test_lecture_3_says_what_current_llms_use_and_where_you_build_it():
    text = theory(course.TRANSFORMER)
    box = re.search(r"^> \*\*What 2026 LLMs use\*\*.*\n((?:>.*\n)+)", text, re.M)
    assert box, "lectures/03_transformer: no '> **What 2026 LLMs use**' box"
    body = box.group(1)
    for piece in ("RMSNorm", "SwiGLU", "RoPE", "grouped-query", "bias", "QK-norm"):
        assert piece.lower() in body.lower(), f"the box does not mention {piece}"
    assert len(set(re.findall(r"Exercise (\d\.\d+)", body))) >= 4, "link the exercises"


def test_lecture_4_comes_in_two_parts_with_a_table_of_contents():
    text = theory(course.LLM_FUNDAMENTALS)
    parts = re.findall(r"^# Part (I|II)\b.*$", text, re.M)
    assert parts == ["I", "II"], parts
    head = text[: text.index("\n## ")]
    sections = re.findall(r"^## (.+)$", text, re.M)
    for heading in sections:
        anchor = course.github_anchor(heading)
        assert f"(#{anchor})" in head, f"the table of contents lacks §{heading}"
    assert re.search(r"\d+ min", head), "the table of contents gives reading times"


def test_lecture_4_reading_times_match_its_sections():
    """Each section's reading time in the contents is its words at 200 a minute (±1)."""
    text = theory(course.LLM_FUNDAMENTALS)
    listed = dict(re.findall(r"^- \[§(\d+) [^\]]+\]\([^)]+\) \((\d+) min\)", text, re.M))
    for part in re.split(r"\n(?=## )", text)[1:]:
        number = part.split(".", 1)[0][3:]
        words = len(re.split(r"\n# Part", part)[0].split())
        assert abs(int(listed[number]) - words / 200) <= 1, \
            f"§{number}: listed {listed[number]} min, but it has {words} words"
