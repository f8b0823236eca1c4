"""The trainer on bad input: non-finite, crashing and timed-out verifiers; groups with no
reward variance; over-long prompts; too few rows; empty completions; a non-finite gradient; a
tracker that is not installed. Every case is counted, skipped or named, never learned from."""

from __future__ import annotations

import math

import pytest
from trainer_fixtures import make_trainer, one_step

# -- bad input ------------------------------------------------------------------------------


def test_nonfinite_and_crashing_verifiers_are_counted_not_learned(tmp_path, model_path, plugins):
    scheme = {"verifiers": {"t_digit_share": 1.0, "t_nan": 1.0, "t_boom": 1.0}, "workers": 0}
    trainer = make_trainer(tmp_path, model_path, plugins, scheme=scheme)
    row = trainer.train_step()
    batch = 16
    assert row["reward_nonfinite"] == batch and row["reward_crashes"] == batch
    assert row["reward_errors"] == 2 * batch
    assert math.isfinite(row["reward_mean"]) and math.isfinite(row["loss"])


def test_verifier_timeout_mid_run_costs_only_its_items(tmp_path, model_path, plugins):
    scheme = {"verifiers": {"t_digit_share": 1.0, "t_slow": 1.0}, "workers": 2, "timeout": 1.0}
    trainer = make_trainer(
        tmp_path, model_path, plugins, suite="t_mixed", suite_options={}, scheme=scheme
    )
    try:
        row = trainer.train_step()
    finally:
        trainer.scheme.close()
    assert row["reward_timeouts"] == 8  # two slow prompts x G = 4
    assert row["reward_errors"] == 8 and math.isfinite(row["reward_mean"])


def test_all_flat_groups_skip_the_update(tmp_path, model_path, plugins):
    import torch

    scheme = {"verifiers": {"t_constant": 1.0}, "workers": 0}
    trainer = make_trainer(tmp_path, model_path, plugins, scheme=scheme)
    before = [p.clone() for p in trainer.model.parameters()]
    row = trainer.train_step()
    assert row["skipped"] is True and "zero reward variance" in row["skip_reason"]
    assert row["zero_variance_frac"] == 1.0 and row["completion_accuracy"] == 1.0
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.model.parameters(), strict=True))


def test_long_prompts_are_cut_from_the_left_or_refused(tmp_path, model_path, plugins):
    from grpo_core.training.sampling import PromptTooLongError

    cut = make_trainer(tmp_path, model_path, plugins, max_prompt_length=3)
    row = cut.train_step()
    assert row["prompts_truncated"] == 4
    strict = make_trainer(
        tmp_path, model_path, plugins, max_prompt_length=3, prompt_truncation="error"
    )
    with pytest.raises(
        PromptTooLongError, match=r"row 0 \(id 'arithmetic-train-0-\d+'\).*8 tokens"
    ):
        strict.train_step()


def test_too_few_rows_for_the_batch_is_a_clear_error(tmp_path, model_path, plugins):
    from rewards import SuiteError

    with pytest.raises(SuiteError, match="has 2 train rows, fewer than prompts_per_step=4"):
        make_trainer(tmp_path, model_path, plugins, suite_options={"train_rows": 2})


def test_empty_completions_are_scored_and_trained(tmp_path, model_path, plugins):
    import torch

    from grpo_core.training import optimize
    from grpo_core.training.rollout import Rollout, advantages, score
    from grpo_core.training.sampling import Prompts, split_completions

    trainer = make_trainer(tmp_path, model_path, plugins)
    eos, pad = trainer.tokenizer.eos_token_id, trainer.tokenizer.pad_token_id
    digit = trainer.tokenizer("7", add_special_tokens=False)["input_ids"][0]
    raw = torch.tensor([[eos, pad, pad], [digit, eos, pad], [eos, eos, eos], [digit, digit, digit]])
    comps = split_completions(raw, [eos], pad, trainer.tokenizer)
    assert comps.texts == ["", "7", "", "777"]
    assert comps.lengths.tolist() == [1, 2, 1, 3]
    assert comps.truncated.tolist() == [False, False, False, True]
    prompt = trainer.tokenizer(["12+34="] * 4, add_special_tokens=False, return_tensors="pt")
    rows = [{"prompt": "12+34=", "answer": "46"}] * 4
    rollout = Rollout(rows, Prompts(prompt["input_ids"], prompt["attention_mask"]), comps, 4)
    rewards = score(trainer.scheme, rollout)
    adv = advantages(rollout, rewards, "outcome", trainer.tokenizer)
    figures = optimize.optimise(
        trainer.state.policy, trainer.state.optimizer, trainer.accelerator, rollout, adv,
        trainer.pass_settings,
    )  # fmt: skip
    assert figures["updates"] == 1 and math.isfinite(figures["grad_norm"])


def test_a_non_finite_gradient_skips_the_optimiser_step(tmp_path, model_path, plugins):
    import torch

    from grpo_core.training import optimize

    trainer = make_trainer(tmp_path, model_path, plugins, group_size=8)
    rollout, _, adv = one_step(trainer)
    poisoned = adv.clone()
    poisoned[int(adv.abs().argmax())] = float("nan")
    before = [p.clone() for p in trainer.model.parameters()]
    figures = optimize.optimise(
        trainer.state.policy, trainer.state.optimizer, trainer.accelerator, rollout, poisoned,
        trainer.pass_settings,
    )  # fmt: skip
    assert figures["skipped"] and figures["skip_reason"] == "non-finite gradient norm"
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.model.parameters(), strict=True))


def test_a_requested_tracker_that_is_not_installed_is_an_error(tmp_path, model_path, plugins):
    import importlib.util

    if importlib.util.find_spec("tensorboard") or importlib.util.find_spec("tensorboardX"):
        trainer = make_trainer(tmp_path, model_path, plugins, report_to="tensorboard")
        assert [t.name for t in trainer.accelerator.trackers] == ["tensorboard"]
        return
    with pytest.raises(ValueError, match="tracker 'tensorboard' did not start"):
        make_trainer(tmp_path, model_path, plugins, report_to="tensorboard")
