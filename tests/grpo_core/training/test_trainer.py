"""The GRPO trainer on a real (tiny, randomly initialised) Llama (Algorithm 1): one step moves
the policy towards higher reward; reference handling and adaptive KL; mu and micro-batches;
outcome and process modes; the metrics, samples and final model a run writes; evaluation.
Configuration lives in test_train_config.py, bad input in test_trainer_bad_input.py; the shared
verifiers, fixtures and helpers in trainer_fixtures.py."""

from __future__ import annotations

import json
import math

import pytest
from trainer_fixtures import completion_logprobs, make_trainer, one_step

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
    assert row["clip_frac_low"] + row["clip_frac_high"] > 0  # some ratios left [1-eps, 1+eps]


def test_micro_batches_accumulate_to_the_full_batch_gradient(tmp_path, model_path, plugins):
    import torch

    from grpo_core.training import optimize

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
    trainable = bool(adv.abs().sum() > 0)  # a step whose advantages are all 0 has nothing to learn
    assert figures["skipped"] is not trainable
    assert figures.get("updates", 0) == int(trainable)


def test_left_padded_logprobs_match_generation_and_gradients_stay_finite(
    tmp_path, model_path, plugins
):
    import torch

    from grpo_core.training.optimize import forward_logprobs
    from grpo_core.training.rollout import Rollout
    from grpo_core.training.sampling import encode_prompts, split_completions

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

    from grpo_core.training.step_tokens import step_token_ends

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

    from grpo_core.training.metrics import METRIC_FIELDS

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


def test_evaluate_reports_accuracy_over_judged_rows(tmp_path, model_path, plugins):
    from grpo_core.training.evaluation import evaluate
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
