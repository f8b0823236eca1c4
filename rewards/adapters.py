"""Use grpokit verifiers from other trainers, unchanged.

- TRL: ``GRPOTrainer(reward_funcs=to_trl(scheme), ...)``: TRL calls
  ``f(prompts, completions, **dataset_columns)`` and gets one float per completion.
  ``to_trl_components(scheme)`` gives one function per verifier plus the weights, for TRL's
  ``reward_weights``, so TRL logs each component separately.
- verl: in a file referenced by ``custom_reward_function.path``::

      from rewards.adapters import to_verl
      compute_score = to_verl({"math": 1.0, "format": 0.1})

  The row's ``answer`` is always verl's ``ground_truth`` (never ``extra_info["answer"]``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rewards.scheme import RewardScheme

SchemeLike = RewardScheme | Mapping[str, Any]


def _scheme(scheme: SchemeLike) -> RewardScheme:
    return scheme if isinstance(scheme, RewardScheme) else RewardScheme.from_config(scheme)


def completion_text(completion: Any) -> str:
    """Plain text of a TRL completion: a string, or a conversation (list of messages)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence):
        parts = [m.get("content", "") for m in completion if isinstance(m, Mapping)]
        return "".join(p if isinstance(p, str) else _content_text(p) for p in parts)
    raise TypeError(f"unsupported completion type {type(completion).__name__}")


def _content_text(content: Any) -> str:
    """Multimodal message content: the text parts of ``[{"type": "text", "text": ...}]``."""
    return "".join(c.get("text", "") for c in content if isinstance(c, Mapping))


def _rows(n: int, columns: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per-completion task rows from TRL's dataset columns (lists of length n)."""
    rows: list[dict[str, Any]] = [{} for _ in range(n)]
    for key, values in columns.items():
        if isinstance(values, list | tuple) and len(values) == n:
            for row, value in zip(rows, values, strict=True):
                row[key] = value
    return rows


class TRLReward:
    """A TRL reward function computing a scheme total, or one named component of it."""

    def __init__(self, scheme: RewardScheme, component: str | None = None) -> None:
        self.scheme = scheme
        self.component = component
        self.__name__ = component or "grpokit"

    def __call__(self, prompts: list, completions: list, **columns: Any) -> list[float | None]:
        texts = [completion_text(c) for c in completions]
        batch = self.scheme.score(texts, _rows(len(texts), columns))
        if self.component is None:
            return batch.totals
        return batch.scores(self.component)


def to_trl(scheme: SchemeLike) -> Callable[..., list[float | None]]:
    """The whole scheme as one TRL reward function returning eq. 6.1 totals."""
    return TRLReward(_scheme(scheme))


def to_trl_components(scheme: SchemeLike) -> tuple[list[Callable[..., Any]], list[float]]:
    """One TRL reward function per verifier (None where it abstains) and their weights.

    Pass them as ``reward_funcs`` and the weights as ``GRPOConfig(reward_weights=...)``.
    The format gate is a cross-component rule and is not applied in this form.
    """
    s = _scheme(scheme)
    return [TRLReward(s, c.name) for c in s.components], [c.weight for c in s.components]


def verl_row(data_source: str, ground_truth: Any, extra_info: Any = None) -> dict[str, Any]:
    """The task row verl's arguments make: every ``extra_info`` field, then ``answer`` =
    ``ground_truth`` and ``data_source`` = ``data_source``, which win over same-named
    ``extra_info`` keys (verl's GSM8K preprocessing puts the worked solution in
    ``extra_info["answer"]``; the gold is ``ground_truth``)."""
    return {**(extra_info or {}), "answer": ground_truth, "data_source": data_source}


def to_verl(scheme: SchemeLike) -> Callable[..., dict[str, Any]]:
    """A verl ``compute_score(data_source, solution_str, ground_truth, extra_info)``.

    The row is ``verl_row(data_source, ground_truth, extra_info)``: the ``extra_info`` fields
    with ``answer`` always ``ground_truth`` and ``data_source`` always ``data_source``, whatever
    ``extra_info`` holds under those keys. Returns ``{"score": total, <verifier>: score...}``
    (verl logs the extra keys).
    """
    s = _scheme(scheme)

    def compute_score(
        data_source: str, solution_str: str, ground_truth: Any, extra_info: Any = None, **_: Any
    ) -> dict[str, Any]:
        row = verl_row(data_source, ground_truth, extra_info)
        batch = s.score([solution_str], [row])
        out: dict[str, Any] = {"score": batch.totals[0]}
        for name in batch.components:
            score = batch.scores(name)[0]
            out[name] = 0.0 if score is None else score
        return out

    return compute_score
