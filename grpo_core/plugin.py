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

    from grpo_core.train_cli import EPILOG

    @cli.command(
        epilog=EPILOG,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )
    @click.option("--suite", help="Task suite (default: arithmetic).")
    @click.option("--model", help="Local path or Hub name (default: the embedded tiny policy).")
    @click.option(
        "--config", type=click.Path(exists=True, dir_okay=False), help="YAML configuration."
    )
    @click.option("--out", help="Output directory (default: runs/grpo).")
    @click.pass_context
    def train(ctx: click.Context, suite, model, config, out) -> None:
        """GRPO training (Algorithm 1) on a Hugging Face causal LM; --KEY VALUE overrides."""
        from grpo_core.train_cli import run_train

        run_train(suite, model, config, out, ctx.args)
