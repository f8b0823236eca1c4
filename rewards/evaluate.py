"""Standalone verifier evaluation: read a JSONL of completions, score, summarise.

Each input line is a JSON object with ``completion`` plus task fields (``answer``, ``tests``,
``language``...), an optional ``id`` and an optional ``label``: the expected score (a number,
compared with the single verifier or the scheme total, or a mapping ``{verifier: score}``).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewards.scoring import Timed

POSITIVE = 0.5  # a score or label at or above this counts as "pass" for precision/recall


BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class BadLine:
    line: int
    error: str


def read_rows(path: str | Path) -> tuple[list[tuple[int, dict]], list[BadLine]]:
    """Parse a JSONL file into (line number, row) pairs; a bad line (not UTF-8, not JSON, an
    over-long integer, NaN/Infinity, a bad label...) is returned with its number, never
    dropped and never fatal. A UTF-8 byte order mark before line 1 is accepted."""
    rows: list[tuple[int, dict]] = []
    bad: list[BadLine] = []
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if number == 1 and raw.startswith(BOM):
                raw = raw[len(BOM) :]
            try:
                row = parse_line(raw)
            except ValueError as exc:
                bad.append(BadLine(number, str(exc)))
                continue
            if row is not None:
                rows.append((number, row))
    return rows, bad


def parse_line(raw: bytes) -> dict | None:
    """One input row, or None for a blank line; ValueError says what is wrong."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"not valid UTF-8: byte 0x{raw[exc.start]:02x} at byte {exc.start + 1}"
        ) from None
    if not text.strip():
        return None
    try:
        row = json.loads(
            text, parse_constant=_no_constant, parse_int=_checked_int, parse_float=_finite_float
        )
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(row, dict):
        raise ValueError(f"expected a JSON object, got {type(row).__name__}")
    if not isinstance(row.get("completion"), str):
        raise ValueError("missing or non-string field 'completion'")
    _check_label(row.get("label"))
    return row


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a finite number (not valid JSON)")


def _checked_int(text: str) -> int:
    limit = getattr(sys, "get_int_max_str_digits", lambda: 0)()
    if limit and len(text.lstrip("-")) > limit:
        raise ValueError(
            f"an integer literal longer than {limit} digits ({len(text.lstrip('-'))}); "
            "write it as a string"
        )
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is not a finite float")
    return value


def _check_label(label: Any) -> None:
    """A label is absent, a finite number, or a mapping of verifier names to finite numbers."""
    values = label.values() if isinstance(label, Mapping) else [label]
    for value in values:
        if value is None:
            continue
        try:
            ok = isinstance(value, bool | int | float) and math.isfinite(float(value))
        except OverflowError:
            ok = False
        if not ok:
            raise ValueError(
                f"label {str(value)[:40]!r}: expected a finite number or a {{verifier: number}} "
                "mapping"
            )


def result_row(line: int, row: Mapping[str, Any], timed: Mapping[str, Timed], total: float) -> dict:
    """The output object of one input row: its id and line, each verifier's verdict, the total."""
    scores = {
        name: {**t.result.to_dict(), "seconds": round(t.seconds, 6)} for name, t in timed.items()
    }
    return {"id": row.get("id"), "line": line, "scores": scores, "total": total}


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
