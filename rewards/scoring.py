"""Batch scoring in worker processes with a per-item timeout that works from any thread.

Each (verifier, completion, row) item runs in a process of a ``WorkerPool``; an item that
outlives its limit has its worker killed and replaced, and comes back as a timeout error result.
An item's limit is the scorer's ``timeout``, or the verifier's ``time_budget(row)`` when that is
larger: a verifier that bounds its own work (the ``code`` verifier: cases x case limit + a
margin) then answers a runaway completion with its own verdict (score 0, reason ``timeout``)
instead of being killed. No worker death loses work: a worker that dies idle (between
batches, at start-up) is replaced; one that dies under an item (segfault, ``os._exit``, killed
from outside) is replaced and the item is run once more, so a crash costs at most the item that
caused it (``crash: worker died (...)``). Workers are forked from a clean fork server with the
verifier modules preloaded, so replacing one is cheap, no torch or CUDA state of the parent is
ever inherited, and the user's main script is never run again in a worker
(``rewards.worker_process``): an unguarded top-level training script works.

Scoring can also start before the whole batch is known: ``submit`` returns futures without
waiting, and ``prefetch`` starts one item that a later ``score`` call will hold at a given
position. ``score`` reuses a prefetched item when the completion and the row at that position
are the same (else scores it afresh), so prefetching never changes a result, only when the work
is done (the trainer scores completions that have ended while the rest still generate).
"""

from __future__ import annotations

import math
import os
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from rewards.verifier import Verifier, VerifyResult
from rewards.worker_pool import WorkerPool
from rewards.worker_process import WorkerDied

DEFAULT_TIMEOUT = 5.0


@dataclass(frozen=True)
class Timed:
    """A verdict and how long it took (seconds; the item's limit for a timed-out item)."""

    result: VerifyResult
    seconds: float

    @property
    def timed_out(self) -> bool:
        return self.result.error is not None and self.result.error.startswith("timeout")


def checked(result: Any) -> VerifyResult:
    """Reject results that are not a VerifyResult or carry a NaN / infinite score."""
    if not isinstance(result, VerifyResult):
        return VerifyResult.failure(f"crash: verifier returned {type(result).__name__}")
    if result.score is not None and not math.isfinite(result.score):
        return VerifyResult.failure(f"non-finite score {result.score!r}", result.reason)
    return result


def item_timeout(verifier: Verifier, row: Mapping[str, Any], timeout: float) -> float:
    """The larger of ``timeout`` and the verifier's ``time_budget(row)``.

    A budget that raises or is not a positive finite number is ignored: a verifier bug must
    not break scoring (the item still gets ``timeout``)."""
    try:
        budget = verifier.time_budget(row)
    except Exception:  # noqa: BLE001 - a broken budget costs nothing but the extra time
        return timeout
    if isinstance(budget, bool) or not isinstance(budget, int | float):
        return timeout
    if not math.isfinite(budget) or budget <= 0:
        return timeout
    return max(timeout, float(budget))


def run_one(verifier: Verifier, completion: str, row: Mapping[str, Any]) -> Timed:
    """Score one item in this process (no timeout enforcement)."""
    start = time.perf_counter()
    result = checked(verifier(completion, row))
    return Timed(result, time.perf_counter() - start)


_WORKER_VERIFIERS: dict[str, Verifier] = {}


def _init_worker(verifiers: dict[str, Verifier]) -> None:
    _WORKER_VERIFIERS.clear()
    _WORKER_VERIFIERS.update(verifiers)


def _work(name: str, completion: str, row: Mapping[str, Any]) -> Timed:
    return run_one(_WORKER_VERIFIERS[name], completion, row)


@dataclass
class _Prefetched:
    """One item whose scoring started early, by every verifier asked for."""

    completion: str
    row: Mapping[str, Any]
    futures: dict[str, Future]

    def matches(self, completion: str, row: Mapping[str, Any], names: Sequence[str]) -> bool:
        same_row = row is self.row or row == self.row
        return completion == self.completion and same_row and all(n in self.futures for n in names)

    def cancel(self) -> None:
        for future in self.futures.values():
            future.cancel()


class BatchScorer:
    """Scores items with a pool of ``workers`` processes and a per-item ``timeout``.

    Each item may run for ``timeout`` seconds, or for its verifier's ``time_budget(row)`` when
    that is larger (see ``item_timeout``). ``workers=0`` scores inline in the calling thread,
    with no timeout: for debugging only.
    Use as a context manager, or call ``close()``.
    """

    def __init__(
        self,
        verifiers: Mapping[str, Verifier],
        *,
        workers: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        self.verifiers = dict(verifiers)
        self.timeout = timeout
        self.workers = (os.cpu_count() or 1) if workers is None else workers
        self._pool: WorkerPool | None = None
        self._prefetched: dict[int, _Prefetched] = {}
        self._limits: weakref.WeakKeyDictionary[Future, float] = weakref.WeakKeyDictionary()

    def _get_pool(self) -> WorkerPool:
        if self._pool is None or not self._pool.alive:
            modules = sorted({type(v).__module__ for v in self.verifiers.values()})
            self._pool = WorkerPool(
                self.workers,
                _init_worker,
                (self.verifiers,),
                preload_modules=["rewards.scoring", *modules],
            )
        return self._pool

    def worker_pids(self) -> list[int]:
        """Process ids of the scoring workers now running (none before the first item)."""
        return self._pool.pids() if self._pool is not None else []

    def score(
        self,
        names: Sequence[str],
        completions: Sequence[str],
        rows: Sequence[Mapping[str, Any]],
        on_done: Callable[[], None] | None = None,
    ) -> dict[str, list[Timed]]:
        """Score every completion with every verifier in ``names``; results keep input order.
        Items prefetched at the same position with the same completion and row are not scored
        again; every other prefetched item is cancelled."""
        self._check(names, completions, rows)
        prefetched, self._prefetched = self._prefetched, {}
        if self.workers == 0:
            return {n: self._inline(n, completions, rows, on_done) for n in names}
        futures: dict[str, list[Future]] = {n: [] for n in names}
        for i, (c, r) in enumerate(zip(completions, rows, strict=True)):
            item = prefetched.pop(i, None)
            if item is None or not item.matches(c, r, names):
                if item is not None:
                    item.cancel()
                item = _Prefetched(c, r, {n: self._start(n, c, r) for n in names})
            for n in names:
                futures[n].append(item.futures[n])
        for item in prefetched.values():
            item.cancel()
        return self.collect(futures, on_done)

    def submit(
        self, names: Sequence[str], completions: Sequence[str], rows: Sequence[Mapping[str, Any]]
    ) -> dict[str, list[Future]]:
        """Start scoring without waiting; ``collect`` turns the futures into results. With
        ``workers=0`` the items are scored here and now and the futures come back done."""
        self._check(names, completions, rows)
        return {
            n: [self._start(n, c, r) for c, r in zip(completions, rows, strict=True)] for n in names
        }

    def prefetch(
        self, position: int, names: Sequence[str], completion: str, row: Mapping[str, Any]
    ) -> list[Future]:
        """Start scoring one item in the workers now, for a later ``score`` call that holds it
        at ``position``; returns its futures (one per verifier). Needs ``workers > 0``."""
        if self.workers == 0:
            raise ValueError(
                "prefetch needs scoring worker processes (workers > 0): inline scoring would "
                "block the caller"
            )
        self._check(names, [completion], [row])
        old = self._prefetched.pop(position, None)
        if old is not None:
            old.cancel()
        item = _Prefetched(completion, row, {n: self._start(n, completion, row) for n in names})
        self._prefetched[position] = item
        return list(item.futures.values())

    def discard_prefetched(self) -> None:
        """Cancel every prefetched item that no ``score`` call has used."""
        prefetched, self._prefetched = self._prefetched, {}
        for item in prefetched.values():
            item.cancel()

    def collect(
        self, futures: Mapping[str, Sequence[Future]], on_done: Callable[[], None] | None = None
    ) -> dict[str, list[Timed]]:
        """Wait for ``submit``'s futures; a timeout, dead worker or exception becomes an error
        result for that item only."""
        out: dict[str, list[Timed]] = {}
        for n, items in futures.items():
            out[n] = []
            for future in items:
                out[n].append(self.result(future))
                if on_done:
                    on_done()
        return out

    def _check(
        self, names: Sequence[str], completions: Sequence[str], rows: Sequence[Mapping[str, Any]]
    ) -> None:
        if len(completions) != len(rows):
            raise ValueError(f"{len(completions)} completions but {len(rows)} rows")
        unknown = [n for n in names if n not in self.verifiers]
        if unknown:
            raise KeyError(f"verifier {unknown[0]!r} is not loaded in this scorer")

    def _start(self, name: str, completion: str, row: Mapping[str, Any]) -> Future:
        """One item's future: scheduled in the pool, or (``workers=0``) scored right away."""
        if self.workers:
            limit = item_timeout(self.verifiers[name], row, self.timeout)
            future = self._get_pool().submit(_work, (name, completion, row), limit)
            self._limits[future] = limit
            return future
        future: Future = Future()
        try:
            future.set_result(run_one(self.verifiers[name], completion, row))
        except Exception as exc:
            future.set_exception(exc)
        return future

    def _inline(self, name, completions, rows, on_done) -> list[Timed]:
        results = []
        for c, r in zip(completions, rows, strict=True):
            results.append(run_one(self.verifiers[name], c, r))
            if on_done:
                on_done()
        return results

    def result(self, future: Future) -> Timed:
        """Wait for one item's future; a timeout, dead worker or exception becomes an error
        result for that item."""
        try:
            return future.result()
        except FutureTimeout:
            limit = self._limits.get(future, self.timeout)
            return Timed(VerifyResult.failure(f"timeout after {limit:g}s"), limit)
        except WorkerDied as exc:
            return Timed(VerifyResult.failure(f"crash: worker died ({exc})"), 0.0)
        except CancelledError:
            return Timed(VerifyResult.failure("cancelled: the scorer was closed"), 0.0)
        except Exception as exc:  # e.g. an unpicklable row or result
            return Timed(VerifyResult.failure(f"crash: {type(exc).__name__}: {exc}"), 0.0)

    def close(self) -> None:
        self.discard_prefetched()
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self) -> BatchScorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
