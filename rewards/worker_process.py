"""A scoring worker process: forked from grpokit's own fork server, never re-running __main__.

multiprocessing's ``forkserver`` start method keeps workers free of the parent's state: they
are forked from a fresh interpreter that has only imported the preloaded modules, so no torch or
CUDA state of a training process is ever inherited, and replacing a worker is one cheap fork.
But it prepares every new process as ``spawn`` does, by running the parent's main script again
(as ``__mp_main__``). A top-level script without ``if __name__ == "__main__":`` (how TRL's
examples are written) then runs its whole body in each worker, which fails there ("An attempt
has been made to start a new process before the current process has finished its bootstrapping
phase"), so every item scores 0.

Workers started here get the same preparation (``sys.path``, working directory, ``sys.argv``)
but never import the main module: the script runs once, in the parent. The one exception is a
pool whose verifiers are defined in the main script itself (``needs_main``): their classes
exist nowhere else, so those workers import the script as multiprocessing always did (such a
script needs the ``__main__`` guard, as any multiprocessing code does).

The fork server is private to grpokit (not multiprocessing's shared one), so its preload list is
always ours and other users of the ``forkserver`` start method are unaffected. ``_Popen._launch``
follows ``multiprocessing.popen_forkserver.Popen._launch`` (identical in Python 3.10 to 3.13).

A worker (``worker_main``) initialises once, says ready, then runs the tasks its pipe brings,
one at a time, replying ``("done", id, ok, value)`` for each; it ignores SIGINT (Ctrl-C is for
the parent, which stops its workers itself).
"""

from __future__ import annotations

import io
import os
import pickle
import signal
import threading
from collections.abc import Callable, Sequence
from multiprocessing import forkserver, popen_forkserver, process, spawn, util
from multiprocessing.connection import Connection
from multiprocessing.context import reduction, set_spawning_popen
from types import FunctionType
from typing import Any

#: the preparation-data keys that make a new process import the parent's main module
MAIN_KEYS = ("init_main_from_path", "init_main_from_name")
MAIN_MODULES = ("__main__", "__mp_main__")
STOP_GRACE = 1.0  # seconds between SIGTERM and SIGKILL for a worker being stopped

_SERVER = forkserver.ForkServer()
_PRELOAD_LOCK = threading.Lock()
_preloaded = False


def preload(modules: Sequence[str]) -> None:
    """Modules the fork server imports once, before forking any worker. Only the first call
    counts (the server starts once per process); modules missing from it are imported by each
    worker when it loads its verifiers."""
    global _preloaded
    with _PRELOAD_LOCK:
        if not _preloaded:
            _SERVER.set_forkserver_preload([m for m in modules if m not in MAIN_MODULES])
            _preloaded = True


class _MainSpotter(pickle.Pickler):
    """A pickler that notes whether anything pickled is defined in the main script."""

    uses_main = False

    def reducer_override(self, obj: Any) -> Any:
        owner = obj if isinstance(obj, type | FunctionType) else type(obj)
        if getattr(owner, "__module__", None) in MAIN_MODULES:
            self.uses_main = True
        return NotImplemented


def dumps(obj: Any) -> tuple[bytes, bool]:
    """``obj`` pickled, and whether unpickling it needs the main script's module."""
    buf = io.BytesIO()
    pickler = _MainSpotter(buf, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dump(obj)
    return buf.getvalue(), pickler.uses_main


class WorkerDied(Exception):
    """A task's worker died under it, on its first run and on each retry."""

    def __init__(self, exitcode: int | None) -> None:
        self.exitcode = exitcode
        super().__init__(f"{describe_exit(exitcode)}; retried once")


class WorkersCannotStart(RuntimeError):
    """Every worker in a row died before it was ready (bad verifier, missing module...)."""


def describe_exit(code: int | None) -> str:
    """``exit code 3`` / ``killed by SIGKILL``."""
    if code is None:
        return "exit status unknown"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def stop(process: WorkerProcess, grace: float = STOP_GRACE) -> None:
    """Stop a worker: SIGTERM, then SIGKILL after ``grace`` seconds; wait for its end."""
    if process.exitcode is None:
        process.terminate()
        process.join(grace)
        if process.exitcode is None:
            process.kill()
            process.join()
    process.close()


class _Popen(popen_forkserver.Popen):
    """Launches a ``WorkerProcess`` from grpokit's fork server, without the main module."""

    def _launch(self, process_obj: WorkerProcess) -> None:
        prep_data = spawn.get_preparation_data(process_obj._name)
        if not process_obj.needs_main:
            for key in MAIN_KEYS:
                prep_data.pop(key, None)
        buf = io.BytesIO()
        set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            set_spawning_popen(None)
        self.sentinel, w = _SERVER.connect_to_new_process(self._fds)
        # the child watches a duplicate of the data pipe's write end to see the parent die
        _parent_w = os.dup(w)
        self.finalizer = util.Finalize(self, util.close_fds, (_parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class WorkerProcess(process.BaseProcess):
    """A process forked from grpokit's fork server. ``needs_main``: import the parent's main
    script first (only for verifiers defined in it)."""

    _start_method = "forkserver"

    def __init__(self, *args: Any, needs_main: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.needs_main = needs_main

    @staticmethod
    def _Popen(process_obj: WorkerProcess) -> _Popen:  # noqa: N802 - multiprocessing's name
        return _Popen(process_obj)


def worker_main(conn: Connection, initializer: Callable[..., None], payload: bytes) -> None:
    """A worker's life: initialise, say ready, then run one task at a time until its pipe
    closes (the parent stopped it, or is gone: the worker just ends)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        initializer(*pickle.loads(payload))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, then exit
        _send(conn, pickle.dumps(("failed", f"{type(exc).__name__}: {exc}")))
        raise SystemExit(1) from None
    if not _send(conn, pickle.dumps(("ready",))):
        return
    while True:
        try:
            task_id, task = conn.recv()
        except (EOFError, OSError):
            return
        if not _send(conn, _reply(task_id, task)):
            return


def _send(conn: Connection, message: bytes) -> bool:
    """Send one pickled message; False if the parent's end is closed."""
    try:
        conn.send_bytes(message)
    except OSError:
        return False
    return True


def _reply(task_id: int, task: bytes) -> bytes:
    """The pickled ``("done", id, ok, value)`` message for one task; never raises."""
    try:
        fn, args = pickle.loads(task)
        message = ("done", task_id, True, fn(*args))
    except BaseException as exc:  # noqa: BLE001 - a task's failure is its result
        message = ("done", task_id, False, exc)
    try:
        return pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - an unpicklable result or exception
        error = RuntimeError(f"cannot send the result back: {type(exc).__name__}: {exc}")
        return pickle.dumps(("done", task_id, False, error))
