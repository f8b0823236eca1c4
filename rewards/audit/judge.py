"""Judging an audit: which probes earned credit, which fixtures held.

Credit is what a probe earned that it does not deserve: its score for a ``correct`` or ``format``
verifier (a probe deserves nothing), and its score above the row's honest score for an ``aux``
verifier (an aux term shapes the reward rather than granting it, so only a probe that beats the
honest completion games it). A probe whose largest credit is above the threshold is an
``exploit``, unless an exploit fixture of the verifier documents that probe (``probe=``) with a
bound at least the probe's score: then it is ``documented``, a known behaviour listed as a
finding but not a failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rewards.audit.fixtures import TOLERANCE, check_fixture
from rewards.audit.probes import PROBES

if TYPE_CHECKING:
    from rewards.audit.run import Job, Plan

PREVIEW = 120


@dataclass(frozen=True)
class Case:
    """One scored probe variant on one row."""

    variant: str
    row: str
    score: float | None
    credit: float
    reason: str
    error: str | None
    completion: str

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in ("variant", "row", "score", "credit", "reason")}
        return {**out, "error": self.error, "completion": preview(self.completion)}


@dataclass
class ProbeOutcome:
    """One probe against one verifier: its status and worst case."""

    name: str
    description: str
    expect: str
    status: str  # ok, exploit, documented, info, skipped
    rows: int = 0
    cases: int = 0
    max_score: float | None = None
    max_credit: float = 0.0
    honest: float | None = None
    errors: int = 0
    worst: Case | None = None
    skipped: str | None = None
    documented_by: str | None = None
    first_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "worst"}
        return {**out, "worst": self.worst.to_dict() if self.worst else None}


@dataclass(frozen=True)
class FixtureOutcome:
    """One fixture's verdict and whether it held."""

    key: str
    plugin: str
    kind: str
    bound: float | None
    score: float | None
    reason: str
    error: str | None
    ok: bool
    why: str
    description: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class VerifierAudit:
    """The audit of one verifier."""

    verifier: str
    kind: str
    plugin: str
    options: dict[str, Any]
    rows_from: str
    rows: int
    threshold: float
    honest: list[float | None]
    probes: list[ProbeOutcome] = field(default_factory=list)
    fixtures: list[FixtureOutcome] = field(default_factory=list)

    @property
    def exploits(self) -> list[ProbeOutcome]:
        return [p for p in self.probes if p.status == "exploit"]

    @property
    def documented(self) -> list[ProbeOutcome]:
        return [p for p in self.probes if p.status == "documented"]

    @property
    def failed_fixtures(self) -> list[FixtureOutcome]:
        return [f for f in self.fixtures if not f.ok]

    @property
    def passed(self) -> bool:
        return not self.exploits and not self.failed_fixtures

    def to_dict(self) -> dict[str, Any]:
        keys = ("verifier", "kind", "plugin", "options", "rows_from", "rows", "threshold")
        return {
            **{k: getattr(self, k) for k in keys},
            "passed": self.passed,
            "honest": self.honest,
            "probes": [p.to_dict() for p in self.probes],
            "fixtures": [f.to_dict() for f in self.fixtures],
        }


def preview(text: str, limit: int = PREVIEW) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} chars)"


def row_label(row: Mapping[str, Any], index: int) -> str:
    value = row.get("id")
    return str(value) if isinstance(value, str | int) else f"row {index + 1}"


def honest_scores(plan: Plan) -> list[float | None]:
    """Each row's best score over its honest references (verdicts without error)."""
    out: list[float | None] = []
    for refs in plan.references:
        scores = [j.timed.result.score for _, j in refs if _verdict(j)]
        out.append(max(scores) if scores else None)
    return out


def _verdict(job: Job) -> bool:
    result = job.timed.result if job.timed else None
    return result is not None and result.error is None and result.score is not None


def credit(kind: str, score: float | None, honest: float | None) -> float:
    """What a probe earned that it does not deserve (module docstring)."""
    if score is None:
        return 0.0
    if kind == "aux":
        return score - (honest if honest is not None else 0.0)
    return score


def allowances(plan: Plan) -> dict[str, tuple[float, str]]:
    """Documented probe credit: probe name -> (largest bound, the fixture documenting it)."""
    out: dict[str, tuple[float, str]] = {}
    for reg, _ in plan.fixtures:
        f = reg.fixture
        if f.kind != "exploit" or not f.probe or f.bound is None:
            continue
        if f.probe not in out or f.bound > out[f.probe][0]:
            out[f.probe] = (f.bound, f.key)
    return out


def judge_probe(
    plan: Plan, name: str, honest: list[float | None], threshold: float
) -> ProbeOutcome:
    probe = next(p for p in PROBES if p.name == name)
    entry = plan.probes[name]
    outcome = ProbeOutcome(name, probe.description, probe.expect, "ok")
    if not entry or isinstance(entry[0], str):
        outcome.status = "skipped"
        outcome.skipped = "; ".join(entry) if entry else "no rows"
        return outcome
    kind = plan.target.verifier.kind
    cases = [_case(plan, index, variant, job, kind, honest) for index, variant, job in entry]
    outcome.rows = len({index for index, _, _ in entry})
    outcome.cases = len(cases)
    errors = [c for c in cases if c.error is not None]
    outcome.errors = len(errors)
    if errors:
        outcome.first_error = f"{errors[0].variant} on {errors[0].row}: {errors[0].error}"
    scores = [c.score for c in cases if c.score is not None]
    outcome.max_score = max(scores) if scores else None
    outcome.worst = max(cases, key=lambda c: (c.credit, c.score if c.score is not None else -1e9))
    outcome.max_credit = outcome.worst.credit
    known = [honest[i] for i in {index for index, _, _ in entry} if honest[i] is not None]
    outcome.honest = max(known) if known else None
    outcome.status = _status(probe.expect, outcome, threshold, allowances(plan).get(name))
    return outcome


def _status(
    expect: str, outcome: ProbeOutcome, threshold: float, allowed: tuple[float, str] | None
) -> str:
    if expect == "info":
        return "info"
    if outcome.max_credit <= threshold + TOLERANCE:
        return "ok"
    score = outcome.worst.score if outcome.worst else None
    if allowed is not None and (score or 0.0) <= allowed[0] + TOLERANCE:
        outcome.documented_by = allowed[1]
        return "documented"
    return "exploit"


def _case(plan: Plan, index: int, variant: str, job: Job, kind: str, honest: list) -> Case:
    result = job.timed.result
    earned = credit(kind, result.score, honest[index])
    row = row_label(plan.target.rows[index], index)
    return Case(variant, row, result.score, earned, result.reason, result.error, job.completion)


def judge_fixture(reg: Any, job: Job) -> FixtureOutcome:
    f, result = reg.fixture, job.timed.result
    check = check_fixture(f, result.score, result.error)
    return FixtureOutcome(
        f.key, reg.plugin, f.kind, f.bound, result.score, result.reason, result.error,
        check.ok, check.why, f.description,
    )  # fmt: skip


def judge_target(plan: Plan, threshold: float) -> VerifierAudit:
    """The verdicts of one target's probes and fixtures."""
    t = plan.target
    honest = honest_scores(plan)
    audit = VerifierAudit(
        t.name, t.verifier.kind, t.plugin, t.options, t.rows_from, len(t.rows), threshold, honest
    )
    audit.probes = [judge_probe(plan, name, honest, threshold) for name in plan.probes]
    audit.fixtures = [judge_fixture(reg, job) for reg, job in plan.fixtures]
    return audit
