"""LoRA training (peft) and gradient checkpointing on the real tiny Llama: the reference is the
base model with the adapter off (no second copy), only the adapter trains, the reference reset
folds the adapter in, checkpointing changes neither loss nor gradients, the saved model is a
plain transformers model equal to the trained policy, and bad settings fail clearly."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from trainer_fixtures import make_trainer, one_step

from grpo_core.training import optimize
from grpo_core.training.optimize import rollout_logprobs


@pytest.fixture(scope="module")
def dropout_model_path(tmp_path_factory):
    """The tiny Llama with attention dropout 0.3: a forward in train mode is random."""
    from grpo_core.training.tiny_model import TinyModelSpec, build_model, build_tokenizer

    path = tmp_path_factory.mktemp("dropout-policy")
    tokenizer = build_tokenizer()
    model = build_model(TinyModelSpec(layers=2, hidden=32, heads=2, intermediate=64), tokenizer, 0)
    model.config.attention_dropout = 0.3
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def load_plain(path):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path)
    return model.eval()


def all_logprobs(model, rollout):
    chunks = optimize.micro_batches(torch.arange(rollout.size), 64)
    return rollout_logprobs(model, rollout, chunks, 1.0)


def eval_logprobs(model, rollout):
    was_training = model.training
    model.eval()
    try:
        return all_logprobs(model, rollout)
    finally:
        model.train(was_training)


def named_snapshot(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def lora_trainer(tmp_path, path, plugins, **overrides):
    values = {"lora_r": 4, "lora_alpha": 8, "beta": 0.1, "lr": 1e-2, "steps": 5, **overrides}
    return make_trainer(tmp_path, path, plugins, **values)


# -- the reference: the base model, adapter off, no copy ------------------------------------------


def test_reference_is_the_base_model_after_training(tmp_path, dropout_model_path, plugins):
    trainer = lora_trainer(tmp_path, dropout_model_path, plugins, lora_dropout=0.3)
    rows = [trainer.train_step() for _ in range(3)]
    assert rows[-1]["kl"] > 0  # the adapter has moved the policy away from the reference
    rollout, _, _ = one_step(trainer)
    policy = trainer.model
    policy.train()  # as during optimisation: dropout active in the policy
    chunks = optimize.micro_batches(torch.arange(rollout.size), 5)
    ref = trainer.state.reference.logprobs(rollout, chunks, 1.0)
    assert policy.training  # the reference pass restored the mode
    base = all_logprobs(load_plain(dropout_model_path), rollout)
    mask = rollout.completions.mask
    assert torch.allclose(ref[mask], base[mask], atol=1e-6, rtol=0)
    moved = (eval_logprobs(policy, rollout) - base)[mask].abs().max()
    assert moved > 1e-3


def test_lora_reference_holds_no_second_model(tmp_path, model_path, plugins):
    full = make_trainer(tmp_path, model_path, plugins, beta=0.1)
    assert full.state.reference.model is not full.model  # without LoRA: a frozen copy
    trainer = lora_trainer(tmp_path, model_path, plugins)
    ref = trainer.state.reference
    modules = [v for v in vars(ref).values() if isinstance(v, torch.nn.Module)]
    assert ref.shared and len(modules) == 1 and modules[0] is trainer.model
    held = {p.data_ptr() for p in ref.model.parameters()}
    assert held == {p.data_ptr() for p in trainer.model.parameters()}
    assert trainer.train_step()["kl"] is not None


def test_only_the_adapter_trains(tmp_path, model_path, plugins):
    trainer = lora_trainer(tmp_path, model_path, plugins)
    model = trainer.model
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(".lora_A." in n or ".lora_B." in n for n in trainable)
    rollout, _, adv = one_step(trainer)
    model.train()
    logp, mask, _ = optimize.forward_logprobs(model, rollout, torch.arange(rollout.size), 1.0)
    (logp * mask * adv[:, None]).sum().backward()
    with_grad = {n for n, p in model.named_parameters() if p.grad is not None}
    assert with_grad == trainable
    model.zero_grad(set_to_none=True)
    before = named_snapshot(model)
    for _ in range(2):
        trainer.train_step()
    after = named_snapshot(model)
    changed = {n for n in before if not torch.equal(before[n], after[n])}
    assert changed and changed <= trainable
    assert any(".lora_B." in n for n in changed)


def test_reference_reset_folds_the_adapter_into_the_base(tmp_path, model_path, plugins):
    from grpo_core.training.lora import folds

    trainer = lora_trainer(tmp_path, model_path, plugins, ref_reset_every=2)
    trainer.train_step()
    trainer.train_step()
    rollout, _, _ = one_step(trainer)
    model, ref = trainer.model, trainer.state.reference
    chunks = [torch.arange(rollout.size)]
    mask = rollout.completions.mask
    policy_before = eval_logprobs(model, rollout)
    assert (ref.logprobs(rollout, chunks, 1.0) - policy_before)[mask].abs().max() > 1e-3
    ref.reset(model)  # pi_ref <- pi_theta
    assert folds(model) == 1
    policy_after = eval_logprobs(model, rollout)
    assert torch.allclose(policy_after[mask], policy_before[mask], atol=1e-5, rtol=0)
    assert torch.allclose(ref.logprobs(rollout, chunks, 1.0)[mask], policy_after[mask], atol=1e-5)
    lora_b = [p.detach() for n, p in model.named_parameters() if ".lora_B." in n]
    assert lora_b and all(float(b.abs().max()) == 0 for b in lora_b)
    row = trainer.train_step()  # step 3: the trainer's reset (B is already 0), then the update
    assert folds(model) == 2
    assert not row["skipped"] and row["kl"] == pytest.approx(0, abs=1e-6)
    assert trainer.train_step()["kl"] > 0


# -- gradient checkpointing -----------------------------------------------------------------------


def loss_and_grads(trainer, rollout, adv):
    model = trainer.state.policy
    model.train()
    model.zero_grad(set_to_none=True)
    rows = torch.arange(rollout.size)
    n = optimize.normaliser(rollout, trainer.pass_settings.aggregation)
    loss, _, _ = optimize._micro_step(
        model, rollout, rows, adv, None, None, trainer.pass_settings, 0.0, n, False
    )
    loss.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return float(loss.detach()), grads


def count_calls(module):
    calls = []
    return calls, module.register_forward_hook(lambda *_: calls.append(1))


@pytest.mark.parametrize("lora_r", [0, 4])
def test_checkpointing_gives_the_same_loss_and_gradients(tmp_path, model_path, plugins, lora_r):
    plain = make_trainer(tmp_path, model_path, plugins, lora_r=lora_r)
    checkpointed = make_trainer(
        tmp_path, model_path, plugins, lora_r=lora_r, gradient_checkpointing=True
    )
    assert checkpointed.model.config.use_cache is False and plain.model.config.use_cache
    rollout, _, adv = one_step(plain)
    assert adv.abs().sum() > 0
    norm = checkpointed.model.get_decoder().layers[0].input_layernorm  # early in the layer
    calls, hook = count_calls(norm)
    loss_c, grads_c = loss_and_grads(checkpointed, rollout, adv)
    hook.remove()
    assert len(calls) == 2  # the layer ran again in the backward pass: checkpointing is on
    loss_p, grads_p = loss_and_grads(plain, rollout, adv)
    assert loss_c == pytest.approx(loss_p, rel=1e-6, abs=1e-9)
    assert grads_c.keys() == grads_p.keys() and grads_c
    for name, grad in grads_c.items():
        assert torch.allclose(grad, grads_p[name], atol=1e-7, rtol=1e-5), name
    before = named_snapshot(checkpointed.model)
    row = checkpointed.train_step()
    assert not row["skipped"] and row["updates"] == 1
    after = named_snapshot(checkpointed.model)
    assert any(not torch.equal(before[n], after[n]) for n in before)


def test_generation_uses_the_cache_under_checkpointing(tmp_path, model_path, plugins):
    from grpo_core.training.sampling import SamplingParams, encode_prompts, generate

    trainer = make_trainer(tmp_path, model_path, plugins, gradient_checkpointing=True, lora_r=4)
    model = trainer.model
    model.train()  # as between optimisation passes
    prompts = encode_prompts(trainer.tokenizer, trainer.train_rows[:3], budget=trainer.budget)
    widths = []
    embed = model.get_input_embeddings()
    hook = embed.register_forward_hook(lambda _m, args, _o: widths.append(args[0].shape[1]))
    params = SamplingParams(max_new_tokens=4, greedy=True)
    out = generate(model, trainer.tokenizer, prompts, params)
    hook.remove()
    assert widths[0] == prompts.ids.shape[1] and set(widths[1:]) == {1}  # one new token a step
    assert model.training and model.config.use_cache is False
    plain = load_plain(model_path)
    assert torch.equal(out.ids, generate(plain, trainer.tokenizer, prompts, params).ids)


# -- saving ------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning")  # peft reads it
def test_save_writes_a_merged_plain_model(tmp_path, model_path, plugins):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    trainer = lora_trainer(tmp_path, model_path, plugins, steps=3, gradient_checkpointing=True)
    result = trainer.run()
    assert result.steps == 3
    final = trainer.out / "final"
    rollout = trainer.sample(trainer.sample_prompts())
    loaded, info = AutoModelForCausalLM.from_pretrained(final, output_loading_info=True)
    assert not any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys"))
    assert type(loaded).__name__ == "LlamaForCausalLM" and loaded.config.use_cache is True
    assert json.loads((final / "generation_config.json").read_text())["eos_token_id"] == 1
    mask = rollout.completions.mask
    trained = eval_logprobs(trainer.model, rollout)
    base = all_logprobs(load_plain(model_path), rollout)
    assert (trained - base)[mask].abs().max() > 1e-3  # the run changed the policy
    assert torch.allclose(all_logprobs(loaded.eval(), rollout)[mask], trained[mask], atol=1e-5)
    adapter = PeftModel.from_pretrained(load_plain(model_path), trainer.out / "final-adapter")
    assert torch.allclose(all_logprobs(adapter.eval(), rollout)[mask], trained[mask], atol=1e-5)
    summary = json.loads((trainer.out / "summary.json").read_text())["policy"]
    assert 0 < summary["trainable_parameters"] < summary["parameters"]


def test_save_after_a_fold_writes_no_adapter(tmp_path, model_path, plugins):
    trainer = lora_trainer(tmp_path, model_path, plugins, steps=3, ref_reset_every=2)
    trainer.run()
    assert (trainer.out / "final").is_dir() and not (trainer.out / "final-adapter").exists()
    rollout = trainer.sample(trainer.sample_prompts())
    mask = rollout.completions.mask
    saved = all_logprobs(load_plain(trainer.out / "final"), rollout)
    assert torch.allclose(saved[mask], eval_logprobs(trainer.model, rollout)[mask], atol=1e-5)


# -- bad settings ------------------------------------------------------------------------------


def test_a_target_module_that_matches_nothing_is_named(tmp_path, model_path, plugins):
    with pytest.raises(ValueError, match=r"lora_target_modules: qq_proj matches no module") as err:
        lora_trainer(tmp_path, model_path, plugins, lora_target_modules="q_proj, qq_proj")
    assert "v_proj" in str(err.value)  # the valid names are listed
    with pytest.raises(ValueError, match=r"mlp is a block \(LlamaMLP\), not a layer"):
        lora_trainer(tmp_path, model_path, plugins, lora_target_modules="mlp")
    with pytest.raises(ValueError, match="no module names"):
        lora_trainer(tmp_path, model_path, plugins, lora_target_modules=" , ")


def test_lora_without_peft_names_the_extra(tmp_path, model_path, plugins, monkeypatch):
    monkeypatch.setitem(sys.modules, "peft", None)  # `import peft` now raises ImportError
    with pytest.raises(ImportError, match=r"grpokit\[lora\]"):
        lora_trainer(tmp_path, model_path, plugins)
