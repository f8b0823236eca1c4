"""A pool of worker processes that survives any worker death, idle or busy.

Each worker has a pipe of its own and runs its tasks in the order it got them (one running, at
most one more waiting in its pipe so it never idles between tasks), so the pool always knows
which task a dead worker was running. A worker that dies while idle (between batches, at
start-up, killed by the OOM killer or by hand) is replaced and costs nothing. A worker that dies
while running a task is replaced and the task runs once more on a fresh worker: a task that was
only in the wrong place (the worker was killed from outside, a neighbour exhausted memory) is
then scored, and a task that kills its worker again ends as ``WorkerDied``, costing only itself.
Tasks that were only waiting in a dead worker's pipe go back to the queue, uncounted. A task
that outlives its timeout (counted from when it starts), or is cancelled while it runs, has its
worker stopped and replaced.

One manager thread starts workers, hands out tasks and watches pipes, process sentinels and
deadlines, so submitting and waiting work from any thread. Workers are started by
``rewards.worker_process`` (no parent state, no ``__main__`` rerun).
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import pickle
import socket
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from multiprocessing import Pipe
from multiprocessing.connection import Connection, wait
from typing import Any

from pebble import ProcessFuture

from rewards.worker_process import (
    STOP_GRACE,
    WorkerDied,
    WorkerProcess,
    WorkersCannotStart,
    describe_exit,
    dumps,
    preload,
    stop,
    worker_main,
)

RETRIES = 1  # runs of a task after the first, when its worker died under it
START_ATTEMPTS = 3  # workers in a row that may die before saying "ready", then the pool stops
START_BACKOFF = 0.1  # seconds before retrying a failed start, doubled at each failure in a row
MAX_WAIT = 0.5  # seconds the manager sleeps at most between checks
PIPELINE = 2  # tasks a worker holds: the running one and one waiting in its pipe
#: a task waits in a busy worker's pipe only if this small: a pipe never fills, so handing a
#: task over never blocks the manager
PIPELINE_MAX_BYTES = 32 * 1024


@dataclass(eq=False)
class _Task:
    id: int
    future: ProcessFuture
    payload: bytes
    timeout: float | None
    started: bool = False  # its future is marked running
    deaths: int = 0  # workers that died while running it


@dataclass(eq=False)
class _Worker:
    process: WorkerProcess
    conn: Connection
    ready: bool = False
    error: str = ""  # why it could not start, as it reported
    #: handed-over tasks in order: the first is running, the others wait in the pipe
    tasks: deque[_Task] = field(default_factory=deque)
    since: float = 0.0  # when the running task started (time.monotonic)


def _resolve(future: Future, ok: bool, value: Any) -> None:
    """Complete ``future`` unless it was cancelled meanwhile."""
    with contextlib.suppress(InvalidStateError):
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


class WorkerPool:
    """``size`` worker processes, each running ``initializer(*initargs)`` once, then tasks.

    ``submit(fn, args, timeout)`` returns a future (cancellable while it runs) of
    ``fn(*args)`` run in a worker; an exception raised by ``fn`` is the future's exception, a
    timeout is ``concurrent.futures.TimeoutError``, a worker dying under the task twice is
    ``WorkerDied``. ``preload_modules``: modules the fork server imports once.
    """

    def __init__(
        self,
        size: int,
        initializer: Callable[..., None],
        initargs: tuple = (),
        *,
        preload_modules: Sequence[str] = (),
    ) -> None:
        if size < 1:
            raise ValueError(f"a worker pool needs at least one worker, got {size}")
        self.size = size
        self._initializer = initializer
        self._payload, self._needs_main = dumps(initargs)
        preload(["rewards.worker_process", *preload_modules])
        self._lock = threading.Lock()
        self._queue: deque[_Task] = deque()
        self._ids = itertools.count()
        self._workers: list[_Worker] = []
        self._closed = False
        self._crash = ""  # why the manager thread stopped, if by a bug
        self._halted = False  # stopped starting workers until the next submit
        self._start_failures = 0
        self._start_error = ""
        self._next_start = 0.0  # no worker starts before this time (time.monotonic)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_w.setblocking(False)
        self._thread = threading.Thread(target=self._run, name="grpokit-scoring", daemon=True)
        self._thread.start()
        _POOLS.add(self)

    # -- the caller's side --------------------------------------------------------------------

    def submit(self, fn: Callable[..., Any], args: tuple, timeout: float | None) -> Future:
        """Run ``fn(*args)`` in a worker; an unpicklable task fails its future at once."""
        future = ProcessFuture()
        try:
            payload = pickle.dumps((fn, args), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - that task's error, not the caller's
            future.set_exception(exc)
            return future
        with self._lock:
            if self._closed:
                raise RuntimeError(f"the worker pool is closed{self._crash}")
            self._queue.append(_Task(next(self._ids), future, payload, timeout))
            if self._halted:  # workers could not start: try again for this task
                self._halted, self._start_failures = False, 0
        future.add_done_callback(self._wake)  # a cancelled running task frees its worker
        self._wake()
        return future

    @property
    def alive(self) -> bool:
        """Whether the pool takes tasks (not closed, its manager thread running)."""
        return not self._closed

    def pids(self) -> list[int]:
        """Process ids of the current workers (ready or starting)."""
        return [w.process.pid for w in list(self._workers) if w.process.pid is not None]

    def close(self) -> None:
        """Cancel queued and running tasks and stop every worker."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._wake()
        if threading.current_thread() is not self._thread:
            self._thread.join()

    def _wake(self, *_: Any) -> None:
        with contextlib.suppress(OSError):  # full (the manager is awake anyway) or closed
            self._wake_w.send(b"x")

    # -- the manager thread -------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._closed:
                self._start_workers()
                self._dispatch()
                self._watch(self._wait_time())
                self._expire()
        except BaseException as exc:  # a bug here must not leave callers waiting forever
            self._crash = f" (its manager failed: {type(exc).__name__}: {exc})"
            raise
        finally:
            with self._lock:
                self._closed = True
            self._shutdown()

    def _start_workers(self) -> None:
        while len(self._workers) < self.size and not self._halted:
            if self._start_failures >= START_ATTEMPTS:
                self._halted = True
                break
            if time.monotonic() < self._next_start:
                break
            try:
                self._workers.append(self._launch())
            except Exception as exc:  # noqa: BLE001 - e.g. no fork server, out of fds
                self._start_failed(f"{type(exc).__name__}: {exc}")
        if self._halted and not self._workers:
            self._fail_queue(WorkersCannotStart(self._cannot_start_message()))

    def _launch(self) -> _Worker:
        ours, theirs = Pipe(duplex=True)
        process = WorkerProcess(
            target=worker_main,
            args=(theirs, self._initializer, self._payload),
            name="grpokit-scorer",
            needs_main=self._needs_main,
        )
        try:
            process.start()
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        return _Worker(process, ours)

    def _start_failed(self, error: str) -> None:
        """One more worker in a row could not start; the next try waits twice as long (a fork
        server that has just died is replaced once it is gone)."""
        self._start_failures += 1
        self._start_error = error
        self._next_start = time.monotonic() + START_BACKOFF * 2 ** (self._start_failures - 1)

    def _cannot_start_message(self) -> str:
        message = f"scoring workers cannot start: {self._start_error or 'they die at start-up'}"
        if self._needs_main:
            message += (
                " (a verifier defined in the script being run makes each worker import that "
                "script: guard its top level with `if __name__ == '__main__':`, or define the "
                "verifier in a module)"
            )
        return message

    def _dispatch(self) -> None:
        """A task for every idle ready worker, then one more to wait in each busy one's pipe."""
        for depth in range(PIPELINE):
            limit = None if depth == 0 else PIPELINE_MAX_BYTES
            for worker in list(self._workers):
                if worker.ready and len(worker.tasks) == depth:
                    task = self._next_task(limit)
                    if task is None:
                        break
                    self._hand_over(worker, task)

    def _hand_over(self, worker: _Worker, task: _Task) -> None:
        try:
            worker.conn.send((task.id, task.payload))
        except OSError:  # the worker is dead: the task goes back, uncounted
            self._requeue([task])
            self._on_death(worker)
            return
        if not worker.tasks:
            worker.since = time.monotonic()
        worker.tasks.append(task)

    def _next_task(self, max_bytes: int | None) -> _Task | None:
        """The next queued task that is still wanted (marked running when first taken), or None
        (also when it is larger than ``max_bytes``)."""
        with self._lock:
            while self._queue:
                task = self._queue[0]
                if max_bytes is not None and len(task.payload) > max_bytes:
                    return None
                self._queue.popleft()
                if task.started:
                    if not task.future.cancelled():
                        return task
                elif task.future.set_running_or_notify_cancel():
                    task.started = True
                    return task
        return None

    def _requeue(self, tasks: Sequence[_Task]) -> None:
        """Put ``tasks`` back at the front of the queue, in their order."""
        with self._lock:
            self._queue.extendleft(reversed(tasks))

    def _wait_time(self) -> float:
        now, wait_for = time.monotonic(), MAX_WAIT
        if len(self._workers) < self.size and not self._halted:
            wait_for = min(wait_for, self._next_start - now)
        for worker in self._workers:
            if worker.tasks and worker.tasks[0].timeout is not None:
                wait_for = min(wait_for, worker.since + worker.tasks[0].timeout - now)
        return max(0.0, wait_for)

    def _watch(self, timeout: float) -> None:
        """Wait for a message, a worker's end or a wake-up; handle what arrived."""
        waitables: list[Any] = [self._wake_r]
        for worker in self._workers:
            waitables += [worker.conn, worker.process.sentinel]
        ready = set(wait(waitables, timeout))
        if self._wake_r in ready:
            self._wake_r.recv(4096)
        for worker in list(self._workers):
            if worker.conn in ready or worker.process.sentinel in ready:
                self._receive(worker)

    def _receive(self, worker: _Worker) -> None:
        """Handle every message ``worker`` sent; its death if its pipe is closed."""
        try:
            while worker.conn.poll(0):
                self._handle(worker, worker.conn.recv())
        except (EOFError, OSError):
            self._on_death(worker)
            return
        except Exception as exc:  # noqa: BLE001 - a result the parent cannot unpickle
            if worker.tasks:
                self._finish_running(worker, False, exc)
        if worker.process.exitcode is not None:  # ended without closing its pipe first
            self._on_death(worker)

    def _handle(self, worker: _Worker, message: tuple) -> None:
        if message[0] == "ready":
            worker.ready, self._start_failures = True, 0
        elif message[0] == "failed":
            worker.error = message[1]
        elif message[0] == "done" and worker.tasks and worker.tasks[0].id == message[1]:
            self._finish_running(worker, message[2], message[3])

    def _finish_running(self, worker: _Worker, ok: bool, value: Any) -> None:
        """Complete the worker's running task; the next one in its pipe starts now."""
        task = worker.tasks.popleft()
        worker.since = time.monotonic()
        _resolve(task.future, ok, value)

    def _on_death(self, worker: _Worker) -> None:
        """Replace a dead worker (next loop): its running task is retried once (or fails with
        ``WorkerDied``), the tasks waiting in its pipe go back to the queue."""
        self._workers.remove(worker)
        worker.conn.close()
        worker.process.join(STOP_GRACE)
        code = worker.process.exitcode
        stop(worker.process)
        tasks, worker.tasks = list(worker.tasks), deque()
        if tasks:
            tasks[0].deaths += 1
            if tasks[0].deaths > RETRIES:
                _resolve(tasks.pop(0).future, False, WorkerDied(code))
            self._requeue(tasks)
        elif not worker.ready:
            self._start_failed(worker.error or f"a worker ended: {describe_exit(code)}")

    def _expire(self) -> None:
        """Stop the workers of timed-out and cancelled running tasks (they start afresh); the
        tasks waiting behind them go back to the queue."""
        now = time.monotonic()
        for worker in list(self._workers):
            if not worker.tasks:
                continue
            running = worker.tasks[0]
            late = running.timeout is not None and now - worker.since > running.timeout
            if late or running.future.cancelled():
                self._workers.remove(worker)
                worker.conn.close()
                threading.Thread(target=stop, args=(worker.process,), daemon=True).start()
                self._requeue(list(worker.tasks)[1:])
                if late:
                    error = FutureTimeout(f"task timeout {running.timeout}")
                    _resolve(running.future, False, error)

    def _fail_queue(self, error: BaseException) -> None:
        with self._lock:
            tasks, self._queue = list(self._queue), deque()
        for task in tasks:
            if task.started or task.future.set_running_or_notify_cancel():
                _resolve(task.future, False, error)

    def _shutdown(self) -> None:
        with self._lock:
            tasks, self._queue = list(self._queue), deque()
        for task in tasks:
            task.future.cancel()
        workers, self._workers = self._workers, []
        for worker in workers:
            for task in worker.tasks:
                task.future.cancel()
            worker.conn.close()
            if worker.process.exitcode is None:
                worker.process.terminate()
        for worker in workers:
            stop(worker.process)
        self._wake_r.close()
        self._wake_w.close()


_POOLS: weakref.WeakSet[WorkerPool] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """Stop every pool's workers at exit (before multiprocessing waits for its children)."""
    for pool in list(_POOLS):
        pool.close()
