"""Multi-process training (``accelerate launch``): prompt shards, gathers and global sums.

Every process runs the same Trainer. Per step, with P processes and n = ``prompts_per_step``:

- every process draws the same n prompts (same seeded permutation) and takes its contiguous
  shard of n / P prompts (``shard``): whole groups of G completions live on one process, so the
  group statistics of eq. 3.3-3.4 and 3.6 are local;
- each process generates (its own RNG stream, seed + rank: ``seed_process``) and scores its share;
- ``advantage_scale="batch"`` needs the std over the whole batch: ``outcome_advantages`` gathers
  the rewards and normalises them as one batch;
- the loss normaliser ``num_items`` (tokens or sequences of the whole batch) is summed over the
  processes (``sum_over_processes``). Each process's loss is then its part of the full-batch loss;
  DDP (and FSDP / DeepSpeed) *average* gradients over processes, so the backward pass takes
  P x the loss and the averaged gradient is the single-process gradient of the whole batch;
- metrics and samples are computed from every process's share (``gather_step``), evaluation
  rows are sharded and the verdicts gathered (``shard_rows`` / ``merge_eval``), and only the main
  process writes files (``run_log`` gives the other processes a silent log).

With one process every function here returns its input unchanged and makes no collective call.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from grpo_core.advantages import outcome_advantages as _outcome_advantages
from grpo_core.training.config import ConfigError
from grpo_core.training.evaluation import EvalResult
from grpo_core.training.metrics import RunLog
from grpo_core.training.rollout import Rewards, Rollout
from grpo_core.training.sampling import Completions, Prompts

#: accelerate set-ups whose parameters are sharded or whose optimiser steps are driven by the
#: engine: generation, the reference copy, clipping and saving would need their own handling
UNSUPPORTED = ("FSDP", "DEEPSPEED", "MEGATRON_LM")


def check_setup(accelerator: Any, prompts_per_step: int) -> None:
    """Refuse a launch that would silently train P independent copies, a sharded set-up
    (``UNSUPPORTED``) and a batch that does not split into whole prompts per process."""
    kind = str(accelerator.distributed_type).rsplit(".", 1)[-1]
    if kind in UNSUPPORTED:
        raise ConfigError(
            f"accelerate distributed_type {kind} is not supported by grpo train yet: use "
            f"data-parallel training (MULTI_GPU / MULTI_CPU, i.e. DDP); see the README"
        )
    launched = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if launched > 1 and accelerator.num_processes == 1:
        raise ConfigError(
            f"launched as {launched} processes (WORLD_SIZE={launched}) but accelerate set up no "
            f"process group, so each process would train alone; on a machine without GPUs "
            f"launch with ACCELERATE_USE_CPU=1 in the environment (gloo), see the README"
        )
    processes = accelerator.num_processes
    if prompts_per_step % processes:
        raise ConfigError(
            f"prompts_per_step={prompts_per_step} must be divisible by the number of processes "
            f"({processes}): each process takes prompts_per_step / {processes} whole prompt groups"
        )


def seed_process(accelerator: Any, seed: int) -> None:
    """Seed torch's global RNG (sampling) with ``seed + process index``: every process draws
    different completions, reproducibly; process 0 uses ``seed`` as a single process does."""
    torch.manual_seed(seed + accelerator.process_index)


def shard(accelerator: Any, total: int) -> slice:
    """This process's contiguous share of ``total`` items (``total`` must split evenly)."""
    processes, index = accelerator.num_processes, accelerator.process_index
    if total % processes:
        raise ConfigError(
            f"prompts_per_step={total} must be divisible by the number of processes ({processes})"
        )
    size = total // processes
    return slice(index * size, (index + 1) * size)


def shard_rows(accelerator: Any, rows: list[dict]) -> list[dict]:
    """A near-even contiguous share of ``rows`` (evaluation; shares may differ by one row or
    be empty when there are fewer rows than processes). Concatenating the shares in process
    order gives ``rows`` back."""
    processes, index = accelerator.num_processes, accelerator.process_index
    base, extra = divmod(len(rows), processes)
    start = index * base + min(index, extra)
    return rows[start : start + base + (index < extra)]


def gather_objects(accelerator: Any, obj: Any) -> list[Any]:
    """``[obj of process 0, obj of process 1, ...]`` on every process (picklable objects)."""
    if accelerator.num_processes == 1:
        return [obj]
    from accelerate.utils import gather_object

    return gather_object([obj])


def sum_over_processes(accelerator: Any, values: list[float]) -> list[float]:
    """Element-wise sums over the processes (an all-reduce in float64)."""
    if accelerator.num_processes == 1:
        return list(values)
    local = torch.tensor(values, dtype=torch.float64, device=accelerator.device)
    return accelerator.reduce(local, reduction="sum").cpu().tolist()


def sum_dicts(accelerator: Any, values: dict[str, float]) -> dict[str, float]:
    """Key-wise sums over the processes (keys may differ between processes)."""
    if accelerator.num_processes == 1:
        return dict(values)
    out: dict[str, float] = {}
    for part in gather_objects(accelerator, values):
        for key, value in part.items():
            out[key] = out.get(key, 0.0) + value
    return out


def any_over_processes(accelerator: Any, flag: bool) -> bool:
    return sum_over_processes(accelerator, [float(flag)])[0] > 0


def outcome_advantages(
    accelerator: Any, totals: Tensor, group_size: int, *, scale: str, std: str
) -> Tensor:
    """This process's outcome advantages (eq. 3.3-3.5) computed over the whole batch: the
    rewards of every process are gathered, so ``scale="batch"`` divides by the global std."""
    parts = gather_objects(accelerator, totals.cpu())
    full = _outcome_advantages(torch.cat(parts), group_size, scale=scale, std=std)
    start = sum(p.numel() for p in parts[: accelerator.process_index])
    return full[start : start + totals.numel()]


def gather_step(
    accelerator: Any, rollout: Rollout, rewards: Rewards, adv: Tensor
) -> tuple[Rollout, Rewards, Tensor]:
    """Every process's rollout, rewards and advantages merged in process order (the whole
    step's batch, as one process would hold it), for metrics and samples only: token ids added
    as padding are 0 under a 0 mask."""
    if accelerator.num_processes == 1:
        return rollout, rewards, adv
    parts = gather_objects(accelerator, (rollout, rewards, adv.cpu()))
    rollouts, scored, advs = zip(*parts, strict=True)
    return _merge_rollouts(list(rollouts)), _merge_rewards(list(scored)), _cat_padded(advs)


def _pad(t: Tensor, width: int, left: bool = False) -> Tensor:
    missing = width - t.shape[1]
    if missing <= 0:
        return t
    pad = torch.zeros(t.shape[0], missing, dtype=t.dtype)
    return torch.cat([pad, t] if left else [t, pad], dim=1)


def _cat_padded(tensors: Any, left: bool = False) -> Tensor:
    tensors = list(tensors)
    if tensors[0].dim() == 1:
        return torch.cat(tensors)
    width = max(t.shape[1] for t in tensors)
    return torch.cat([_pad(t, width, left) for t in tensors])


def _merge_rollouts(parts: list[Rollout]) -> Rollout:
    prompts = Prompts(
        _cat_padded((p.prompts.ids for p in parts), left=True),
        _cat_padded((p.prompts.mask for p in parts), left=True),
        sum(p.prompts.truncated for p in parts),
    )
    completions = Completions(
        ids=_cat_padded(p.completions.ids for p in parts),
        mask=_cat_padded(p.completions.mask for p in parts),
        texts=[t for p in parts for t in p.completions.texts],
        truncated=torch.cat([p.completions.truncated for p in parts]),
    )
    rows = [r for p in parts for r in p.rows]
    return Rollout(rows, prompts, completions, parts[0].group_size)


def _merge_rewards(parts: list[Rewards]) -> Rewards:
    first = parts[0].scored
    scored = replace(
        first,
        totals=[t for p in parts for t in p.scored.totals],
        components={
            n: [t for p in parts for t in p.scored.components[n]] for n in first.components
        },
        by_kind={k: [v for p in parts for v in p.scored.by_kind[k]] for k in first.by_kind},
    )
    totals = torch.cat([p.totals for p in parts])
    correct = [c for p in parts for c in p.correct]
    return Rewards(totals, scored, correct, parts[0].kinds)


def merge_eval(accelerator: Any, part: EvalResult | None) -> EvalResult:
    """The held-out result over every process's rows (in process order) from each process's
    ``part`` (None for an empty share); ``seconds`` is the slowest process's."""
    if accelerator.num_processes == 1 and part is not None:
        return part
    parts = [p for p in gather_objects(accelerator, part) if p is not None]
    rows = sum(p.rows for p in parts)
    correct = [c for p in parts for c in p.correct]
    judged = [c for c in correct if c is not None]
    return EvalResult(
        accuracy=sum(judged) / len(judged) if judged else None,
        reward_mean=sum(p.reward_mean * p.rows for p in parts) / rows,
        rows=rows,
        correct=correct,
        completions=[c for p in parts for c in p.completions],
        seconds=max(p.seconds for p in parts),
    )


class SilentRunLog:
    """The run log of a process other than the main one: writes and shows nothing."""

    last_heldout: float | None = None

    def echo(self, message: str) -> None:
        """Nothing: only the main process prints progress."""

    def step(self, row: dict[str, Any]) -> None:
        """Nothing: only the main process writes metrics.jsonl."""

    def samples(self, *args: Any, **kwargs: Any) -> None:
        """Nothing: only the main process writes samples.jsonl."""

    def position(self, step: int) -> None:
        """No files, no position (checkpoints record the main process's)."""

    def close(self) -> None:
        """Nothing to close."""


def run_log(out: Path, accelerator: Any, *args: Any, **kwargs: Any) -> RunLog | SilentRunLog:
    """``RunLog(out, accelerator, ...)`` on the main process (files, trackers, progress bar);
    a silent log on the others."""
    if accelerator.is_main_process:
        return RunLog(out, accelerator, *args, **kwargs)
    return SilentRunLog()
