"""The body of ``grpo train`` (registered in grpo_core.commands.cli; torch is imported only here,
when the command runs)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from grpo_core.commands.cli import OneLineError
from grpo_core.training.config import (
    ConfigError,
    TrainConfig,
    field_names,
    parse_overrides,
    resolve_config,
    to_yaml,
)

EPILOG = (
    "Any configuration key can be set with --KEY VALUE (or in the --config YAML file); "
    "keys: " + ", ".join(field_names()) + ". "
    "With no --model the embedded default policy is built (first run) and trained."
)


def echo(message: str) -> None:
    """Print on the main process only (``RANK`` is set by ``accelerate launch`` / torchrun)."""
    if os.environ.get("RANK", "0") == "0":
        click.echo(message)


def looks_local(model: str) -> bool:
    """A --model value meant as a directory (not a Hub repo id): ``.``/``/``/``~`` or a separator."""
    return model.startswith((".", "/", "~")) or os.sep in model


def check_invocation(cfg: TrainConfig) -> None:
    """Checks that need no torch, run before anything is printed or written to ``cfg.out``:
    a local-looking --model that does not exist, an unknown suite or suite option."""
    if cfg.model and looks_local(cfg.model) and not Path(cfg.model).expanduser().exists():
        raise OneLineError(f"model directory {cfg.model} does not exist")
    from rewards.plugins import PluginError, get_plugins

    try:
        get_plugins().suite(cfg.suite, **cfg.suite_options)
    except (PluginError, ValueError) as exc:
        raise OneLineError(str(exc)) from None


def run_train(
    suite: str | None,
    model: str | None,
    config: str | None,
    out: str | None,
    extra: Sequence[str],
    resume: str | None = None,
) -> dict[str, Any]:
    """Resolve the configuration, print it, train, and report before/after accuracy."""
    try:
        overrides = parse_overrides(extra)
        for key, value in (("suite", suite), ("model", model), ("out", out), ("resume", resume)):
            if value is not None:
                overrides[key] = value
        cfg = resolve_config(config, overrides)
    except ConfigError as exc:
        raise OneLineError(str(exc)) from None
    check_invocation(cfg)
    echo("resolved configuration:")
    echo(to_yaml(cfg).rstrip())
    from grpo_core.training.trainer import Trainer

    try:
        trainer = Trainer(cfg, log=echo)
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    result = trainer.run()
    before = result.initial.accuracy if result.initial else None
    after = result.final.accuracy if result.final else None
    if before is not None and after is not None:
        echo(
            f"held-out accuracy: {before:.1%} -> {after:.1%} ({(after - before) * 100:+.1f} points) "
            f"after {result.steps} steps in {result.grpo_seconds:.1f}s of GRPO"
        )
    echo(f"metrics: {result.out / 'metrics.jsonl'}; samples: {result.out / 'samples.jsonl'}")
    if cfg.save_final:
        echo(f"final model: {result.out / 'final'}")
    return {"before": before, "after": after}
