"""The ``countdown`` task suite: procedural, seeded, and solvable by construction.

Each problem draws ``numbers`` and combines all of them, in a random order with random
operators, into a value (``combine_randomly``); a value of at most ``max_target`` that is not
itself one of the numbers becomes the ``target``. So every problem has a solution using each
number exactly once, valid under both verifier rules (each at most once, or all of them).

Splits are disjoint whatever the seeds: a problem (its sorted numbers and target) belongs to
``test`` when a hash of it falls in one fifth of the hash range, else to ``train``, and each
split keeps only its own problems. Each split also draws from its own stream,
``random.Random("grpokit-countdown:<split>:<seed>")`` (string seeds are reproducible).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rewards import SuiteError, TaskSuite
from rewards.suite import Split

#: one problem in TEST_SHARE belongs to the test split
TEST_SHARE = 5
#: draws of numbers tried for one row before giving up (never reached with sane options)
MAX_DRAWS = 10_000
#: random expressions tried per draw of numbers
EXPRESSIONS_PER_DRAW = 20

PROMPT = (
    "Using the numbers {numbers}, create an arithmetic expression that equals {target}. "
    "You may use +, -, *, / and brackets, and each number at most once. "
    "First think step by step inside <think> </think> tags, then give only the expression "
    "inside <answer> </answer> tags, for example <think> ... </think><answer>(1 + 2) * 3</answer>."
)


@dataclass(frozen=True)
class CountdownSuiteOptions:
    """How many numbers per problem, their range, the largest target and the rows per split."""

    min_numbers: int = 3
    max_numbers: int = 4
    low: int = 1
    high: int = 100
    max_target: int = 100
    train_rows: int = 1000
    test_rows: int = 200

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        if not 2 <= self.min_numbers <= self.max_numbers <= 8:
            raise ValueError(
                f"need 2 <= min_numbers <= max_numbers <= 8, "
                f"got {self.min_numbers} and {self.max_numbers}"
            )
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")


class CountdownSuite(TaskSuite):
    """Countdown problems: reach ``target`` from ``numbers`` with + - * / and brackets."""

    name = "countdown"
    description = "Procedural Countdown arithmetic puzzles, each solvable by construction"
    Options = CountdownSuiteOptions
    required_fields = ("prompt", "numbers", "target")

    def load(self, split: Split, seed: int) -> Iterator[dict[str, Any]]:
        rng = random.Random(f"grpokit-countdown:{split}:{seed}")
        count = self.options.train_rows if split == "train" else self.options.test_rows
        for index in range(count):
            numbers, target = self._problem(rng, split)
            yield {
                "id": f"countdown-{split}-{seed}-{index}",
                "prompt": PROMPT.format(numbers=numbers, target=target),
                "numbers": numbers,
                "target": target,
            }

    def default_scheme(self) -> dict[str, Any]:
        return {"verifiers": {"countdown": {"weight": 1.0}, "format": {"weight": 0.1}}}

    def _problem(self, rng: random.Random, split: Split) -> tuple[list[int], int]:
        """Draw numbers and a target built from all of them, until one belongs to ``split``."""
        opts = self.options
        size = rng.randint(opts.min_numbers, opts.max_numbers)
        for _ in range(MAX_DRAWS):
            numbers = [rng.randint(opts.low, opts.high) for _ in range(size)]
            for _ in range(EXPRESSIONS_PER_DRAW):
                target = combine_randomly(rng, numbers)
                fits = target <= opts.max_target and target not in numbers
                if fits and split_of(numbers, target) == split:
                    return numbers, target
        raise SuiteError(
            f"suite 'countdown': no {split} problem found in {MAX_DRAWS} draws with {opts}"
        )


def combine_randomly(rng: random.Random, numbers: list[int]) -> int:
    """Combine all ``numbers`` into one value the way a person plays Countdown: repeatedly
    replace two values, picked at random, by their sum, product, (larger minus smaller)
    difference, or exact quotient, so every intermediate result is a positive whole number."""
    values = list(numbers)
    while len(values) > 1:
        a = values.pop(rng.randrange(len(values)))
        b = values.pop(rng.randrange(len(values)))
        big, small = max(a, b), min(a, b)
        results = [big + small, big * small]
        if big != small:
            results.append(big - small)
        if small > 1 and big % small == 0:
            results.append(big // small)
        values.append(rng.choice(results))
    return values[0]


def split_of(numbers: list[int], target: int) -> Split:
    """The split a problem belongs to, fixed by a hash of its sorted numbers and target."""
    key = f"{sorted(numbers)}->{target}".encode()
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return "test" if int.from_bytes(digest, "big") % TEST_SHARE == 0 else "train"
