"""Held-out evaluation: accuracy of a policy on task rows, greedy by default.

``evaluate`` generates one completion per row in batches (greedy unless ``sampling`` says
otherwise), scores them with a reward scheme and reports the share whose correctness verifiers
all gave 1 (``rollout.correctness``), the mean reward and the per-row verdicts, so that sampled
metrics such as pass@k can be built on the same pieces (``generate`` with ``repeat=n``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from grpo_core.rollout import correctness
from grpo_core.sampling import SamplingParams, encode_prompts, generate


@dataclass
class EvalResult:
    """Accuracy over the rows that have a correctness verdict; None if none has."""

    accuracy: float | None
    reward_mean: float
    rows: int
    correct: list[bool | None] = field(repr=False)
    completions: list[str] = field(repr=False)
    seconds: float = 0.0


@torch.no_grad()
def evaluate(
    model: Any,
    tokenizer: Any,
    rows: Sequence[Mapping[str, Any]],
    scheme: Any,
    *,
    max_new_tokens: int,
    batch_size: int = 500,
    chat_template: bool = True,
    budget: int | None = None,
    truncation: Literal["left", "error"] = "left",
    sampling: SamplingParams | None = None,
) -> EvalResult:
    """Generate for every row (greedy unless ``sampling``), score, and summarise."""
    if not rows:
        raise ValueError("evaluate needs at least one row")
    start = time.perf_counter()
    params = sampling or SamplingParams(max_new_tokens=max_new_tokens, greedy=True)
    texts: list[str] = []
    for first in range(0, len(rows), batch_size):
        batch = rows[first : first + batch_size]
        prompts = encode_prompts(
            tokenizer, batch, chat_template=chat_template, budget=budget, truncation=truncation
        )
        texts += generate(model, tokenizer, prompts, params).texts
    scored = scheme.score(texts, list(rows))
    kinds = {c.name: c.kind for c in scheme.components}
    verdicts = correctness(scored, kinds)
    judged = [v for v in verdicts if v is not None]
    return EvalResult(
        accuracy=sum(judged) / len(judged) if judged else None,
        reward_mean=sum(scored.totals) / len(scored.totals),
        rows=len(rows),
        correct=verdicts,
        completions=texts,
        seconds=time.perf_counter() - start,
    )
