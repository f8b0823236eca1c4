"""``TrainState``: everything that changes during training (policy, optimiser, schedule,
reference, KL controller, prompt cursor, RNG, evaluation history), what a checkpoint saves
(grpo_core.training.checkpoint) and a resume restores (grpo_core.training.resume). In its own
module so that the checkpoint code needs nothing from the trainer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from grpo_core.kl import AdaptiveKLController
from grpo_core.training.evaluation import EvalResult
from grpo_core.training.reference import ReferencePolicy


@dataclass
class TrainState:
    """All mutable training state (what a checkpoint holds)."""

    policy: Any
    optimizer: Any
    scheduler: Any
    reference: ReferencePolicy | None
    kl_controller: AdaptiveKLController | None
    beta: float
    prompt_order: torch.Tensor
    cursor: int = 0
    step: int = 0
    advantage_mode: str | None = None  #: resolved on the first step when "auto"
    generator: torch.Generator = field(default_factory=torch.Generator)
    history: list[tuple[int, float | None]] = field(default_factory=list)  #: (step, accuracy)
    initial_eval: EvalResult | None = None  #: the step-0 evaluation
    last_eval: EvalResult | None = None  #: the newest evaluation
    seconds: float = 0.0  #: GRPO seconds of the earlier runs this one resumed
