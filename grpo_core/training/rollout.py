"""One step's rollout: G completions per prompt, their rewards and their advantages.

Algorithm 1, lines 7-9: the sampled batch (``Rollout``, completions of a prompt contiguous), the
rewards r_i from the reward scheme (eq. 6.1, ``score``) and the group-relative advantages
(``advantages``): outcome supervision (eq. 3.3-3.5, one A_i per completion) or process
supervision (eq. 3.6-3.7, per-token A_{i,t} from the verifiers' step rewards).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from grpo_core.advantages import outcome_advantages, process_advantages
from grpo_core.training.sampling import Completions, Prompts
from grpo_core.training.step_tokens import step_token_ends

AdvantageMode = Literal["outcome", "process"]


@dataclass
class Rollout:
    """B = prompts x G sequences; row i*G ... i*G+G-1 are prompt i's group."""

    rows: list[dict]  #: the task row of each sequence (each prompt's row repeated G times)
    prompts: Prompts  #: [B, P] left-padded
    completions: Completions  #: [B, C]
    group_size: int

    @property
    def size(self) -> int:
        return len(self.rows)

    def sequences(self, index: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(input_ids, attention_mask, position_ids, completion_ids)`` of the rows ``index``
        (all by default), with columns that are padding in every selected row trimmed."""
        p_ids, p_mask = self.prompts.ids, self.prompts.mask
        c_ids, c_mask = self.completions.ids, self.completions.mask
        if index is not None:
            p_ids, p_mask, c_ids, c_mask = p_ids[index], p_mask[index], c_ids[index], c_mask[index]
        first = int(p_mask.any(dim=0).long().argmax())  # first prompt column in use
        width = completion_width(c_mask)
        p_ids, p_mask, c_ids, c_mask = (
            p_ids[:, first:],
            p_mask[:, first:],
            c_ids[:, :width],
            c_mask[:, :width],
        )
        ids = torch.cat([p_ids, c_ids], dim=1)
        mask = torch.cat([p_mask, c_mask.long()], dim=1)
        positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
        return ids, mask, positions, c_ids


def completion_width(mask: Tensor) -> int:
    """Columns up to the last one any row still uses (at least 1)."""
    used = mask.any(dim=0).nonzero()
    return int(used[-1]) + 1 if used.numel() else 1


@dataclass
class Rewards:
    """Rewards of a rollout: totals r_i (eq. 6.1), per-component verdicts, correctness."""

    totals: Tensor  #: [B]
    scored: Any  #: rewards.scheme.ScoredBatch
    correct: list[bool | None]  #: every correctness verifier scored 1 (None: none scored)
    kinds: dict[str, str]  #: component name -> kind

    def error_counts(self) -> dict[str, int]:
        """Failed verifications in this batch: all, timeouts, non-finite scores, crashes."""
        counts = {"errors": 0, "timeouts": 0, "nonfinite": 0, "crashes": 0}
        for timed in self.scored.components.values():
            for t in timed:
                error = t.result.error
                if error is None:
                    continue
                counts["errors"] += 1
                counts["timeouts"] += error.startswith("timeout")
                counts["nonfinite"] += error.startswith("non-finite")
                counts["crashes"] += error.startswith("crash")
        return counts


def score(scheme: Any, rollout: Rollout) -> Rewards:
    """r_i for every completion (line 8). Failed verifications come back from the scheme as error
    results worth their error score (0), never as NaN; a non-finite total is refused."""
    scored = scheme.score(rollout.completions.texts, rollout.rows)
    totals = torch.tensor(scored.totals, dtype=torch.float32)
    if not torch.isfinite(totals).all():
        bad = int((~torch.isfinite(totals)).nonzero()[0])
        raise RuntimeError(f"reward scheme returned a non-finite total for completion {bad}")
    kinds = {c.name: c.kind for c in scheme.components}
    return Rewards(totals, scored, correctness(scored, kinds), kinds)


def correctness(scored: Any, kinds: Mapping[str, str]) -> list[bool | None]:
    """Per row: True when every ``correct``-kind component that scored gave 1.0."""
    names = [n for n, k in kinds.items() if k == "correct"]
    out: list[bool | None] = []
    for i in range(len(scored.totals)):
        scores = [scored.components[n][i].result.score for n in names]
        scores = [s for s in scores if s is not None]
        out.append(None if not scores else all(s >= 1.0 - 1e-9 for s in scores))
    return out


def has_steps(rewards: Rewards) -> bool:
    """Whether any verifier returned process-supervision steps (``auto`` mode picks process)."""
    return any(t.result.steps is not None for ts in rewards.scored.components.values() for t in ts)


def advantages(
    rollout: Rollout,
    rewards: Rewards,
    mode: AdvantageMode,
    tokenizer: Any,
    *,
    scale: str = "group",
    std: str = "population",
) -> Tensor:
    """Outcome ``[B]`` (eq. 3.3-3.5) or process ``[B, C]`` (eq. 3.6-3.7) advantages (line 9)."""
    if mode == "outcome":
        return outcome_advantages(rewards.totals, rollout.group_size, scale=scale, std=std)
    if mode != "process":
        raise ValueError(f"advantage mode must be 'outcome' or 'process', got {mode!r}")
    step_rewards, step_ends = process_steps(rollout, rewards, tokenizer)
    width = rollout.completions.ids.shape[1]
    return process_advantages(step_rewards, step_ends, rollout.group_size, width, std=std)


def process_steps(
    rollout: Rollout, rewards: Rewards, tokenizer: Any
) -> tuple[list[list[float]], list[list[int]]]:
    """Each completion's weighted step rewards and their token ends.

    Step rewards come from ``ScoredBatch.steps`` (weighted, by offset); a component that gives
    no steps for a row adds its weighted score as one step at the end of the completion. The
    format gate of the scheme does not apply to step rewards.
    """
    scored, comps = rewards.scored, rollout.completions
    rewards_out, ends_out = [], []
    for i, text in enumerate(comps.texts):
        steps = list(scored.steps(i))
        for name, timed in scored.components.items():
            result = timed[i].result
            if result.steps is None and result.score is not None:
                steps.append((len(text), scored.weights[name] * result.score))
        length = int(comps.mask[i].sum())
        body = _text_tokens(comps, i)
        ends = step_token_ends(tokenizer, body, len(text), [o for o, _ in steps], length)
        rewards_out.append([float(r) for _, r in steps])
        ends_out.append(ends)
    return rewards_out, ends_out


def _text_tokens(comps: Completions, i: int) -> Sequence[int]:
    """Completion i's tokens before its EOS."""
    length = int(comps.mask[i].sum())
    stop = length - 1 if not bool(comps.truncated[i]) else length
    return comps.ids[i, :stop].tolist()


def zero_variance_groups(adv: Tensor, group_size: int) -> Tensor:
    """[num_groups] bool: groups whose every advantage is exactly 0 (no learning signal)."""
    per_sequence = adv.abs() if adv.dim() == 1 else adv.abs().amax(dim=1)
    return per_sequence.view(-1, group_size).amax(dim=1) == 0
