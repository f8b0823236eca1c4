"""The embedded default policy: character tokenizer, real Llama architecture, cached warm start."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

from grpo_core.training.embedded_default import default_policy
from grpo_core.training.tiny_model import (
    ALPHABET,
    INFO_FILE,
    DefaultPolicySpec,
    TinyModelSpec,
    WarmStartSpec,
    build_model,
    build_tokenizer,
    check_alphabet,
)
from grpo_core.training.warm_start import encode_supervised, greedy_exact_match

SMALL = TinyModelSpec(layers=1, hidden=32, heads=2, intermediate=64)


def _spec(**warm) -> DefaultPolicySpec:
    options = {"train_rows": 300, "test_rows": 20}
    settings = {"calibration_rows": 32, "batch_size": 16, "max_steps": 4, "check_every": 2, **warm}
    return DefaultPolicySpec(
        suite_options=options, model=SMALL, warm_start=WarmStartSpec(**settings)
    )


def test_tokenizer_is_one_token_per_character_and_round_trips(tmp_path):
    tok = build_tokenizer()
    text = "042+317=0359\n-7 *"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == len(text)
    assert tok.decode(ids) == text
    assert len(tok) == len(ALPHABET) + 3
    assert tok.decode([*ids, tok.eos_token_id], skip_special_tokens=True) == text
    tok.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    assert again(text, add_special_tokens=False)["input_ids"] == ids
    assert (again.pad_token_id, again.eos_token_id) == (tok.pad_token_id, tok.eos_token_id)
    assert not getattr(again, "chat_template", None)


def test_model_is_a_real_llama_with_tied_embeddings():
    tok = build_tokenizer()
    model = build_model(TinyModelSpec(), tok, seed=0)
    assert isinstance(model, LlamaForCausalLM)
    assert model.config.tie_word_embeddings
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    assert 100_000 < sum(p.numel() for p in model.parameters()) < 2_000_000
    same = build_model(TinyModelSpec(), tok, seed=0)
    assert torch.equal(model.model.embed_tokens.weight, same.model.embed_tokens.weight)


def test_teacher_forced_check_equals_greedy_generation():
    tok = build_tokenizer()
    model = build_model(SMALL, tok, seed=1)
    prompt = tok(["12+34=", "99+01="], add_special_tokens=False, return_tensors="pt")["input_ids"]
    out = model.generate(prompt, max_new_tokens=4, do_sample=False, pad_token_id=0, eos_token_id=[])
    labels = torch.full_like(out, -100)
    labels[:, prompt.shape[1] :] = out[:, prompt.shape[1] :]  # the greedy path is the reference
    assert greedy_exact_match(model, out, labels) == 1.0
    wrong = labels.clone()
    wrong[1, -2] = (wrong[1, -2] + 1) % len(tok)  # row 1's reference leaves the greedy path
    assert greedy_exact_match(model, out, wrong) == 0.5
    rows = [{"prompt": "12+34=", "solution": "46"}]
    ids, lab = encode_supervised(tok, rows)
    assert tok.decode(ids[0]) == "12+34=46<eos>"
    assert lab[0].tolist() == [-100] * 6 + tok("46", add_special_tokens=False)["input_ids"] + [1]


def test_default_policy_is_built_once_then_cached(tmp_path):
    logs: list[str] = []
    path, info = default_policy(_spec(), cache=tmp_path, log=logs.append)
    assert not info["cached"] and info["warm_start_steps"] == 4
    assert (path / INFO_FILE).exists() and (path / "config.json").exists()
    model = AutoModelForCausalLM.from_pretrained(path)
    assert model.config.hidden_size == 32
    again, info2 = default_policy(_spec(), cache=tmp_path, log=logs.append)
    assert again == path and info2["cached"]
    assert json.loads((path / INFO_FILE).read_text())["warm_start_steps"] == 4
    other, _ = default_policy(_spec(lr=1e-3), cache=tmp_path, log=logs.append)
    assert other != path  # the hash covers the warm start settings
    assert sum("building" in m for m in logs) == 2


def test_warm_start_stops_at_the_calibration_target(tmp_path):
    _, info = default_policy(_spec(target=0.0, max_steps=50), cache=tmp_path, log=lambda m: None)
    assert info["warm_start_steps"] == 0 and info["target_reached"]


def test_cache_directory_comes_from_the_environment(tmp_path, monkeypatch):
    from grpo_core.training.tiny_model import cache_root

    monkeypatch.setenv("GRPOKIT_CACHE", str(tmp_path / "c"))
    assert cache_root() == tmp_path / "c"


def test_characters_outside_the_alphabet_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"row 3, field 'prompt': character 'W'.*--model"):
        check_alphabet({"prompt": "What is 1 + 2?"}, "row 3")
    spec = DefaultPolicySpec(suite_options={"style": "question", "train_rows": 300}, model=SMALL)
    with pytest.raises(ValueError, match="alphabet"):
        default_policy(spec, cache=tmp_path, log=lambda m: None)
