"""grpo_core's plugin module: adds the training commands to ``grpo`` through the same
``register_commands`` hook a third-party plugin uses. Importing it must not import torch:
each command imports the trainer only when it runs."""

from __future__ import annotations

from typing import Any

import click

from rewards.hookspecs import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    @cli.command()
    @click.option("--steps", type=int, default=60, show_default=True)
    @click.option("--seed", type=int, default=0, show_default=True)
    def demo(steps: int, seed: int) -> None:
        """GRPO on synthetic tensors: a bandit policy learns the right answers."""
        from grpo_core.demo import DemoConfig, run_demo

        history = run_demo(DemoConfig(steps=steps, seed=seed))
        click.echo(
            f"greedy accuracy: {history[0]:.3f} after step 1 -> {history[-1]:.3f} "
            f"after step {len(history)}"
        )
