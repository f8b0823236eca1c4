"""The reference policy pi_ref of the KL term (eq. 3.1): a frozen copy of the policy.

Loaded only when the KL term is on (beta > 0 or adaptive KL); Algorithm 1 line 3 resets it to
the current policy at the start of every outer iteration (``reset``, every ``ref_reset_every``
steps). With a LoRA policy the same interface would run the policy with its adapter disabled
instead of holding a copy.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from torch import Tensor

from grpo_core.optimize import rollout_logprobs
from grpo_core.rollout import Rollout


class ReferencePolicy:
    """A frozen, evaluation-mode copy of the policy."""

    def __init__(self, policy: Any) -> None:
        self.model = copy.deepcopy(policy)
        self.model.eval()
        self.model.requires_grad_(False)

    def reset(self, policy: Any) -> None:
        """pi_ref <- pi_theta (Algorithm 1, line 3)."""
        self.model.load_state_dict(policy.state_dict())

    def logprobs(self, rollout: Rollout, chunks: Sequence[Tensor], temperature: float) -> Tensor:
        """``[B, C]`` reference log-probs of the rollout's completions."""
        return rollout_logprobs(self.model, rollout, chunks, temperature)
