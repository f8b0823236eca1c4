"""The unbiased pass@k estimator (Chen et al. 2021, "Evaluating Large Language Models Trained on
Code", eq. 1; the textbook has no pass@k).

With ``n`` sampled completions of a problem of which ``c`` are correct, the probability that at
least one of ``k`` completions drawn without replacement from the ``n`` is correct is

    pass@k = 1 - C(n - c, k) / C(n, k)

and its mean over problems is an unbiased estimate of pass@k. The binomials overflow floats for
large ``n``, so the ratio is computed as the product

    C(n - c, k) / C(n, k) = prod_{i = n - c + 1}^{n} (1 - k / i)

(each factor in [0, 1), no large numbers). Pure Python: no torch, no numpy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one problem with ``n`` samples, ``c`` of them correct (module docstring)."""
    if not 0 <= c <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"pass@k needs 1 <= k <= n, got n={n}, k={k}")
    if n - c < k:  # every k-subset contains a correct sample
        return 1.0
    miss = 1.0
    for i in range(n - c + 1, n + 1):
        miss *= 1.0 - k / i
    return 1.0 - miss


def mean_pass_at_k(counts: Iterable[tuple[int, int]], k: int) -> float:
    """Mean pass@k over problems given as ``(n, c)`` pairs (they may have different ``n``)."""
    values = [pass_at_k(n, c, k) for n, c in counts]
    if not values:
        raise ValueError("pass@k needs at least one problem")
    return sum(values) / len(values)


def k_values(n: int) -> list[int]:
    """The k reported for ``n`` samples: 1, 2, 4, ... up to ``n``, and ``n`` itself."""
    if n < 1:
        raise ValueError(f"need at least one sample per problem, got {n}")
    ks, k = [], 1
    while k < n:
        ks.append(k)
        k *= 2
    return [*ks, n]


def correct_counts(verdicts: Sequence[bool | None], samples: int) -> list[tuple[int, int]]:
    """``(n, c)`` per problem from verdicts laid out problem by problem (``samples`` each).

    A verdict of None (no correctness verifier scored the completion) leaves that completion
    out of its problem's ``n``; a problem with no verdict at all is left out."""
    if samples < 1 or len(verdicts) % samples:
        raise ValueError(f"{len(verdicts)} verdicts do not split into groups of {samples}")
    out = []
    for first in range(0, len(verdicts), samples):
        judged = [v for v in verdicts[first : first + samples] if v is not None]
        if judged:
            out.append((len(judged), sum(judged)))
    return out
