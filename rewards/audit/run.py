"""Run an audit: every probe variant, honest reference and fixture through the real scorer.

All items go through ``rewards.scoring.BatchScorer`` -- worker processes, per-item timeouts,
the verifier's own time budget -- exactly as in training, so a probe that hangs or crashes the
verifier costs that item only (an error result, never credit). Judging is in ``judge``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from rewards.audit.judge import VerifierAudit, judge_target
from rewards.audit.probes import PROBES, references
from rewards.audit.rows import AuditInputError
from rewards.plugins import FixtureRegistration, PluginError, Plugins
from rewards.scoring import BatchScorer, Timed
from rewards.verifier import Verifier


@dataclass(frozen=True)
class AuditSettings:
    """``threshold``: credit above this is an exploit; ``timeout``: seconds per item (or the
    verifier's time budget when larger); ``workers``: scoring processes (default: cores)."""

    threshold: float = 0.0
    timeout: float = 10.0
    workers: int | None = None


@dataclass
class Target:
    """One verifier under audit, its rows and its fixtures."""

    name: str
    verifier: Verifier
    plugin: str
    options: dict[str, Any]
    rows: list[dict[str, Any]]
    rows_from: str
    fixtures: list[FixtureRegistration] = field(default_factory=list)


@dataclass
class Job:
    """One completion to score with the verifier instance ``key``."""

    key: str
    completion: str
    row: Mapping[str, Any]
    future: Future | None = None
    timed: Timed | None = None


@dataclass
class Plan:
    """The jobs of one target, by what they are for."""

    target: Target
    references: list[list[tuple[str, Job]]]
    probes: dict[str, list[tuple[int, str, Job]] | list[str]]
    fixtures: list[tuple[FixtureRegistration, Job]]


def make_target(
    plugins: Plugins,
    name: str,
    options: Mapping[str, Any],
    rows: list[dict[str, Any]] | None,
    limit: int = 3,
    rows_from: str = "the given rows",
) -> Target:
    """Look up and build verifier ``name``; without ``rows``, its fixtures' rows are used."""
    from rewards.audit.rows import rows_from_fixtures

    try:
        registration = plugins.verifiers().get(name)
        if registration is None:
            plugins.verifier(name)  # raises: unknown verifier, listing the available
        verifier = registration.cls(**options)
        fixtures = plugins.fixtures_for(name)
    except (PluginError, ValueError) as exc:
        raise AuditInputError(str(exc)) from None
    if rows is None:
        rows, rows_from = rows_from_fixtures(name, fixtures, limit), "its fixtures"
    return Target(name, verifier, registration.plugin, dict(options), rows, rows_from, fixtures)


def plan_target(target: Target, instances: dict[str, Verifier]) -> Plan:
    """Every job of one target; fixture verifiers with other options go into ``instances``."""
    instances.setdefault(target.name, target.verifier)
    kind = target.verifier.kind
    passing = [r.fixture for r in target.fixtures if r.fixture.kind == "must_pass"]
    refs: list[list[tuple[str, Job]]] = []
    for row in target.rows:
        good = [f.completion for f in passing if dict(f.row) == row]
        refs.append([(v.name, Job(target.name, v.completion, row)) for v in references(row, good)])
    probes: dict[str, Any] = {}
    for probe in PROBES:
        cases, skips = [], []
        for index, row in enumerate(target.rows):
            built = probe.variants(row, kind)
            if isinstance(built, list):
                cases += [(index, v.name, Job(target.name, v.completion, row)) for v in built]
            else:
                skips.append(built.reason)
        probes[probe.name] = cases or sorted(set(skips))
    fixtures = []
    for reg in target.fixtures:
        key = _instance_key(target, reg.fixture.options, instances)
        fixtures.append((reg, Job(key, reg.fixture.completion, reg.fixture.row)))
    return Plan(target, refs, probes, fixtures)


def _instance_key(target: Target, options: Mapping[str, Any], instances: dict) -> str:
    """The scorer key of ``target``'s verifier built with a fixture's ``options``."""
    key = f"{target.name}#fixture{json.dumps(dict(options), sort_keys=True, default=repr)}"
    if key not in instances:
        try:
            instances[key] = type(target.verifier)(**options)
        except ValueError as exc:
            raise AuditInputError(f"a fixture of {target.name!r} has bad options: {exc}") from None
    return key


def all_jobs(plan: Plan) -> list[Job]:
    jobs = [job for ref in plan.references for _, job in ref]
    for cases in plan.probes.values():
        jobs += [case[2] for case in cases if isinstance(case, tuple)]
    return jobs + [job for _, job in plan.fixtures]


def score_jobs(
    jobs: Sequence[Job], instances: dict[str, Verifier], settings: AuditSettings
) -> None:
    """Score every job through one ``BatchScorer``; results land in ``job.timed``."""
    with BatchScorer(instances, workers=settings.workers, timeout=settings.timeout) as scorer:
        for job in jobs:
            job.future = scorer.submit([job.key], [job.completion], [job.row])[job.key][0]
        for job in jobs:
            job.timed = scorer.collect({job.key: [job.future]})[job.key][0]


def run_audit(targets: Sequence[Target], settings: AuditSettings) -> list[VerifierAudit]:
    """Audit every target: plan, score everything at once, judge each target."""
    instances: dict[str, Verifier] = {}
    plans = [plan_target(t, instances) for t in targets]
    score_jobs([job for plan in plans for job in all_jobs(plan)], instances, settings)
    return [judge_target(plan, settings.threshold) for plan in plans]
