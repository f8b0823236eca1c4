"""Fixtures shared by the grpo_core tests: the tiny Llama on disk (``model_path``) and a private
plugin manager holding the test verifiers (``plugins``), both defined in trainer_fixtures.py, and
``grpo``: the ``grpo`` command (built-ins and installed plugins) run in-process through click's
CliRunner. A module that defines its own fixture of the same name uses its own."""

import pytest
from trainer_fixtures import model_path, plugins

__all__ = ["grpo", "model_path", "plugins"]


@pytest.fixture(scope="module")
def grpo():
    from click.testing import CliRunner

    from rewards.cli import cli
    from rewards.plugins import get_plugins

    get_plugins().add_commands(cli)
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)
