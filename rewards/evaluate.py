"""Standalone verifier evaluation: read a JSONL of completions, score, summarise.

Each input line is a JSON object with ``completion`` plus task fields (``answer``, ``tests``,
``language``...), an optional ``id`` and an optional ``label``: the expected score (a number,
compared with the single verifier or the scheme total, or a mapping ``{verifier: score}``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewards.scheme import ScoredBatch
from rewards.scoring import Timed

POSITIVE = 0.5  # a score or label at or above this counts as "pass" for precision/recall


@dataclass(frozen=True)
class BadLine:
    line: int
    error: str


def read_rows(path: str | Path) -> tuple[list[tuple[int, dict]], list[BadLine]]:
    """Parse a JSONL file into (line number, row) pairs; bad lines are returned, not dropped."""
    rows: list[tuple[int, dict]] = []
    bad: list[BadLine] = []
    with open(path, encoding="utf-8") as fh:
        for number, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as exc:
                bad.append(BadLine(number, f"invalid JSON: {exc.msg} at column {exc.colno}"))
                continue
            if not isinstance(row, dict):
                bad.append(BadLine(number, f"expected a JSON object, got {type(row).__name__}"))
            elif not isinstance(row.get("completion"), str):
                bad.append(BadLine(number, "missing or non-string field 'completion'"))
            else:
                rows.append((number, row))
    return rows, bad


def result_rows(rows: list[tuple[int, dict]], batch: ScoredBatch) -> Iterable[dict[str, Any]]:
    """One output object per input row, in input order."""
    for i, (_, row) in enumerate(rows):
        scores = {}
        for name, timed in batch.components.items():
            scores[name] = {**timed[i].result.to_dict(), "seconds": round(timed[i].seconds, 6)}
        yield {"id": row.get("id"), "scores": scores, "total": batch.totals[i]}


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[k]


def _label_for(row: Mapping[str, Any], name: str, single: bool) -> float | None:
    """The expected score of verifier ``name``: a per-verifier mapping entry, or a scalar label
    when ``single`` (one verifier, or ``name`` is the scheme total)."""
    label = row.get("label")
    if isinstance(label, Mapping):
        label = label.get(name)
    elif not single:
        return None
    return float(label) if isinstance(label, bool | int | float) else None


def verifier_summary(
    name: str, timed: list[Timed], rows: list[tuple[int, dict]], wall: float, single: bool
) -> dict[str, Any]:
    """Mean score, errors, timeouts, latency percentiles, throughput and label agreement."""
    scores = [t.result.score for t in timed if t.result.score is not None]
    seconds = [t.seconds for t in timed]
    out: dict[str, Any] = {
        "items": len(timed),
        "mean_score": sum(scores) / len(scores) if scores else None,
        "abstained": sum(t.result.score is None for t in timed),
        "errors": sum(t.result.error is not None for t in timed),
        "timeouts": sum(t.timed_out for t in timed),
        "p50_seconds": _percentile(seconds, 0.50),
        "p99_seconds": _percentile(seconds, 0.99),
        "max_seconds": max(seconds, default=0.0),
        "items_per_second": len(timed) / wall if wall > 0 else None,
    }
    labelled = []
    for (line, row), t in zip(rows, timed, strict=True):
        label = _label_for(row, name, single)
        if label is not None:
            labelled.append((line, row.get("id"), label, t.result))
    if labelled:
        out["labels"] = agreement(labelled)
    return out


def agreement(labelled: list[tuple[int, Any, float, Any]]) -> dict[str, Any]:
    """Agreement, precision and recall (pass = score >= 0.5) and the disagreeing rows."""
    tp = fp = fn = agree = 0
    disagreements = []
    for line, row_id, label, result in labelled:
        predicted = result.score is not None and result.score >= POSITIVE
        expected = label >= POSITIVE
        tp += predicted and expected
        fp += predicted and not expected
        fn += expected and not predicted
        if predicted == expected:
            agree += 1
        else:
            disagreements.append(
                {
                    "line": line,
                    "id": row_id,
                    "label": label,
                    "score": result.score,
                    "reason": result.reason,
                    "error": result.error,
                }
            )
    return {
        "labelled": len(labelled),
        "agreement": agree / len(labelled),
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "disagreements": disagreements,
    }
