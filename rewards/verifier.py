"""The Verifier interface: score one completion against one task row.

A verifier has a ``name``, a ``kind`` (which term of r = r_correct + r_format + r_aux,
textbook eq. 6.1, it feeds), a ``description`` and typed options (a dataclass ``Options``).
``verify`` never raises for a bad completion or a bad row: it returns a ``VerifyResult`` whose
``error`` says what went wrong (timeout, crash, missing or bad task field). A verifier that
needs more time for a row than the scorer's per-item limit declares it with ``time_budget``.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

Kind = Literal["correct", "format", "aux"]
KINDS: tuple[str, ...] = ("correct", "format", "aux")


@dataclass(frozen=True)
class VerifyResult:
    """One verifier's verdict on one completion.

    ``score`` is None when the verifier abstains (the row is not for it); a None component is
    left out of the scheme total. ``steps`` optionally gives process-supervision rewards as
    ``(character offset where a reasoning step ends, reward)`` pairs; the trainer maps the
    offsets to token positions (eq. 3.6-3.7).
    """

    score: float | None
    reason: str = ""
    error: str | None = None
    steps: tuple[tuple[int, float], ...] | None = None

    @classmethod
    def abstain(cls, reason: str) -> VerifyResult:
        return cls(score=None, reason=reason)

    @classmethod
    def failure(cls, error: str, reason: str = "") -> VerifyResult:
        """A verdict of 0 because verification itself failed (timeout, crash, bad task field)."""
        return cls(score=0.0, reason=reason or error, error=error)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"score": self.score, "reason": self.reason, "error": self.error}
        if self.steps is not None:
            out["steps"] = [list(s) for s in self.steps]
        return out


@dataclass(frozen=True)
class NoOptions:
    """For verifiers without options."""


class Verifier(ABC):
    """Base class for verifiers. Subclasses set the class attributes and implement ``verify``.

    Options come in as keyword arguments and are validated into ``self.options`` (an instance of
    the subclass's ``Options`` dataclass), so an unknown or mistyped option fails loudly.
    Verifiers must be picklable (they run in worker processes) and cheap to construct; import
    heavy libraries inside ``verify``, not at module import time.
    """

    name: ClassVar[str]
    kind: ClassVar[Kind]
    description: ClassVar[str] = ""
    Options: ClassVar[type] = NoOptions
    #: task fields this verifier reads; a row without them gets an error result
    required_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **options: Any) -> None:
        self.options = build_options(self.Options, options, f"verifier {self.name!r}")

    @abstractmethod
    def verify(self, completion: str, row: Mapping[str, Any]) -> VerifyResult:
        """Score ``completion`` against the task ``row`` (``answer``, ``tests``, ``language``...)."""

    def time_budget(self, row: Mapping[str, Any]) -> float | None:
        """Seconds ``verify`` may need for ``row`` at most, or None for no special need.

        The scorer gives each item the larger of its own per-item timeout and this budget, so
        a verifier that enforces its own limits (a sandbox's per-case timeout) ends a runaway
        completion with its own verdict (score 0, reason ``timeout``) before the scorer kills
        the item as an error. Called in the scoring parent process for every item: keep it
        cheap, and never run the completion here. A budget that raises or is not a positive
        finite number is ignored (the scorer's timeout applies).
        """
        return None

    def __call__(self, completion: str, row: Mapping[str, Any]) -> VerifyResult:
        """``verify`` guarded: missing fields and exceptions become error results, never raise."""
        missing = [f for f in self.required_fields if row.get(f) is None]
        if missing:
            return VerifyResult.failure(f"missing task field {missing[0]!r}")
        try:
            return self.verify(completion, row)
        except Exception as exc:  # a verifier bug costs that item only
            return VerifyResult.failure(f"crash: {type(exc).__name__}: {exc}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.options})"


def build_options(options_cls: type, values: Mapping[str, Any], owner: str) -> Any:
    """Instantiate the ``options_cls`` dataclass from ``values`` with an error naming ``owner``."""
    fields = {f.name for f in dataclasses.fields(options_cls)}
    unknown = sorted(set(values) - fields)
    if unknown:
        known = ", ".join(sorted(fields)) or "none"
        raise ValueError(f"{owner} has no option {unknown[0]!r} (options: {known})")
    try:
        return options_cls(**values)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{owner}: bad options {dict(values)}: {exc}") from exc
