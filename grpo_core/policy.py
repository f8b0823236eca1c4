"""What a run trains on: the policy and tokenizer, the suite's rows and the reward scheme.

With no ``model`` the embedded default policy is used (grpo_core.tiny_model), built for the
run's suite, options and seed on first use and cached. A tokenizer without a pad token pads with
its EOS. The model's shipped ``generation_config`` is set aside while training (sampling follows
the run's own settings only) and restored when the final model is saved.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch

from grpo_core.config import TrainConfig
from grpo_core.sampling import isolate_generation_config


def load_policy(
    cfg: TrainConfig, log: Callable[[str], None], suite: Any = None
) -> tuple[Any, Any, dict[str, Any]]:
    """``(model, tokenizer, info)`` for ``cfg.model`` or the embedded default (built for
    ``suite`` with all its resolved options, so that a changed suite default rebuilds it)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if cfg.model is None:
        from grpo_core.tiny_model import DefaultPolicySpec, default_policy

        options = dict(cfg.suite_options)
        if suite is not None and dataclasses.is_dataclass(suite.options):
            options = dataclasses.asdict(suite.options)
        spec = DefaultPolicySpec(suite=cfg.suite, suite_options=options, seed=cfg.seed)
        path, info = default_policy(spec, log=log)
        info = {"model": "embedded default", "path": str(path), **info}
    else:
        path, info = cfg.model, {"model": cfg.model}
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token_id is None:
            raise ValueError(f"tokenizer of {path}: no pad and no EOS token")
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, cfg.dtype))
    info["generation_config"] = isolate_generation_config(model, tokenizer)
    info["parameters"] = sum(p.numel() for p in model.parameters())
    return model, tokenizer, info


def suite_rows(cfg: TrainConfig, plugins: Any = None) -> tuple[list[dict], list[dict], Any]:
    """``(train rows, held-out rows, suite)``, checked against the batch and evaluation sizes."""
    from rewards import SuiteError, get_plugins

    suite = (plugins or get_plugins()).suite(cfg.suite, **cfg.suite_options)
    train = suite.rows("train", seed=cfg.seed)
    if len(train) < cfg.prompts_per_step:
        raise SuiteError(
            f"suite {cfg.suite!r} has {len(train)} train rows, fewer than "
            f"prompts_per_step={cfg.prompts_per_step}; lower prompts_per_step or add rows"
        )
    test: list[dict] = []
    if cfg.eval_every and cfg.eval_rows:
        test = suite.rows("test", seed=cfg.seed, limit=cfg.eval_rows)
        if not test:
            raise SuiteError(f"suite {cfg.suite!r} has no test rows to evaluate on")
    return train, test, suite


def resolve_scheme(cfg: TrainConfig, suite: Any, plugins: Any = None) -> Any:
    """The reward scheme: ``cfg.scheme`` (mapping or file) or the suite's default."""
    from rewards.scheme import RewardScheme

    overrides = {"workers": cfg.reward_workers, "timeout": cfg.reward_timeout, "plugins": plugins}
    if isinstance(cfg.scheme, str):
        return RewardScheme.from_file(cfg.scheme, **overrides)
    return RewardScheme.from_config(cfg.scheme or suite.default_scheme(), **overrides)


#: completion budget for a Hugging Face model when ``max_new_tokens`` is not set
HF_MAX_NEW_TOKENS = 256


def completion_budget(cfg: TrainConfig, rows: list[dict], model: Any) -> int:
    """``cfg.max_new_tokens``, or automatic: for the embedded default (one token per character)
    the longest reference ``solution`` among ``rows`` plus EOS and one spare token; else 256,
    at most half the model's context."""
    if cfg.max_new_tokens is not None:
        return cfg.max_new_tokens
    if cfg.model is None:
        return max(len(str(r.get("solution", ""))) for r in rows) + 2
    context = getattr(model.config, "max_position_embeddings", None)
    return min(HF_MAX_NEW_TOKENS, context // 2) if context else HF_MAX_NEW_TOKENS
