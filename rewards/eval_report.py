"""``grpo eval``: score a JSONL file, write per-row results, build and print the summary."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rewards.evaluate import read_rows, result_rows, verifier_summary
from rewards.scheme import RewardScheme, load_config_file, normalise_config
from rewards.scoring import Timed
from rewards.verifier import VerifyResult

PROGRESS_MIN_ITEMS = 200  # show a progress bar from this many items on


def build_scheme(names: str | None, scheme_path: str | None, **overrides: Any) -> RewardScheme:
    """A scheme from --scheme FILE, or --verifiers a,b (weight 1 each), or both (merged)."""
    config: dict[str, Any] = {"verifiers": {}}
    if scheme_path:
        config = normalise_config(load_config_file(scheme_path))
    if names:
        extra = normalise_config({"verifiers": names})["verifiers"]
        config["verifiers"] = {**extra, **config["verifiers"]}
    return RewardScheme.from_config(config, **overrides)


def run_eval(
    input_path: Path,
    *,
    names: str | None,
    scheme_path: str | None,
    out_path: str | None,
    workers: int | None,
    timeout: float | None,
    console: Any,
) -> dict[str, Any]:
    """Score every row; write ``out_path``; return the summary mapping."""
    rows, bad = read_rows(input_path)
    for b in bad:
        console.print(f"[yellow]{input_path}:{b.line}: skipped: {b.error}[/yellow]", soft_wrap=True)
    with build_scheme(names, scheme_path, workers=workers, timeout=timeout) as scheme:
        start = time.perf_counter()
        batch = _score_with_progress(scheme, rows, console)
        wall = time.perf_counter() - start
    if out_path:
        with open(out_path, "w", encoding="utf-8") as fh:
            for obj in result_rows(rows, batch):
                fh.write(json.dumps(obj) + "\n")
    single = len(batch.components) == 1
    summary: dict[str, Any] = {
        "input": str(input_path),
        "rows": len(rows),
        "malformed_lines": [b.__dict__ for b in bad],
        "scheme": scheme.describe(),
        "workers": scheme.scorer.workers,
        "timeout": scheme.scorer.timeout,
        "wall_seconds": wall,
        "verifiers": {
            name: verifier_summary(name, timed, rows, wall, single)
            for name, timed in batch.components.items()
        },
    }
    if not single:
        totals = [Timed(VerifyResult(score=t), 0.0) for t in batch.totals]
        summary["total"] = verifier_summary("total", totals, rows, wall, True)
        summary["total"].pop("errors"), summary["total"].pop("timeouts")
    return summary


def _score_with_progress(scheme: RewardScheme, rows: list, console: Any) -> Any:
    completions = [r["completion"] for _, r in rows]
    task_rows = [r for _, r in rows]
    items = len(rows) * len(scheme.components)
    if items < PROGRESS_MIN_ITEMS:
        return scheme.score(completions, task_rows)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("scoring", total=items)
        return scheme.score(completions, task_rows, on_done=lambda: progress.advance(task))


def print_summary(summary: dict[str, Any], console: Any) -> None:
    """The human-readable summary: a table per verifier plus label agreement."""
    from rich.table import Table

    table = Table(
        title=f"{summary['rows']} rows, {summary['wall_seconds']:.2f}s wall, "
        f"{summary['workers']} workers"
    )
    for col in (
        "verifier",
        "mean",
        "errors",
        "timeouts",
        "p50 ms",
        "p99 ms",
        "items/s",
        "agreement",
        "precision",
        "recall",
    ):
        table.add_column(col, justify="right" if col != "verifier" else "left")
    sections = dict(summary["verifiers"])
    if "total" in summary:
        sections["total"] = summary["total"]
    for name, v in sections.items():
        labels = v.get("labels", {})
        table.add_row(
            name,
            _fmt(v["mean_score"]),
            str(v.get("errors", "")),
            str(v.get("timeouts", "")),
            _fmt(v["p50_seconds"] * 1000, 2),
            _fmt(v["p99_seconds"] * 1000, 2),
            _fmt(v["items_per_second"], 1),
            _fmt(labels.get("agreement")),
            _fmt(labels.get("precision")),
            _fmt(labels.get("recall")),
        )
    console.print(table)
    for name, v in sections.items():
        for d in v.get("labels", {}).get("disagreements", [])[:20]:
            console.print(
                f"  {name}: line {d['line']} id={d['id']}: label {d['label']} "
                f"but score {d['score']} ({d['error'] or d['reason']})"
            )
    for b in summary["malformed_lines"]:
        console.print(f"[yellow]line {b['line']}: {b['error']}[/yellow]", soft_wrap=True)


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
