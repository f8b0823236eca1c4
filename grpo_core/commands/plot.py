"""``grpo plot``: training curves of a ``grpo train`` run, drawn from its OUT/metrics.jsonl.

Six panels, x = step: reward (mean with a +-1 std band over the step's completions, the mean of
each reward component ``reward/<name>_mean``, greedy held-out reward at evaluations), accuracy
(greedy held-out accuracy at evaluations, share of the step's sampled completions judged
correct), KL to the reference (or "no KL term (beta = 0)"), policy entropy, completion length
(mean, max, and the truncated share on a second axis), and a text summary. The title gives the
elapsed seconds of the last step (counted from the start of the training process, so it
includes loading the policy).

Smoothing: per-step curves are drawn faintly as logged and, on top, as a trailing moving mean
over the last ``smooth`` logged points (so a point never depends on later steps); the default
window is ``round(steps / 25)`` (no smoothing up to 37 steps), ``smooth=1`` turns it off.
Held-out points are never smoothed.

This module imports neither torch nor transformers (``grpo plot`` starts fast); matplotlib is
imported when a figure is drawn, through its object API (``Figure``, Agg for PNG), so no GUI
backend or pyplot global state is involved.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

METRICS_FILE = "metrics.jsonl"
DEFAULT_OUT = "curves.png"
NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}  # as metrics.complete_row writes


class MetricsFileError(ValueError):
    """Unreadable or malformed metrics; the message names the file and, if any, the line."""


@dataclass
class Metrics:
    """The rows of one metrics.jsonl, each with the line number it came from."""

    path: Path
    rows: list[dict[str, Any]]
    lines: list[int]

    def series(self, key: str, *, from_step: int = 0) -> tuple[list[int], list[float]]:
        """``(steps, values)`` of the rows where ``key`` is logged (not null), as floats."""
        steps, values = [], []
        for row, line in zip(self.rows, self.lines, strict=True):
            value = row.get(key)
            if value is None or row["step"] < from_step:
                continue
            steps.append(row["step"])
            values.append(self._number(value, key, line))
        return steps, values

    def has(self, key: str) -> bool:
        return any(row.get(key) is not None for row in self.rows)

    def fields(self) -> list[str]:
        seen: dict[str, None] = {}
        for row in self.rows:
            seen.update(dict.fromkeys(row))
        return list(seen)

    def _number(self, value: Any, key: str, line: int) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise MetricsFileError(f"{self.path}, line {line}: {key!r} is not a number: {value!r}")
        if isinstance(value, str):
            if value.lower() not in NON_FINITE:
                raise MetricsFileError(
                    f"{self.path}, line {line}: {key!r} is not a number: {value!r}"
                )
            return NON_FINITE[value.lower()]
        return float(value)


@dataclass
class PlotSummary:
    """What was drawn: the PNG path and the headline figures the command prints."""

    path: Path
    steps: int
    last_step: int
    elapsed: float | None  #: the last step's ``elapsed`` (seconds since process start)
    since_start: float | None = None  #: its ``elapsed`` minus step 0's (model load excluded)
    heldout: list[tuple[int, float]] = field(default_factory=list)
    reward: tuple[float, float] | None = None  #: mean reward of the first / last steps
    reward_span: int = 1  #: how many steps each of the two ``reward`` means covers
    skipped: int = 0
    smooth: int = 1


def read_metrics(run_dir: str | Path) -> Metrics:
    """Parse ``run_dir/metrics.jsonl``: one JSON object with an integer ``step`` per line
    (blank lines are skipped). Rows come back in step order; a step logged more than once (a
    run resumed from a checkpoint) keeps its last row."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise MetricsFileError(f"run directory {run_dir} does not exist (give a grpo train --out)")
    path = run_dir / METRICS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MetricsFileError(f"{path} does not exist: is {run_dir} a grpo train --out?") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MetricsFileError(f"cannot read {path}: {exc}") from None
    rows, lines = [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise MetricsFileError(f"{path}, line {number}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise MetricsFileError(f"{path}, line {number}: expected a JSON object (one step)")
        step = row.get("step")
        if isinstance(step, bool) or not isinstance(step, int):
            raise MetricsFileError(f"{path}, line {number}: no integer 'step' (got {step!r})")
        rows.append(row)
        lines.append(number)
    if not rows:
        raise MetricsFileError(f"{path} is empty: the run logged no step")
    latest = {row["step"]: i for i, row in enumerate(rows)}  # a step logged twice: the last row
    order = sorted(latest.values(), key=lambda i: rows[i]["step"])
    return Metrics(path, [rows[i] for i in order], [lines[i] for i in order])


def auto_window(points: int) -> int:
    """Default smoothing window: ``round(points / 25)``, at least 1 (no smoothing)."""
    return max(1, round(points / 25))


def trailing_mean(values: list[float], window: int) -> list[float]:
    """Mean of the finite values among the last ``window`` points (NaN if there is none)."""
    out = []
    for i in range(len(values)):
        finite = [v for v in values[max(0, i - window + 1) : i + 1] if math.isfinite(v)]
        out.append(sum(finite) / len(finite) if finite else math.nan)
    return out


def plot_run(
    run_dir: str | Path, out: str | Path | None = None, *, smooth: int | None = None
) -> PlotSummary:
    """Draw the curves of ``run_dir`` to ``out`` (default ``run_dir/curves.png``)."""
    metrics = read_metrics(run_dir)
    out = Path(out) if out is not None else Path(run_dir) / DEFAULT_OUT
    if smooth is not None and smooth < 1:
        raise ValueError(f"--smooth must be >= 1, got {smooth}")
    trained = [r["step"] for r in metrics.rows if r["step"] > 0]
    window = smooth if smooth is not None else auto_window(len(trained))
    summary = summarise(metrics, out, window)
    fig = build_figure(metrics, summary)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return summary


def build_figure(metrics: Metrics, summary: PlotSummary) -> Any:
    """The matplotlib ``Figure``: five curve panels and the summary, in a 2 x 3 grid."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 8.5), dpi=100, layout="constrained")
    axes = fig.subplots(2, 3, sharex=True).ravel()
    panels = (_reward_panel, _accuracy_panel, _kl_panel, _entropy_panel, _length_panel)
    for ax, panel in zip(axes, panels, strict=False):
        panel(ax, metrics, summary.smooth)
        ax.grid(alpha=0.3)
    for ax in axes[3:]:
        ax.set_xlabel("step")
    _summary_panel(axes[5], summary)
    fig.suptitle(_title(metrics, summary), fontsize=12)
    return fig


# -- panels ---------------------------------------------------------------------------------


def _curve(ax: Any, metrics: Metrics, key: str, window: int, label: str, **style: Any) -> bool:
    """The per-step ``key``: faint as logged, solid smoothed; False if it was never logged."""
    steps, values = metrics.series(key, from_step=1)
    if not steps:
        return False
    if window > 1:
        (line,) = ax.plot(steps, values, alpha=0.25, linewidth=1, **style)
        style = {**style, "color": line.get_color()}
    ax.plot(steps, trailing_mean(values, window), linewidth=1.8, label=label, **style)
    return True


def _no_data(ax: Any, message: str) -> None:
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", color="0.4")
    ax.set_yticks([])


def _reward_panel(ax: Any, metrics: Metrics, window: int) -> None:
    ax.set_title("reward")
    if not _curve(ax, metrics, "reward_mean", window, "mean (sampled)", color="C0"):
        _no_data(ax, "no training step logged")
        return
    steps, mean = metrics.series("reward_mean", from_step=1)
    _, std = metrics.series("reward_std", from_step=1)
    if len(std) == len(mean):
        m, s = trailing_mean(mean, window), trailing_mean(std, window)
        lo, hi = (
            [a - b for a, b in zip(m, s, strict=True)],
            [a + b for a, b in zip(m, s, strict=True)],
        )
        ax.fill_between(steps, lo, hi, color="C0", alpha=0.15, label="+-1 std")
    for i, key in enumerate(k for k in metrics.fields() if _is_component(k)):
        name = key[len("reward/") : -len("_mean")]
        _curve(ax, metrics, key, window, name, color=f"C{i + 2}", linestyle="--")
    h_steps, h_reward = metrics.series("heldout_reward")
    if h_steps:
        ax.plot(h_steps, h_reward, "s:", color="C1", label="held-out (greedy)", markersize=5)
    skipped = [r["step"] for r in metrics.rows if r.get("skipped")]
    if skipped:
        ax.plot(skipped, [ax.get_ylim()[0]] * len(skipped), "x", color="C3", label="skipped step")
    ax.legend(fontsize=8, loc="best")


def _is_component(key: str) -> bool:
    return key.startswith("reward/") and key.endswith("_mean")


#: with more evaluations than this, only the first, best and last are labelled (no overlap)
MAX_LABELS = 8


def _labelled(steps: list, values: list) -> list[tuple]:
    """The (step, value) points to label: all of them, or first, best and last when many."""
    points = list(zip(steps, values, strict=True))
    if len(points) <= MAX_LABELS:
        return points
    best = max(range(len(points)), key=lambda i: points[i][1])
    return [points[i] for i in sorted({0, best, len(points) - 1})]


def _accuracy_panel(ax: Any, metrics: Metrics, window: int) -> None:
    from matplotlib.ticker import PercentFormatter

    ax.set_title("accuracy")
    drawn = _curve(ax, metrics, "completion_accuracy", window, "sampled completions", color="C0")
    steps, acc = metrics.series("heldout_accuracy")
    if steps:
        ax.plot(steps, acc, "o-", color="C1", label="held-out (greedy)", markersize=5)
        for s, a in _labelled(steps, acc):
            ax.annotate(f"{a:.1%}", (s, a), textcoords="offset points", xytext=(0, 6),
                        ha="center", fontsize=8, color="C1")  # fmt: skip
    if not drawn and not steps:
        _no_data(ax, "no correctness verdicts logged")
        return
    ax.set_ylim(-0.02, 1.08)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.legend(fontsize=8, loc="lower right")


def _kl_panel(ax: Any, metrics: Metrics, window: int) -> None:
    ax.set_title("KL(policy || reference)")
    if not metrics.has("kl"):
        _no_data(ax, "no KL term (beta = 0)")
        return
    _curve(ax, metrics, "kl", window, "KL estimate", color="C0")
    _, betas = metrics.series("beta", from_step=1)
    if len(set(betas)) > 1:  # adaptive KL: show where beta went
        twin = ax.twinx()
        _curve(twin, metrics, "beta", 1, "beta", color="C3", linestyle=":")
        twin.set_ylabel("beta", color="C3")
        twin.legend(fontsize=8, loc="upper right")
    elif betas:
        ax.text(0.02, 0.95, f"beta = {betas[0]:g}", transform=ax.transAxes, va="top", fontsize=9)
    ax.legend(fontsize=8, loc="upper left" if len(set(betas)) > 1 else "lower right")


def _entropy_panel(ax: Any, metrics: Metrics, window: int) -> None:
    ax.set_title("policy entropy (nats / completion token)")
    if not _curve(ax, metrics, "entropy", window, "entropy", color="C4"):
        _no_data(ax, "no entropy logged")


def _length_panel(ax: Any, metrics: Metrics, window: int) -> None:
    ax.set_title("completion length (tokens)")
    if not _curve(ax, metrics, "completion_len_mean", window, "mean", color="C0"):
        _no_data(ax, "no completions logged")
        return
    steps, longest = metrics.series("completion_len_max", from_step=1)
    ax.plot(steps, longest, color="C2", linewidth=1, drawstyle="steps-mid", label="max")
    handles, labels = ax.get_legend_handles_labels()
    if metrics.has("truncated_frac"):
        from matplotlib.ticker import PercentFormatter

        twin = ax.twinx()
        _curve(twin, metrics, "truncated_frac", window, "truncated (right)", color="C3",
               linestyle="--")  # fmt: skip
        twin.set_ylim(-0.02, 1.02)
        twin.yaxis.set_major_formatter(PercentFormatter(1.0))
        twin.set_ylabel("truncated (no EOS within max_new_tokens)", color="C3", fontsize=8)
        more = twin.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    ax.legend(handles, labels, fontsize=8, loc="best")


def _summary_panel(ax: Any, summary: PlotSummary) -> None:
    ax.axis("off")
    lines = [f"steps logged: {summary.steps} (last: {summary.last_step})"]
    if summary.elapsed is not None:
        lines.append(f"elapsed at step {summary.last_step}: {summary.elapsed:.1f} s")
    if summary.since_start is not None:
        lines.append(f"  ({summary.since_start:.1f} s after step 0)")
    if summary.heldout:
        (s0, a0), (s1, a1) = summary.heldout[0], summary.heldout[-1]
        best = max(summary.heldout, key=lambda p: p[1])
        lines.append(f"held-out accuracy: {a0:.1%} (step {s0}) -> {a1:.1%} (step {s1})")
        lines.append(f"best held-out: {best[1]:.1%} at step {best[0]}")
    if summary.reward is not None:
        first, last = summary.reward
        lines.append(f"sampled reward: {first:.3f} -> {last:.3f}")
        lines.append(f"  (means of the first / last {summary.reward_span} steps)")
    lines.append(f"skipped steps (zero variance): {summary.skipped}")
    lines.append("smoothing: " + ("none" if summary.smooth == 1 else
                 f"trailing mean of {summary.smooth} steps (raw curves faint)"))  # fmt: skip
    ax.text(0.0, 0.95, "\n".join(lines), transform=ax.transAxes, va="top", fontsize=9,
            family="monospace", linespacing=1.6)  # fmt: skip


def summarise(metrics: Metrics, out: Path, window: int) -> PlotSummary:
    """The headline figures of a run (printed, and shown in the summary panel)."""
    index = max(range(len(metrics.rows)), key=lambda i: metrics.rows[i]["step"])
    last = metrics.rows[index]
    elapsed = None
    if last.get("elapsed") is not None:
        elapsed = metrics._number(last["elapsed"], "elapsed", metrics.lines[index])
    since_start = None
    steps, times = metrics.series("elapsed")
    if elapsed is not None and last["step"] > 0 and steps and steps[0] == 0:
        since_start = elapsed - times[0]
    steps, heldout = metrics.series("heldout_accuracy")
    _, reward = metrics.series("reward_mean", from_step=1)
    span = summary_span(len(reward))
    return PlotSummary(
        path=out,
        steps=sum(r["step"] > 0 for r in metrics.rows),
        last_step=last["step"],
        elapsed=elapsed,
        since_start=since_start,
        heldout=list(zip(steps, heldout, strict=True)),
        reward=(_mean(reward[:span]), _mean(reward[-span:])) if reward else None,
        reward_span=span,
        skipped=sum(bool(r.get("skipped")) for r in metrics.rows),
        smooth=window,
    )


def summary_span(points: int) -> int:
    """Steps averaged for the printed first/last reward: a fifth of them, 1 to 10."""
    return max(1, min(10, points // 5))


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _title(metrics: Metrics, summary: PlotSummary) -> str:
    title = f"grpo train: {metrics.path.parent}"
    if summary.elapsed is not None:
        title += f"  -  step {summary.last_step} at {summary.elapsed:.1f} s elapsed"
    if summary.since_start is not None:
        title += f" ({summary.since_start:.1f} s after step 0)"
    return title


def describe(summary: PlotSummary) -> str:
    """The line ``grpo plot`` prints."""
    parts = [f"{summary.steps} steps"]
    if summary.heldout:
        parts.append(
            f"held-out accuracy {summary.heldout[0][1]:.1%} -> {summary.heldout[-1][1]:.1%}"
        )
    if summary.reward is not None:
        first, last = summary.reward
        parts.append(f"reward {first:.3f} -> {last:.3f} (first/last {summary.reward_span} steps)")
    if summary.elapsed is not None:
        parts.append(f"{summary.elapsed:.1f} s elapsed at step {summary.last_step}")
    return f"wrote {summary.path} ({'; '.join(parts)})"
