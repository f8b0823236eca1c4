"""The ``countdown`` verifier: does the completion's expression reach the target exactly?

Where the expression is read from:

1. the content of the last ``<answer>…</answer>`` in the completion, if there is one; a trailing
   ``= <integer>`` there (a restated result, as in ``(3 + 5) * 3 = 24``) is dropped and the
   expression itself is evaluated;
2. otherwise the last line made only of digits, operators, brackets and spaces that holds at
   least one digit and one operator (so a line with ``=`` or with words never counts).

The expression is parsed by ``grpokit_countdown.expression`` (never ``eval``) and checked in this
order, each failure scoring 0 with a reason: it parses; every number in it is one of the task's
``numbers``, each used at most as often as it is given (optionally: all of them are used); it
evaluates without dividing by zero; its exact value equals ``target``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from grpokit_countdown.expression import MAX_LENGTH_LIMIT, ExpressionError, evaluate, parse
from rewards import Verifier, VerifyResult

_OPEN, _CLOSE = "<answer>", "</answer>"
_ARITHMETIC_LINE = re.compile(r"[0-9\s+\-*/×÷−()]+")
_HAS_OPERATOR = re.compile(r"[+\-*/×÷−]")
_RESTATED_RESULT = re.compile(r"=\s*[0-9]+\s*$")


@dataclass(frozen=True)
class CountdownOptions:
    """``partial_credit``: score for a well-formed expression that uses allowed numbers but
    misses the target (0 = off). ``require_all``: every given number must be used (the strict
    TinyZero rule) rather than each at most once. ``max_length``: longest expression read."""

    partial_credit: float = 0.0
    require_all: bool = False
    max_length: int = 200

    def __post_init__(self) -> None:
        if isinstance(self.partial_credit, bool) or not 0.0 <= self.partial_credit < 1.0:
            raise ValueError(f"partial_credit must be in [0, 1), not {self.partial_credit!r}")
        if not isinstance(self.require_all, bool):
            raise ValueError(f"require_all must be true or false, not {self.require_all!r}")
        if not isinstance(self.max_length, int) or not 1 <= self.max_length <= MAX_LENGTH_LIMIT:
            raise ValueError(
                f"max_length must be an integer in [1, {MAX_LENGTH_LIMIT}], not {self.max_length!r}"
            )


class CountdownVerifier(Verifier):
    """1.0 when the answer combines the given numbers into exactly the target, else 0."""

    name = "countdown"
    kind = "correct"
    description = "Countdown: an arithmetic expression over the given numbers equal to the target"
    Options = CountdownOptions
    required_fields = ("numbers", "target")

    def verify(self, completion: str, row: Mapping[str, Any]) -> VerifyResult:
        problem = _row_problem(row)
        if problem:
            return VerifyResult.failure(problem)
        numbers, target = list(row["numbers"]), row["target"]
        text = extract_expression(completion)
        if text is None:
            return VerifyResult(0.0, "no expression found")
        try:
            expression = parse(text, max_length=self.options.max_length)
        except ExpressionError as exc:
            return VerifyResult(0.0, f"not a valid expression: {exc}")
        misuse = _misuse(expression.numbers, numbers, require_all=self.options.require_all)
        if misuse:
            return VerifyResult(0.0, misuse)
        try:
            value = evaluate(expression.tree)
        except ZeroDivisionError:
            return VerifyResult(0.0, "division by zero")
        if value != target:
            return VerifyResult(
                self.options.partial_credit, f"evaluates to {value}, target {target}"
            )
        return VerifyResult(1.0, f"{text.strip()} = {target}")


def extract_expression(completion: str) -> str | None:
    """The expression text of ``completion`` (see the module docstring), or None."""
    close = completion.rfind(_CLOSE)
    if close != -1:
        start = completion.rfind(_OPEN, 0, close)
        if start != -1:
            answer = completion[start + len(_OPEN) : close]
            return _RESTATED_RESULT.sub("", answer)
    for line in reversed(completion.splitlines()):
        if (
            _ARITHMETIC_LINE.fullmatch(line)
            and any(c.isdigit() for c in line)
            and _HAS_OPERATOR.search(line)
        ):
            return line
    return None


def _misuse(used: tuple[int, ...], given: list[int], *, require_all: bool) -> str | None:
    """Why ``used`` is not an allowed selection from ``given``, or None when it is."""
    available, counts = Counter(given), Counter(used)
    for number in used:  # in order of appearance, so the reason names the first offender
        if number not in available:
            return f"uses {number} which is not available"
        if counts[number] > available[number]:
            return (
                f"uses {number} {_times(counts[number])} "
                f"but it is given {_times(available[number])}"
            )
    if require_all:
        unused = sorted((available - counts).elements())
        if unused:
            return f"does not use {', '.join(map(str, unused))}"
    return None


def _times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


def _row_problem(row: Mapping[str, Any]) -> str | None:
    numbers, target = row["numbers"], row["target"]
    if not isinstance(numbers, list | tuple) or not all(_is_int(n) for n in numbers):
        return f"task field 'numbers' must be a list of integers, not {numbers!r}"
    if not _is_int(target):
        return f"task field 'target' must be an integer, not {target!r}"
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
