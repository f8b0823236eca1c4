"""The README's minimal plugin example works as printed: pip-install it and see it discovered."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def block_after(text: str, caption: str) -> str:
    match = re.search(re.escape(caption) + r"\s*```\w*\n(.*?)```", text, re.DOTALL)
    assert match, f"README has no code block after {caption!r}"
    return match.group(1)


def test_readme_plugin_installs_and_is_discovered(tmp_path):
    text = README.read_text()
    project = tmp_path / "grpokit-shout"
    project.mkdir()
    (project / "pyproject.toml").write_text(block_after(text, "`pyproject.toml`:"))
    (project / "grpokit_shout.py").write_text(block_after(text, "`grpokit_shout.py`:"))
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(project),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    env = {**os.environ, "PYTHONPATH": str(target)}

    def grpo(*args):
        return subprocess.run(
            [sys.executable, "-m", "rewards", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    listing = json.loads(grpo("verifiers", "--json").stdout)
    shout = [v for v in listing["verifiers"] if v["name"] == "shout"]
    assert shout == [
        {
            "name": "shout",
            "kind": "aux",
            "plugin": "shout",
            "description": "1 if most letters of the answer are upper case",
        }
    ]
    out = grpo("verify", "shout", "--completion", "HELLO there", "--json")
    assert json.loads(out.stdout)["score"] == 1.0, out.stderr
    out = grpo("verify", "shout", "--completion", "hello", "--option", "min_ratio=0.1", "--json")
    assert json.loads(out.stdout)["score"] == 0.0
    audit = grpo("audit", "shout")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "PASS shout" in audit.stdout and "3/3 fixtures held" in audit.stdout
