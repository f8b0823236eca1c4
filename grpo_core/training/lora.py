"""LoRA policies through peft (the ``lora`` extra): wrapping, the reference reset, merged saving.

With ``lora_r > 0`` every targeted weight matrix W of the loaded policy is used as

    W' = W + (alpha / r) B A,    A in R^{r x in} (random),  B in R^{out x r} (zero at the start),

and only A and B train (peft ``LoraConfig``, task type CAUSAL_LM); W stays frozen. Since B = 0 at
the start, training begins from the loaded policy. The reference pi_ref of the KL term (eq. 3.1)
is then the same model with its adapter switched off (``grpo_core.training.reference``): no
second copy of the weights is held.

``fold_adapter`` is Algorithm 1's line 3 (pi_ref <- pi_theta) for such a policy: W <- W + (alpha /
r) B A, then B <- 0. The policy computes the same function as before (to rounding; in bfloat16 or
float16 the fold rounds to the weights' precision), while "adapter disabled" now means the current
policy. The parameters keep their identity (the optimiser still holds them) and A is kept, so the
adapter restarts from the usual LoRA start (B = 0) in the same subspace and Adam's moments of A
and B stay meaningful. After a fold the adapter alone is no longer relative to the loaded weights.

``merged_state_dict`` gives the weights of a plain transformers model (W' merged in, adapter keys
dropped) without changing the training model, for ``save_pretrained``.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor

from grpo_core.training.config import TrainConfig

ALL_LINEAR = "all-linear"
#: attribute counting the folds of ``fold_adapter`` on the peft model
FOLDS_ATTRIBUTE = "grpokit_adapter_folds"


def is_peft_model(model: Any) -> bool:
    """True for a peft ``PeftModel`` (peft need not be installed: then nothing is one)."""
    peft = sys.modules.get("peft")
    return peft is not None and isinstance(model, peft.PeftModel)


def require_peft(r: int) -> Any:
    """The ``peft`` module, or an ImportError naming the extra to install."""
    try:
        import peft
    except ImportError as exc:
        raise ImportError(
            f"lora_r={r} needs peft, which is not installed: install the lora extra "
            f"(pip install 'grpokit[lora]') or set lora_r=0 to train all weights"
        ) from exc
    return peft


def target_modules(spec: str) -> str | list[str]:
    """``lora_target_modules`` for peft: "all-linear", or the comma-separated module names."""
    if spec.strip() == ALL_LINEAR:
        return ALL_LINEAR
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise ValueError(
            f"lora_target_modules={spec!r}: no module names (use {ALL_LINEAR!r} or e.g. q_proj,v_proj)"
        )
    return names


def check_targets(model: Any, targets: str | list[str]) -> None:
    """Every listed name must be some module's name or its last dotted part(s) (peft's rule),
    and name a layer (a weight-holding leaf such as ``nn.Linear``), not a block of layers."""
    if targets == ALL_LINEAR:
        return
    modules = [(n, m) for n, m in model.named_modules() if n]
    problems = []
    for target in targets:
        matched = [m for n, m in modules if n == target or n.endswith(f".{target}")]
        if not matched:
            problems.append(f"{target} matches no module")
        elif not any(_is_layer(m) for m in matched):
            problems.append(f"{target} is a block ({type(matched[0]).__name__}), not a layer")
    if problems:
        raise ValueError(
            f"lora_target_modules: {'; '.join(problems)} in {type(model).__name__}; its linear "
            f"modules are: {', '.join(linear_names(model))} (or use {ALL_LINEAR!r})"
        )


def _is_layer(module: Any) -> bool:
    """A module peft can put an adapter on: a leaf (Linear, Embedding, Conv...) or attention."""
    return isinstance(module, torch.nn.MultiheadAttention) or next(module.children(), None) is None


def linear_names(model: Any) -> list[str]:
    """The distinct last name parts of the model's ``nn.Linear`` modules (valid targets)."""
    return sorted(
        {n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    )


def apply_lora(model: Any, cfg: TrainConfig, log: Callable[[str], None]) -> Any:
    """``model`` wrapped in a LoRA adapter when ``cfg.lora_r > 0`` (else ``model`` itself)."""
    if cfg.lora_r <= 0:
        return model
    peft = require_peft(cfg.lora_r)
    targets = target_modules(cfg.lora_target_modules)
    check_targets(model, targets)
    config = peft.LoraConfig(
        task_type="CAUSAL_LM",
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=targets,
    )
    with warnings.catch_warnings():  # peft reads transformers' deprecated checkpointing flag
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
        try:
            wrapped = peft.get_peft_model(model, config)
        except ValueError as exc:
            raise ValueError(
                f"lora_target_modules={cfg.lora_target_modules!r}: {exc} (valid linear modules: "
                f"{', '.join(linear_names(model))})"
            ) from exc
    trainable, total = parameter_counts(wrapped)
    log(
        f"LoRA r={cfg.lora_r} alpha={cfg.lora_alpha} on {cfg.lora_target_modules}: "
        f"{trainable:,} of {total:,} parameters train ({trainable / total:.2%})"
    )
    return wrapped


def parameter_counts(model: Any) -> tuple[int, int]:
    """``(trainable, total)`` parameter counts (tied weights counted once)."""
    params = list(model.parameters())  # nn.Module.parameters() yields a shared tensor once
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def _lora_layers(model: Any) -> Iterator[tuple[str, Any, str]]:
    """``(name in the base model, LoRA layer, adapter name)`` of every layer with the active
    adapter."""
    from peft.tuners.lora import LoraLayer

    adapter = model.active_adapter
    for name, module in model.get_base_model().named_modules():
        if isinstance(module, LoraLayer) and (
            adapter in module.lora_A or adapter in module.lora_embedding_A
        ):
            yield name, module, adapter


@torch.no_grad()
def fold_adapter(model: Any) -> int:
    """W <- W + (alpha / r) B A, B <- 0 in every LoRA layer (module docstring); returns how many
    layers were folded."""
    folded = 0
    for _, layer, adapter in _lora_layers(model):
        weight = layer.get_base_layer().weight
        weight += layer.get_delta_weight(adapter).to(weight.dtype)
        if adapter in layer.lora_B:
            layer.lora_B[adapter].weight.zero_()
        else:
            layer.lora_embedding_B[adapter].zero_()
        folded += 1
    setattr(model, FOLDS_ATTRIBUTE, folds(model) + 1)
    return folded


def folds(model: Any) -> int:
    """How many times ``fold_adapter`` changed the base weights of ``model``."""
    return int(getattr(model, FOLDS_ATTRIBUTE, 0))


@torch.no_grad()
def merged_state_dict(model: Any) -> dict[str, Tensor]:
    """The base model's state dict with W' = W + (alpha / r) B A merged in and the adapter's
    tensors left out (keys as in the plain transformers model); ``model`` is not changed."""
    merged = {}
    for name, layer, adapter in _lora_layers(model):
        weight = layer.get_base_layer().weight
        merged[f"{name}.weight"] = weight + layer.get_delta_weight(adapter).to(weight.dtype)
    state = {}
    for key, tensor in model.get_base_model().state_dict().items():
        parts = key.split(".")
        if any(p.startswith("lora_") for p in parts):
            continue
        plain = ".".join(p for p in parts if p != "base_layer")
        state[plain] = merged.get(plain, tensor)
    return state
