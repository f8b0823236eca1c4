"""Shared by the trainer tests: test verifiers and a suite (registered in a private plugin
manager), the ``plugins`` and ``model_path`` fixtures (exposed to every module in this folder
through conftest.py) and the ``make_trainer`` / ``one_step`` / ``completion_logprobs`` helpers.

Module-level imports stay light: scoring worker processes (forkserver) import this module by
name, ``trainer_fixtures``, to unpickle its test verifiers; pytest's ``prepend`` import mode puts
this folder on ``sys.path``, which the workers inherit."""

from __future__ import annotations

import sys
import time

import pytest

from rewards import TaskSuite, Verifier, VerifyResult, hookimpl

# -- test verifiers and suites (registered in a private plugin manager) -----------------------


class DigitShare(Verifier):
    name = "t_digit_share"
    kind = "correct"
    description = "share of digit characters (a reward with variance for a random policy)"

    def verify(self, completion, row):
        return VerifyResult(sum(c.isdigit() for c in completion) / max(len(completion), 1))


class NaNScore(Verifier):
    name = "t_nan"
    kind = "aux"

    def verify(self, completion, row):
        return VerifyResult(float("nan"), "nan")


class Boom(Verifier):
    name = "t_boom"
    kind = "aux"

    def verify(self, completion, row):
        raise RuntimeError("verifier bug")


class Slow(Verifier):
    name = "t_slow"
    kind = "aux"

    def verify(self, completion, row):
        if row.get("slow"):
            time.sleep(30)
        return VerifyResult(0.0)


class Constant(Verifier):
    name = "t_constant"
    kind = "correct"

    def verify(self, completion, row):
        return VerifyResult(1.0)


class MixedSuite(TaskSuite):
    name = "t_mixed"
    required_fields = ("prompt", "answer")

    def load(self, split, seed):
        for i in range(4):
            yield {"id": f"m{i}", "prompt": f"{i}1+2{i}=", "answer": "0", "slow": i % 2 == 0}

    def default_scheme(self):
        return {"verifiers": {"t_digit_share": 1.0}, "workers": 0}


@hookimpl
def register_verifiers(register):
    for cls in (DigitShare, NaNScore, Boom, Slow, Constant):
        register(cls)


@hookimpl
def register_suites(register):
    register(MixedSuite)


# -- fixtures -----------------------------------------------------------------------------------


def private_plugins(module_name: str, name: str):
    """A plugin manager with the built-ins and the hooks of test module ``module_name`` only
    (no installed entry points)."""
    from rewards.plugins import Plugins

    manager = Plugins(entry_points=False)
    manager.register(sys.modules[module_name], name=name)
    return manager


@pytest.fixture(scope="module")
def plugins():
    return private_plugins(__name__, "trainer-tests")


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    from grpo_core.training.tiny_model import TinyModelSpec, build_model, build_tokenizer

    path = tmp_path_factory.mktemp("policy")
    tokenizer = build_tokenizer()
    spec = TinyModelSpec(layers=2, hidden=32, heads=2, intermediate=64)
    build_model(spec, tokenizer, 0).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def make_trainer(tmp_path, model_path, plugins, **overrides):
    from grpo_core.training.config import build_config
    from grpo_core.training.trainer import Trainer

    values = {
        "model": str(model_path),
        "out": str(tmp_path / "run"),
        "suite": "arithmetic",
        "suite_options": {"train_rows": 64, "test_rows": 8},
        "scheme": {"verifiers": {"t_digit_share": 1.0}, "workers": 0},
        "steps": 1,
        "prompts_per_step": 4,
        "group_size": 4,
        "max_new_tokens": 5,
        "eval_every": 0,
        "samples_every": 0,
        "progress": False,
        "report_to": "none",
        "lr": 1e-3,
        **overrides,
    }
    return Trainer(build_config(values), log=lambda m: None, plugins=plugins)


def completion_logprobs(trainer, rollout):
    """Summed log-prob of each completion under the current policy."""
    import torch

    from grpo_core.training.optimize import forward_logprobs

    with torch.no_grad():
        logp, mask, _ = forward_logprobs(trainer.model, rollout, torch.arange(rollout.size), 1.0)
    return (logp * mask).sum(dim=1)


def one_step(trainer):
    rows = trainer.sample_prompts()
    rollout = trainer.sample(rows)
    rewards = trainer.score(rollout)
    adv = trainer.advantages(rollout, rewards)
    return rollout, rewards, adv
