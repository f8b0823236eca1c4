"""The hooks a grpokit plugin can implement. Built-ins use the very same hooks.

A plugin is a module with functions decorated by ``@rewards.hookimpl``; a pip-installable
plugin names that module in the ``grpokit`` entry-point group of its ``pyproject.toml``::

    [project.entry-points.grpokit]
    my_plugin = "my_package.plugin"
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT = "grpokit"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_verifiers(register: Callable[[type], None]) -> None:
    """Contribute verifiers: call ``register(VerifierSubclass)`` once for each."""


@hookspec
def register_suites(register: Callable[[type], None]) -> None:
    """Contribute task suites: call ``register(TaskSuiteSubclass)`` once for each."""


@hookspec
def register_fixtures(register: Callable[[Any], None]) -> None:
    """Contribute labelled fixtures for verifiers: call ``register(rewards.audit.Fixture(...))``
    once for each (must_pass, must_fail, malformed or exploit; ``grpo audit`` runs them). A
    fixture's ``verifier/name`` must be unique across plugins."""


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``grpo`` command-line tool (``cli`` is a ``click.Group``)."""
