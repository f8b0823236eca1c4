"""Reward scoring overlapped with generation (``overlap_scoring``): the same rollouts, rewards,
advantages and updates as the plain path, with completions handed to real scoring worker
processes while later ones still generate, and each item scored once. Module-level imports stay
light: the scoring workers import this module for its test verifier."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from trainer_fixtures import private_plugins

from rewards import Verifier, VerifyResult, hookimpl


@dataclass(frozen=True)
class LoggedOptions:
    log_dir: str = ""  #: one line per call: "<time.monotonic() at start>\t<completion>"
    sleep: float = 0.01


class LoggedDigitShare(Verifier):
    """Share of digit characters, taking ``sleep`` seconds and logging when each call began."""

    name = "t_logged_digits"
    kind = "correct"
    Options = LoggedOptions

    def verify(self, completion, row):
        began = time.monotonic()
        time.sleep(self.options.sleep)
        if self.options.log_dir:
            log = Path(self.options.log_dir) / f"{os.getpid()}.log"
            with log.open("a") as f:
                f.write(f"{began}\t{completion!r}\n")
        return VerifyResult(sum(c.isdigit() for c in completion) / max(len(completion), 1))


@hookimpl
def register_verifiers(register):
    register(LoggedDigitShare)


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plugins():
    return private_plugins(__name__, "overlap-tests")


def scheme(log_dir: Path | None = None, workers: int = 2) -> dict:
    options = {"log_dir": str(log_dir)} if log_dir else {}
    return {
        "verifiers": {"t_logged_digits": {"weight": 1.0, "options": options}},
        "workers": workers,
    }


def make_trainer(out: Path, model_path, plugins, **overrides):
    from grpo_core.training.config import build_config
    from grpo_core.training.trainer import Trainer

    values = {
        "model": str(model_path),
        "out": str(out),
        "suite": "arithmetic",
        "suite_options": {"train_rows": 64, "test_rows": 8},
        "scheme": scheme(),
        "steps": 2,
        "prompts_per_step": 4,
        "group_size": 4,
        "max_new_tokens": 12,
        "eval_every": 0,
        "samples_every": 0,
        "progress": False,
        "report_to": "none",
        "lr": 1e-3,
        "seed": 3,
        **overrides,
    }
    return Trainer(build_config(values), log=lambda m: None, plugins=plugins)


def train_and_capture(trainer, steps: int = 2):
    """Run ``steps`` train steps; return each step's (texts, rewards, advantages, metrics row)."""
    captured = []
    advantages = trainer.advantages

    def spy(rollout, rewards):
        adv = advantages(rollout, rewards)
        captured.append((list(rollout.completions.texts), rewards.totals.clone(), adv.clone()))
        return adv

    trainer.advantages = spy
    try:
        rows = [trainer.train_step() for _ in range(steps)]
    finally:
        trainer.scheme.close()
    return [(*c, row) for c, row in zip(captured, rows, strict=True)]


# -- the trainer ------------------------------------------------------------------------------


def test_overlap_gives_the_same_samples_rewards_advantages_and_updates(
    tmp_path, model_path, plugins
):
    import torch

    # each trainer seeds torch's global RNG (which sampling draws from) when it is built
    plain = make_trainer(tmp_path / "plain", model_path, plugins, overlap_scoring=False)
    a = train_and_capture(plain)
    overlapped = make_trainer(tmp_path / "overlap", model_path, plugins, overlap_scoring=True)
    b = train_and_capture(overlapped)
    for (texts_a, r_a, adv_a, row_a), (texts_b, r_b, adv_b, row_b) in zip(a, b, strict=True):
        assert texts_a == texts_b
        assert torch.equal(r_a, r_b) and torch.equal(adv_a, adv_b)
        assert adv_a.abs().sum() > 0, "the digit share should vary within groups"
        for key in ("reward_mean", "loss", "grad_norm", "completion_len_mean"):
            assert row_a[key] == row_b[key], key
        assert row_a["scored_early"] is None and row_a["time_scoring_hidden"] is None
        assert row_b["scored_early"] > 0  # a random policy ends its completions at many lengths
    for p, q in zip(plain.model.parameters(), overlapped.model.parameters(), strict=True):
        assert torch.equal(p, q)


def test_completions_are_scored_in_the_workers_while_generation_runs(tmp_path, model_path, plugins):
    log_dir = tmp_path / "calls"
    log_dir.mkdir()
    trainer = make_trainer(
        tmp_path / "run", model_path, plugins, overlap_scoring=True, scheme=scheme(log_dir)
    )
    decode_steps: list[float] = []

    def slow_decode(module, args, kwargs):  # a slower policy: ~15 ms per decode step
        ids = kwargs.get("input_ids")
        if ids is not None and ids.shape[1] == 1 and not module.training:
            decode_steps.append(time.monotonic())
            time.sleep(0.015)

    handle = trainer.model.register_forward_pre_hook(slow_decode, with_kwargs=True)
    try:
        ((texts, _, _, row),) = train_and_capture(trainer, steps=1)
    finally:
        handle.remove()
    calls = [line.split("\t") for f in log_dir.glob("*.log") for line in f.read_text().splitlines()]
    began = sorted(float(t) for t, _ in calls)
    assert len(calls) == len(texts) == 16, "every completion is scored exactly once"
    assert sorted(c for _, c in calls) == sorted(repr(t) for t in texts)
    assert began[0] < decode_steps[-1], "scoring began in a worker before the last decode step"
    assert 0 < row["scored_early"] < 16
    assert row["time_scoring_hidden"] > 0


def test_inline_scoring_cannot_overlap_and_says_so(tmp_path, model_path, plugins):
    import torch

    inline = scheme(workers=0)
    trainer = make_trainer(
        tmp_path / "overlap", model_path, plugins, scheme=inline, overlap_scoring=True
    )
    with pytest.warns(UserWarning, match="workers=0"):
        ((texts, rewards, _, row),) = train_and_capture(trainer, steps=1)
    plain = make_trainer(tmp_path / "plain", model_path, plugins, scheme=inline)
    ((texts_plain, rewards_plain, _, _),) = train_and_capture(plain, steps=1)
    assert texts == texts_plain and torch.equal(rewards, rewards_plain)
    assert row["scored_early"] is None


# -- the reward scheme's prefetch -------------------------------------------------------------


def test_a_prefetched_item_is_reused_only_when_position_completion_and_row_match(tmp_path, plugins):
    from rewards.scheme import RewardScheme

    row = {"prompt": "1+1=", "answer": "2"}
    with RewardScheme.from_config(scheme(tmp_path, workers=1), plugins=plugins) as s:
        assert s.can_prefetch
        futures = s.prefetch(0, "12", row)
        s.prefetch(1, "7", row)  # never asked for: cancelled by the next score call
        assert len(futures) == 1
        assert s.score(["12"], [row]).totals == [1.0]
        assert s.score(["ab"], [row]).totals == [0.0]
        s.prefetch(0, "33", row)
        assert s.score(["3x"], [row]).totals == [0.5], "a changed completion is scored again"
    calls = sorted(
        line.split("\t")[1] for f in tmp_path.glob("*.log") for line in f.read_text().splitlines()
    )
    assert "'12'" in calls and calls.count("'12'") == 1
    assert "'3x'" in calls


def test_prefetch_needs_worker_processes(plugins):
    from rewards.scheme import RewardScheme

    with RewardScheme.from_config(scheme(workers=0), plugins=plugins) as s:
        assert not s.can_prefetch
        with pytest.raises(ValueError, match="workers > 0"):
            s.prefetch(0, "1", {"prompt": "p"})
