"""grpo_core's plugin module (the ``grpokit`` entry point ``train``): adds the training commands
(grpo_core.commands) to ``grpo`` through the same ``register_commands`` hook a third-party plugin
uses. Importing it must not import torch: each command imports the trainer only when it runs."""

from __future__ import annotations

from typing import Any

from rewards.hookspecs import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    from grpo_core.commands.cli import register_all

    register_all(cli)
