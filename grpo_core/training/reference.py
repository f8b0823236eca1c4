"""The reference policy pi_ref of the KL term (eq. 3.1).

Loaded only when the KL term is on (beta > 0 or adaptive KL); Algorithm 1 line 3 resets it to
the current policy at the start of every outer iteration (``reset``, every ``ref_reset_every``
steps).

- A fully trained policy: pi_ref is a frozen, evaluation-mode deep copy; ``reset`` copies the
  policy's weights into it.
- A LoRA policy (peft, grpo_core.training.lora): no copy. pi_ref is the policy itself with its
  adapter disabled, run in eval mode (no dropout, neither the adapter's nor the base model's) and without
  gradient; the policy's train/eval mode is restored afterwards. ``reset`` folds the adapter into
  the base weights and zeroes B (``lora.fold_adapter``), so that "adapter disabled" is the
  current policy while the policy itself is unchanged.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from torch import Tensor

from grpo_core.training.lora import fold_adapter, is_peft_model
from grpo_core.training.optimize import rollout_logprobs
from grpo_core.training.rollout import Rollout


class ReferencePolicy:
    """pi_ref: a frozen copy of the policy, or (LoRA) the policy with its adapter disabled."""

    def __init__(self, policy: Any) -> None:
        self.shared = is_peft_model(policy)  #: True: ``model`` IS the policy (LoRA), no copy
        if self.shared:
            self.model = policy
        else:
            self.model = copy.deepcopy(policy)
            self.model.eval()
            self.model.requires_grad_(False)

    def reset(self, policy: Any) -> None:
        """pi_ref <- pi_theta (Algorithm 1, line 3)."""
        if not self.shared:
            self.model.load_state_dict(policy.state_dict())
            return
        if policy is not self.model:
            raise ValueError(
                "ReferencePolicy.reset: a LoRA reference can only be reset to the policy it was "
                f"built from (got a different {type(policy).__name__})"
            )
        fold_adapter(policy)

    def logprobs(self, rollout: Rollout, chunks: Sequence[Tensor], temperature: float) -> Tensor:
        """``[B, C]`` reference log-probs of the rollout's completions."""
        if not self.shared:
            return rollout_logprobs(self.model, rollout, chunks, temperature)
        with _eval_mode(self.model), self.model.disable_adapter():
            return rollout_logprobs(self.model, rollout, chunks, temperature)


@contextmanager
def _eval_mode(model: Any) -> Iterator[None]:
    """``model`` in eval mode (dropout off) for the block, its previous mode restored after."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)
