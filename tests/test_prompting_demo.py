"""The prompting demo (`python -m demos prompting`), on the
reference: the two formats are encoded
as documented, completions parse back, and a quick run trains, votes and draws its figure."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
from columns import long_lines
from conftest import REPO

from demos.llm.prompting_demo import encode, parse_sums, text_of


def test_formats_are_encoded_as_documented():
    prompts, answers = encode([1234], [5678], 4, "direct")
    assert text_of(prompts[0]) + text_of(answers[0]) == "1234+5678=06912"
    prompts, answers = encode([1234, 99], [5678, 1], 4, "scratchpad")
    assert text_of(prompts[0]) + text_of(answers[0]) == "1234+5678=4802371126191506|06912"
    assert text_of(answers[1]) == "9100" "9010" "0011" "0000" "|00100"
    assert parse_sums(answers, 4, "scratchpad") == [6912, 100]
    broken = answers.copy()
    broken[0, -6] = 3  # the | before the sum is missing: unparseable
    assert parse_sums(broken, 4, "scratchpad") == [None, 100]
    assert parse_sums(np.array([[0, 6, 9, 1, 2]]), 4, "direct") == [6912]


def test_quick_demo_runs_and_draws(tmp_path):
    done = subprocess.run([sys.executable, "-W", "error", "-m", "demos", "prompting",
                           "--target", "reference", "--quick", "--figures", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=60,
                          env={"OPENBLAS_NUM_THREADS": "1", "PATH": ""})
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert not long_lines(text + done.stderr)
    assert re.search(r"direct greedy: +\d+\.\d% exact match", text), text
    assert re.search(r"majority of 3 \(self-consistency\) \d+\.\d%", text), text
    assert (tmp_path / "prompting_accuracy.png").stat().st_size > 10_000
