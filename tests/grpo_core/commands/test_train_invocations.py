"""Wrong ``grpo train`` invocations (issue 13): one ``error:`` line naming the path, key or file,
exit 2, quickly, and nothing written to OUT. Each test runs the real CLI in a subprocess."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


def train(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "rewards", "train", "--out", str(tmp_path / "out"), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    return result, time.monotonic() - start


def assert_one_error_line(result: subprocess.CompletedProcess[str], tmp_path: Path, *names: str):
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for name in names:
        assert name in lines[0], lines[0]
    assert result.stdout == ""  # the resolved configuration is not printed
    assert not (tmp_path / "out").exists()  # in particular no OUT/config.yaml


def test_missing_local_model_directory(tmp_path: Path) -> None:
    result, seconds = train(tmp_path, "--model", "./no-such-dir")
    assert_one_error_line(result, tmp_path, "model directory ./no-such-dir does not exist")
    assert seconds < 5  # no Hub lookup, no torch import


def test_suite_option_typo(tmp_path: Path) -> None:
    result, _ = train(tmp_path, "--suite_options", '{"nope": 1}')
    assert_one_error_line(result, tmp_path, "no option 'nope'")


def test_yaml_syntax_error_in_config_file(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("steps: 3\n  lr: [\n", encoding="utf-8")
    result, _ = train(tmp_path, "--config", str(config))
    assert_one_error_line(result, tmp_path, str(config), "line 2")
