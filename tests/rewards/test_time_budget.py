"""Time budgets agree: a verifier's ``time_budget(row)`` raises the scorer's per-item limit.

A runaway completion then ends as the verifier's own verdict (score 0, reason ``timeout``, no
error) in ``grpo eval``, ``grpo verify`` and the trainer's ``RewardScheme``, never as an item
killed by the scorer. Real worker pools and the real ``code`` verifier on the local sandbox.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import sample_plugin
from budget_verifiers import Slow

from rewards.plugins import get_plugins
from rewards.scheme import RewardScheme
from rewards.scoring import BatchScorer, item_timeout

LOOP = "def f(x):\n    while True: pass"
TESTS = {"kind": "call", "fn_name": "f", "cases": [{"args": [i], "expected": i} for i in range(3)]}
CASE_TIMEOUT = 2  # 3 cases x 2 s: over eval's 5 s, verify's --timeout 2 and the scheme's 2 s


def grpo(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rewards", *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=cwd,
    )


def assert_own_timeout_verdict(result: dict) -> None:
    """Score 0 from the verifier itself: every case timed out, and no scorer error."""
    assert result["score"] == 0.0, result
    assert result["error"] is None, result
    assert "timeout" in result["reason"], result  # e.g. "0/3 cases passed; case 0: timeout ..."


# -- the base class and item_timeout ----------------------------------------------------------


def test_a_verifier_declares_no_budget_by_default():
    assert sample_plugin.Contains().time_budget({"answer": 1}) is None
    assert item_timeout(sample_plugin.Contains(), {"answer": 1}, 2.0) == 2.0


def test_the_item_limit_is_the_larger_of_timeout_and_budget():
    assert item_timeout(Slow(budget=8), {}, 2.0) == 8.0
    assert item_timeout(Slow(budget=1), {}, 2.0) == 2.0
    assert item_timeout(Slow(), {}, 2.0) == 2.0


@pytest.mark.parametrize("budget", [math.nan, math.inf, -1.0, 0, "10", True, [9]])
def test_a_budget_that_is_not_a_positive_finite_number_is_ignored(budget):
    assert item_timeout(Slow(budget=budget), {}, 2.0) == 2.0


def test_a_budget_that_raises_is_ignored():
    assert item_timeout(Slow(broken_budget=True), {}, 2.0) == 2.0


def test_the_code_verifier_budget_covers_every_case():
    code = get_plugins().verifier("code", case_timeout=CASE_TIMEOUT)
    assert item_timeout(code, {"tests": TESTS}, 5.0) >= 3 * CASE_TIMEOUT + 5
    assert item_timeout(code, {"tests": "not json"}, 5.0) == 5.0  # a bad row: the verifier says


# -- BatchScorer -------------------------------------------------------------------------------


def test_an_item_within_its_verifiers_budget_scores_normally_past_the_scorer_timeout():
    with BatchScorer({"slow": Slow(sleep=6, budget=8)}, workers=1, timeout=2) as scorer:
        (timed,) = scorer.score(["slow"], ["x"], [{}])["slow"]
    assert timed.result.score == 1.0 and timed.result.error is None
    assert 6 <= timed.seconds < 8


def test_an_item_past_its_budget_is_cut_and_the_error_names_the_effective_limit():
    with BatchScorer({"slow": Slow(sleep=30, budget=1.5)}, workers=1, timeout=0.5) as scorer:
        (timed,) = scorer.score(["slow"], ["x"], [{}])["slow"]
    assert timed.timed_out and timed.result.error == "timeout after 1.5s"
    assert timed.seconds == 1.5


def test_a_raising_budget_does_not_break_scoring():
    verifiers = {"broken": Slow(sleep=30, broken_budget=True), "quick": Slow(budget="x")}
    with BatchScorer(verifiers, workers=2, timeout=1) as scorer:
        out = scorer.score(["broken", "quick"], ["x"], [{}])
    assert out["broken"][0].result.error == "timeout after 1s"
    assert out["quick"][0].result.score == 1.0 and out["quick"][0].result.error is None


# -- the code verifier end to end: an infinite loop is the verifier's own verdict --------------


def test_grpo_eval_reports_an_infinite_loop_as_the_verifiers_timeout(tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"id": "loop", "completion": LOOP, "tests": TESTS}) + "\n")
    scheme = tmp_path / "scheme.json"
    options = {"case_timeout": CASE_TIMEOUT}
    scheme.write_text(json.dumps({"verifiers": {"code": {"options": options}}}))
    out_path = tmp_path / "out.jsonl"
    args = ["--input", str(rows), "--verifiers", "code", "--scheme", str(scheme)]
    run = grpo("eval", *args, "--out", str(out_path), cwd=tmp_path)  # default timeout: 5 s
    assert run.returncode == 0, run.stdout + run.stderr
    (row,) = [json.loads(line) for line in out_path.read_text().splitlines()]
    assert_own_timeout_verdict(row["scores"]["code"])


def test_grpo_verify_reports_an_infinite_loop_as_the_verifiers_timeout(tmp_path):
    run = grpo(
        "verify",
        "code",
        "--completion",
        LOOP,
        "--field",
        f"tests={json.dumps(TESTS)}",
        "--option",
        f"case_timeout={CASE_TIMEOUT}",
        "--timeout",
        "2",
        "--json",
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert_own_timeout_verdict(json.loads(run.stdout))


def test_the_trainers_reward_scheme_reports_an_infinite_loop_as_the_verifiers_timeout():
    # as grpo_core.training.policy.resolve_scheme builds it (reward_workers, reward_timeout overrides);
    # the trainer prefetches a finished completion, then score() collects it
    config = {"verifiers": {"code": {"options": {"case_timeout": CASE_TIMEOUT}}}}
    with RewardScheme.from_config(config, workers=1, timeout=2) as scheme:
        scheme.prefetch(0, LOOP, {"tests": TESTS})
        batch = scheme.score([LOOP], [{"tests": TESTS}])
    assert batch.totals == [0.0]
    assert_own_timeout_verdict(batch.components["code"][0].result.to_dict())
