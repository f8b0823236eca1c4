"""Conformance with a peer's test suite: the parametrised cases of huggingface/Math-Verify's
tests (ported as data, ``peer_math_cases``), scored by grpokit's ``math`` verifier and by
math-verify itself on the same completions.

Every case must agree with the peer's expected value, except the differences listed with
their reasons in ``peer_math_cases.KNOWN_DIFFERENCES`` (which must still differ: a listed case
that starts agreeing is taken off the list). Overall: no crash, no false positive on the peer's
negative cases, and agreement at least math-verify's own under the same protocol. The report
with the agreement table: ``benchmarks/math_conformance.py`` ->
``benchmarks/results/math_conformance.md``.
"""

from __future__ import annotations

import re

import pytest
from peer_math_cases import (
    KNOWN_DIFFERENCES,
    as_completion,
    grpokit_outcome,
    load_cases,
    load_source,
    math_verify_outcome,
    run_all,
    summarise,
)

from rewards.verifiers.math_answer import MathVerifier

CASES = load_cases()
BY_ID = {c.id: c for c in CASES}


@pytest.fixture(scope="module")
def verifier() -> MathVerifier:
    return MathVerifier()


@pytest.fixture(scope="module")
def tables(verifier):
    """grpokit's and math-verify's summaries over every case (computed once)."""
    ours = summarise(CASES, run_all(CASES, lambda c: grpokit_outcome(c, verifier)))
    theirs = summarise(CASES, run_all(CASES, math_verify_outcome))
    return ours, theirs


def test_the_ported_cases_record_their_source():
    source = load_source()["source"]
    assert source["repository"] == "huggingface/Math-Verify"
    assert re.fullmatch(r"[0-9a-f]{40}", source["commit"])
    assert source["paths"] and all(p.startswith("tests/") for p in source["paths"])
    assert len(CASES) >= 250 and len(BY_ID) == len(CASES)
    assert {c.expected for c in CASES} == {0, 1}


@pytest.mark.parametrize("case_id", list(BY_ID))
def test_case_agrees_with_the_peer_or_is_a_listed_difference(case_id, verifier):
    case = BY_ID[case_id]
    outcome = grpokit_outcome(case, verifier)
    assert not outcome.crashed, outcome.error
    if case_id in KNOWN_DIFFERENCES:
        assert outcome.passed != bool(case.expected), f"now agrees: unlist it ({outcome.reason})"
    else:
        assert outcome.passed == bool(case.expected), outcome.reason


def test_listed_differences_are_real_cases_with_reasons():
    for case_id, reason in KNOWN_DIFFERENCES.items():
        assert case_id in BY_ID, case_id
        assert len(reason) > 40, case_id


def test_no_crash_and_no_false_positive(tables):
    ours, _ = tables
    assert ours["crashes"] == 0
    assert ours["false_positives"] == 0
    assert ours["errors"] == 0  # every gold of the peer parses


def test_agreement_is_at_least_math_verifys_own(tables):
    ours, theirs = tables
    assert ours["agree"] >= theirs["agree"], (ours, theirs)
    assert ours["agree_pct"] >= 96.0, ours


def test_a_prediction_without_a_final_answer_marker_is_boxed():
    assert as_completion("$x \\geq 5$") == "\\boxed{x \\geq 5}"
    assert as_completion("Therefore $\\boxed{3}$.") == "Therefore $\\boxed{3}$."
    assert as_completion("Final Answer: The final answer is $7$.").startswith("Final Answer")
