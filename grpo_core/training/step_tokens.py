"""Map process-supervision step ends from character offsets to token positions (eq. 3.6-3.7).

A verifier reports a reasoning step as ``(offset, reward)``: the step's text ends (exclusive) at
character ``offset`` of the completion text. Its token index is the first token by which the
incrementally decoded text covers ``offset`` characters, i.e. the token that completes the step's
last character: the smallest k with ``len(decode(ids[:k + 1])) >= offset``. Found by binary search
on the decoded prefix lengths (they only grow), so a step costs O(log n) decodes, with the same
decoding (``skip_special_tokens``) that produced the text. A step at offset 0 maps to token 0; a
step ending at or beyond the end of the text maps to the completion's last token (its EOS when it
has one), so the final step's reward also covers the decision to stop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


def step_token_ends(
    tokenizer: Any, token_ids: Sequence[int], text_length: int, offsets: Sequence[int], length: int
) -> list[int]:
    """Token index (0-based, < ``length``) where each step ending at ``offsets`` ends.

    ``token_ids`` are the completion's text tokens (EOS excluded), ``text_length`` the length of
    their decoded text, ``length`` the completion's token count including its EOS.
    """
    if length < 1:
        raise ValueError("a completion has at least one token (its EOS)")
    ids = list(token_ids)
    cache: dict[int, int] = {}

    def covered(k: int) -> int:  # characters decoded from ids[:k + 1]
        if k not in cache:
            cache[k] = len(tokenizer.decode(ids[: k + 1], skip_special_tokens=True))
        return cache[k]

    return [_token_of(offset, text_length, len(ids), length, covered) for offset in offsets]


def _token_of(
    offset: int, text_length: int, n_text: int, length: int, covered: Callable[[int], int]
) -> int:
    last = length - 1
    if offset >= text_length or n_text == 0:
        return last
    if offset <= 0:
        return 0
    lo, hi = 0, n_text - 1  # the answer is in [lo, hi]: covered(n_text - 1) == text_length
    while lo < hi:
        mid = (lo + hi) // 2
        if covered(mid) >= offset:
            hi = mid
        else:
            lo = mid + 1
    return min(lo, last)
