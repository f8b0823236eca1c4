"""Reward scoring overlapped with generation (``overlap_scoring``, Algorithm 1 lines 7-8).

Generation stays one ``generate`` call over the whole rollout, exactly as without overlap, so the
sampled completions, the random stream and therefore every reward and advantage are identical.
While it runs, a forward pre-hook on the policy sees the token each sequence sampled at the
previous decode step. A completion is final at its first EOS: it is then decoded exactly as
``sampling.split_completions`` decodes it and handed to the reward scheme's worker processes
(``RewardScheme.prefetch``), while the other sequences keep generating. The trainer's ordinary
``score`` call afterwards reuses those items (same position, completion and row; anything else is
scored afresh), so it only waits for what is still running and scores the completions that ended
on the last decode step or ran into ``max_new_tokens``.

What it can hide is bounded by the generation time and by how spread out the completion lengths
are: a batch whose completions all end on the same step gains nothing. It also needs spare
capacity while generating: a free core (or a policy generating on a GPU), or scoring that waits
rather than computes (a judge behind an API). CPU-bound verifiers on cores that torch's threads
already use slow generation down instead (benchmarks/results/vs_trl.md: keep ``threads`` plus
``reward_workers`` within the cores). Verifier timeouts are wall-clock, so an item close to its
timeout may time out under that extra contention: the one way results can differ from the
plain path. The hook costs one host copy of the batch's newest token ids per decode step.
Scoring inline (``workers=0``) cannot overlap, so the plain path is used then.

Figures (per step): ``time_generation`` is unchanged, ``time_scoring`` is the wait after
generation (the part not hidden) and ``time_scoring_hidden`` the wall time during generation in
which at least one prefetched item was being scored. ``scored_early`` counts the completions
handed to the workers before generation ended.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

import torch

from grpo_core.training.sampling import eos_ids


class EarlyScoring:
    """Context manager around one rollout's generation; prefetches each completion as it ends.

    ``rows`` are the step's prompts; the rollout holds each one ``group_size`` times in a row
    (``Trainer.sample``), which fixes the position of every sequence. ``events`` records
    ``(name, time.monotonic(), position)`` for each prefetch and the generation's end, on a clock
    that other processes on the machine share.
    """

    def __init__(
        self, scheme: Any, model: Any, tokenizer: Any, rows: Sequence[dict], group_size: int
    ) -> None:
        self.scheme, self.model, self.tokenizer = scheme, model, tokenizer
        self.rows = [row for row in rows for _ in range(group_size)]
        self.stops = torch.tensor(eos_ids(model, tokenizer))
        self.events: list[tuple[str, float, int]] = []
        self._tokens: list[list[int]] | None = None  #: tokens so far, per open sequence
        self._open: list[bool] = []
        self._spans: list[list[float]] = []  #: [prefetched at, done at] per future
        self._handle: Any = None
        self.started = self.ended = 0.0

    def __enter__(self) -> EarlyScoring:
        self._handle = self.model.register_forward_pre_hook(self._on_forward, with_kwargs=True)
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.remove()
        self.ended = time.monotonic()
        self.events.append(("generation_end", self.ended, -1))

    @property
    def scored_early(self) -> int:
        return sum(1 for name, _, _ in self.events if name == "prefetch")

    def hidden_seconds(self) -> float:
        """Wall time between the start and the end of generation during which at least one
        prefetched item was queued or being scored (call once scoring has finished)."""
        now = time.monotonic()
        spans = sorted((start, done if done else now) for start, done in self._spans)
        hidden, covered = 0.0, self.started
        for start, done in spans:
            start, done = max(start, covered), min(done, self.ended)
            if done > start:
                hidden += done - start
                covered = done
        return hidden

    # -- the hook ---------------------------------------------------------------------------

    def _on_forward(self, module: Any, args: tuple, kwargs: dict) -> None:
        ids = kwargs["input_ids"] if "input_ids" in kwargs else (args[0] if args else None)
        if self._tokens is None:  # the first forward is the prefill: the prompts themselves
            if ids is not None and ids.shape[0] != len(self.rows):
                raise RuntimeError(
                    f"overlap_scoring: generate got {ids.shape[0]} sequences, expected "
                    f"{len(self.rows)} (prompts x group_size)"
                )
            self._tokens = [[] for _ in self.rows]
            self._open = [True] * len(self.rows)
            return
        if ids is None:
            return
        sampled = ids[:, -1].cpu()
        ended = torch.isin(sampled, self.stops).tolist()
        for i, token in enumerate(sampled.tolist()):
            if not self._open[i]:
                continue
            if ended[i]:
                self._open[i] = False
                self._prefetch(i)
            else:
                self._tokens[i].append(token)

    def _prefetch(self, position: int) -> None:
        text = self.tokenizer.batch_decode([self._tokens[position]], skip_special_tokens=True)[0]
        now = time.monotonic()
        for future in self.scheme.prefetch(position, text, self.rows[position]):
            self._track(future, now)
        self.events.append(("prefetch", now, position))

    def _track(self, future: Future, started: float) -> None:
        span = [started, 0.0]
        self._spans.append(span)
        future.add_done_callback(lambda _: span.__setitem__(1, time.monotonic()))


def early_scoring(trainer: Any, rows: Sequence[dict]) -> EarlyScoring | None:
    """An ``EarlyScoring`` for this step when ``overlap_scoring`` is on and the scheme scores in
    worker processes, else None (the plain path)."""
    if not getattr(trainer.cfg, "overlap_scoring", False):
        return None
    if not trainer.scheme.can_prefetch:
        warnings.warn(
            "overlap_scoring has no effect: the reward scheme scores inline (workers=0); "
            "set reward_workers > 0 to score in worker processes during generation",
            stacklevel=2,
        )
        return None
    return EarlyScoring(
        trainer.scheme, trainer.model, trainer.tokenizer, rows, trainer.cfg.group_size
    )


def step_figures(early: EarlyScoring | None) -> dict[str, Any]:
    """The overlap's metrics for one step (null when the step did not overlap)."""
    if early is None:
        return {"time_scoring_hidden": None, "scored_early": None}
    return {"time_scoring_hidden": early.hidden_seconds(), "scored_early": early.scored_early}
