"""The ``grpokit`` entry point of this distribution: the hook implementations, nothing else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from grpokit_countdown.fixtures import FIXTURES
from grpokit_countdown.suite import CountdownSuite
from grpokit_countdown.verifier import CountdownVerifier
from rewards import hookimpl


@hookimpl
def register_verifiers(register: Callable[[type], None]) -> None:
    register(CountdownVerifier)


@hookimpl
def register_suites(register: Callable[[type], None]) -> None:
    register(CountdownSuite)


@hookimpl
def register_fixtures(register: Callable[[Any], None]) -> None:
    for fixture in FIXTURES:
        register(fixture)
