"""Loading the policy: dropout is off by default, so the training forward is the sampling policy."""

from __future__ import annotations

import torch

from grpo_core.training.config import build_config
from grpo_core.training.policy import load_policy


def _dropout_model(tmp_path):
    from grpo_core.training.tiny_model import TinyModelSpec, build_model, build_tokenizer

    tokenizer = build_tokenizer()
    model = build_model(TinyModelSpec(layers=2, hidden=32, heads=2, intermediate=64), tokenizer, 0)
    model.config.attention_dropout = 0.5
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    return tmp_path


def _two_train_forwards(model):
    ids = torch.arange(3, 15).reshape(2, 6)
    model.train()
    with torch.no_grad():
        return model(ids).logits, model(ids).logits


def test_dropout_is_disabled_by_default_and_can_be_kept(tmp_path):
    path = _dropout_model(tmp_path)
    cfg = build_config({"model": str(path), "out": str(tmp_path / "run")})
    model, _, info = load_policy(cfg, log=lambda m: None)
    assert info["dropout_disabled"] == 2  # one attention_dropout per layer
    first, second = _two_train_forwards(model)
    assert torch.equal(first, second)

    kept = build_config(
        {"model": str(path), "out": str(tmp_path / "run"), "disable_dropout": False}
    )
    model, _, info = load_policy(kept, log=lambda m: None)
    assert "dropout_disabled" not in info
    first, second = _two_train_forwards(model)
    assert not torch.equal(first, second)  # the test can fail: dropout really was on
