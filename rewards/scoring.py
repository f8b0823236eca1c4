"""Batch scoring in worker processes with a per-item timeout that works from any thread.

Each (verifier, completion, row) item runs in a process of a ``pebble`` pool; an item that
outlives ``timeout`` seconds has its worker killed and replaced, and comes back as a timeout
error result. A crashed worker (segfault, ``os._exit``) costs only its item. Workers are forked
from a clean fork server with the verifier modules preloaded, so replacing one is cheap and no
torch or CUDA state of the parent is ever inherited.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from pebble import ProcessExpired, ProcessPool

from rewards.verifier import Verifier, VerifyResult

DEFAULT_TIMEOUT = 5.0


@dataclass(frozen=True)
class Timed:
    """A verdict and how long it took (seconds; the timeout for a timed-out item)."""

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


class BatchScorer:
    """Scores items with a pool of ``workers`` processes and a per-item ``timeout``.

    ``workers=0`` scores inline in the calling thread, with no timeout: for debugging only.
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
        self._pool: ProcessPool | None = None

    def _get_pool(self) -> ProcessPool:
        if self._pool is None:
            ctx = multiprocessing.get_context("forkserver")
            modules = sorted({type(v).__module__ for v in self.verifiers.values()})
            ctx.set_forkserver_preload(["rewards.scoring", *modules])
            self._pool = ProcessPool(
                max_workers=self.workers,
                initializer=_init_worker,
                initargs=(self.verifiers,),
                context=ctx,
            )
        return self._pool

    def score(
        self,
        names: Sequence[str],
        completions: Sequence[str],
        rows: Sequence[Mapping[str, Any]],
        on_done: Callable[[], None] | None = None,
    ) -> dict[str, list[Timed]]:
        """Score every completion with every verifier in ``names``; results keep input order."""
        if len(completions) != len(rows):
            raise ValueError(f"{len(completions)} completions but {len(rows)} rows")
        unknown = [n for n in names if n not in self.verifiers]
        if unknown:
            raise KeyError(f"verifier {unknown[0]!r} is not loaded in this scorer")
        if self.workers == 0:
            return {n: self._inline(n, completions, rows, on_done) for n in names}
        pool = self._get_pool()
        futures = {
            n: [
                pool.schedule(_work, (n, c, r), timeout=self.timeout)
                for c, r in zip(completions, rows, strict=True)
            ]
            for n in names
        }
        out: dict[str, list[Timed]] = {}
        for n, items in futures.items():
            out[n] = []
            for future in items:
                out[n].append(self._collect(future))
                if on_done:
                    on_done()
        return out

    def _inline(self, name, completions, rows, on_done) -> list[Timed]:
        results = []
        for c, r in zip(completions, rows, strict=True):
            results.append(run_one(self.verifiers[name], c, r))
            if on_done:
                on_done()
        return results

    def _collect(self, future: Any) -> Timed:
        try:
            return future.result()
        except FutureTimeout:
            return Timed(VerifyResult.failure(f"timeout after {self.timeout:g}s"), self.timeout)
        except ProcessExpired as exc:
            return Timed(VerifyResult.failure(f"crash: worker died ({exc})"), 0.0)
        except Exception as exc:  # e.g. an unpicklable row or result
            return Timed(VerifyResult.failure(f"crash: {type(exc).__name__}: {exc}"), 0.0)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.stop()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> BatchScorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
