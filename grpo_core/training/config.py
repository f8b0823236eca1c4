"""The training configuration: one dataclass with documented defaults, YAML files, CLI overrides.

``resolve_config(file, overrides)`` layers: the dataclass defaults, then the YAML file, then the
``--KEY VALUE`` overrides. Every key is checked against the dataclass fields (an unknown key is
an error listing the valid ones) and every value against the field's type. The defaults are the
ones measured for the embedded default policy on ``arithmetic`` (benchmarks/bench_default_train.py:
G = 8, 16 prompts, lr 2e-4 constant, temperature 0.7, token aggregation, beta 0); for a Hugging
Face model, revisit at least ``lr`` (1e-6 to 1e-5 is usual), ``max_new_tokens`` and
``micro_batch_size``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml


class ConfigError(ValueError):
    """A bad configuration key or value; the message names the key and the valid choices."""


@dataclass
class TrainConfig:
    """Everything ``grpo train`` can be told. Symbols refer to Algorithm 1 (textbook ch. 6)."""

    # -- task, policy, output ---------------------------------------------------------------
    suite: str = "arithmetic"  #: task suite name (``grpo verifiers`` lists them)
    suite_options: dict[str, Any] = field(default_factory=dict)  #: options of the suite
    scheme: dict[str, Any] | str | None = None  #: reward scheme mapping or file; None = suite's
    model: str | None = None  #: local path or Hub name; None = the embedded default policy
    out: str = "runs/grpo"  #: output directory (metrics.jsonl, samples.jsonl, final/)
    seed: int = 0  #: seeds prompts, sampling and the embedded default's warm start

    # -- outer loop (Algorithm 1) -----------------------------------------------------------
    steps: int = 200  #: outer steps (lines 4-11), one batch of prompts each; 0 = evaluate only
    prompts_per_step: int = 16  #: |D_b|, prompts per step
    group_size: int = 8  #: G, completions per prompt
    mu: int = 1  #: GRPO iterations (optimisation passes) per batch, line 10
    micro_batch_size: int = 128  #: completions per forward/backward (gradients accumulate)
    ref_reset_every: int = 0  #: M: reset pi_ref <- pi_theta every M steps (line 3); 0 = never

    # -- sampling (line 7) ------------------------------------------------------------------
    temperature: float = 0.7  #: log-probs use logits / temperature, the policy that sampled
    top_p: float = 1.0
    top_k: int = 0  #: 0 = off
    #: completion budget (a completion without EOS is "truncated"); None = automatic: the longest
    #: reference ``solution`` + 2 for the embedded character-level policy, else 256
    max_new_tokens: int | None = None
    max_prompt_length: int | None = None  #: None = context length - max_new_tokens
    prompt_truncation: Literal["left", "error"] = "left"  #: too-long prompts: keep the end, or fail
    chat_template: bool = True  #: wrap prompts in the tokenizer's chat template when it has one

    # -- rewards and advantages (lines 8-9) -------------------------------------------------
    reward_workers: int | None = None  #: scoring processes; None = the scheme's setting
    #: seconds per item (or the verifier's time budget, if larger); None = the scheme's setting
    reward_timeout: float | None = None
    advantage_mode: Literal["auto", "outcome", "process"] = "auto"  #: auto: process if steps
    advantage_scale: Literal["group", "batch", "none"] = "group"  #: eq. 3.4 / batch std / Dr. GRPO
    advantage_std: Literal["population", "sample"] = "population"  #: eq. 3.3 divides by G

    # -- the GRPO objective (line 11, eq. 3.1) ----------------------------------------------
    epsilon: float = 0.2  #: lower clip, ratio >= 1 - epsilon
    epsilon_high: float | None = None  #: upper clip (DAPO clip-higher); None = epsilon
    clip_ratio_c: float | None = None  #: dual-clip bound (> 1) for negative advantages
    beta: float = 0.0  #: KL coefficient; 0 = no reference model is loaded at all
    kl: Literal["k1", "k2", "k3"] = "k3"  #: KL estimator (eq. 1.9 is k3)
    kl_target: float | None = None  #: adaptive KL: move beta towards this KL; None = fixed beta
    kl_horizon: int = 10_000  #: adaptive KL horizon
    aggregation: Literal["sequence", "token", "constant"] = "token"  #: see grpo_core.loss

    # -- optimiser --------------------------------------------------------------------------
    lr: float = 2e-4
    lr_schedule: Literal["constant", "linear", "cosine", "constant_with_warmup"] = "constant"
    warmup_steps: int = 0
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.99
    max_grad_norm: float | None = 1.0  #: None = no clipping (the norm is still logged)

    # -- evaluation, logging, runtime -------------------------------------------------------
    eval_every: int = 10  #: held-out greedy accuracy every N steps (and at 0 and the end); 0 = off
    eval_rows: int = 500  #: held-out (test split) problems evaluated
    eval_batch_size: int = 500
    samples_every: int = 20  #: write the step's samples to samples.jsonl every N steps; 0 = off
    samples_per_write: int = 8  #: completions written each time
    report_to: str = (
        "auto"  #: accelerate trackers, comma-separated; auto = tensorboard if installed
    )
    progress: bool = True  #: progress bar
    threads: int | None = 2  #: torch.set_num_threads; None = torch's default
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"  #: policy weights
    gradient_checkpointing: bool = False  #: recompute activations in backward (less memory)
    #: zero the model's own dropout (attention/hidden), so that pi_theta's log-probs are the
    #: policy that sampled (the ratio of eq. 3.1 is exactly 1 on the first pass); LoRA's own
    #: ``lora_dropout`` is applied as set
    disable_dropout: bool = True

    # -- LoRA (needs the `lora` extra: peft) ------------------------------------------------
    lora_r: int = 0  #: LoRA rank; 0 = train all weights. With LoRA pi_ref = adapter disabled
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    lora_target_modules: str = "all-linear"  #: comma-separated module names, or all-linear

    # -- reward scoring overlap -------------------------------------------------------------
    #: send each completion to the reward workers as soon as it ends, while the batch still
    #: generates (same samples and rewards). Needs reward_workers > 0 and spare cores: keep
    #: threads + reward_workers <= cores, or it slows generation (benchmarks/results/vs_trl.md)
    overlap_scoring: bool = False
    save_final: bool = True  #: save model + tokenizer to OUT/final

    # -- checkpoints ------------------------------------------------------------------------
    checkpoint_every: int = 0  #: write OUT/checkpoints/step-N atomically every N steps; 0 = off
    checkpoint_keep: int = 2  #: complete checkpoints kept (older ones are deleted)
    resume: bool = False  #: continue from the last complete checkpoint in OUT

    def __post_init__(self) -> None:
        validate(self)


def _positive(cfg: TrainConfig, names: Iterable[str]) -> None:
    for name in names:
        if getattr(cfg, name) < 1:
            raise ConfigError(f"{name} must be >= 1, got {getattr(cfg, name)}")


def validate(cfg: TrainConfig) -> None:
    """Check value ranges and combinations; raise ConfigError naming the key."""
    _positive(cfg, ("prompts_per_step", "group_size", "mu", "micro_batch_size"))
    _positive(cfg, ("eval_batch_size", "kl_horizon", "checkpoint_keep"))
    if cfg.max_new_tokens is not None and cfg.max_new_tokens < 1:
        raise ConfigError(f"max_new_tokens must be >= 1 or null, got {cfg.max_new_tokens}")
    for name in (
        "steps",
        "ref_reset_every",
        "warmup_steps",
        "eval_every",
        "samples_every",
        "eval_rows",
        "checkpoint_every",
    ):
        if getattr(cfg, name) < 0:
            raise ConfigError(f"{name} must be >= 0, got {getattr(cfg, name)}")
    if cfg.group_size < 2:
        raise ConfigError("group_size must be >= 2: a group of one has no relative advantage")
    if cfg.temperature <= 0:
        raise ConfigError(f"temperature must be > 0 for sampling, got {cfg.temperature}")
    if not 0 < cfg.top_p <= 1:
        raise ConfigError(f"top_p must be in (0, 1], got {cfg.top_p}")
    if cfg.top_k < 0:
        raise ConfigError(f"top_k must be >= 0, got {cfg.top_k}")
    if cfg.epsilon <= 0 or (cfg.epsilon_high is not None and cfg.epsilon_high <= 0):
        raise ConfigError("epsilon and epsilon_high must be > 0")
    if cfg.clip_ratio_c is not None and cfg.clip_ratio_c <= 1:
        raise ConfigError(f"clip_ratio_c must be > 1, got {cfg.clip_ratio_c}")
    if cfg.beta < 0:
        raise ConfigError(f"beta must be >= 0, got {cfg.beta}")
    if cfg.kl_target is not None and (cfg.kl_target <= 0 or cfg.beta <= 0):
        raise ConfigError("kl_target (adaptive KL) needs kl_target > 0 and a starting beta > 0")
    if cfg.lr <= 0:
        raise ConfigError(f"lr must be > 0, got {cfg.lr}")
    if cfg.max_grad_norm is not None and cfg.max_grad_norm <= 0:
        raise ConfigError(f"max_grad_norm must be > 0 or null, got {cfg.max_grad_norm}")
    if cfg.max_prompt_length is not None and cfg.max_prompt_length < 1:
        raise ConfigError(f"max_prompt_length must be >= 1, got {cfg.max_prompt_length}")
    if cfg.lora_r < 0:
        raise ConfigError(f"lora_r must be >= 0 (0 = no LoRA), got {cfg.lora_r}")
    if cfg.threads is not None and cfg.threads < 1:
        raise ConfigError(f"threads must be >= 1 or null, got {cfg.threads}")


# -- loading and overriding -----------------------------------------------------------------


def field_names() -> list[str]:
    return [f.name for f in dataclasses.fields(TrainConfig)]


def resolve_config(
    path: str | Path | None = None, overrides: Mapping[str, Any] | None = None
) -> TrainConfig:
    """Defaults, then the YAML file at ``path``, then ``overrides`` (each key checked)."""
    values: dict[str, Any] = {}
    if path is not None:
        values.update(_read_yaml(Path(path)))
    values.update(overrides or {})
    return build_config(values, source=str(path) if path else "overrides")


def build_config(values: Mapping[str, Any], source: str = "config") -> TrainConfig:
    """A TrainConfig from a mapping whose every key and value is checked against the fields."""
    hints = typing.get_type_hints(TrainConfig)
    checked = {}
    for key, value in values.items():
        name = key.replace("-", "_")
        if name not in hints:
            raise ConfigError(
                f"{source}: unknown key {key!r}; valid keys: {', '.join(field_names())}"
            )
        checked[name] = coerce(name, value, hints[name])
    return TrainConfig(**checked)


def parse_overrides(args: Iterable[str]) -> dict[str, Any]:
    """``['--lr', '1e-4', '--beta=0.04']`` -> ``{'lr': '1e-4', 'beta': '0.04'}`` (values as text,
    typed later by ``coerce``). A key without a value is an error."""
    out: dict[str, Any] = {}
    items = list(args)
    i = 0
    while i < len(items):
        token = items[i]
        if not token.startswith("--") or len(token) < 3:
            raise ConfigError(f"expected --KEY VALUE, got {token!r}")
        key, eq, value = token[2:].partition("=")
        if not eq:
            if i + 1 >= len(items):
                raise ConfigError(f"--{key} needs a value")
            value = items[i + 1]
            i += 1
        out[key.replace("-", "_")] = value
        i += 1
    return out


_NULLS = {"none", "null", "~", ""}


def coerce(name: str, value: Any, hint: Any) -> Any:
    """Turn ``value`` (possibly CLI text) into the field's type or raise ConfigError."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        is_null = value is None or (isinstance(value, str) and value.strip().lower() in _NULLS)
        if is_null and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return coerce(name, value, option)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{name}: bad value {value!r}")
    if origin is Literal:
        if value not in args:
            choices = ", ".join(repr(a) for a in args)
            raise ConfigError(f"{name} must be one of {choices}, got {value!r}")
        return value
    if hint is bool:
        return _to_bool(name, value)
    if hint in (int, float):
        return _to_number(name, value, hint)
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{name} must be a string, got {value!r}")
    if origin is dict or hint is dict:
        if isinstance(value, str):
            value = _yaml_value(name, value)
        if not isinstance(value, Mapping):
            raise ConfigError(f"{name} must be a mapping, got {value!r}")
        return dict(value)
    raise ConfigError(f"{name}: unsupported type {hint!r}")


def _to_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def _to_number(name: str, value: Any, kind: type) -> int | float:
    if isinstance(value, bool):
        raise ConfigError(
            f"{name} must be {'an integer' if kind is int else 'a number'}, got {value!r}"
        )
    if isinstance(value, str):
        try:
            value = int(value) if kind is int else float(value)
        except ValueError:
            raise ConfigError(
                f"{name} must be {'an integer' if kind is int else 'a number'}, got {value!r}"
            ) from None
    if kind is int and not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if kind is float and not isinstance(value, int | float):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    return kind(value)


def _yaml_value(name: str, text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name}: not valid YAML/JSON: {_yaml_problem(exc)}") from exc


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's multi-line caret message as one line: the problem and its line/column."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
    if mark is None:
        return problem
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {_yaml_problem(exc)}") from exc
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: a config file must be a mapping, got {type(data).__name__}")
    return dict(data)


def to_yaml(cfg: TrainConfig) -> str:
    """The resolved configuration as YAML (printed at start, saved as OUT/config.yaml)."""
    return yaml.safe_dump(dataclasses.asdict(cfg), sort_keys=False, default_flow_style=None)
