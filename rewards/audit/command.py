"""The ``grpo audit`` command, added by the built-in plugin through ``register_commands``.

Exit status: 0 when no probe earned credit above the threshold and every fixture held, 1 when
one did not, 2 on bad input (one ``error:`` line on stderr).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import click

EPILOG = """\b
Rows: --rows FILE.jsonl (one JSON object of task fields a line), --suite NAME (its test split;
--suite-option KEY=VALUE for its options), or by default the rows of the verifier's fixtures.
Probes are built from the rows' answer/target, prompt and tests fields; a probe that does not
apply says why. Fixtures run with their own verifier options; --option applies to the probes.
Exit status: 0 when no probe earned credit above --threshold and every fixture held, 1 when
one did not, 2 on bad input.
"""


@dataclass(frozen=True)
class AuditRequest:
    """What the command line asked for."""

    verifiers: tuple[str, ...]
    rows_path: str | None
    suite: str | None
    suite_options: dict[str, Any]
    options: dict[str, Any]
    limit: int
    seed: int


def register_audit(cli: Any) -> None:
    """Add ``audit`` to the ``grpo`` click group."""

    @cli.command(epilog=EPILOG)
    @click.argument("verifiers", nargs=-1, required=True, metavar="VERIFIER...")
    @click.option("--rows", "rows_path", metavar="FILE.jsonl", help="Task rows, one a line.")
    @click.option("--suite", help="Take rows from this task suite's test split.")
    @click.option("--suite-option", "suite_options", multiple=True, metavar="KEY=VALUE",
                  help="Task suite option.")  # fmt: skip
    @click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
                  help="Verifier option (for the probes).")  # fmt: skip
    @click.option("--limit", type=click.IntRange(min=1), default=3, show_default=True,
                  help="Rows used at most.")  # fmt: skip
    @click.option("--seed", type=int, default=0, show_default=True, help="Suite seed.")
    @click.option("--threshold", type=float, default=0.0, show_default=True,
                  help="Credit above this is an exploit.")  # fmt: skip
    @click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=10.0,
                  show_default=True,
                  help="Seconds per item (or the verifier's time budget).")  # fmt: skip
    @click.option(
        "--workers", type=click.IntRange(min=1), help="Scoring processes (default: cores)."
    )
    @click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
    def audit(verifiers, rows_path, suite, suite_options, options, limit, seed, threshold,
              timeout, workers, as_json) -> None:  # fmt: skip
        """Probe verifiers for reward hacks and run their fixtures."""
        from rewards.audit.rows import AuditInputError, parse_pairs
        from rewards.audit.run import AuditSettings

        try:
            request = AuditRequest(
                verifiers, rows_path, suite, parse_pairs(suite_options, "--suite-option"),
                parse_pairs(options, "--option"), limit, seed,
            )  # fmt: skip
            audits = run_request(request, AuditSettings(threshold, timeout, workers))
        except AuditInputError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        show(audits, as_json)
        sys.exit(0 if all(a.passed for a in audits) else 1)


def run_request(request: AuditRequest, settings: Any) -> list:
    """Load the rows and the verifiers, then run the audit."""
    from rewards.audit.rows import AuditInputError, rows_from_file, rows_from_suite
    from rewards.audit.run import make_target, run_audit
    from rewards.plugins import PluginError, get_plugins

    if request.rows_path and request.suite:
        raise AuditInputError("give --rows or --suite, not both")
    if request.suite_options and not request.suite:
        raise AuditInputError("--suite-option needs --suite")
    plugins = get_plugins()
    rows, rows_from = None, ""
    if request.rows_path:
        rows, rows_from = rows_from_file(request.rows_path, request.limit), request.rows_path
    elif request.suite:
        rows = rows_from_suite(
            plugins, request.suite, request.suite_options, request.seed, request.limit
        )
        rows_from = f"suite {request.suite} (test split, seed {request.seed})"
    try:
        targets = [
            make_target(plugins, name, request.options, rows, request.limit, rows_from)
            for name in dict.fromkeys(request.verifiers)
        ]
    except PluginError as exc:
        raise AuditInputError(str(exc)) from None
    return run_audit(targets, settings)


def show(audits: list, as_json: bool) -> None:
    from rewards.audit.report import render_plain, render_rich, to_json

    if as_json:
        click.echo(to_json(audits))
    elif sys.stdout.isatty():
        from rich.console import Console

        render_rich(audits, Console(highlight=False))
    else:
        render_plain(audits, click.echo)
