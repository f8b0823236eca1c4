"""Checkpoints and exact resume on a real (tiny, randomly initialised) Llama.

The central test kills a ``grpo train`` process with SIGKILL in the middle of a step and resumes
it: the logs then hold every step exactly once and every deterministic figure, the samples and
the final weights equal an uninterrupted run's. The kill point is made deterministic by a test
verifier (``Gate``, weight-free: it scores 0): in the killed run only (an environment variable
names its OUT), it blocks at the first scoring after metrics.jsonl holds the row of step
``GATE_STEP``, i.e. inside the next step, after its generation. The child is the real ``grpo``
entry point (``rewards.cli.main``) with this module registered as a plugin first, since a
test-only verifier exists in no installed plugin. Module-level imports stay light: the child
imports this module.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from trainer_fixtures import private_plugins

from rewards import Verifier, VerifyResult, hookimpl

GATE_ENV = "GRPOKIT_TEST_GATE_OUT"
GATE_STEP = 5  #: the killed run blocks inside step GATE_STEP + 1
GATE_MARKER = "gate-blocked"


class Gate(Verifier):
    """Scores 0; blocks in a run whose OUT is named by GATE_ENV once step GATE_STEP is logged."""

    name = "t_ckpt_gate"
    kind = "aux"
    description = "test gate: blocks a child run mid-step so that it can be killed there"

    def verify(self, completion, row):
        out = os.environ.get(GATE_ENV)
        if out and _logged_steps(Path(out) / "metrics.jsonl")[-1:] == [GATE_STEP]:
            (Path(out) / GATE_MARKER).touch()
            time.sleep(600)  # the parent kills us long before this ends
        return VerifyResult(0.0)


@hookimpl
def register_verifiers(register):
    register(Gate)


def _logged_steps(path: Path) -> list[int]:
    if not path.exists():
        return []
    return [json.loads(line)["step"] for line in path.read_text().splitlines()]


# -- configuration shared by the in-process and the child runs ------------------------------

SCHEME = {"verifiers": {"arithmetic": 1.0, "arithmetic_digits": 0.5, "t_ckpt_gate": 1.0}}
SCHEME["workers"] = 0
BASE = {
    "suite": "arithmetic",
    "suite_options": {"train_rows": 64, "test_rows": 8},
    "scheme": SCHEME,
    "steps": 6,
    "prompts_per_step": 4,
    "group_size": 4,
    "max_new_tokens": 5,
    "eval_every": 2,
    "eval_rows": 8,
    "samples_every": 1,
    "samples_per_write": 2,
    "progress": False,
    "report_to": "none",
    "lr": 1e-3,
    "beta": 0.1,  # a KL reference ...
    "kl_target": 0.05,  # ... with adaptive beta ...
    "ref_reset_every": 3,  # ... reset at step 4, so that checkpoint step-4 holds a moved pi_ref
    "checkpoint_every": 2,
    "checkpoint_keep": 2,
}
#: figures that measure time, not the computation
TIMING = {"elapsed", "tokens_per_s", "scored_early"}


@pytest.fixture(scope="module")
def plugins():
    return private_plugins(__name__, "checkpoint-tests")


def make_trainer(out, model_path, plugins, messages=None, **overrides):
    from grpo_core.training.config import build_config
    from grpo_core.training.trainer import Trainer

    values = {**BASE, "model": str(model_path), "out": str(out), **overrides}
    log = messages.append if messages is not None else (lambda m: None)
    return Trainer(build_config(values), log=log, plugins=plugins)


def cli_args(out: Path, model_path: Path, **overrides) -> list[str]:
    args = []
    for key, value in {**BASE, "model": str(model_path), "out": str(out), **overrides}.items():
        text = json.dumps(value) if isinstance(value, dict | bool) else str(value)
        args += [f"--{key}", text]
    return args


def start_child(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    """``grpo train ARGS`` in a fresh interpreter, with this module registered as a plugin."""
    code = (
        "import sys\n"
        f"sys.path[:0] = {[str(Path(__file__).parent), str(Path(__file__).parents[1])]!r}\n"
        "import test_checkpoint\n"
        "from rewards.plugins import get_plugins\n"
        "get_plugins().register(test_checkpoint, name='checkpoint-tests')\n"
        "from rewards.cli import main\n"
        f"sys.argv = ['grpo', 'train', *{args!r}]\n"
        "main()\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )


def wait_for(path: Path, child: subprocess.Popen, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if child.poll() is not None:
            raise AssertionError(f"the child ended before {path.name}:\n{child.stdout.read()}")
        if time.monotonic() > deadline:
            child.kill()
            raise AssertionError(f"no {path.name} within {timeout:.0f}s")
        time.sleep(0.05)


def rows(out: Path, name: str = "metrics.jsonl") -> list[dict]:
    return [json.loads(line) for line in (out / name).read_text().splitlines()]


def checkpoint_names(out: Path) -> list[str]:
    return sorted(p.name for p in (out / "checkpoints").iterdir())


def weights(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path))


def assert_same_figures(a: list[dict], b: list[dict]) -> tuple[int, int]:
    """Every deterministic field of each row equal (floats to rtol 1e-5); returns how many were
    compared and how many of them were bit-for-bit equal."""
    assert [r["step"] for r in a] == [r["step"] for r in b]
    compared = exact = 0
    for ra, rb in zip(a, b, strict=True):
        assert ra.keys() == rb.keys()
        for key, va in ra.items():
            if key in TIMING or key.startswith("time_"):
                continue
            vb = rb[key]
            if isinstance(va, float) and isinstance(vb, float):
                assert vb == pytest.approx(va, rel=1e-5, abs=1e-9), (ra["step"], key)
            else:
                assert va == vb, (ra["step"], key)
            compared += 1
            exact += va == vb
    return compared, exact


# -- the killed and resumed run ---------------------------------------------------------------


def test_sigkill_mid_step_then_resume_equals_an_uninterrupted_run(tmp_path, model_path, plugins):
    import torch

    straight = tmp_path / "straight"
    make_trainer(straight, model_path, plugins).run()
    assert checkpoint_names(straight) == ["step-4", "step-6"]  # checkpoint_keep = 2

    out = tmp_path / "killed"
    child = start_child(cli_args(out, model_path), env={GATE_ENV: str(out)})
    wait_for(out / GATE_MARKER, child)  # blocked inside step 6, after its generation
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    assert _logged_steps(out / "metrics.jsonl") == [0, 1, 2, 3, 4, 5]
    assert checkpoint_names(out) == ["step-2", "step-4"]
    state = json.loads((out / "checkpoints/step-4/trainer_state.json").read_text())
    assert state["logs"]["metrics_rows"] == 5  # steps 0-4: step 5's row must be dropped
    assert state["logs"]["samples_rows"] == 8  # 2 per step for steps 1-4
    # a crash while writing a checkpoint leaves a temporary directory; a name without the
    # completion marker must not count either
    shutil.copytree(out / "checkpoints/step-4", out / "checkpoints/.tmp-step-6")
    shutil.copytree(out / "checkpoints/step-4", out / "checkpoints/step-8")
    (out / "checkpoints/step-8/COMPLETE").unlink()

    resumed = start_child(cli_args(out, model_path, resume=True))
    output, _ = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, output
    assert f"resuming from {out / 'checkpoints' / 'step-4'} (step 4 of 6)" in output
    assert "removed incomplete checkpoint" in output
    assert "step 0: held-out" not in output  # the step-0 evaluation is not run again

    assert _logged_steps(out / "metrics.jsonl") == [0, 1, 2, 3, 4, 5, 6]
    compared, exact = assert_same_figures(rows(straight), rows(out))
    assert rows(out, "samples.jsonl") == rows(straight, "samples.jsonl")
    assert checkpoint_names(out) == ["step-4", "step-6"]
    for file in ("final/model.safetensors", "checkpoints/step-6/model.safetensors"):
        a, b = weights(straight / file), weights(out / file)
        assert a.keys() == b.keys()
        assert all(torch.allclose(a[k], b[k], rtol=1e-5, atol=1e-7) for k in a), file
    ref_a = weights(straight / "checkpoints/step-6/reference.safetensors")
    ref_b = weights(out / "checkpoints/step-6/reference.safetensors")
    assert all(torch.allclose(ref_a[k], ref_b[k], rtol=1e-5, atol=1e-7) for k in ref_a)
    summary_a = json.loads((straight / "summary.json").read_text())
    summary_b = json.loads((out / "summary.json").read_text())
    assert summary_b["history"] == summary_a["history"]
    assert summary_b["initial_heldout_accuracy"] == summary_a["initial_heldout_accuracy"]
    rewarded = [r["reward_std"] for r in rows(out) if r["step"] > 0]
    assert any(std > 0 for std in rewarded), "the test would not exercise any update"
    print(f"\n{compared} deterministic figures over 7 rows equal ({exact} bit for bit)")


# -- what a resume accepts --------------------------------------------------------------------

QUICK = {
    "steps": 2,
    "checkpoint_every": 1,
    "eval_every": 0,
    "samples_every": 0,
    "beta": 0.0,
    "kl_target": None,
    "ref_reset_every": 0,
}


def test_resume_checks_the_configuration_and_steps_may_grow(tmp_path, model_path, plugins):
    from grpo_core.training.checkpoint import CheckpointError

    out = tmp_path / "run"
    make_trainer(out, model_path, plugins, **QUICK).run()
    assert checkpoint_names(out) == ["step-1", "step-2"]
    with pytest.raises(CheckpointError) as error:
        make_trainer(
            out, model_path, plugins, resume=True, **{**QUICK, "group_size": 8, "lr": 2e-3}
        )
    message = str(error.value)
    assert "differs from checkpoint" in message and str(out / "checkpoints" / "step-2") in message
    assert "group_size: 4 -> 8" in message and "lr: 0.001 -> 0.002" in message
    assert "group_size: 4" in (out / "config.yaml").read_text()  # not overwritten
    with pytest.raises(CheckpointError, match="pass --resume true to continue it"):
        make_trainer(out, model_path, plugins, **QUICK)  # a fresh run would mix checkpoints
    with pytest.raises(CheckpointError, match=r"steps=1 is below the step of checkpoint"):
        make_trainer(out, model_path, plugins, resume=True, **{**QUICK, "steps": 1})

    metrics = (out / "metrics.jsonl").read_bytes()
    (out / "metrics.jsonl").write_bytes(metrics[: len(metrics) // 2])  # logs changed since
    with pytest.raises(ValueError, match=r"metrics\.jsonl no longer begins with the 2 rows"):
        make_trainer(out, model_path, plugins, resume=True, **QUICK)
    (out / "metrics.jsonl").write_bytes(metrics)

    # runtime keys may change and steps may grow; the run continues at step 3
    more = {**QUICK, "steps": 3, "checkpoint_keep": 1, "micro_batch_size": 8}
    trainer = make_trainer(out, model_path, plugins, resume=True, **more)
    assert trainer.state.step == 2 and trainer.state.cursor == 8
    trainer.run()
    assert _logged_steps(out / "metrics.jsonl") == [1, 2, 3]
    assert checkpoint_names(out) == ["step-3"]


def test_a_checkpoint_cut_short_is_never_resumed_from(tmp_path, model_path, plugins):
    from grpo_core.training import checkpoint
    from grpo_core.training.metrics import LogPosition

    out = tmp_path / "run"
    trainer = make_trainer(out, model_path, plugins, **QUICK)
    trainer.run()
    trainer.state.step = 3
    with pytest.raises(AttributeError):  # dies after accelerate wrote the model and optimiser
        checkpoint.save_checkpoint(
            out, trainer.state, trainer.accelerator, cfg=trainer.cfg, tokenizer=None,
            logs=LogPosition(3, 0, 0, 0, 0), seconds=0.0,
        )  # fmt: skip
    assert (out / "checkpoints/.tmp-step-3/model.safetensors").exists()
    assert checkpoint.latest_checkpoint(out) == out / "checkpoints" / "step-2"
    shutil.copytree(out / "checkpoints/step-2", out / "checkpoints/step-5")
    (out / "checkpoints/step-5/COMPLETE").unlink()  # a name without its marker
    assert checkpoint.latest_checkpoint(out) == out / "checkpoints" / "step-2"

    messages: list[str] = []
    resumed = make_trainer(out, model_path, plugins, messages, resume=True, **QUICK)
    assert resumed.state.step == 2
    assert checkpoint_names(out) == ["step-1", "step-2"]  # both leftovers removed
    assert sum("removed incomplete checkpoint" in m for m in messages) == 2


def test_resume_without_a_checkpoint(tmp_path, model_path, plugins):
    from grpo_core.training.checkpoint import CheckpointError

    messages: list[str] = []
    fresh = make_trainer(tmp_path / "new", model_path, plugins, messages, resume=True, **QUICK)
    assert fresh.state.step == 0
    assert any("no complete checkpoint" in m and "starting from step 0" in m for m in messages)

    out = tmp_path / "old"  # an earlier run without checkpoints left its logs here
    make_trainer(out, model_path, plugins, **{**QUICK, "steps": 1, "checkpoint_every": 0}).run()
    with pytest.raises(CheckpointError, match=r"no complete checkpoint.*lr: 0\.001 -> 0\.002"):
        make_trainer(out, model_path, plugins, resume=True, **{**QUICK, "lr": 2e-3})
    same = make_trainer(out, model_path, plugins, resume=True, **QUICK)  # same run: redo it
    assert same.state.step == 0


# -- LoRA: the adapter only, until a reference reset folds it into the base weights ----------


def test_lora_checkpoints_hold_the_adapter_and_resume_exactly(tmp_path, model_path, plugins):
    import torch

    pytest.importorskip("peft")
    lora = {
        **QUICK,
        "lora_r": 4,
        "lora_alpha": 8,
        "lr": 1e-2,
        "steps": 4,
        "checkpoint_keep": 4,
        "eval_every": 1,  # the last step is always evaluated: so are the staged runs' ends
        "samples_every": 1,
        "beta": 0.1,
        "ref_reset_every": 2,  # step 3 folds the adapter into the base weights
    }
    straight = tmp_path / "straight"
    make_trainer(straight, model_path, plugins, **lora).run()
    kinds = [
        json.loads((straight / f"checkpoints/step-{n}/trainer_state.json").read_text())
        for n in (1, 2, 3, 4)
    ]
    assert [k["policy_weights"] for k in kinds] == ["trainable", "trainable", "full", "full"]
    assert [k["adapter_folds"] for k in kinds] == [0, 0, 1, 1]
    adapter = weights(straight / "checkpoints/step-2/model.safetensors")
    full = weights(straight / "checkpoints/step-3/model.safetensors")
    assert adapter and all("lora_" in k for k in adapter)
    assert sum(t.numel() for t in adapter.values()) < sum(t.numel() for t in full.values()) / 4

    out = tmp_path / "stages"  # stop after 2, resume to 3 (from the adapter), then to 4 (full)
    for steps in (2, 3, 4):
        make_trainer(out, model_path, plugins, resume=steps > 2, **{**lora, "steps": steps}).run()
    assert_same_figures(rows(straight), rows(out))
    assert rows(out, "samples.jsonl") == rows(straight, "samples.jsonl")
    a, b = weights(straight / "final/model.safetensors"), weights(out / "final/model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.allclose(a[k], b[k], rtol=1e-5, atol=1e-7) for k in a)
