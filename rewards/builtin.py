"""The built-in plugin: registers grpokit's own verifiers, suites, fixtures and the ``audit``
command through the public hooks, exactly as a third-party plugin does."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

from rewards.hookspecs import hookimpl

VERIFIERS: tuple[str, ...] = (
    "rewards.verifiers.math_answer:MathVerifier",
    "rewards.verifiers.format_tags:FormatVerifier",
    "rewards.verifiers.format_tags:TagCountVerifier",
    "rewards.verifiers.language:LanguageVerifier",
    "rewards.verifiers.length:LengthVerifier",
    "rewards.verifiers.repetition:RepetitionVerifier",
    "rewards.verifiers.code_tests:CodeVerifier",
    "rewards.verifiers.arithmetic:ArithmeticVerifier",
    "rewards.verifiers.arithmetic:ArithmeticDigitsVerifier",
    "rewards.verifiers.arithmetic:ArithmeticStepsVerifier",
)

SUITES: tuple[str, ...] = (
    "rewards.suites.arithmetic:ArithmeticSuite",
    "rewards.suites.arithmetic:ArithmeticStepsSuite",
    "rewards.suites.humaneval:HumanEvalSuite",
    "rewards.suites.gsm8k:GSM8KSuite",
)

#: modules holding the built-in verifiers' fixtures, each as a FIXTURES tuple
FIXTURE_MODULES: tuple[str, ...] = (
    "rewards.verifiers.fixtures.math",
    "rewards.verifiers.fixtures.arithmetic",
    "rewards.verifiers.fixtures.format",
    "rewards.verifiers.fixtures.aux",
    "rewards.verifiers.fixtures.code",
)


def _load(path: str) -> type:
    module, _, name = path.partition(":")
    return getattr(import_module(module), name)


@hookimpl
def register_verifiers(register: Callable[[type], None]) -> None:
    for path in VERIFIERS:
        register(_load(path))


@hookimpl
def register_suites(register: Callable[[type], None]) -> None:
    for path in SUITES:
        register(_load(path))


@hookimpl
def register_fixtures(register: Callable[[Any], None]) -> None:
    for module in FIXTURE_MODULES:
        for fixture in import_module(module).FIXTURES:
            register(fixture)


@hookimpl
def register_commands(cli: Any) -> None:
    from rewards.audit.command import register_audit

    register_audit(cli)
