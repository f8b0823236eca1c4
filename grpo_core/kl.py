"""Per-token KL estimators against the reference policy, and an adaptive KL coefficient.

With d = log pi_ref(o_t) - log pi_theta(o_t) (so x = pi_ref / pi_theta = exp(d), eq. 1.9):

- ``k1`` = log pi_theta - log pi_ref = -d                (plain log-ratio, unbiased, can be < 0)
- ``k2`` = (log pi_theta - log pi_ref)^2 / 2 = d^2 / 2   (low variance, biased)
- ``k3`` = x - log x - 1 = exp(d) - d - 1                (eq. 1.9, DeepSeekMath; unbiased, >= 0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

KLKind = Literal["k1", "k2", "k3"]


def kl_penalty(logprobs: Tensor, ref_logprobs: Tensor, kind: KLKind = "k3") -> Tensor:
    """Per-token estimate of KL[pi_theta || pi_ref] from the sampled tokens' log-probs."""
    if logprobs.shape != ref_logprobs.shape:
        raise ValueError(
            f"logprobs {tuple(logprobs.shape)} and ref_logprobs {tuple(ref_logprobs.shape)} differ"
        )
    d = ref_logprobs - logprobs  # log x, x = pi_ref / pi_theta
    if kind == "k1":
        return -d
    if kind == "k2":
        return 0.5 * d**2
    if kind == "k3":
        return torch.expm1(d) - d  # x - log x - 1 (eq. 1.9), expm1 keeps precision near x = 1
    raise ValueError(f"kl kind must be 'k1', 'k2' or 'k3', got {kind!r}")


@dataclass
class AdaptiveKLController:
    """Adapts beta towards a target KL (GRPO notes, sec. 4.1.1 flowchart; Ziegler et al. 2019).

    After each step with observed KL:  e = clip(KL / target - 1, -0.2, 0.2),
    beta <- beta * (1 + e * n_steps / horizon). KL above target raises beta, below lowers it.
    """

    beta: float
    target: float
    horizon: int = 10_000

    def __post_init__(self) -> None:
        if self.beta < 0 or self.target <= 0 or self.horizon <= 0:
            raise ValueError("need beta >= 0, target > 0 and horizon > 0")

    def update(self, current_kl: float, n_steps: int = 1) -> float:
        """Record the KL seen over ``n_steps`` steps and return the new beta."""
        error = min(max(current_kl / self.target - 1.0, -0.2), 0.2)
        self.beta *= 1.0 + error * n_steps / self.horizon
        return self.beta

    def state_dict(self) -> dict[str, float]:
        return {"beta": self.beta, "target": self.target, "horizon": self.horizon}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.beta, self.target, self.horizon = state["beta"], state["target"], int(state["horizon"])
