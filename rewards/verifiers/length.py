"""Length penalty: DAPO's soft overlong punishment plus an optional Dr. GRPO-style linear term.

An ``r_aux`` term of the reward sum (textbook eq. 6.1; why explicit length terms: textbook 8.3)::

    R_overlong(L) =  0                          if L <= L_max - L_buf
                     ((L_max - L_buf) - L) / L_buf  if L_max - L_buf < L <= L_max
                    -1                          if L > L_max

    r_len(L) = R_overlong(L) - c * L

``R_overlong`` is DAPO's soft overlong punishment (Yu et al. 2025, eq. 13), ``L`` the completion's
length in ``unit`` (characters, or whitespace-separated words as a stand-in for tokens),
``L_max`` = ``max_length``, ``L_buf`` = ``buffer`` (0: a hard cut at ``L_max``) and ``c`` =
``per_unit``, the explicit linear penalty of the Dr. GRPO notes, sec. 4.3 (``-0.001 * len``; 0 by default).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from rewards.verifier import Verifier, VerifyResult

UNITS = ("chars", "words")


def _number(option: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"option {option!r} must be a number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class LengthOptions:
    """``max_length`` (L_max) and ``buffer`` (L_buf) in ``unit``; ``per_unit`` (c) >= 0."""

    max_length: int = 4096
    buffer: int = 1024
    unit: Literal["chars", "words"] = "words"
    per_unit: float = 0.0

    def __post_init__(self) -> None:
        for option in ("max_length", "buffer"):
            value = getattr(self, option)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"option {option!r} must be an integer, got {value!r}")
        if self.max_length < 1:
            raise ValueError(f"option 'max_length' must be >= 1, got {self.max_length}")
        if not 0 <= self.buffer <= self.max_length:
            raise ValueError(
                f"option 'buffer' must be in [0, max_length={self.max_length}], got {self.buffer}"
            )
        if self.unit not in UNITS:
            raise ValueError(f"option 'unit' must be one of {', '.join(UNITS)}, got {self.unit!r}")
        if _number("per_unit", self.per_unit) < 0:
            raise ValueError(f"option 'per_unit' must be >= 0, got {self.per_unit}")


def measure(text: str, unit: str) -> int:
    """Length of ``text`` in characters or whitespace-separated words."""
    return len(text) if unit == "chars" else len(text.split())


def overlong_penalty(length: int, max_length: int, buffer: int) -> float:
    """DAPO's soft overlong punishment R_overlong (module docstring)."""
    if length > max_length:
        return -1.0
    soft_start = max_length - buffer
    if length <= soft_start:
        return 0.0
    return (soft_start - length) / buffer


class LengthVerifier(Verifier):
    """Penalise overlong completions (0 down to -1 over the buffer zone) and, optionally, length."""

    name = "length"
    kind = "aux"
    description = "DAPO soft overlong penalty (0 to -1 over the buffer) plus optional per-unit cost"
    Options = LengthOptions

    def verify(self, completion: str, row: Mapping[str, Any]) -> VerifyResult:
        opts: LengthOptions = self.options
        length = measure(completion, opts.unit)
        overlong = overlong_penalty(length, opts.max_length, opts.buffer)
        score = overlong - opts.per_unit * length
        reason = f"{length} {opts.unit} (max {opts.max_length}, buffer {opts.buffer})"
        if overlong:
            reason += f": overlong {overlong:+.3f}"
        if opts.per_unit:
            reason += f", linear {-opts.per_unit * length:+.3f}"
        return VerifyResult(score, reason)
