"""The adapters and RewardScheme work from a top-level script without
``if __name__ == "__main__":`` (how TRL's examples are written), and the scoring workers never
run the user's script again. Real scripts, run as ``python script.py`` and ``python -m``."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

BODY = """\
import json, os
with open({log!r}, "a") as fh:
    fh.write(f"{{os.getpid()}}\\n")
from rewards.adapters import to_trl, to_verl
from rewards.scheme import RewardScheme

reward = to_trl({{"verifiers": {{"contains": 1.0, "prefix": 0.5}}, "workers": 2}})
trl = reward(["q", "q"], ["<think>x</think> 42", "41"], answer=["42", "42"])
compute_score = to_verl({{"verifiers": {{"contains": 1.0}}, "workers": 1}})
verl = compute_score("openai/gsm8k", "so 42", "42", {{"answer": "worked... #### 42"}})
with RewardScheme.from_config({{"contains": 2.0}}, workers=2) as scheme:
    totals = scheme.score(["42", "7"], [{{"answer": "42"}}, {{"answer": "8"}}]).totals
print(json.dumps({{"trl": trl, "verl": verl["score"], "scheme": totals}}))
"""


def run_script(tmp_path: Path, *, as_module: bool) -> tuple[subprocess.CompletedProcess, Path]:
    log = tmp_path / "body_runs.log"
    script = tmp_path / "train_script.py"
    script.write_text(BODY.format(log=str(log)))
    target = ["-m", "train_script"] if as_module else [str(script)]
    run = subprocess.run(
        [sys.executable, *target], capture_output=True, text=True, timeout=180, cwd=tmp_path
    )
    return run, log


@pytest.mark.parametrize("as_module", [False, True], ids=["python script.py", "python -m"])
def test_an_unguarded_script_scores_right_and_runs_once(installed_plugins, tmp_path, as_module):
    run, log = run_script(tmp_path, as_module=as_module)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out == {"trl": [1.5, 0.0], "verl": 1.0, "scheme": [2.0, 0.0]}, run.stderr
    assert len(log.read_text().splitlines()) == 1, "the script body ran in a worker again"
    assert "bootstrapping" not in run.stderr


GUARDED = """\
import json
from rewards.scheme import Component, RewardScheme
from rewards.verifier import Verifier, VerifyResult


class Shout(Verifier):
    name = "shout"
    kind = "correct"

    def verify(self, completion, row):
        return VerifyResult(float(completion.isupper()), "case")


if __name__ == "__main__":
    with RewardScheme([Component("shout", 1.0, Shout())], workers=1) as scheme:
        print(json.dumps(scheme.score(["HI", "hi"], [{}, {}]).totals))
"""


def test_a_verifier_defined_in_a_guarded_script_still_reaches_the_workers(tmp_path):
    script = tmp_path / "own_verifier.py"
    script.write_text(textwrap.dedent(GUARDED))
    run = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == [1.0, 0.0]
