"""Mutation tests of 4.2 (Batches of next-token targets): every check of the exercise fails
on a plausible student bug, and its message names the bug.  The harness and its conventions:
`tests/mutation.py`.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)

from grader.course import LLM_FUNDAMENTALS

PACKAGE = LLM_FUNDAMENTALS.package  # mutants edit files of reference/llm/

DATA = "data.py"
STARTS = "    starts = rng.integers(0, len(data) - block_size, size=batch_size)  # (B,)\n"
POSITIONS = "    positions = starts[:, None] + np.arange(block_size)  # (B, T)\n"
X = "    x = data[positions].astype(np.int64)\n"
Y = "    y = data[positions + 1].astype(np.int64)  # the next token at every position\n"

MUTANTS = [
    Mutant("targets_equal_inputs", "4.2", DATA, ((Y, "    y = x.copy()\n"),),
           ("batch_targets_are_the_next_tokens",), "y equals x"),
    Mutant("targets_shifted_by_two", "4.2", DATA,
           ((Y, "    y = data[positions + 2].astype(np.int64)\n"),),
           ("batch_targets_are_the_next_tokens",), "shifted by exactly one token"),
    Mutant("targets_shifted_backwards", "4.2", DATA,
           ((STARTS, "    starts = rng.integers(1, len(data) - block_size, size=batch_size)\n"),
            (Y, "    y = data[positions - 1].astype(np.int64)\n")),
           ("batch_targets_are_the_next_tokens",), "shifted the wrong way"),
    Mutant("last_window_never_drawn", "4.2", DATA,
           ((STARTS, "    starts = rng.integers(0, len(data) - block_size - 1, "
                     "size=batch_size)\n"),),
           ("batch_covers_every_window", "batch_draws_the_documented_starts"),
           "upper bound of rng.integers is excluded"),
    Mutant("starts_overflow_the_end", "4.2", DATA,
           ((STARTS, "    starts = rng.integers(0, len(data) - block_size + 1, "
                     "size=batch_size)\n"),),
           ("batch_covers_every_window",), "last target data[s + block_size] exists"),
    Mutant("global_numpy_rng", "4.2", DATA,
           ((STARTS, "    starts = np.random.randint(0, len(data) - block_size, "
                     "size=batch_size)\n"),),
           ("batch_draws_the_documented_starts",), "did not use the generator"),
    Mutant("starts_without_replacement", "4.2", DATA,
           ((STARTS, "    starts = rng.permutation(len(data) - block_size)[:batch_size]\n"),),
           ("batch_draws_the_documented_starts",), "Draw them as documented"),
    Mutant("dtype_of_data_kept", "4.2", DATA,
           ((X, "    x = data[positions]\n"), (Y, "    y = data[positions + 1]\n")),
           ("batch_dtypes_and_errors",), "expected int64"),
    Mutant("batch_transposed", "4.2", DATA,
           ((POSITIONS, "    positions = starts[None, :] + np.arange(block_size)[:, None]\n"),),
           ("batch_targets_are_the_next_tokens", "batch_dtypes_and_errors"),
           "expected (4, 5)"),
    # the int array given is modified in place (the check hands it over as is)
    Mutant("clips_data_in_place", "4.2", DATA, (), ("batch_dtypes_and_errors",), "in place",
           append="""
_get_batch = get_batch
def get_batch(data, batch_size, block_size, rng):
    if isinstance(data, np.ndarray) and np.issubdtype(data.dtype, np.integer):
        np.clip(data, 0, None, out=data)  # "no negative ids", written into the caller's array
    return _get_batch(data, batch_size, block_size, rng)
"""),
]

GAPS: dict[str, str] = {}

DIAGNOSIS_GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["4.2"], MUTANTS, gaps=GAPS,
                                diagnosis_gaps=DIAGNOSIS_GAPS))
