"""Held-out evaluation: accuracy of a policy on task rows, greedy by default.

``evaluate`` generates one completion per row in batches (greedy unless ``sampling`` says
otherwise), scores them with a reward scheme and reports the share whose correctness verifiers
all gave 1 (``rollout.correctness``), the mean reward and the per-row verdicts. The pieces are
also available on their own: ``generate_and_score`` (``repeat`` sampled completions per row,
contiguous, with the scored batch: totals and per-component results) and ``summarise``;
``grpo evaluate`` builds pass@k (grpo_core.passk) on them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from grpo_core.training.rollout import correctness
from grpo_core.training.sampling import SamplingParams, encode_prompts, generate


@dataclass
class EvalResult:
    """Accuracy over the rows that have a correctness verdict; None if none has."""

    accuracy: float | None
    reward_mean: float
    rows: int
    correct: list[bool | None] = field(repr=False)
    completions: list[str] = field(repr=False)
    seconds: float = 0.0


@dataclass
class ScoredCompletions:
    """``repeat`` completions per row (row-major), their scores and correctness verdicts."""

    completions: list[str]
    truncated: list[bool]  #: no EOS within ``max_new_tokens``
    scored: Any  #: the rewards.scheme.ScoredBatch (totals, per-component results)
    correct: list[bool | None]
    repeat: int
    seconds: float


@torch.no_grad()
def generate_and_score(
    model: Any,
    tokenizer: Any,
    rows: Sequence[Mapping[str, Any]],
    scheme: Any,
    params: SamplingParams,
    *,
    repeat: int = 1,
    batch_size: int = 500,
    chat_template: bool = True,
    budget: int | None = None,
    truncation: Literal["left", "error"] = "left",
) -> ScoredCompletions:
    """Generate ``repeat`` completions per row (at most ``batch_size`` per ``generate`` call)
    and score them with ``scheme``."""
    if not rows:
        raise ValueError("evaluate needs at least one row")
    if repeat < 1 or (repeat > 1 and params.greedy):
        raise ValueError(f"repeat={repeat}: more than one completion per row needs sampling")
    start = time.perf_counter()
    texts: list[str] = []
    truncated: list[bool] = []
    per_call = max(1, batch_size // repeat)
    for first in range(0, len(rows), per_call):
        batch = rows[first : first + per_call]
        prompts = encode_prompts(
            tokenizer, batch, chat_template=chat_template, budget=budget, truncation=truncation
        )
        completions = generate(model, tokenizer, prompts, params, repeat=repeat)
        texts += completions.texts
        truncated += completions.truncated.tolist()
    scored = scheme.score(texts, [row for row in rows for _ in range(repeat)])
    verdicts = correctness(scored, {c.name: c.kind for c in scheme.components})
    return ScoredCompletions(
        texts, truncated, scored, verdicts, repeat, time.perf_counter() - start
    )


def summarise(rows: int, done: ScoredCompletions) -> EvalResult:
    """Accuracy (share of judged completions that are correct) and mean reward."""
    judged = [v for v in done.correct if v is not None]
    totals = done.scored.totals
    return EvalResult(
        accuracy=sum(judged) / len(judged) if judged else None,
        reward_mean=sum(totals) / len(totals),
        rows=rows,
        correct=done.correct,
        completions=done.completions,
        seconds=done.seconds,
    )


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
    params = sampling or SamplingParams(max_new_tokens=max_new_tokens, greedy=True)
    done = generate_and_score(
        model, tokenizer, rows, scheme, params, batch_size=batch_size,
        chat_template=chat_template, budget=budget, truncation=truncation,
    )  # fmt: skip
    return summarise(len(rows), done)
