"""Per-step metrics: one JSON row per step in OUT/metrics.jsonl, samples, trackers, progress bar.

Every row has every field of ``METRIC_FIELDS`` (null when it does not apply that step, e.g.
``heldout_accuracy`` between evaluations or ``kl`` without a reference model), plus
``reward/<component>_mean`` and ``_std`` for each reward-scheme component. Accuracy comes in two
distinct fields: ``completion_accuracy`` (share of this step's sampled completions whose
correctness verifiers all gave 1) and ``heldout_accuracy`` (greedy, on the held-out rows, on
evaluation steps). ``advantage_mean`` / ``_std`` are over completions (outcome mode) or over
completion tokens (process mode). ``clip_frac_*`` and ``ratio_mean`` are token means over the mu
passes: with mu = 1 the ratio is exactly 1 by construction; ``entropy`` is the mean next-token
entropy over the completion tokens trained on (zero-advantage sequences are skipped when there is
no KL term, see grpo_core.training.optimize). ``tokens_per_s`` is the step's
completion tokens over its wall time. ``elapsed`` counts from process start.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from grpo_core.training.rollout import Rewards, Rollout, zero_variance_groups

METRIC_FIELDS = (
    "step", "skipped", "skip_reason", "advantage_mode",
    "reward_mean", "reward_std", "completion_accuracy", "heldout_accuracy", "heldout_reward",
    "zero_variance_frac", "advantage_mean", "advantage_std",
    "kl", "beta", "clip_frac_low", "clip_frac_high", "ratio_mean", "entropy",
    "loss", "grad_norm", "lr", "updates", "trained_sequences",
    "completion_len_mean", "completion_len_max", "truncated_frac", "empty_frac",
    "prompts_truncated", "reward_errors", "reward_timeouts", "reward_nonfinite", "reward_crashes",
    "tokens_per_s", "time_generation", "time_scoring", "time_scoring_hidden", "scored_early",
    "time_optimisation", "time_eval",
    "time_step", "elapsed",
)  # fmt: skip


def process_age() -> float:
    """Seconds since this process started (Linux /proc; else since this module was imported)."""
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        start = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19]) / ticks
        return float(Path("/proc/uptime").read_text().split()[0]) - start
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - _IMPORTED


_IMPORTED = time.perf_counter()


def _mean_std(values: Tensor) -> tuple[float, float]:
    if values.numel() == 0:
        return 0.0, 0.0
    v = values.double()
    return float(v.mean()), float(v.std(correction=0))


def rollout_metrics(rollout: Rollout, rewards: Rewards, adv: Tensor) -> dict[str, Any]:
    """Reward, accuracy, advantage and length figures of one step's rollout."""
    comps = rollout.completions
    lengths = comps.lengths.double()
    out: dict[str, Any] = {}
    out["reward_mean"], out["reward_std"] = _mean_std(rewards.totals)
    for name, timed in rewards.scored.components.items():
        scores = [t.result.score for t in timed if t.result.score is not None]
        mean, std = _mean_std(torch.tensor(scores, dtype=torch.float64))
        out[f"reward/{name}_mean"], out[f"reward/{name}_std"] = mean, std
    judged = [c for c in rewards.correct if c is not None]
    out["completion_accuracy"] = sum(judged) / len(judged) if judged else None
    out["zero_variance_frac"] = float(zero_variance_groups(adv, rollout.group_size).double().mean())
    values = adv if adv.dim() == 1 else adv[comps.mask[:, : adv.shape[1]]]
    out["advantage_mean"], out["advantage_std"] = _mean_std(values)
    out["completion_len_mean"] = float(lengths.mean())
    out["completion_len_max"] = int(lengths.max())
    out["truncated_frac"] = float(comps.truncated.double().mean())
    out["empty_frac"] = sum(t == "" for t in comps.texts) / len(comps.texts)
    out["prompts_truncated"] = rollout.prompts.truncated
    errors = rewards.error_counts()
    out["reward_errors"], out["reward_timeouts"] = errors["errors"], errors["timeouts"]
    out["reward_nonfinite"], out["reward_crashes"] = errors["nonfinite"], errors["crashes"]
    return out


def complete_row(row: dict[str, Any]) -> dict[str, Any]:
    """The row with every METRIC_FIELDS key (missing ones null) and JSON-safe floats."""
    full = {k: row.get(k) for k in METRIC_FIELDS}
    full.update({k: v for k, v in row.items() if k not in full})
    for k, v in full.items():
        if isinstance(v, float) and not math.isfinite(v):
            full[k] = str(v)  # keep a NaN/inf visible without breaking strict JSON readers
    return full


@dataclass(frozen=True)
class LogPosition:
    """How far metrics.jsonl and samples.jsonl had got at the end of ``step`` (a checkpoint's
    record; a resumed run cuts the files back to it)."""

    step: int
    metrics_bytes: int
    metrics_rows: int
    samples_bytes: int
    samples_rows: int


class RunLog:
    """Writes metrics.jsonl and samples.jsonl under ``out``, feeds the accelerate trackers and
    a tqdm progress bar. With ``resume`` (a checkpoint's ``LogPosition``) the files are cut back
    to that position and appended to, and the bar starts at its step."""

    def __init__(
        self,
        out: Path,
        accelerator: Any,
        total_steps: int,
        progress: bool,
        resume: LogPosition | None = None,
    ) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.metrics_path, self.samples_path = out / "metrics.jsonl", out / "samples.jsonl"
        self._metrics, self._samples = self._open_logs(resume)
        self.accelerator = accelerator
        self.bar = None
        if progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=total_steps,
                initial=resume.step if resume else 0,
                desc="grpo train",
                unit="step",
                dynamic_ncols=True,
            )
        self.last_heldout: float | None = self._last_heldout() if resume else None

    def _open_logs(self, resume: LogPosition | None) -> tuple[Any, Any]:
        """Open both files: truncated afresh, or (``resume``) cut back to the position and
        opened for appending."""
        if resume is None:
            return (
                self.metrics_path.open("w", encoding="utf-8"),
                self.samples_path.open("w", encoding="utf-8"),
            )
        check_logs(self.metrics_path.parent, resume)
        cut_back(self.metrics_path, resume.metrics_bytes)
        cut_back(self.samples_path, resume.samples_bytes)
        return (
            self.metrics_path.open("a", encoding="utf-8"),
            self.samples_path.open("a", encoding="utf-8"),
        )

    def _last_heldout(self) -> float | None:
        """The newest held-out accuracy in metrics.jsonl (for the bar after a resume)."""
        for line in reversed(self.metrics_path.read_text(encoding="utf-8").splitlines()):
            value = json.loads(line).get("heldout_accuracy")
            if value is not None:
                return value
        return None

    def position(self, step: int) -> LogPosition:
        """Where both files stand after ``step``: flushed and fsynced, so that a checkpoint
        recording it never points past what is on disk."""
        figures: list[int] = []
        files = ((self._metrics, self.metrics_path), (self._samples, self.samples_path))
        for handle, path in files:
            if handle is not None and not handle.closed:
                handle.flush()
                os.fsync(handle.fileno())
            data = path.read_bytes() if path.exists() else b""
            figures += [len(data), data.count(b"\n")]
        return LogPosition(step, *figures)

    def echo(self, message: str) -> None:
        if self.bar is not None:
            self.bar.write(message)
        else:
            print(message, flush=True)

    def step(self, row: dict[str, Any]) -> None:
        full = complete_row(row)
        self._metrics.write(json.dumps(full) + "\n")
        self._metrics.flush()
        numeric = {
            k: float(v) for k, v in full.items() if isinstance(v, int | float) and k != "step"
        }
        self.accelerator.log(numeric, step=full["step"])
        if full.get("heldout_accuracy") is not None:
            self.last_heldout = full["heldout_accuracy"]
        if self.bar is not None:
            if full["step"] > 0:
                self.bar.update(1)
            self.bar.set_postfix(_postfix(full, self.last_heldout), refresh=False)

    def samples(self, step: int, rollout: Rollout, rewards: Rewards, count: int) -> None:
        """Write ``count`` completions of the step (whole groups first) with their rewards."""
        for i in range(min(count, rollout.size)):
            components = {
                name: timed[i].result.to_dict() for name, timed in rewards.scored.components.items()
            }
            record = {
                "step": step,
                "index": i,
                "prompt": rollout.rows[i]["prompt"],
                "completion": rollout.completions.texts[i],
                "reward": float(rewards.totals[i]),
                "correct": rewards.correct[i],
                "components": components,
            }
            self._samples.write(json.dumps(record, default=str) + "\n")
        self._samples.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self._metrics.close()
        self._samples.close()


def check_logs(out: Path, position: LogPosition) -> None:
    """Raise ValueError unless metrics.jsonl and samples.jsonl under ``out`` still begin with
    what a checkpoint recorded at ``position`` (at least the bytes, and those hold the rows)."""
    for name, size, rows in (
        ("metrics.jsonl", position.metrics_bytes, position.metrics_rows),
        ("samples.jsonl", position.samples_bytes, position.samples_rows),
    ):
        path = out / name
        data = path.read_bytes()[:size] if path.exists() else b""
        if len(data) < size or data.count(b"\n") != rows:
            raise ValueError(
                f"resume: {path} no longer begins with the {rows} rows ({size} bytes) recorded "
                f"at the checkpoint of step {position.step}: it was changed since, so the run "
                f"cannot continue it (choose another out to start afresh)"
            )


def cut_back(path: Path, size: int) -> None:
    """Truncate ``path`` (created if missing) to ``size`` bytes, durably."""
    with path.open("ab") as handle:
        handle.truncate(size)
        handle.flush()
        os.fsync(handle.fileno())


def _postfix(row: dict[str, Any], heldout: float | None) -> dict[str, str]:
    out = {"reward": f"{row.get('reward_mean') or 0:.3f}"}
    if row.get("completion_accuracy") is not None:
        out["acc"] = f"{row['completion_accuracy']:.2f}"
    if heldout is not None:
        out["heldout"] = f"{heldout:.3f}"
    if row.get("skipped"):
        out["skipped"] = "yes"
    return out
