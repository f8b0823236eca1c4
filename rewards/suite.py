"""The TaskSuite interface: a source of task rows (prompt plus task fields) with seeded splits.

Suites are contributed through the ``register_suites`` hook, like verifiers. Each names its
default reward scheme, so ``grpo train --suite NAME`` works with no further configuration.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal

from rewards.verifier import NoOptions, build_options

Split = Literal["train", "test"]


class SuiteError(ValueError):
    """A bad suite row or configuration; the message names the suite, row and field."""


class TaskSuite(ABC):
    """Base class for task suites. Subclasses set ``name`` and implement ``load``."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Options: ClassVar[type] = NoOptions
    #: fields every row must have (``prompt`` plus what the default verifiers read)
    required_fields: ClassVar[tuple[str, ...]] = ("prompt",)

    def __init__(self, **options: Any) -> None:
        self.options = build_options(self.Options, options, f"task suite {self.name!r}")

    @abstractmethod
    def load(self, split: Split, seed: int) -> Iterable[Mapping[str, Any]]:
        """Yield the raw rows of ``split``; the same seed must give the same rows."""

    @abstractmethod
    def default_scheme(self) -> dict[str, Any]:
        """The reward scheme configuration (a RewardScheme mapping) this suite trains with."""

    def rows(self, split: Split, *, seed: int = 0, limit: int | None = None) -> list[dict]:
        """The rows of ``split``, validated: a row missing a required field is a SuiteError."""
        if split not in ("train", "test"):
            raise SuiteError(f"suite {self.name!r}: split must be 'train' or 'test', not {split!r}")
        out: list[dict] = []
        for index, row in enumerate(self.load(split, seed)):
            if limit is not None and index >= limit:
                break
            for field in self.required_fields:
                if row.get(field) in (None, ""):
                    raise SuiteError(
                        f"suite {self.name!r}, {split} row {index}: missing field {field!r}"
                    )
            out.append(dict(row))
        return out
