"""The GRPO trainer on a real (tiny, randomly initialised) Llama: one step moves the policy
towards higher reward; reference handling; outcome and process modes; metrics; configuration;
bad input. Module-level imports stay light: scoring worker processes import this module for its
test verifiers."""

from __future__ import annotations

import json
import math
import sys
import time

import click
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


@pytest.fixture(scope="module")
def plugins():
    from rewards.plugins import Plugins

    manager = Plugins(entry_points=False)
    manager.register(sys.modules[__name__], name="trainer-tests")
    return manager


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    from grpo_core.tiny_model import TinyModelSpec, build_model, build_tokenizer

    path = tmp_path_factory.mktemp("policy")
    tokenizer = build_tokenizer()
    spec = TinyModelSpec(layers=2, hidden=32, heads=2, intermediate=64)
    build_model(spec, tokenizer, 0).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def make_trainer(tmp_path, model_path, plugins, **overrides):
    from grpo_core.config import build_config
    from grpo_core.trainer import Trainer

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

    from grpo_core.optimize import forward_logprobs

    with torch.no_grad():
        logp, mask, _ = forward_logprobs(trainer.model, rollout, torch.arange(rollout.size), 1.0)
    return (logp * mask).sum(dim=1)


def one_step(trainer):
    rows = trainer.sample_prompts()
    rollout = trainer.sample(rows)
    rewards = trainer.score(rollout)
    adv = trainer.advantages(rollout, rewards)
    return rollout, rewards, adv


# -- Algorithm 1 on a real model ------------------------------------------------------------


def test_one_step_raises_the_logprob_of_rewarded_completions(tmp_path, model_path, plugins):
    trainer = make_trainer(tmp_path, model_path, plugins, prompts_per_step=4, group_size=8)
    rollout, rewards, adv = one_step(trainer)
    assert adv.abs().sum() > 0, "the digit-share reward should vary within groups"
    before = completion_logprobs(trainer, rollout)
    figures = trainer.optimise(rollout, adv)
    after = completion_logprobs(trainer, rollout)
    delta = after - before
    assert not figures["skipped"] and figures["updates"] == 1
    assert float((adv * delta).sum()) > 0  # the objective moved up
    assert float(delta[int(adv.argmax())]) > 0  # the most rewarded completion got likelier
    assert float(delta[int(adv.argmin())]) < float(delta[int(adv.argmax())])


def test_beta_zero_loads_no_reference(tmp_path, model_path, plugins):
    trainer = make_trainer(tmp_path, model_path, plugins, beta=0.0)
    assert trainer.state.reference is None
    row = trainer.train_step()
    assert row["kl"] is None and row["beta"] == 0.0


def test_beta_uses_a_frozen_reference_and_reports_kl(tmp_path, model_path, plugins):
    import torch

    trainer = make_trainer(tmp_path, model_path, plugins, beta=0.1, lr=1e-2, steps=3)
    ref = trainer.state.reference
    assert ref is not None and not any(p.requires_grad for p in ref.model.parameters())
    frozen = [p.clone() for p in ref.model.parameters()]
    rows = [trainer.train_step() for _ in range(2)]
    assert all(torch.equal(a, b) for a, b in zip(frozen, ref.model.parameters(), strict=True))
    assert rows[0]["kl"] is not None and rows[0]["kl"] >= 0
    assert rows[1]["kl"] > 0  # the policy moved away from the reference after one update


def test_reference_is_reset_to_the_policy_every_m_steps(tmp_path, model_path, plugins):
    import torch

    trainer = make_trainer(tmp_path, model_path, plugins, beta=0.1, lr=1e-2, ref_reset_every=2)
    initial = [p.clone() for p in trainer.model.parameters()]
    trainer.train_step()
    trainer.train_step()  # steps 1-2: the first iteration keeps pi_ref = the initial policy
    ref = trainer.state.reference.model
    assert all(torch.equal(a, b) for a, b in zip(initial, ref.parameters(), strict=True))
    after_two = [p.clone() for p in trainer.model.parameters()]
    trainer.train_step()  # step 3 starts iteration 2: pi_ref <- pi_theta, then the update
    assert all(torch.equal(a, b) for a, b in zip(after_two, ref.parameters(), strict=True))
    assert not all(
        torch.equal(a, b) for a, b in zip(after_two, trainer.model.parameters(), strict=True)
    )


def test_adaptive_kl_moves_beta(tmp_path, model_path, plugins):
    trainer = make_trainer(
        tmp_path, model_path, plugins, beta=0.1, kl_target=1e-6, kl_horizon=100, lr=1e-2
    )
    first = trainer.train_step()  # KL 0 (policy == reference): below target, beta falls
    after_first = trainer.state.beta
    second = trainer.train_step()  # the policy has moved: KL above target, beta rises
    assert first["kl"] == 0 and after_first < 0.1
    assert second["beta"] == after_first and second["kl"] > 1e-6
    assert trainer.state.beta > after_first


def test_mu_two_uses_old_logprobs_and_clips(tmp_path, model_path, plugins):
    trainer = make_trainer(tmp_path, model_path, plugins, mu=3, lr=5e-2, micro_batch_size=5)
    row = trainer.train_step()
    assert row["updates"] == 3
    assert row["ratio_mean"] != pytest.approx(1.0, abs=1e-6)  # later passes see pi != pi_old


def test_micro_batches_accumulate_to_the_full_batch_gradient(tmp_path, model_path, plugins):
    import torch

    from grpo_core import optimize

    grads = []
    for size in (64, 3):
        trainer = make_trainer(tmp_path, model_path, plugins, micro_batch_size=size)
        torch.manual_seed(0)
        rollout, _, adv = one_step(trainer)
        settings = trainer.pass_settings
        model = trainer.state.policy
        model.zero_grad()
        rows = optimize.trainable_rows(adv, needs_all=True)
        n = optimize.normaliser(rollout, settings.aggregation)
        for index in optimize.micro_batches(rows, size):
            loss, _, _ = optimize._micro_step(
                model, rollout, index, adv, None, None, settings, 0.0, n, False
            )
            loss.backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert torch.allclose(grads[0], grads[1], atol=1e-6, rtol=1e-4)


def test_outcome_and_process_modes_both_run(tmp_path, model_path, plugins):
    outcome = make_trainer(tmp_path, model_path, plugins)
    row = outcome.train_step()
    assert row["advantage_mode"] == "outcome"
    steps = make_trainer(
        tmp_path,
        model_path,
        plugins,
        suite="arithmetic-steps",
        scheme=None,
        suite_options={"digits": 1, "train_rows": 64, "test_rows": 8},
        max_new_tokens=8,
    )
    rollout, rewards, adv = one_step(steps)
    assert steps.state.advantage_mode == "process"
    assert adv.shape == rollout.completions.ids.shape
    figures = steps.optimise(rollout, adv)
    assert figures["skipped"] or figures["updates"] == 1


def test_left_padded_logprobs_match_generation_and_gradients_stay_finite(
    tmp_path, model_path, plugins
):
    import torch

    from grpo_core.optimize import forward_logprobs
    from grpo_core.rollout import Rollout
    from grpo_core.sampling import encode_prompts, split_completions

    trainer = make_trainer(tmp_path, model_path, plugins)
    tok, model = trainer.tokenizer, trainer.model
    rows = [{"prompt": "1+2="}, {"prompt": "123+456="}, {"prompt": "7="}]
    prompts = encode_prompts(tok, rows)
    assert prompts.mask.sum(dim=1).tolist() == [4, 8, 2]  # left-padded to 8
    out = model.generate(
        input_ids=prompts.ids, attention_mask=prompts.mask, max_new_tokens=4, do_sample=False,
        output_logits=True, return_dict_in_generate=True, eos_token_id=[], pad_token_id=0,
    )  # fmt: skip
    new = out.sequences[:, prompts.ids.shape[1] :]
    expected = torch.stack(out.logits, dim=1).log_softmax(-1).gather(-1, new[..., None])[..., 0]
    comps = split_completions(new, [tok.eos_token_id], tok.pad_token_id, tok)
    rollout = Rollout(rows, prompts, comps, group_size=1)
    model.train()
    logp, mask, _ = forward_logprobs(model, rollout, torch.arange(3), 1.0)
    assert mask.all()
    assert torch.allclose(logp, expected, atol=1e-4)
    logp.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_step_offsets_map_to_tokens_with_a_multi_character_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from grpo_core.step_tokens import step_token_ends

    core = Tokenizer(models.BPE(unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split("\n", behavior="isolated")
    core.decoder = decoders.Fuse()
    trainer = trainers.BpeTrainer(vocab_size=60, special_tokens=["<unk>", "<eos>"])
    core.train_from_iterator(["1234\n5678\n"] * 50 + ["12\n56\n"] * 50, trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<eos>", unk_token="<unk>")
    text = "1234\n5678"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert len(ids) < len(text)  # tokens span several characters
    ends = step_token_ends(tok, ids, len(text), [4, len(text), 0], length=len(ids) + 1)
    first_line = next(k for k in range(len(ids)) if len(tok.decode(ids[: k + 1])) >= 4)
    assert ends == [first_line, len(ids), 0]  # the last step lands on the EOS


def test_run_writes_every_metric_samples_and_a_loadable_final_model(tmp_path, model_path, plugins):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from grpo_core.metrics import METRIC_FIELDS

    trainer = make_trainer(
        tmp_path, model_path, plugins, steps=2, eval_every=1, samples_every=1, samples_per_write=3
    )
    result = trainer.run()
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    assert [r["step"] for r in rows] == [0, 1, 2]
    for row in rows[1:]:
        missing = [k for k in METRIC_FIELDS if k not in row]
        assert not missing
        assert {"reward/t_digit_share_mean", "reward/t_digit_share_std"} <= set(row)
        assert row["heldout_accuracy"] is not None and 0 <= row["completion_accuracy"] <= 1
        for key in ("reward_mean", "time_generation", "time_scoring", "time_optimisation"):
            assert math.isfinite(row[key])
        assert row["tokens_per_s"] > 0 and row["lr"] == pytest.approx(1e-3)
    assert rows[0]["heldout_accuracy"] == result.initial.accuracy
    samples = [json.loads(line) for line in (tmp_path / "run" / "samples.jsonl").open()]
    assert len(samples) == 6 and {"prompt", "completion", "reward", "components"} <= set(samples[0])
    final = tmp_path / "run" / "final"
    assert AutoModelForCausalLM.from_pretrained(final).config.hidden_size == 32
    assert AutoTokenizer.from_pretrained(final).eos_token == "<eos>"
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["steps"] == 2 and summary["initial_heldout_accuracy"] is not None


# -- configuration ------------------------------------------------------------------------------


def test_yaml_then_overrides_with_types_checked(tmp_path):
    from grpo_core.config import parse_overrides, resolve_config

    path = tmp_path / "c.yaml"
    path.write_text("lr: 1e-4\ngroup_size: 4\nbeta: 0.02\nsuite_options: {digits: 2}\n")
    overrides = parse_overrides(["--group-size", "6", "--epsilon_high=0.28", "--model", "null"])
    cfg = resolve_config(path, overrides)
    assert (cfg.lr, cfg.group_size, cfg.beta, cfg.epsilon_high) == (1e-4, 6, 0.02, 0.28)
    assert cfg.suite_options == {"digits": 2} and cfg.model is None
    assert resolve_config(None, {"max_grad_norm": "none"}).max_grad_norm is None
    assert resolve_config(None, {"progress": "false"}).progress is False


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"learning_rate": "1"}, r"unknown key 'learning_rate'; valid keys: suite, .*lr"),
        ({"group_size": "many"}, "group_size must be an integer"),
        ({"aggregation": "mean"}, "aggregation must be one of 'sequence', 'token', 'constant'"),
        ({"group_size": "1"}, "group_size must be >= 2"),
        ({"kl_target": "0.1"}, "kl_target"),
        ({"suite_options": "[1, 2]"}, "suite_options must be a mapping"),
    ],
)
def test_bad_configuration_is_named(overrides, message):
    from grpo_core.config import ConfigError, resolve_config

    with pytest.raises(ConfigError, match=message):
        resolve_config(None, overrides)


def test_override_without_value_and_bad_yaml(tmp_path):
    from grpo_core.config import ConfigError, parse_overrides, resolve_config

    with pytest.raises(ConfigError, match="--lr needs a value"):
        parse_overrides(["--lr"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        resolve_config(bad)


def test_cli_rejects_unknown_keys_and_trains(tmp_path, model_path):
    from click.testing import CliRunner

    from grpo_core import plugin

    group = click.Group()
    plugin.register_commands(cli=group)
    runner = CliRunner()
    bad = runner.invoke(group, ["train", "--bogus", "1"])
    assert bad.exit_code == 2 and "unknown key 'bogus'" in bad.output
    args = ["train", "--model", str(model_path), "--out", str(tmp_path / "cli"), "--steps", "1"]
    args += ["--suite_options", "{train_rows: 32, test_rows: 4}", "--prompts_per_step", "2"]
    args += ["--group_size", "2", "--progress", "false", "--report_to", "none"]
    ok = runner.invoke(group, args)
    assert ok.exit_code == 0, ok.output
    assert "resolved configuration:" in ok.output and "group_size: 2" in ok.output
    assert "held-out accuracy:" in ok.output
    assert (tmp_path / "cli" / "final" / "config.json").exists()


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
    from grpo_core.sampling import PromptTooLongError

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

    from grpo_core import optimize
    from grpo_core.rollout import Rollout, advantages, score
    from grpo_core.sampling import Prompts, split_completions

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


def test_automatic_completion_budget(model_path):
    from transformers import AutoModelForCausalLM

    from grpo_core.config import build_config
    from grpo_core.policy import completion_budget

    rows = [{"solution": "0359"}, {"solution": "0916\n0043"}]
    model = AutoModelForCausalLM.from_pretrained(model_path)  # context 64
    assert completion_budget(build_config({}), rows, model) == 11  # embedded: longest + 2
    assert completion_budget(build_config({"model": "x"}), rows, model) == 32  # half the context
    assert completion_budget(build_config({"max_new_tokens": 7}), rows, model) == 7


def test_prompts_use_the_chat_template_when_the_tokenizer_has_one():
    from grpo_core.sampling import encode_prompts, prompt_texts
    from grpo_core.tiny_model import build_tokenizer

    tok = build_tokenizer()
    rows = [{"prompt": "1+2="}]
    assert prompt_texts(tok, rows, chat_template=True) == ["1+2="]  # no template: as is
    tok.chat_template = (
        "{% for m in messages %}{{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}"
        "= {% endif %}"
    )
    assert prompt_texts(tok, rows, chat_template=True) == ["1+2=\n= "]
    assert prompt_texts(tok, rows, chat_template=False) == ["1+2="]
    assert encode_prompts(tok, rows).mask.sum() == len("1+2=\n= ")


def test_evaluate_reports_accuracy_over_judged_rows(tmp_path, model_path, plugins):
    from grpo_core.evaluation import evaluate
    from rewards.scheme import RewardScheme

    trainer = make_trainer(tmp_path, model_path, plugins, eval_every=1)
    rows = trainer.test_rows
    always = RewardScheme.from_config({"t_constant": 1.0}, plugins=plugins, workers=0)
    result = evaluate(
        trainer.model, trainer.tokenizer, rows, always, max_new_tokens=4, batch_size=3
    )
    assert result.accuracy == 1.0 and result.rows == len(rows) == len(result.completions)
    share = RewardScheme.from_config({"t_digit_share": 1.0}, plugins=plugins, workers=0)
    graded = evaluate(trainer.model, trainer.tokenizer, rows, share, max_new_tokens=4)
    expected = [sum(c.isdigit() for c in t) == len(t) > 0 for t in graded.completions]
    assert graded.correct == expected


def test_a_non_finite_gradient_skips_the_optimiser_step(tmp_path, model_path, plugins):
    import torch

    from grpo_core import optimize

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
