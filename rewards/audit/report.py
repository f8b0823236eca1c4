"""How ``grpo audit`` shows its verdicts: tables (rich on a terminal, plain text otherwise), a
findings list, or JSON.

The plain layout sizes each column to its content and never cuts a line to the terminal's
width, so the output of a CI job or a pipe is complete.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from rewards.audit.judge import FixtureOutcome, ProbeOutcome, VerifierAudit

PROBE_COLUMNS = (
    "probe",
    "verdict",
    "rows",
    "max score",
    "honest",
    "credit",
    "errors",
    "worst case",
)
FIXTURE_COLUMNS = ("fixture", "kind", "plugin", "expected", "score", "verdict", "why")
REASON_CHARS = 90
VERDICT_STYLES = {"EXPLOIT": "bold red", "FAIL": "bold red", "documented": "yellow", "ok": "green"}


def num(value: float | None) -> str:
    return "-" if value is None else f"{round(value, 3) + 0.0:g}"  # + 0.0: no "-0"


def short(text: str, limit: int = REASON_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def probe_row(p: ProbeOutcome) -> list[str]:
    verdict = "EXPLOIT" if p.status == "exploit" else p.status
    if p.status == "skipped":
        return [p.name, verdict, "0", "-", "-", "-", "-", short(p.skipped or "")]
    worst = ""
    if p.worst is not None:
        w = p.worst
        worst = f"{w.variant} on {w.row}: " + short(w.error or w.reason, 60)
    return [
        p.name, verdict, str(p.rows), num(p.max_score), num(p.honest), num(p.max_credit),
        str(p.errors), worst,
    ]  # fmt: skip


def ran(audit: VerifierAudit) -> list[ProbeOutcome]:
    """The probes that applied to at least one row (the table shows these)."""
    return [p for p in audit.probes if p.status != "skipped"]


def skipped_lines(audit: VerifierAudit) -> list[str]:
    """The probes that did not apply, grouped by why: ``skipped (why): a, b, c``."""
    groups: dict[str, list[str]] = {}
    for p in audit.probes:
        if p.status == "skipped":
            groups.setdefault(p.skipped or "", []).append(p.name)
    return [f"skipped ({why}): {', '.join(names)}" for why, names in groups.items()]


def fixture_row(f: FixtureOutcome) -> list[str]:
    if f.kind == "malformed":
        bound, score = "an error", short(f.error or num(f.score), 40)
    else:
        sign = ">=" if f.kind == "must_pass" else "<="
        bound, score = f"{sign} {num(f.bound)}", num(f.score)
    return [f.key, f.kind, f.plugin, bound, score, "ok" if f.ok else "FAIL", short(f.why)]


def findings(audit: VerifierAudit) -> list[str]:
    """One line per exploit, documented behaviour, failed fixture and probe error."""
    lines = []
    for p in audit.exploits:
        w = p.worst
        assert w is not None
        lines.append(
            f"EXPLOIT {audit.verifier}: probe {p.name} ({w.variant}, {w.row}) scored "
            f"{num(w.score)} (credit {num(w.credit)}, honest {num(p.honest)}): {short(w.reason)}"
        )
    described = {f.key: f.description for f in audit.fixtures}
    for p in audit.documented:
        why = described.get(p.documented_by or "", "")
        lines.append(
            f"documented {audit.verifier}: probe {p.name} scores up to {num(p.max_score)}, "
            f"within fixture {p.documented_by}" + (f" ({short(why, 140)})" if why else "")
        )
    for f in audit.failed_fixtures:
        detail = short(f.error or f.reason, 60)
        lines.append(f"FAIL fixture {f.key} ({f.kind}, plugin {f.plugin}): {f.why}: {detail}")
    if audit.honest and all(h is None for h in audit.honest):
        lines.append(
            f"note {audit.verifier}: no honest reference got a verdict on any row (each "
            "abstained or came back as an error): are these rows for this verifier?"
        )
    for p in audit.probes:
        if p.errors:
            lines.append(
                f"note {audit.verifier}: probe {p.name}: {p.errors} error result(s), "
                f"e.g. {p.first_error}"
            )
    return lines


def summary(audit: VerifierAudit) -> str:
    held = len(audit.fixtures) - len(audit.failed_fixtures)
    fixtures = f"{held}/{len(audit.fixtures)} fixtures held" if audit.fixtures else "no fixtures"
    if audit.passed:
        return (
            f"PASS {audit.verifier}: no probe earned credit above {audit.threshold:g}; {fixtures}"
        )
    return (
        f"FAIL {audit.verifier}: {len(audit.exploits)} probe(s) earned credit above "
        f"{audit.threshold:g}; {fixtures}"
    )


def header(audit: VerifierAudit) -> str:
    options = f", options {json.dumps(audit.options)}" if audit.options else ""
    return (
        f"grpo audit {audit.verifier} ({audit.kind} verifier, plugin {audit.plugin}{options}): "
        f"{audit.rows} row(s) from {audit.rows_from}"
    )


def plain_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns padded to their widest cell; the last column is never padded or cut."""
    widths = [max(len(str(r[i])) for r in [columns, *rows]) for i in range(len(columns) - 1)]

    def line(cells: Sequence[str]) -> str:
        padded = [str(c).ljust(w) for c, w in zip(cells, widths, strict=False)]
        return "  ".join([*padded, str(cells[-1])]).rstrip()

    rule = ["-" * w for w in widths] + ["-" * len(columns[-1])]
    return [line(columns), line(rule), *(line(r) for r in rows)]


def render_plain(audits: Sequence[VerifierAudit], echo: Callable[[str], None]) -> None:
    for number, audit in enumerate(audits):
        if number:
            echo("")
        echo(header(audit))
        echo("")
        for text in plain_table(PROBE_COLUMNS, [probe_row(p) for p in ran(audit)]):
            echo(text)
        for text in skipped_lines(audit):
            echo(text)
        if audit.fixtures:
            echo("")
            for text in plain_table(FIXTURE_COLUMNS, [fixture_row(f) for f in audit.fixtures]):
                echo(text)
        _tail(audit, echo)


def _tail(audit: VerifierAudit, echo: Callable[[str], None]) -> None:
    echo("")
    for text in findings(audit):
        echo(text)
    echo(summary(audit))


def render_rich(audits: Sequence[VerifierAudit], console: Any) -> None:
    from rich.table import Table

    for audit in audits:
        tables = [(f"Probes: {header(audit)}", PROBE_COLUMNS, [probe_row(p) for p in ran(audit)])]
        if audit.fixtures:
            rows = [fixture_row(f) for f in audit.fixtures]
            tables.append((f"Fixtures of {audit.verifier}", FIXTURE_COLUMNS, rows))
        for title, columns, rows in tables:
            table = Table(title=title, title_justify="left")
            for col in columns[:-1]:
                table.add_column(col, no_wrap=True)
            table.add_column(columns[-1], overflow="fold", ratio=1)
            for row in rows:
                style = next((s for v, s in VERDICT_STYLES.items() if v in row[1:6]), None)
                table.add_row(*row, style=style if style != "green" else None)
            console.print(table)
            if columns is PROBE_COLUMNS:
                for text in skipped_lines(audit):
                    console.print(text, soft_wrap=True, markup=False, style="dim")
        _tail(audit, lambda text: console.print(text, soft_wrap=True, markup=False))


def to_json(audits: Sequence[VerifierAudit]) -> str:
    return json.dumps(
        {
            "passed": all(a.passed for a in audits),
            "audits": [{**a.to_dict(), "findings": findings(a)} for a in audits],
        },
        default=repr,
    )
