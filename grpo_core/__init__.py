"""GRPO core: group-relative advantages, the clipped token loss, KL estimators, log-probs.

The public names are imported lazily (PEP 562) so that ``grpo`` commands that only score
completions never pay for importing torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "outcome_advantages": "grpo_core.advantages",
    "process_advantages": "grpo_core.advantages",
    "kl_penalty": "grpo_core.kl",
    "AdaptiveKLController": "grpo_core.kl",
    "grpo_loss": "grpo_core.loss",
    "token_logprobs": "grpo_core.logprobs",
    "token_entropy": "grpo_core.logprobs",
}

__all__ = [
    "AdaptiveKLController",
    "grpo_loss",
    "kl_penalty",
    "outcome_advantages",
    "process_advantages",
    "token_entropy",
    "token_logprobs",
]

if TYPE_CHECKING:
    from grpo_core.advantages import outcome_advantages, process_advantages
    from grpo_core.kl import AdaptiveKLController, kl_penalty
    from grpo_core.logprobs import token_entropy, token_logprobs
    from grpo_core.loss import grpo_loss


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'grpo_core' has no attribute {name!r}") from None
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
