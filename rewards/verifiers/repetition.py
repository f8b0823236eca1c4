"""N-gram repetition penalty: how much of the completion repeats its own word n-grams.

An ``r_aux`` term of the reward sum (textbook eq. 6.1)::

    r_rep = p_max * (1 - |unique n-grams| / |n-grams|)

over the word n-grams of the completion (words split on whitespace and lowercased);
``p_max`` = ``max_penalty`` <= 0. A text of fewer than ``n`` words has no n-gram: ``r_rep = 0``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rewards.verifier import Verifier, VerifyResult


@dataclass(frozen=True)
class RepetitionOptions:
    """``ngram``: n >= 1; ``max_penalty`` <= 0: the limit for one n-gram repeated forever."""

    ngram: int = 3
    max_penalty: float = -1.0

    def __post_init__(self) -> None:
        if isinstance(self.ngram, bool) or not isinstance(self.ngram, int) or self.ngram < 1:
            raise ValueError(f"option 'ngram' must be an integer >= 1, got {self.ngram!r}")
        penalty = self.max_penalty
        if isinstance(penalty, bool) or not isinstance(penalty, (int, float)) or penalty > 0:
            raise ValueError(f"option 'max_penalty' must be a number <= 0, got {penalty!r}")


def ngrams(text: str, n: int) -> list[tuple[str, ...]]:
    """Word n-grams of ``text`` (whitespace split, lowercased)."""
    words = text.lower().split()
    return [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]


class RepetitionVerifier(Verifier):
    """Penalty proportional to the share of repeated word n-grams."""

    name = "repetition"
    kind = "aux"
    description = "max_penalty * (1 - unique/total word n-grams)"
    Options = RepetitionOptions

    def verify(self, completion: str, row: Mapping[str, Any]) -> VerifyResult:
        opts: RepetitionOptions = self.options
        grams = ngrams(completion, opts.ngram)
        if not grams:
            return VerifyResult(0.0, f"fewer than {opts.ngram} words")
        unique = len(set(grams))
        score = opts.max_penalty * (1 - unique / len(grams))
        repeated = len(grams) - unique
        return VerifyResult(score, f"{repeated} of {len(grams)} {opts.ngram}-grams repeated")
