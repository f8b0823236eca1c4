"""What a run trains on: the policy and tokenizer, the suite's rows and the reward scheme.

With no ``model`` the embedded default policy is used (grpo_core.training.embedded_default), built
for the run's suite, options and seed on first use and cached. A tokenizer without a pad token
pads with its EOS. The model's shipped ``generation_config`` is set aside while training (sampling
follows the run's own settings only) and restored when the final model is saved.

``gradient_checkpointing`` recomputes each decoder layer's activations in the backward pass
(non-reentrant torch checkpointing) instead of keeping them: less memory, one more forward per
layer, the same loss and gradients. ``config.use_cache`` is off while training (no forward builds
a KV cache); generation still uses the cache, since it runs in eval mode, where nothing is
checkpointed, and asks for it explicitly. With ``lora_r > 0`` the policy is wrapped in a LoRA
adapter (grpo_core.training.lora) and saved merged into a plain transformers model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from grpo_core.training.config import TrainConfig
from grpo_core.training.lora import (
    apply_lora,
    folds,
    is_peft_model,
    merged_state_dict,
    parameter_counts,
)
from grpo_core.training.sampling import isolate_generation_config


def load_policy(
    cfg: TrainConfig, log: Callable[[str], None], suite: Any = None
) -> tuple[Any, Any, dict[str, Any]]:
    """``(model, tokenizer, info)`` for ``cfg.model`` or the embedded default (built for
    ``suite`` with all its resolved options, so that a changed suite default rebuilds it)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if cfg.model is None:
        from grpo_core.training.embedded_default import default_policy
        from grpo_core.training.tiny_model import DefaultPolicySpec

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
    if cfg.disable_dropout:
        info["dropout_disabled"] = disable_dropout(model)
    if cfg.gradient_checkpointing:
        info["use_cache"] = enable_checkpointing(model)
    model = apply_lora(model, cfg, log)
    info["trainable_parameters"], info["parameters"] = parameter_counts(model)
    return model, tokenizer, info


def disable_dropout(model: Any) -> int:
    """Set every dropout of ``model`` to 0: ``nn.Dropout`` modules and the float
    ``attention_dropout`` / ``dropout`` attributes attention layers apply functionally (as
    Llama's does). Returns how many were non-zero. Without this, the training forward draws
    fresh dropout masks and the ratio pi_theta / pi_old of eq. 3.1 is noise even at mu = 1."""
    changed = 0
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            changed += module.p > 0
            module.p = 0.0
        for name in ("attention_dropout", "dropout"):
            value = getattr(module, name, None)
            if isinstance(value, float) and not isinstance(module, torch.nn.Dropout):
                changed += value > 0
                setattr(module, name, 0.0)
    return changed


def enable_checkpointing(model: Any) -> bool:
    """Turn on non-reentrant activation checkpointing and ``config.use_cache = False``; return
    the previous ``use_cache`` (restored in the saved model)."""
    if not getattr(model, "supports_gradient_checkpointing", False):
        raise ValueError(
            f"gradient_checkpointing: {type(model).__name__} does not support it; "
            f"set gradient_checkpointing=false"
        )
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5 (the new name)
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    previous = bool(getattr(model.config, "use_cache", True))
    model.config.use_cache = False
    return previous


def save_policy(model: Any, tokenizer: Any, path: Path, info: dict[str, Any]) -> list[Path]:
    """Save a plain transformers model + tokenizer to ``path`` (loadable by ``grpo evaluate
    --model``): a LoRA policy merged (its adapter also to ``path``-adapter while the base weights
    are the loaded ones, i.e. no reference reset folded it in). The shipped generation config and
    ``use_cache`` are restored. Returns the directories written."""
    peft = is_peft_model(model)
    base = model.get_base_model() if peft else model
    shipped = info.get("generation_config")
    if shipped is not None:
        base.generation_config = shipped
    use_cache = base.config.use_cache
    base.config.use_cache = info.get("use_cache", use_cache)
    try:
        base.save_pretrained(path, state_dict=merged_state_dict(model) if peft else None)
    finally:
        base.config.use_cache = use_cache
    tokenizer.save_pretrained(path)
    written = [Path(path)]
    if peft and folds(model) == 0:
        adapter = Path(path).with_name(Path(path).name + "-adapter")
        model.save_pretrained(adapter)
        written.append(adapter)
    return written


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
        return solution_budget(rows)
    return context_budget(model)


def solution_budget(rows: list[dict]) -> int:
    """For a character-level policy: the longest reference ``solution`` + EOS + one spare."""
    return max(len(str(r.get("solution", ""))) for r in rows) + 2


def context_budget(model: Any) -> int:
    """``HF_MAX_NEW_TOKENS``, at most half the model's context."""
    context = getattr(model.config, "max_position_embeddings", None)
    return min(HF_MAX_NEW_TOKENS, context // 2) if context else HF_MAX_NEW_TOKENS
