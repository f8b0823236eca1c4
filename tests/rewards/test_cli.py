"""The ``grpo`` verifier commands, run as real subprocesses with plugins found by entry point."""

import json
import subprocess
import sys

import pytest


def grpo(*args, input=None):
    return subprocess.run(
        [sys.executable, "-m", "rewards", *args],
        capture_output=True,
        text=True,
        input=input,
        timeout=120,
    )


def test_verifiers_lists_plugins_and_failures_without_torch(installed_plugins):
    code = (
        "import sys; sys.argv = ['grpo', 'verifiers', '--json']\n"
        "from rewards.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    listing, marker = out.stdout.strip().rsplit("\n", 1)
    assert marker == "NO-TORCH"
    data = json.loads(listing)
    by_name = {v["name"]: v for v in data["verifiers"]}
    assert by_name["contains"]["plugin"] == "sample"
    assert by_name["prefix"]["kind"] == "format"
    assert "tiny" in data["suites"]
    assert any(
        f["plugin"] == "broken" and "broken on purpose" in f["error"] for f in data["failures"]
    )
    table = grpo("verifiers")
    assert "contains" in table.stdout and "failed to load" in table.stdout


def test_verify_one_completion(installed_plugins):
    out = grpo("verify", "contains", "--completion", "so it is 42", "--answer", "42", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["score"] == 1.0
    out = grpo("verify", "prefix", "--completion", "ab", "--option", "prefix=a")
    assert "score=1.0" in out.stdout
    out = grpo("verify", "contains", "--completion", "x", "--field", 'answer={"a": 1}', "--json")
    assert json.loads(out.stdout)["reason"] == "not found"


def test_verify_errors_are_one_clear_line(installed_plugins):
    out = grpo("verify", "nope", "--completion", "x")
    assert out.returncode == 2
    assert out.stderr.strip().startswith("error: unknown verifier 'nope'; available:")
    out = grpo("verify", "contains", "--completion", "x", "--json")
    assert out.returncode == 1
    assert json.loads(out.stdout)["error"] == "missing task field 'answer'"


def test_eval_scores_summarises_and_reports_bad_lines(installed_plugins, tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text(
        '{"id": "a", "completion": "<think>x</think> 42", "answer": "42", "label": 1}\n'
        "{not json\n"
        '{"id": "b", "completion": "41", "answer": "42", "label": 1}\n'
        '{"id": "c", "answer": "1"}\n'
        '{"id": "d", "completion": "7", "answer": "7", "label": {"contains": 1}}\n'
    )
    out_path, summary_path = tmp_path / "out.jsonl", tmp_path / "summary.json"
    out = grpo(
        "eval",
        "--input",
        str(rows),
        "--verifiers",
        "contains",
        "--out",
        str(out_path),
        "--workers",
        "2",
        "--summary-json",
        str(summary_path),
    )
    assert out.returncode == 1  # two malformed lines
    assert "rows.jsonl:2: skipped: invalid JSON" in out.stderr
    assert "rows.jsonl:4: skipped: missing or non-string field 'completion'" in out.stderr
    results = [json.loads(line) for line in out_path.read_text().splitlines()]
    assert [r["id"] for r in results] == ["a", "b", "d"]
    assert [r["scores"]["contains"]["score"] for r in results] == [1.0, 0.0, 1.0]
    assert results[0]["total"] == 1.0 and results[0]["scores"]["contains"]["seconds"] >= 0
    summary = json.loads(summary_path.read_text())
    assert [b["line"] for b in summary["malformed_lines"]] == [2, 4]
    v = summary["verifiers"]["contains"]
    assert v["items"] == 3 and v["errors"] == 0 and v["mean_score"] == pytest.approx(2 / 3)
    assert v["labels"]["agreement"] == pytest.approx(2 / 3)
    assert v["labels"]["precision"] == 1.0 and v["labels"]["recall"] == pytest.approx(2 / 3)
    assert [d["id"] for d in v["labels"]["disagreements"]] == ["b"]


def test_eval_counts_timeouts_and_exits_nonzero(installed_plugins, tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"completion": "fine"}\n{"completion": "hang"}\n{"completion": "ok"}\n')
    summary_path = tmp_path / "s.json"
    out = grpo(
        "eval",
        "--input",
        str(rows),
        "--verifiers",
        "hang,prefix",
        "--timeout",
        "1",
        "--summary-json",
        str(summary_path),
    )
    assert out.returncode == 1
    summary = json.loads(summary_path.read_text())
    assert summary["verifiers"]["hang"]["timeouts"] == 1
    assert summary["verifiers"]["prefix"]["errors"] == 0
    assert "total" in summary
