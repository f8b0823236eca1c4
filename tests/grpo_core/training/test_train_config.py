"""Trainer configuration: YAML then command-line overrides with types checked, bad settings
named, the ``grpo train`` command, the automatic completion budget and chat-template prompts."""

from __future__ import annotations

import click
import pytest

# -- configuration ------------------------------------------------------------------------------


def test_yaml_then_overrides_with_types_checked(tmp_path):
    from grpo_core.training.config import parse_overrides, resolve_config

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
    from grpo_core.training.config import ConfigError, resolve_config

    with pytest.raises(ConfigError, match=message):
        resolve_config(None, overrides)


def test_override_without_value_and_bad_yaml(tmp_path):
    from grpo_core.training.config import ConfigError, parse_overrides, resolve_config

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


def test_automatic_completion_budget(model_path):
    from transformers import AutoModelForCausalLM

    from grpo_core.training.config import build_config
    from grpo_core.training.policy import completion_budget

    rows = [{"solution": "0359"}, {"solution": "0916\n0043"}]
    model = AutoModelForCausalLM.from_pretrained(model_path)  # context 64
    assert completion_budget(build_config({}), rows, model) == 11  # embedded: longest + 2
    assert completion_budget(build_config({"model": "x"}), rows, model) == 32  # half the context
    assert completion_budget(build_config({"max_new_tokens": 7}), rows, model) == 7


def test_prompts_use_the_chat_template_when_the_tokenizer_has_one():
    from grpo_core.training.sampling import encode_prompts, prompt_texts
    from grpo_core.training.tiny_model import build_tokenizer

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
