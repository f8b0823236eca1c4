"""The scoring pool survives any worker death, idle or busy, at the cost of at most the item
that caused it: the worker is replaced and the item it held is retried once.

Real pools (BatchScorer, RewardScheme, ``grpo eval``); workers are killed with SIGKILL from
outside or die by ``os._exit`` inside a verifier (tests/rewards/fixtures/crash_verifiers.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import crash_verifiers
import pytest
from conftest import make_distribution

from rewards import Plugins
from rewards.scheme import RewardScheme
from rewards.scoring import BatchScorer


def kill(pids: set[int]) -> None:
    """SIGKILL each pid and wait until it is gone (reaped by its parent, the fork server)."""
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        alive = [p for p in pids if Path(f"/proc/{p}").exists()]
        if not alive:
            return
        time.sleep(0.02)
    raise AssertionError(f"workers {alive} still alive")


def pids_of(timed: list) -> set[int]:
    return {int(t.result.reason.split()[1]) for t in timed}


def wait_for_lines(path: Path, count: int, timeout: float = 30) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count:
            return lines
        time.sleep(0.02)
    raise AssertionError(f"{path} has fewer than {count} lines")


@pytest.fixture
def plugins():
    p = Plugins(builtins=False, entry_points=False)
    p.register(crash_verifiers, name="crash")
    return p


# -- BatchScorer --------------------------------------------------------------------------------


def test_idle_workers_killed_between_two_calls_are_replaced():
    with BatchScorer({"pid": crash_verifiers.Pid()}, workers=2, timeout=10) as scorer:
        first = scorer.score(["pid"], ["a", "b", "c", "d"], [{}] * 4)["pid"]
        kill(pids_of(first))
        time.sleep(0.3)  # the pool has seen them die, as between two training steps
        second = scorer.score(["pid"], ["e", "f", "g", "h"], [{}] * 4)["pid"]
    assert [t.result.score for t in second] == [1.0] * 4, [t.result for t in second]
    assert not pids_of(second) & pids_of(first)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_worker_that_dies_at_start_up_is_replaced(tmp_path, workers):
    verifier = crash_verifiers.DieAtStart(marker=str(tmp_path / "died"))
    with BatchScorer({"die_at_start": verifier}, workers=workers, timeout=10) as scorer:
        out = scorer.score(["die_at_start"], ["a", "b", "c"], [{}] * 3)["die_at_start"]
    assert (tmp_path / "died").exists(), "a worker died while starting"
    assert [t.result.score for t in out] == [1.0] * 3, [t.result for t in out]
    assert all(t.result.error is None for t in out)


def test_a_busy_worker_killed_from_outside_costs_nothing_its_item_is_retried(tmp_path):
    log = tmp_path / "starts.log"
    verifier = crash_verifiers.Pid(sleep=1.5, log=str(log))
    with BatchScorer({"pid": verifier}, workers=2, timeout=20) as scorer:
        futures = scorer.submit(["pid"], ["victim"], [{}])
        (first,) = wait_for_lines(log, 1)
        killed = int(first.split()[0])
        kill({killed})
        (timed,) = scorer.collect(futures)["pid"]
    assert timed.result.score == 1.0 and timed.result.error is None, timed.result
    assert pids_of([timed]) != {killed}
    assert [line.split()[1] for line in log.read_text().splitlines()] == ["victim", "victim"]


def test_an_item_that_kills_its_worker_costs_only_itself_after_one_retry(tmp_path):
    log = tmp_path / "deaths.log"
    verifier = crash_verifiers.ExitOn(log=str(log))
    with BatchScorer({"exit_on": verifier}, workers=2, timeout=10) as scorer:
        completions = ["a", "die", "b", "c", "d"]
        out = scorer.score(["exit_on"], completions, [{}] * 5)["exit_on"]
        again = scorer.score(["exit_on"], ["e", "f"], [{}] * 2)["exit_on"]
    assert out[1].result.score == 0.0
    assert out[1].result.error.startswith("crash: worker died"), out[1].result
    assert "exit code 3" in out[1].result.error
    assert [out[i].result.score for i in (0, 2, 3, 4)] == [1.0] * 4
    assert all(out[i].result.error is None for i in (0, 2, 3, 4))
    assert len(log.read_text().splitlines()) == 2, "the culprit ran twice: once and one retry"
    assert [t.result.score for t in again] == [1.0, 1.0]


def test_workers_killed_right_after_the_first_items_arrive_cost_nothing():
    with BatchScorer({"pid": crash_verifiers.Pid(sleep=0.2)}, workers=2, timeout=20) as scorer:
        futures = scorer.submit(["pid"], [str(i) for i in range(6)], [{}] * 6)
        deadline = time.monotonic() + 10
        while len(scorer.worker_pids()) < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        kill(set(scorer.worker_pids()))  # starting, idle or busy: whatever they were doing
        out = scorer.collect(futures)["pid"]
    assert [t.result.error for t in out] == [None] * 6
    assert [t.result.score for t in out] == [1.0] * 6


def test_workers_that_can_never_start_give_error_results_not_a_hang():
    start = time.monotonic()
    with BatchScorer({"unloadable": crash_verifiers.Unloadable()}, workers=2) as scorer:
        out = scorer.score(["unloadable"], ["a", "b"], [{}, {}])["unloadable"]
    assert time.monotonic() - start < 30
    for timed in out:
        assert timed.result.score == 0.0
        assert "scoring workers cannot start: RuntimeError: cannot load in a worker" in (
            timed.result.error
        )


def test_a_running_item_that_is_cancelled_frees_its_worker_at_once(tmp_path):
    import sample_plugin

    with BatchScorer({"hang": sample_plugin.Hang()}, workers=1, timeout=60) as scorer:
        scorer.prefetch(0, ["hang"], "hang", {})
        time.sleep(0.5)  # running by now
        start = time.monotonic()
        out = scorer.score(["hang"], ["fine"], [{}])["hang"]  # not the prefetched item
    assert out[0].result.score == 1.0
    assert time.monotonic() - start < 20, "the cancelled item's worker was stopped"


def test_large_items_behind_a_hung_one_are_scored_after_its_timeout():
    import sample_plugin

    big = "x" * 200_000  # larger than a pipe holds: never queued in a busy worker's pipe
    with BatchScorer({"hang": sample_plugin.Hang()}, workers=1, timeout=1) as scorer:
        out = scorer.score(["hang"], ["hang", big, big + "y"], [{}] * 3)["hang"]
    assert out[0].timed_out
    assert [t.result.score for t in out[1:]] == [1.0, 1.0]


def test_an_unpicklable_row_is_that_items_error():
    with BatchScorer({"pid": crash_verifiers.Pid()}, workers=1) as scorer:
        out = scorer.score(["pid"], ["a", "b"], [{"f": lambda: 1}, {}])["pid"]
    assert out[0].result.error.startswith("crash: "), out[0].result
    assert out[1].result.score == 1.0


def test_the_fork_server_killed_between_and_during_calls_costs_nothing():
    from rewards import worker_process

    def kill_fork_server() -> None:
        os.kill(worker_process._SERVER._forkserver_pid, signal.SIGKILL)

    with BatchScorer({"pid": crash_verifiers.Pid(sleep=0.1)}, workers=2, timeout=20) as scorer:
        first = scorer.score(["pid"], ["a", "b"], [{}] * 2)["pid"]
        assert [t.result.score for t in first] == [1.0, 1.0]
        kill_fork_server()
        time.sleep(0.3)
        out = scorer.score(["pid"], ["c", "d", "e"], [{}] * 3)["pid"]
        assert [(t.result.score, t.result.error) for t in out] == [(1.0, None)] * 3
        futures = scorer.submit(["pid"], ["f", "g", "h", "i"], [{}] * 4)
        time.sleep(0.05)
        kill_fork_server()
        out = scorer.collect(futures)["pid"]
        assert [(t.result.score, t.result.error) for t in out] == [(1.0, None)] * 4


# -- RewardScheme (what training calls) ---------------------------------------------------------


def test_the_reward_scheme_keeps_scoring_after_its_workers_are_killed(plugins):
    with RewardScheme.from_config({"pid": 1.0}, plugins=plugins, workers=2) as scheme:
        first = scheme.score(["a", "b", "c"], [{}] * 3)
        assert first.totals == [1.0] * 3
        kill(pids_of(first.components["pid"]))
        time.sleep(0.3)  # the pool has seen them die, as between two training steps
        for _ in range(2):  # every later call too
            assert scheme.score(["x", "y", "z"], [{}] * 3).totals == [1.0] * 3


def test_the_reward_scheme_survives_a_worker_dying_at_start_up(plugins, tmp_path):
    config = {"die_at_start": {"options": {"marker": str(tmp_path / "died")}}}
    with RewardScheme.from_config(config, plugins=plugins, workers=1) as scheme:
        assert scheme.score(["a", "b"], [{}] * 2).totals == [1.0, 1.0]
        assert scheme.score(["c"], [{}]).totals == [1.0]
    assert (tmp_path / "died").exists()


# -- grpo eval ----------------------------------------------------------------------------------


@pytest.fixture
def crash_plugin(installed_plugins):
    """The crash verifiers installed as a plugin distribution (found by entry point)."""
    make_distribution(installed_plugins, "crash_plugin_dist", {"crash": "crash_verifiers"})
    return installed_plugins


def grpo_eval(
    tmp_path: Path, rows: list[dict], scheme: dict, workers: int = 2
) -> tuple[int, list[dict], dict]:
    rows_path, scheme_path = tmp_path / "rows.jsonl", tmp_path / "scheme.json"
    rows_path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    scheme_path.write_text(json.dumps({"verifiers": scheme, "workers": workers}))
    out_path, summary_path = tmp_path / "out.jsonl", tmp_path / "summary.json"
    run = subprocess.run(
        [sys.executable, "-m", "rewards", "eval", "--input", str(rows_path)]
        + ["--scheme", str(scheme_path), "--out", str(out_path)]
        + ["--summary-json", str(summary_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    results = [json.loads(line) for line in out_path.read_text().splitlines()]
    return run.returncode, results, json.loads(summary_path.read_text())


@pytest.mark.parametrize("workers", [1, 2])
def test_grpo_eval_scores_every_row_when_a_worker_dies_at_start_up(crash_plugin, tmp_path, workers):
    rows = [{"id": i, "completion": str(i)} for i in range(6)]
    scheme = {"die_at_start": {"options": {"marker": str(tmp_path / "died")}}}
    code, results, summary = grpo_eval(tmp_path, rows, scheme, workers)
    assert (tmp_path / "died").exists()
    assert [r["scores"]["die_at_start"]["error"] for r in results] == [None] * 6
    assert [r["total"] for r in results] == [1.0] * 6
    assert summary["verifiers"]["die_at_start"]["errors"] == 0
    assert code == 0


def test_grpo_eval_loses_only_the_row_that_kills_its_worker(crash_plugin, tmp_path):
    rows = [{"id": i, "completion": "die" if i == 2 else str(i)} for i in range(6)]
    scheme = {"exit_on": {"options": {"log": str(tmp_path / "deaths.log")}}}
    code, results, summary = grpo_eval(tmp_path, rows, scheme)
    errors = {r["id"]: r["scores"]["exit_on"]["error"] for r in results}
    assert errors.pop(2).startswith("crash: worker died")
    assert set(errors.values()) == {None}
    assert summary["verifiers"]["exit_on"]["errors"] == 1
    assert code == 1


def test_grpo_eval_scores_every_row_when_a_busy_worker_is_killed(crash_plugin, tmp_path):
    rows, scheme, log = tmp_path / "rows.jsonl", tmp_path / "scheme.json", tmp_path / "starts.log"
    rows.write_text("".join(json.dumps({"id": i, "completion": str(i)}) + "\n" for i in range(8)))
    options = {"sleep": 1.0, "log": str(log)}
    scheme.write_text(json.dumps({"verifiers": {"pid": {"options": options}}, "workers": 2}))
    out = tmp_path / "out.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rewards", "eval", "--input", str(rows), "--scheme", str(scheme)]
        + ["--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    pid, victim = wait_for_lines(log, 3)[2].split()  # a worker busy on its second item or so
    kill({int(pid)})
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stdout + stderr
    results = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["scores"]["pid"]["score"], r["scores"]["pid"]["error"]) for r in results] == [
        (1.0, None)
    ] * 8
    starts = [line.split()[1] for line in log.read_text().splitlines()]
    assert starts.count(victim) == 2, "the killed worker's item ran again"
