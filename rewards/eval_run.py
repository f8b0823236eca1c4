"""Scoring the rows of ``grpo eval`` as they finish, so an interrupted run keeps its work.

Every row is submitted to the scoring workers at once and collected in input order; a row is
written to the results file (one JSON line, flushed) as soon as all its verifiers have finished.
A SIGINT or SIGTERM (``StopSignals``) ends the wait at once: every row finished by then, in
order or not, is written too, and the caller summarises what finished. Output is strict JSON
(``allow_nan=False``): a NaN or infinite number is never written.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from rewards.evaluate import result_row
from rewards.scheme import RewardScheme
from rewards.scoring import Timed

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def dump(obj: Any, **kwargs: Any) -> str:
    """JSON text of ``obj``; NaN and infinities are refused (they are not JSON)."""
    return json.dumps(obj, allow_nan=False, **kwargs)


class StopSignals:
    """SIGINT and SIGTERM stop ``score_rows`` between two rows, never inside one.

    As a context manager in the main thread it installs its handler (and restores the old ones
    on exit). While ``score_rows`` waits for scores, a signal ends the wait at once; while it
    records a finished row, the signal is only noted and the run stops after that row. Later
    signals are noted only, so saving the partial results is not interrupted. Elsewhere (another
    thread, or not entered) nothing is installed and a KeyboardInterrupt that arrives while
    waiting counts as SIGINT.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self.waiting = False
        self._old: dict[int, Any] = {}

    @property
    def name(self) -> str | None:
        """``SIGINT`` / ``SIGTERM`` once one arrived, else None."""
        return None if self.signum is None else signal.Signals(self.signum).name

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            self._old = {sig: signal.signal(sig, self._handle) for sig in STOP_SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
        self._old = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is not None:
            return
        self.signum = signum
        if self.waiting:
            self.waiting = False
            raise KeyboardInterrupt


@dataclass
class Finished:
    """The rows scored so far (input line, row) and their per-verifier results, aligned."""

    rows: list[tuple[int, dict]] = field(default_factory=list)
    results: dict[str, list[Timed]] = field(default_factory=dict)


class RowRecorder:
    """Appends finished rows to ``Finished`` and to the results file, once each."""

    def __init__(self, scheme: RewardScheme, sink: TextIO | None, names: list[str]) -> None:
        self.scheme, self.sink, self.names = scheme, sink, names
        self.finished = Finished([], {n: [] for n in names})
        self.recorded: set[int] = set()

    def record(self, index: int, row: tuple[int, dict], timed: dict[str, Timed]) -> None:
        total = self.scheme.combine({n: [timed[n]] for n in self.names}).totals[0]
        if self.sink is not None:
            self.sink.write(dump(result_row(row[0], row[1], timed, total)) + "\n")
            self.sink.flush()
        self.recorded.add(index)
        self.finished.rows.append(row)
        for n in self.names:
            self.finished.results[n].append(timed[n])


def score_rows(
    scheme: RewardScheme,
    rows: list[tuple[int, dict]],
    sink: TextIO | None,
    stop: StopSignals,
    advance: Callable[[int], None] = lambda n: None,
) -> Finished:
    """Score ``rows`` (line, row), writing each finished row to ``sink``; stop early (keeping
    every finished row) when ``stop`` receives a signal. ``advance(n)``: n more items done."""
    futures = scheme.submit([r["completion"] for _, r in rows], [r for _, r in rows])
    names = list(futures)
    recorder = RowRecorder(scheme, sink, names)
    for i, row in enumerate(rows):
        if stop.signum is not None:
            break
        try:
            stop.waiting = True
            timed = {n: scheme.scorer.result(futures[n][i]) for n in names}
        except KeyboardInterrupt:
            stop.signum = stop.signum or signal.SIGINT
            break
        finally:
            stop.waiting = False
        recorder.record(i, row, timed)
        advance(len(names))
    if stop.signum is not None:  # keep every row that finished, wherever it is
        for i, row in enumerate(rows):
            done = [futures[n][i] for n in names]
            if i not in recorder.recorded and all(f.done() and not f.cancelled() for f in done):
                recorder.record(i, row, {n: scheme.scorer.result(futures[n][i]) for n in names})
    return recorder.finished
