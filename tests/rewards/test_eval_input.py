"""``grpo eval`` never loses work: bad input lines are reported with their line number and the
rest is scored; results are written as rows finish, so SIGINT/SIGTERM keeps every finished row
and the summary of what finished; output is standard JSON; the summary reads well in a pipe.

Real ``python -m rewards eval`` subprocesses with plugins found by entry point.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import make_distribution

GOOD = [
    {"id": "a", "completion": "it is 42", "answer": "42", "label": 1},
    {"id": "b", "completion": "it is 41", "answer": "42", "label": 0},
]


def strict_json(text: str) -> object:
    """json.loads that refuses NaN and Infinity (which the standard does not allow)."""

    def refuse(name: str) -> None:
        raise AssertionError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def grpo(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rewards", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def eval_file(tmp_path: Path, data: bytes, *extra: str) -> tuple:
    rows = tmp_path / "rows.jsonl"
    rows.write_bytes(data)
    out, summary = tmp_path / "out.jsonl", tmp_path / "summary.json"
    run = grpo(
        "eval", "--input", str(rows), "--verifiers", "contains", "--workers", "1",
        "--out", str(out), "--summary-json", str(summary), *extra,
    )  # fmt: skip
    results = [strict_json(line) for line in out.read_text().splitlines()] if out.exists() else []
    data = strict_json(summary.read_text()) if summary.exists() else None
    return run, results, data


def lines(*objs: object) -> bytes:
    return b"".join(o if isinstance(o, bytes) else json.dumps(o).encode() + b"\n" for o in objs)


# -- bad lines cost only themselves ---------------------------------------------------------------


def test_an_undecodable_line_is_reported_with_its_number_and_the_rest_is_scored(
    installed_plugins, tmp_path
):
    bad = b'{"id": "x", "completion": "caf\xe9 42", "answer": "42"}\n'  # Latin-1, not UTF-8
    run, results, summary = eval_file(tmp_path, lines(GOOD[0], bad, GOOD[1]))
    assert "rows.jsonl:2: skipped: not valid UTF-8" in run.stderr, run.stderr
    assert [r["id"] for r in results] == ["a", "b"]
    assert [b["line"] for b in summary["malformed_lines"]] == [2]
    assert run.returncode == 1  # a malformed line: results for the rest, exit 1


def test_an_integer_literal_over_the_digit_limit_is_one_bad_line(installed_plugins, tmp_path):
    huge = b'{"id": "h", "completion": "1", "answer": ' + b"7" * 5000 + b"}\n"
    run, results, summary = eval_file(tmp_path, lines(GOOD[0], GOOD[1], huge))
    assert "rows.jsonl:3: skipped: an integer literal longer than 4300 digits" in run.stderr
    assert [r["id"] for r in results] == ["a", "b"]
    assert [b["line"] for b in summary["malformed_lines"]] == [3]


@pytest.mark.parametrize("label", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_a_non_finite_label_is_one_bad_line_never_written_back(installed_plugins, tmp_path, label):
    row = b'{"id": "n", "completion": "42", "answer": "42", "label": ' + label + b"}\n"
    run, results, summary = eval_file(tmp_path, lines(row, *GOOD))
    assert "rows.jsonl:1: skipped:" in run.stderr and "finite" in run.stderr, run.stderr
    assert [r["id"] for r in results] == ["a", "b"]
    assert summary["verifiers"]["contains"]["labels"]["labelled"] == 2


def test_a_byte_order_mark_is_accepted(installed_plugins, tmp_path):
    run, results, summary = eval_file(tmp_path, b"\xef\xbb\xbf" + lines(*GOOD))
    assert run.returncode == 0, run.stderr
    assert [r["id"] for r in results] == ["a", "b"]
    assert summary["malformed_lines"] == []


def test_no_usable_line_exits_2_and_names_the_file(installed_plugins, tmp_path):
    run, results, _ = eval_file(tmp_path, b"{not json\n\xff\n")
    assert run.returncode == 2
    assert "rows.jsonl:1: skipped: invalid JSON" in run.stderr
    assert "rows.jsonl:2: skipped: not valid UTF-8" in run.stderr
    assert "no usable row" in run.stderr
    assert results == []


def test_each_result_names_its_input_line(installed_plugins, tmp_path):
    run, results, _ = eval_file(tmp_path, lines(GOOD[0], b"\n", GOOD[1]))
    assert [(r["id"], r["line"]) for r in results] == [("a", 1), ("b", 3)]


# -- interrupted runs keep what finished -----------------------------------------------------------


@pytest.fixture
def slow_plugin(installed_plugins):
    make_distribution(installed_plugins, "crash_plugin_dist", {"crash": "crash_verifiers"})
    return installed_plugins


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_mid_run_leaves_every_finished_row_and_the_summary(slow_plugin, tmp_path, sig):
    rows, scheme = tmp_path / "rows.jsonl", tmp_path / "scheme.json"
    rows.write_text("".join(json.dumps({"id": i, "completion": str(i)}) + "\n" for i in range(40)))
    scheme.write_text(json.dumps({"verifiers": {"pid": {"options": {"sleep": 0.25}}}}))
    out, summary_path = tmp_path / "out.jsonl", tmp_path / "summary.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rewards", "eval", "--input", str(rows), "--scheme", str(scheme)]
        + ["--workers", "1", "--out", str(out), "--summary-json", str(summary_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # rows are written as they finish
        if out.exists() and len(out.read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    else:
        proc.kill()
        raise AssertionError("no rows written while scoring")
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, stderr
    results = [strict_json(line) for line in out.read_text().splitlines()]
    assert 3 <= len(results) < 40
    assert all(r["scores"]["pid"]["score"] == 1.0 for r in results)
    assert len({r["id"] for r in results}) == len(results)
    summary = strict_json(summary_path.read_text())
    assert summary["interrupted"] == sig.name
    assert summary["rows"] == len(results) and summary["rows_read"] == 40
    assert summary["verifiers"]["pid"]["items"] == len(results)
    assert f"interrupted by {sig.name}" in stdout + stderr
    assert "pid" in stdout  # the summary table of what finished


# -- the summary without a terminal ---------------------------------------------------------------


def test_the_summary_is_readable_in_a_pipe(installed_plugins, tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_bytes(lines(*GOOD))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    run = grpo("eval", "--input", str(rows), "--verifiers", "contains,prefix", env=env)
    assert run.returncode == 0, run.stderr
    assert "…" not in run.stdout, run.stdout
    header = next(line for line in run.stdout.splitlines() if "verifier" in line)
    for column in ("mean", "errors", "timeouts", "p50 ms", "p99 ms", "items/s", "agreement"):
        assert column in header, run.stdout
    for column in ("precision", "recall"):
        assert column in header, run.stdout
    body = run.stdout.splitlines()
    assert any(line.split()[:1] == ["contains"] for line in body), run.stdout
    assert any(line.split()[:1] == ["total"] for line in body), run.stdout
