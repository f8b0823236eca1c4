"""grpo_core's commands (``grpo demo``, ``train``, ``plot``, ``evaluate``), added to ``grpo`` by
``grpo_core.plugin`` through the ``register_commands`` hook a third-party plugin uses. Importing
this module must not import torch: each command imports the trainer only when it runs."""

from __future__ import annotations

from typing import Any

import click


class InputError(click.ClickException):
    """Bad input to a command (missing or malformed file, bad option value): exit code 2."""

    exit_code = 2


class OneLineError(InputError):
    """Bad input shown as one stderr line ``error: ...`` (no usage block), exit code 2."""

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def register_all(cli: Any) -> None:
    """Add every grpo_core command to the click group ``cli``."""

    @cli.command()
    @click.option("--steps", type=int, default=60, show_default=True)
    @click.option("--seed", type=int, default=0, show_default=True)
    def demo(steps: int, seed: int) -> None:
        """GRPO on synthetic tensors: a bandit policy learns the right answers."""
        from grpo_core.commands.demo import DemoConfig, run_demo

        history = run_demo(DemoConfig(steps=steps, seed=seed))
        click.echo(
            f"greedy accuracy: {history[0]:.3f} after step 1 -> {history[-1]:.3f} "
            f"after step {len(history)}"
        )

    from grpo_core.commands.train_cli import EPILOG

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
    @click.option(
        "--resume", is_flag=False, flag_value="true", default=None, metavar="[BOOL]",
        help="Continue from the newest complete checkpoint in OUT.",
    )  # fmt: skip
    @click.pass_context
    def train(ctx: click.Context, suite, model, config, out, resume) -> None:
        """GRPO training (Algorithm 1) on a Hugging Face causal LM; --KEY VALUE overrides."""
        from grpo_core.commands.train_cli import run_train

        run_train(suite, model, config, out, ctx.args, resume=resume)

    register_plot(cli)
    register_evaluate(cli)


def register_plot(cli: Any) -> None:
    @cli.command()
    @click.argument("run_dir", metavar="DIR", type=click.Path(file_okay=False))
    @click.option(
        "--out", type=click.Path(dir_okay=False), help="PNG path (default DIR/curves.png)."
    )
    @click.option(
        "--smooth",
        type=click.IntRange(min=1),
        help="Trailing moving-mean window in steps (default: steps/25; 1 = raw curves).",
    )
    def plot(run_dir: str, out: str | None, smooth: int | None) -> None:
        """Training curves of a grpo train run (DIR/metrics.jsonl) as a PNG."""
        from grpo_core.commands.plot import describe, plot_run

        try:
            summary = plot_run(run_dir, out, smooth=smooth)
        except (ValueError, OSError) as exc:  # MetricsFileError is a ValueError
            raise InputError(str(exc)) from None
        click.echo(describe(summary))


def register_evaluate(cli: Any) -> None:
    from grpo_core.commands.evaluate_cli import EPILOG

    @cli.command(epilog=EPILOG)
    @click.option("--model", required=True, help="Saved model directory (grpo train's OUT/final).")
    @click.option("--suite", help="Task suite (default: the suite of the run that saved MODEL).")
    @click.option("--samples", type=int, default=1, show_default=True,
                  help="K > 1: also K sampled completions per row, for pass@k.")  # fmt: skip
    @click.option("--rows", type=int, default=500, show_default=True, help="Held-out rows.")
    @click.option("--suite-options", help="Suite options: JSON/YAML mapping or a file of one.")
    @click.option("--scheme", type=click.Path(exists=True, dir_okay=False),
                  help="Reward scheme file (default: the suite's default scheme).")  # fmt: skip
    @click.option("--out", type=click.Path(dir_okay=False),
                  help="Scored completions JSONL (default MODEL/eval-SUITE.jsonl).")  # fmt: skip
    @click.option("--temperature", type=float, help="Sampling temperature (default: the run's).")
    @click.option("--max-new-tokens", type=int, help="Completion budget (default: automatic).")
    @click.option("--seed", type=int, help="Seeds the held-out rows and sampling (default: run's).")
    def evaluate(model, suite, samples, rows, suite_options, scheme, out, temperature,
                 max_new_tokens, seed) -> None:  # fmt: skip
        """Held-out greedy accuracy and pass@k of a saved model; scored completions to JSONL."""
        from grpo_core.commands.evaluate_cli import (
            EvaluateOptions,
            format_report,
            parse_suite_options,
            run_evaluate,
        )  # fmt: skip
        from rewards.plugins import PluginError

        try:
            opts = EvaluateOptions(
                model=model, suite=suite, samples=samples, rows=rows,
                suite_options=parse_suite_options(suite_options), scheme=scheme, out=out,
                temperature=temperature, max_new_tokens=max_new_tokens, seed=seed,
            )  # fmt: skip
            report = run_evaluate(opts, log=click.echo)
        except (ValueError, PluginError, OSError) as exc:
            raise InputError(str(exc)) from None
        for line in format_report(report):
            click.echo(line)
