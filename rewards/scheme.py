"""RewardScheme: r = w_correct * r_correct + w_format * r_format + sum_k w_k * r_aux_k (eq. 6.1).

Configured from a mapping or a YAML/TOML file::

    verifiers:
      math:   {weight: 1.0}
      format: {weight: 0.5}
      length: {weight: 0.1, options: {max_length: 2000}}
    format_gate: true      # a completion whose format score is below 1 gets no correctness reward
    timeout: 5             # seconds per item, or a verifier's time_budget(row) if larger
    workers: 2             # scoring processes

or the shorthand ``{"math": 1.0, "format": 0.5}``. A component that abstains (score None) is
left out of the total. A NaN or infinite score is turned into an error result, never a reward.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rewards.plugins import Plugins, get_plugins
from rewards.scoring import DEFAULT_TIMEOUT, BatchScorer, Timed
from rewards.verifier import Verifier

SCHEME_KEYS = {"verifiers", "format_gate", "timeout", "workers"}


@dataclass(frozen=True)
class Component:
    """One verifier in a scheme, with its weight."""

    name: str
    weight: float
    verifier: Verifier

    @property
    def kind(self) -> str:
        return self.verifier.kind


@dataclass
class ScoredBatch:
    """Per-row totals and per-component verdicts of one scoring call."""

    totals: list[float]
    components: dict[str, list[Timed]]
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)

    def scores(self, name: str) -> list[float | None]:
        return [t.result.score for t in self.components[name]]

    def errors(self) -> dict[str, int]:
        return {n: sum(t.result.error is not None for t in ts) for n, ts in self.components.items()}

    def steps(self, row: int) -> list[tuple[int, float]]:
        """Process-supervision steps of one row from all components, weighted, by offset."""
        out: list[tuple[int, float]] = []
        for name, timed in self.components.items():
            steps = timed[row].result.steps
            if steps:
                out += [(offset, self.weights[name] * r) for offset, r in steps]
        return sorted(out)


class RewardScheme:
    """Weighted sum of verifier scores (eq. 6.1), scored in worker processes with timeouts.

    ``timeout`` is the per-item limit in seconds; an item whose verifier declares a larger
    ``time_budget(row)`` gets that budget instead (``BatchScorer``), so a runaway completion
    ends as the verifier's own verdict, not as a scorer timeout error."""

    def __init__(
        self,
        components: Sequence[Component],
        *,
        format_gate: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        workers: int | None = None,
    ) -> None:
        if not components:
            raise ValueError("a reward scheme needs at least one verifier")
        self.components = list(components)
        self.format_gate = format_gate
        if format_gate and not any(c.kind == "format" for c in self.components):
            raise ValueError("format_gate is set but the scheme has no format verifier")
        self.scorer = BatchScorer(
            {c.name: c.verifier for c in self.components}, workers=workers, timeout=timeout
        )

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], *, plugins: Plugins | None = None, **overrides: Any
    ) -> RewardScheme:
        """Build from a mapping (full form or ``{name: weight}`` shorthand)."""
        plugins = plugins or get_plugins()
        config = normalise_config(config)
        components = []
        for name, spec in config["verifiers"].items():
            verifier = plugins.verifier(name, **spec.get("options", {}))
            components.append(Component(name, float(spec.get("weight", 1.0)), verifier))
        settings = {k: config[k] for k in ("format_gate", "timeout", "workers") if k in config}
        settings.update({k: v for k, v in overrides.items() if v is not None})
        return cls(components, **settings)

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> RewardScheme:
        return cls.from_config(load_config_file(path), **kwargs)

    # -- scoring ----------------------------------------------------------------------------

    def score(
        self,
        completions: Sequence[str],
        rows: Sequence[Mapping[str, Any]],
        on_done: Any = None,
    ) -> ScoredBatch:
        """Score each completion against its row; totals follow eq. 6.1."""
        names = [c.name for c in self.components]
        return self.combine(self.scorer.score(names, completions, rows, on_done=on_done))

    def submit(
        self, completions: Sequence[str], rows: Sequence[Mapping[str, Any]]
    ) -> dict[str, list[Future]]:
        """Start scoring every completion with every component without waiting; turn each
        future into a ``Timed`` with ``self.scorer.result`` and the results into totals with
        ``combine`` (for callers that use rows as they finish)."""
        return self.scorer.submit([c.name for c in self.components], completions, rows)

    def combine(self, results: Mapping[str, list[Timed]]) -> ScoredBatch:
        """Eq. 6.1 totals of per-component results (every component, the same rows)."""
        results = dict(results)
        n = len(results[self.components[0].name])
        weights = {c.name: c.weight for c in self.components}
        by_kind = {k: [0.0] * n for k in ("correct", "format", "aux")}
        for c in self.components:
            for i, timed in enumerate(results[c.name]):
                if timed.result.score is not None:
                    by_kind[c.kind][i] += c.weight * timed.result.score
        if self.format_gate:
            for i in range(n):
                if not self._format_ok(results, i):
                    by_kind["correct"][i] = 0.0
        totals = [sum(by_kind[k][i] for k in by_kind) for i in range(n)]
        return ScoredBatch(totals, results, by_kind, weights)

    @property
    def can_prefetch(self) -> bool:
        """Whether ``prefetch`` is available (scoring runs in worker processes)."""
        return self.scorer.workers > 0

    def prefetch(self, position: int, completion: str, row: Mapping[str, Any]) -> list[Future]:
        """Start scoring one completion in the worker processes now, for the next ``score``
        call that holds the same completion and row at ``position`` (it then waits for these
        results instead of scoring the item again). Returns the item's futures, one per
        component. Results are the same as without prefetching; only the timing changes."""
        names = [c.name for c in self.components]
        return self.scorer.prefetch(position, names, completion, row)

    def _format_ok(self, results: Mapping[str, list[Timed]], row: int) -> bool:
        return all(
            results[c.name][row].result.score in (None, 1.0)
            for c in self.components
            if c.kind == "format"
        )

    def close(self) -> None:
        self.scorer.close()

    def __enter__(self) -> RewardScheme:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self) -> str:
        terms = " + ".join(f"{c.weight:g}*{c.name}[{c.kind}]" for c in self.components)
        return f"r = {terms}" + (" (format gates correctness)" if self.format_gate else "")


def normalise_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Accept ``{name: weight}`` or the full form; reject unknown keys with a clear error."""
    if "verifiers" not in config:
        config = {"verifiers": dict(config)}
    unknown = set(config) - SCHEME_KEYS
    if unknown:
        raise ValueError(
            f"unknown reward scheme key {sorted(unknown)[0]!r} (keys: {', '.join(sorted(SCHEME_KEYS))})"
        )
    verifiers = config["verifiers"]
    if isinstance(verifiers, str | list | tuple):  # "math,format" or ["math", "format"]
        names = verifiers.split(",") if isinstance(verifiers, str) else verifiers
        verifiers = {n.strip(): {} for n in names if n.strip()}
    out: dict[str, dict[str, Any]] = {}
    for name, spec in dict(verifiers).items():
        if isinstance(spec, int | float):
            spec = {"weight": spec}
        elif spec is None:
            spec = {}
        if not isinstance(spec, Mapping) or set(spec) - {"weight", "options"}:
            raise ValueError(
                f"verifier {name!r} in the scheme: expected a weight or "
                f"{{weight: ..., options: {{...}}}}, got {spec!r}"
            )
        out[name] = dict(spec)
    return {**config, "verifiers": out}


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML, TOML or JSON scheme file, naming the file in any error."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read reward scheme {path}: {exc.strerror}") from exc
    try:
        if path.suffix == ".toml":
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                import tomli as tomllib
            data = tomllib.loads(text)
        elif path.suffix == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:
        raise ValueError(f"{path}: not valid {path.suffix.lstrip('.') or 'YAML'}: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: a reward scheme must be a mapping, got {type(data).__name__}")
    return dict(data)
