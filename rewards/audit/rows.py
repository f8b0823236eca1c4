"""Where ``grpo audit`` gets its task rows: a JSONL file, a task suite, or the fixtures.

Every problem with the input is an ``AuditInputError`` whose message is the one line the command
prints (with the file's line number for a bad line).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rewards.plugins import FixtureRegistration, PluginError, Plugins


class AuditInputError(ValueError):
    """Bad input to ``grpo audit``: unknown verifier or suite, unreadable rows, bad option."""


def rows_from_file(path: str, limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` rows of a JSONL file (one JSON object of task fields a line)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise AuditInputError(f"cannot read rows file {path}: {exc.strerror or exc}") from None
    rows: list[dict[str, Any]] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if number == 1:
            raw = raw.removeprefix(b"\xef\xbb\xbf")
        if not raw.strip():
            continue
        rows.append(_parse_line(raw, path, number))
        if len(rows) >= limit:
            break
    if not rows:
        raise AuditInputError(f"rows file {path} has no rows")
    return rows


def _parse_line(raw: bytes, path: str, number: int) -> dict[str, Any]:
    where = f"rows file {path}, line {number}"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AuditInputError(f"{where}: not valid UTF-8 ({exc.reason})") from None
    try:
        row = json.loads(text)
    except (json.JSONDecodeError, ValueError) as exc:
        raise AuditInputError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(row, dict):
        raise AuditInputError(f"{where}: expected a JSON object, got {type(row).__name__}")
    return row


def rows_from_suite(
    plugins: Plugins, name: str, options: Mapping[str, Any], seed: int, limit: int
) -> list[dict[str, Any]]:
    """The first ``limit`` test rows of task suite ``name``."""
    try:
        suite = plugins.suite(name, **options)
        rows = suite.rows("test", seed=seed, limit=limit)
    except (PluginError, ValueError) as exc:
        raise AuditInputError(str(exc)) from None
    if not rows:
        raise AuditInputError(f"task suite {name!r} gave no test rows")
    return rows


def rows_from_fixtures(
    verifier: str, fixtures: Sequence[FixtureRegistration], limit: int
) -> list[dict[str, Any]]:
    """The distinct rows of the verifier's must-pass, must-fail and exploit fixtures."""
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for reg in fixtures:
        if reg.fixture.kind == "malformed":
            continue
        key = json.dumps(reg.fixture.row, sort_keys=True, default=repr)
        if key not in seen:
            seen.add(key)
            rows.append(dict(reg.fixture.row))
        if len(rows) >= limit:
            break
    if not rows:
        raise AuditInputError(
            f"verifier {verifier!r} ships no fixtures to take rows from; "
            "give --rows FILE.jsonl or --suite NAME"
        )
    return rows


def parse_pairs(pairs: Sequence[str], what: str) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; a VALUE that is valid JSON is parsed, else kept as text."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise AuditInputError(f"{what}: expected KEY=VALUE, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out
