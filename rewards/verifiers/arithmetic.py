"""Verifiers for the ``arithmetic`` suites: exact answer, per-digit partial credit, per-line steps.

Where the answer is read from (option ``extract``):

- ``last_line`` (default): the last non-empty line of the completion, stripped. It must be an
  integer literal (``359``, ``-12``, ``0359``); it is compared as an integer.
- ``last_number``: the last integer anywhere in the completion (for chatty models:
  ``The answer is 359.``).

``arithmetic`` scores 1 for the right integer, else 0 (a ``correct`` term of eq. 6.1).
``arithmetic_digits`` (an ``aux`` term) gives partial credit: the fraction of digit positions,
aligned from the units digit, where the answer read equals the right answer, over the longer of
the two (a missing or extra digit counts as wrong; a wrong sign scores 0).
``arithmetic_steps`` rewards each line of a running-result chain: one step reward per expected
intermediate result (1 when that line holds it, else 0), placed at the character offset where
the line ends; an expected line the completion lacks gets 0 at the completion's end, and every
extra line gets 0. Its score is 1 when the final line holds the answer.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from rewards.verifier import Verifier, VerifyResult

_INTEGER = re.compile(r"[+-]?\d+")
_LAST_NUMBER = re.compile(r"-?\d+")


@dataclass(frozen=True)
class ExtractOptions:
    """``extract``: ``last_line`` (the last non-empty line must be an integer) or ``last_number``."""

    extract: Literal["last_line", "last_number"] = "last_line"

    def __post_init__(self) -> None:
        if self.extract not in ("last_line", "last_number"):
            raise ValueError(f"extract must be 'last_line' or 'last_number', not {self.extract!r}")


def read_answer(completion: str, extract: str) -> str | None:
    """The integer literal the completion answers with, or None (module docstring)."""
    if extract == "last_number":
        found = _LAST_NUMBER.findall(completion)
        return found[-1] if found else None
    lines = [line.strip() for line in completion.splitlines() if line.strip()]
    if not lines or not _INTEGER.fullmatch(lines[-1]):
        return None
    return lines[-1]


def _expected(row: Mapping[str, Any], field: str = "answer") -> int:
    value = row[field]
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValueError(f"task field {field!r} is not an integer: {value!r}") from None


class IntegerAnswerVerifier(Verifier):
    """Base of the verifiers that compare one integer read from the completion (option
    ``extract``) with the row's integer ``answer``; subclasses implement ``judge``."""

    Options = ExtractOptions
    required_fields = ("answer",)

    def verify(self, completion: str, row: Mapping[str, Any]) -> VerifyResult:
        try:
            expected = _expected(row)
        except ValueError as exc:
            return VerifyResult.failure(str(exc))
        text = read_answer(completion, self.options.extract)
        if text is None:
            return VerifyResult(0.0, "no integer answer found")
        return self.judge(text, expected)

    @abstractmethod
    def judge(self, text: str, expected: int) -> VerifyResult:
        """The verdict for the integer literal ``text`` read from the completion."""


class ArithmeticVerifier(IntegerAnswerVerifier):
    """1 when the answer read from the completion equals the row's integer ``answer``."""

    name = "arithmetic"
    kind = "correct"
    description = "Integer arithmetic: the last line (or last number) equals the answer"

    def judge(self, text: str, expected: int) -> VerifyResult:
        ok = int(text) == expected
        return VerifyResult(1.0 if ok else 0.0, f"read {text}, expected {expected}")


def digit_credit(got: int, expected: int) -> float:
    """Fraction of digit positions (aligned from the units) that agree, over the longer number."""
    if (got < 0) != (expected < 0):
        return 0.0
    a, b = str(abs(got)), str(abs(expected))
    width = max(len(a), len(b))
    a, b = a.rjust(width, " "), b.rjust(width, " ")
    return sum(x == y for x, y in zip(a, b, strict=True)) / width


class ArithmeticDigitsVerifier(IntegerAnswerVerifier):
    """Partial credit: the share of the answer's digits that are right (aligned from the units)."""

    name = "arithmetic_digits"
    kind = "aux"
    description = "Per-digit partial credit for an integer answer (0 to 1)"

    def judge(self, text: str, expected: int) -> VerifyResult:
        credit = digit_credit(int(text), expected)
        return VerifyResult(credit, f"read {text}, expected {expected}: {credit:.2f} of digits")


class ArithmeticStepsVerifier(Verifier):
    """One reward per running-result line (process supervision); score 1 for a right final line."""

    name = "arithmetic_steps"
    kind = "correct"
    description = "Arithmetic chains: a 0/1 step reward per running-result line"
    required_fields = ("intermediate",)

    def verify(self, completion: str, row: Mapping[str, Any]) -> VerifyResult:
        expected = row["intermediate"]
        if not isinstance(expected, list | tuple) or not expected:
            return VerifyResult.failure(
                f"task field 'intermediate' must be a non-empty list, not {expected!r}"
            )
        try:
            wanted = [int(str(v)) for v in expected]
        except ValueError:
            return VerifyResult.failure(
                f"task field 'intermediate' has a non-integer: {expected!r}"
            )
        lines = line_spans(completion)
        steps: list[tuple[int, float]] = []
        for j, value in enumerate(wanted):
            if j < len(lines):
                text, end = lines[j]
                steps.append((end, 1.0 if _is_int(text, value) else 0.0))
            else:
                steps.append((len(completion), 0.0))
        steps += [(end, 0.0) for _, end in lines[len(wanted) :]]
        final_ok = bool(lines) and _is_int(lines[-1][0], wanted[-1])
        good = sum(r for _, r in steps[: len(wanted)])
        reason = f"{good:g}/{len(wanted)} lines right, {len(lines)} lines written"
        return VerifyResult(1.0 if final_ok else 0.0, reason, steps=tuple(steps))


def line_spans(completion: str) -> list[tuple[str, int]]:
    """Non-empty lines with the character offset where each ends (exclusive)."""
    out, start = [], 0
    for line in completion.split("\n"):
        end = start + len(line)
        if line.strip():
            out.append((line.strip(), end))
        start = end + 1
    return out


def _is_int(text: str, value: int) -> bool:
    return bool(_INTEGER.fullmatch(text)) and int(text) == value
