"""Labelled fixtures of the ``countdown`` verifier, for ``grpo audit countdown``: right
expressions, wrong ones, attempts to game the parser or the number rules, and bad rows."""

from __future__ import annotations

from rewards.audit import Fixture

ROW = {"id": "countdown-24", "prompt": "Using 3, 5, 3 make 24.", "numbers": [3, 5, 3], "target": 24}
THINK = "<think>\n3 + 5 is 8, and 8 times 3 is 24.\n</think>\n"

FIXTURES: tuple[Fixture, ...] = (
    Fixture("countdown", "tagged", "must_pass", THINK + "<answer>(3 + 5) * 3</answer>", ROW),
    Fixture("countdown", "restated-result", "must_pass", "<answer>(3 + 5) * 3 = 24</answer>", ROW),
    Fixture("countdown", "last-line", "must_pass", "Working it out:\n(5 + 3) × 3", ROW),
    Fixture("countdown", "misses-target", "must_fail", "<answer>3 + 5 + 3</answer>", ROW),
    Fixture(
        "countdown", "unknown-number", "must_fail", "<answer>(3 + 5) * 3 + 7 - 7</answer>", ROW
    ),
    Fixture(
        "countdown",
        "target-itself",
        "exploit",
        "<answer>24</answer>",
        ROW,
        description="the target is not one of the numbers",
    ),
    Fixture("countdown", "number-reused", "exploit", "<answer>(3 + 5) * 3 * 3 / 3</answer>", ROW),
    Fixture("countdown", "python-call", "exploit", "<answer>__import__('os')</answer>", ROW),
    Fixture("countdown", "power", "exploit", "<answer>3 ** 3 - 3</answer>", ROW),
    Fixture("countdown", "unary-minus", "exploit", "<answer>-3 + 5 * 3 + 3 * 3 + 3</answer>", ROW),
    Fixture("countdown", "empty-answer", "exploit", "<answer></answer>", ROW),
    Fixture(
        "countdown",
        "numbers-not-a-list",
        "malformed",
        "<answer>3</answer>",
        {"numbers": "3", "target": 3},
    ),
    Fixture(
        "countdown",
        "target-not-an-integer",
        "malformed",
        "<answer>3</answer>",
        {"numbers": [3], "target": "3"},
    ),
    Fixture("countdown", "no-target", "malformed", "<answer>3</answer>", {"numbers": [3]}),
)
