"""The ``grpo`` command line. Verifier commands live here and never import torch; training
commands are added by ``grpo_core`` through the ``register_commands`` plugin hook."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from rewards.plugins import PluginError, get_plugins


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="grpokit")
def cli() -> None:
    """grpokit: pluggable verifiers and rewards with a GRPO core."""


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def verifiers(as_json: bool) -> None:
    """List every registered verifier and the plugin it came from."""
    plugins = get_plugins()
    registry = plugins.verifiers()
    suites = plugins.suites()
    rows = [
        {"name": n, "kind": r.cls.kind, "plugin": r.plugin, "description": r.cls.description}
        for n, r in sorted(registry.items())
    ]
    failures = [f.__dict__ for f in plugins.failures]
    if as_json:
        click.echo(json.dumps({"verifiers": rows, "suites": sorted(suites), "failures": failures}))
        return
    from rich.table import Table

    table = Table(title="Verifiers")
    for col in ("name", "kind", "plugin", "description"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["name"], r["kind"], r["plugin"], r["description"])
    console = _console()
    console.print(table)
    if suites:
        listed = ", ".join(f"{n} ({r.plugin})" for n, r in sorted(suites.items()))
        console.print(f"Task suites: {listed}")
    for f in plugins.failures:
        console.print(f"[red]plugin {f.plugin!r} failed to load:[/red] {f.error}")


def _parse_kv(pairs: tuple[str, ...], what: str) -> dict[str, Any]:
    """KEY=VALUE pairs; VALUE is parsed as JSON when it is valid JSON, else kept as text."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint=what)
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


@cli.command()
@click.argument("name")
@click.option("--completion", required=True, help="The completion text ('-' reads stdin).")
@click.option("--answer", help="Gold answer (task field 'answer').")
@click.option("--field", "fields", multiple=True, metavar="KEY=VALUE", help="Other task field.")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Verifier option.")
@click.option(
    "--timeout",
    type=float,
    default=10.0,
    show_default=True,
    help="Seconds for the item; more if the verifier's time budget for the row is larger.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def verify(name, completion, answer, fields, options, timeout, as_json) -> None:
    """Score one completion with verifier NAME."""
    from rewards.scoring import BatchScorer

    if completion == "-":
        completion = sys.stdin.read()
    row = _parse_kv(fields, "--field")
    if answer is not None:
        row["answer"] = answer
    verifier = get_plugins().verifier(name, **_parse_kv(options, "--option"))
    with BatchScorer({name: verifier}, workers=1, timeout=timeout) as scorer:
        timed = scorer.score([name], [completion], [row])[name][0]
    result = {"verifier": name, **timed.result.to_dict(), "seconds": round(timed.seconds, 6)}
    if as_json:
        click.echo(json.dumps(result, allow_nan=False))
    else:
        click.echo(
            f"{name}: score={timed.result.score} reason={timed.result.reason!r}"
            + (f" error={timed.result.error!r}" if timed.result.error else "")
            + f" ({timed.seconds * 1000:.1f} ms)"
        )
    sys.exit(1 if timed.result.error else 0)


@cli.command("eval")
@click.option("--input", "input_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--verifiers", "names", help="Comma-separated verifier names (weight 1 each).")
@click.option("--scheme", type=click.Path(exists=True, dir_okay=False), help="YAML/TOML scheme.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), help="Results JSONL.")
@click.option("--workers", type=int, default=None, help="Scoring processes (default: cores).")
@click.option(
    "--timeout",
    type=float,
    default=None,
    help="Seconds per item (default 5); more for a row whose verifier's time budget is larger.",
)
@click.option("--summary-json", type=click.Path(dir_okay=False), help="Write the summary here.")
def eval_command(input_path, names, scheme, out_path, workers, timeout, summary_json) -> None:
    """Score every row of a JSONL file and summarise errors, timing and label agreement.

    Results are written as rows finish; SIGINT or SIGTERM stops the run keeping every finished
    row and the summary of them. Exit code: 0 all rows scored without error; 1 some lines
    malformed (reported with their number, skipped) or some items ended in an error or
    timeout; 2 a usage or configuration error, or no usable row; 128 + signal if interrupted.
    """
    from rewards.eval_report import print_summary, run_eval
    from rewards.eval_run import StopSignals, dump

    if not names and not scheme:
        raise click.UsageError("give --verifiers NAME[,NAME...] or --scheme FILE")
    with StopSignals() as stop:
        summary = run_eval(
            Path(input_path),
            names=names,
            scheme_path=scheme,
            out_path=out_path,
            workers=workers,
            timeout=timeout,
            console=_console(stderr=True),
            stop=stop,
        )
        print_summary(summary, _console())
        if summary_json:
            Path(summary_json).write_text(dump(summary, indent=2))
    if stop.signum is not None:
        sys.exit(128 + stop.signum)
    failed = summary["malformed_lines"] or any(v["errors"] for v in summary["verifiers"].values())
    sys.exit(1 if failed else 0)


def main() -> None:
    """Entry point of the ``grpo`` console script.

    Configuration mistakes (unknown verifier, bad option, bad scheme file, plugin conflict)
    print one clear line and exit 2; set GRPO_DEBUG=1 for the traceback.
    """
    try:
        get_plugins().add_commands(cli)
        cli(standalone_mode=True)
    except (PluginError, ValueError) as exc:
        if os.environ.get("GRPO_DEBUG"):
            raise
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
