"""Labelled fixtures a plugin ships for its verifiers, and how ``grpo audit`` judges them.

A fixture is one completion and one task row with a label saying what the verifier must do:

* ``must_pass``: score at least ``expected`` (default 1.0) with no error;
* ``must_fail``: score at most ``expected`` (default 0.0): an honest wrong answer;
* ``exploit``: score at most ``expected`` (default 0.0): a completion gaming the verifier. With
  ``probe`` set it also documents what that generic probe may earn on this verifier (a known,
  by-design behaviour): the probe is then reported as documented up to ``expected`` instead of
  failing the audit;
* ``malformed``: a bad row or completion that must come back as an error result (the verifier
  says what is wrong), never as a crash (an exception caught by the scorer) or a timeout.

Plugins register them through the ``register_fixtures`` hook::

    @hookimpl
    def register_fixtures(register):
        register(Fixture("shout", "all-caps", "must_pass", "HELLO", {}))
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

FixtureKind = Literal["must_pass", "must_fail", "malformed", "exploit"]
FIXTURE_KINDS: tuple[str, ...] = ("must_pass", "must_fail", "malformed", "exploit")
#: the score bound of each kind when ``expected`` is not given
DEFAULT_EXPECTED: dict[str, float] = {"must_pass": 1.0, "must_fail": 0.0, "exploit": 0.0}
TOLERANCE = 1e-9


@dataclass(frozen=True)
class Fixture:
    """One labelled case for verifier ``verifier`` (see the module docstring for ``kind``).

    ``expected``: the least score of a must_pass fixture, the largest of a must_fail or exploit
    one (defaults in ``DEFAULT_EXPECTED``); unused for malformed. ``options``: the verifier's
    options for this fixture (default: none). ``probe``: for an exploit fixture, the name of the
    generic probe whose credit it documents. ``name`` is unique per verifier across plugins.
    """

    verifier: str
    name: str
    kind: FixtureKind
    completion: str
    row: Mapping[str, Any] = field(default_factory=dict)
    expected: float | None = None
    description: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    probe: str | None = None

    def __post_init__(self) -> None:
        where = f"fixture {self.verifier!r}/{self.name!r}"
        for attr in ("verifier", "name"):
            if not isinstance(getattr(self, attr), str) or not getattr(self, attr):
                raise ValueError(f"{where}: {attr} must be a non-empty string")
        if self.kind not in FIXTURE_KINDS:
            raise ValueError(f"{where}: kind must be one of {', '.join(FIXTURE_KINDS)}")
        if not isinstance(self.completion, str):
            raise ValueError(f"{where}: completion must be text")
        if not isinstance(self.row, Mapping) or not isinstance(self.options, Mapping):
            raise ValueError(f"{where}: row and options must be mappings")
        exp = self.expected
        if exp is not None and (
            isinstance(exp, bool) or not isinstance(exp, int | float) or not math.isfinite(exp)
        ):
            raise ValueError(f"{where}: expected must be a finite number, got {exp!r}")
        if self.probe is not None and self.kind != "exploit":
            raise ValueError(f"{where}: only an exploit fixture can document a probe")

    @property
    def key(self) -> str:
        """``verifier/name``: the fixture's identity across plugins."""
        return f"{self.verifier}/{self.name}"

    @property
    def bound(self) -> float | None:
        """The score bound the fixture checks (None for malformed)."""
        if self.expected is not None:
            return float(self.expected)
        return DEFAULT_EXPECTED.get(self.kind)


@dataclass(frozen=True)
class FixtureCheck:
    """Whether a fixture held, and why not."""

    ok: bool
    why: str


def check_fixture(fixture: Fixture, score: float | None, error: str | None) -> FixtureCheck:
    """Judge one fixture's verdict (score and error of the verifier's result)."""
    if fixture.kind == "malformed":
        if error is None:
            return FixtureCheck(False, "expected an error result, got a verdict")
        if error.startswith(("crash", "timeout")):
            return FixtureCheck(False, f"expected an error result, got {error.split(':')[0]}")
        return FixtureCheck(True, "error result")
    bound = fixture.bound
    assert bound is not None
    if error is not None and error.startswith("crash"):
        return FixtureCheck(False, "the verifier crashed")
    if fixture.kind == "must_pass":
        if error is not None:
            return FixtureCheck(False, "error result")
        if score is None or score < bound - TOLERANCE:
            return FixtureCheck(False, f"scored {_fmt(score)}, expected at least {bound:g}")
        return FixtureCheck(True, f"scored {_fmt(score)} >= {bound:g}")
    got = 0.0 if score is None else score
    if got > bound + TOLERANCE:
        return FixtureCheck(False, f"scored {_fmt(score)}, expected at most {bound:g}")
    return FixtureCheck(True, f"scored {_fmt(score)} <= {bound:g}")


def _fmt(score: float | None) -> str:
    return "None (abstained)" if score is None else f"{score:g}"
