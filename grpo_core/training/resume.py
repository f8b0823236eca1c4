"""Whether and from where ``grpo train`` resumes (``resume``), and which configuration changes a
resume accepts.

``resume_point`` decides at start-up, before anything is written to OUT:

- ``resume`` false but OUT holds complete checkpoints: an error (a fresh run would mix its
  checkpoints with the earlier run's, and a later resume would pick the wrong one).
- ``resume`` true and a complete checkpoint: the newest one, whose configuration must equal this
  run's except for ``RUNTIME_KEYS``; ``steps`` may grow but not drop below the checkpoint's step.
- ``resume`` true and none: a fresh start with a notice (so a job script can always pass
  ``--resume true``), unless OUT holds the logs of an earlier run with another configuration,
  which a fresh start would overwrite: an error.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from grpo_core.training.checkpoint import (
    CheckpointError,
    checkpoints_dir,
    latest_checkpoint,
    normalised,
    read_state,
)
from grpo_core.training.config import TrainConfig

#: configuration keys that may differ between a checkpoint and the run resuming it: they change
#: how the run is carried out or reported, not what it trains (every other key must be equal)
RUNTIME_KEYS = frozenset(
    {
        "out", "steps", "resume", "checkpoint_every", "checkpoint_keep", "save_final",
        "eval_every", "eval_batch_size", "samples_every", "samples_per_write", "report_to",
        "progress", "threads", "reward_workers", "micro_batch_size", "gradient_checkpointing",
        "overlap_scoring",
    }
)  # fmt: skip

#: schedules whose rate depends on ``steps`` (raising ``steps`` on resume re-targets them)
_DECAYING_SCHEDULES = ("linear", "cosine")


def config_differences(saved: Mapping[str, Any], cfg: TrainConfig) -> list[str]:
    """The configuration keys outside ``RUNTIME_KEYS`` whose values differ, each as
    ``key: saved -> current``. A key the saved configuration lacks (a field added since) is
    compared with its default."""
    defaults = dataclasses.asdict(TrainConfig())
    current = dataclasses.asdict(cfg)
    out = []
    for key, value in current.items():
        if key in RUNTIME_KEYS:
            continue
        before = normalised(saved.get(key, defaults[key]))
        if before != normalised(value):
            out.append(f"{key}: {before!r} -> {normalised(value)!r}")
    return out


def resume_point(cfg: TrainConfig, out: Path, log: Callable[[str], None]) -> Path | None:
    """The checkpoint to resume from, or None for a fresh start; raises CheckpointError when
    the request cannot be honoured (the rules are in the module docstring)."""
    latest = latest_checkpoint(out)
    if not cfg.resume:
        if latest is not None:
            raise CheckpointError(
                f"{checkpoints_dir(out)} holds checkpoints of an earlier run (newest: "
                f"{latest.name}); pass --resume true to continue it, or choose another out "
                f"(or delete {checkpoints_dir(out)}) to start afresh"
            )
        return None
    if latest is None:
        _check_fresh_start(cfg, out)
        log(f"resume: no complete checkpoint in {checkpoints_dir(out)}; starting from step 0")
        return None
    payload = read_state(latest)
    differing = config_differences(payload.get("config", {}), cfg)
    if differing:
        raise CheckpointError(
            f"resume: the configuration differs from checkpoint {latest} in "
            f"{', '.join(d.split(':')[0] for d in differing)} ({'; '.join(differing)}); "
            f"resume with the same values or choose another out"
        )
    _check_steps(cfg, payload, latest, log)
    log(f"resuming from {latest} (step {payload['step']} of {cfg.steps})")
    return latest


def _check_steps(
    cfg: TrainConfig, payload: Mapping[str, Any], path: Path, log: Callable[[str], None]
) -> None:
    step, saved_steps = payload["step"], payload.get("config", {}).get("steps", cfg.steps)
    if cfg.steps < step:
        raise CheckpointError(
            f"resume: steps={cfg.steps} is below the step of checkpoint {path} ({step})"
        )
    if cfg.steps != saved_steps and cfg.lr_schedule in _DECAYING_SCHEDULES:
        log(
            f"resume: steps {saved_steps} -> {cfg.steps} with lr_schedule={cfg.lr_schedule}: "
            f"the schedule is recomputed for {cfg.steps} steps, so the rate changes from step "
            f"{step + 1} on"
        )


def _check_fresh_start(cfg: TrainConfig, out: Path) -> None:
    """``resume`` without a checkpoint: refuse to overwrite another configuration's logs."""
    previous = Path(out) / "config.yaml"
    if not (Path(out) / "metrics.jsonl").exists() or not previous.exists():
        return
    import yaml

    try:
        saved = yaml.safe_load(previous.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CheckpointError(f"resume: cannot read {previous}: {exc}") from exc
    differing = config_differences(saved, cfg)
    if differing:
        raise CheckpointError(
            f"resume: {out} has no complete checkpoint, and its logs are of a run with another "
            f"configuration ({'; '.join(differing)}); starting afresh would overwrite them: "
            f"choose another out, or run without --resume"
        )
