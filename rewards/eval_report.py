"""``grpo eval``: score a JSONL file, write per-row results as they finish, build and print the
summary (of what finished, if the run was interrupted)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from rewards.eval_run import Finished, StopSignals, score_rows
from rewards.evaluate import read_rows, verifier_summary
from rewards.scheme import RewardScheme, load_config_file, normalise_config
from rewards.scoring import Timed
from rewards.verifier import VerifyResult

PROGRESS_MIN_ITEMS = 200  # show a progress bar from this many items on
WARNING = {"style": "yellow", "markup": False, "soft_wrap": True}  # text printed as it is


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
    stop: StopSignals | None = None,
) -> dict[str, Any]:
    """Score every usable row, writing each result to ``out_path`` as it finishes; return the
    summary of the rows that finished (all of them unless ``stop`` got a signal).

    Bad lines are printed with their line number and skipped; an input without one usable row
    is a ValueError (``grpo eval`` exits 2)."""
    rows, bad = read_rows(input_path)
    for b in bad:
        console.print(f"{input_path}:{b.line}: skipped: {b.error}", **WARNING)
    if not rows:
        raise ValueError(f"{input_path}: no usable row to score ({len(bad)} malformed lines)")
    stop = stop or StopSignals()
    scheme = build_scheme(names, scheme_path, workers=workers, timeout=timeout)
    with scheme, open_sink(out_path) as sink:
        start = time.perf_counter()
        finished = _score_with_progress(scheme, rows, sink, stop, console)
        wall = time.perf_counter() - start
    return {
        "input": str(input_path),
        **summarise(scheme, finished, wall),
        "rows_read": len(rows),
        "interrupted": stop.name,
        "malformed_lines": [b.__dict__ for b in bad],
    }


@contextmanager
def open_sink(out_path: str | None) -> Iterator[TextIO | None]:
    """The results file (truncated now, one line per finished row), or None."""
    if not out_path:
        yield None
        return
    with open(out_path, "w", encoding="utf-8") as fh:
        yield fh


def summarise(scheme: RewardScheme, finished: Finished, wall: float) -> dict[str, Any]:
    """Per-verifier (and, for several, total) statistics of the finished rows."""
    batch = scheme.combine(finished.results)
    single = len(batch.components) == 1
    summary: dict[str, Any] = {
        "rows": len(finished.rows),
        "scheme": scheme.describe(),
        "workers": scheme.scorer.workers,
        "timeout": scheme.scorer.timeout,
        "wall_seconds": wall,
        "verifiers": {
            name: verifier_summary(name, timed, finished.rows, wall, single)
            for name, timed in batch.components.items()
        },
    }
    if not single:
        totals = [Timed(VerifyResult(score=t), 0.0) for t in batch.totals]
        summary["total"] = verifier_summary("total", totals, finished.rows, wall, True)
        summary["total"].pop("errors"), summary["total"].pop("timeouts")
    return summary


def _score_with_progress(
    scheme: RewardScheme, rows: list, sink: TextIO | None, stop: StopSignals, console: Any
) -> Finished:
    items = len(rows) * len(scheme.components)
    if items < PROGRESS_MIN_ITEMS:
        return score_rows(scheme, rows, sink, stop)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("scoring", total=items)
        return score_rows(scheme, rows, sink, stop, lambda n: progress.advance(task, n))


COLUMNS = (
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
)


def summary_table(summary: dict[str, Any]) -> list[list[str]]:
    """The summary as table cells, one row per verifier (and the total), in ``COLUMNS`` order."""
    sections = dict(summary["verifiers"])
    if "total" in summary:
        sections["total"] = summary["total"]
    table = []
    for name, v in sections.items():
        labels = v.get("labels", {})
        table.append(
            [
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
            ]
        )
    return table


def column_widths(header: Sequence[str], rows: list[list[str]]) -> list[int]:
    """The widest cell of each column."""
    return [max(len(c) for c in column) for column in zip(header, *rows, strict=True)]


def plain_table(header: Sequence[str], rows: list[list[str]]) -> str:
    """Aligned text columns as wide as their widest cell (names left, numbers right): no width
    limit, nothing truncated."""
    widths = column_widths(header, rows)

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    return "\n".join([line(header), *(line(r) for r in rows)])


def print_summary(summary: dict[str, Any], console: Any) -> None:
    """The human-readable summary: a table of the verifiers plus label disagreements. A rich
    table on a terminal wide enough for it; otherwise (a pipe, a file, a narrow terminal) plain
    aligned columns, never cut to the console width."""
    title = (
        f"{summary['rows']} rows, {summary['wall_seconds']:.2f}s wall, {summary['workers']} workers"
    )
    if summary.get("interrupted"):
        title += (
            f" (interrupted by {summary['interrupted']} after {summary['rows']} of "
            f"{summary['rows_read']} rows)"
        )
    cells = summary_table(summary)
    boxed_width = sum(w + 3 for w in column_widths(COLUMNS, cells)) + 1  # padding and borders
    if console.is_terminal and boxed_width <= console.width:
        from rich.table import Table

        table = Table(title=title)
        for col in COLUMNS:
            table.add_column(col, justify="left" if col == "verifier" else "right", no_wrap=True)
        for row in cells:
            table.add_row(*row)
        console.print(table)
    else:
        console.print(f"{title}\n{plain_table(COLUMNS, cells)}", markup=False, soft_wrap=True)
    _print_notes(summary, console)


def _print_notes(summary: dict[str, Any], console: Any) -> None:
    """The rows where a verifier and its label disagree (20 per verifier), the bad lines."""
    sections = dict(summary["verifiers"])
    if "total" in summary:
        sections["total"] = summary["total"]
    for name, v in sections.items():
        for d in v.get("labels", {}).get("disagreements", [])[:20]:
            console.print(
                f"  {name}: line {d['line']} id={d['id']}: label {d['label']} "
                f"but score {d['score']} ({d['error'] or d['reason']})",
                markup=False,
                soft_wrap=True,
            )
    for b in summary["malformed_lines"]:
        console.print(f"line {b['line']}: {b['error']}", **WARNING)


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
