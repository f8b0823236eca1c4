"""The ``local`` backend: a bubblewrap process sandbox with a pool of pre-forked workers.

Each pool slot is one long-lived ``bwrap`` running a small Python "zygote" as PID 1 of its
own PID namespace (see ``sandboxes._zygote``). A run costs one ``fork()`` inside the slot, not
a new bwrap and interpreter. ``fast=False`` starts a fresh bwrap per run instead (for
comparison, or when one interpreter per run is wanted).

What the program gets: no network at all (own empty network namespace: no loopback of the
host, no abstract unix sockets of the host, no Docker socket), a private writable tmpfs
``/tmp`` as its working directory and only writable place, read-only system directories and
interpreter prefix, no home directories, no host ``/tmp`` or ``/dev/shm``, only its own
processes in ``/proc``, no controlling terminal, a scrubbed environment, an unprivileged uid
(see ``sandboxes.local_bwrap``), rlimits for CPU, address space, processes, file size and
open files, capped stdout/stderr, and a wall-clock limit on the whole process tree.

Thread-safe: concurrent ``run()`` calls take slots from a queue. A slot whose worker dies or
stops answering is killed and replaced on next use. ``close()`` (also run at interpreter
exit) kills every slot and waits until its processes are gone.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import queue
import threading
import time
import weakref
from collections.abc import Mapping
from pathlib import PurePosixPath

from sandboxes.base import Limits, RunResult, Sandbox
from sandboxes.local_bwrap import BwrapPlan, find_bwrap, host_python
from sandboxes.local_slot import Slot, SlotDied
from sandboxes.local_verdict import host_timeout_result, to_result, worker_died_result


def _check_limits(limits: Limits) -> None:
    if not isinstance(limits, Limits):
        raise TypeError(f"limits must be a sandboxes.Limits, not {type(limits).__name__}")
    for field in dataclasses.fields(limits):
        value = getattr(limits, field.name)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ValueError(f"Limits.{field.name} must be a positive number, got {value!r}")


def _encode_files(files: Mapping[str, str | bytes] | None) -> dict[str, list[str]]:
    encoded: dict[str, list[str]] = {}
    for name, data in (files or {}).items():
        parts = PurePosixPath(name).parts if isinstance(name, str) else ()
        if not parts or name.startswith("/") or "\x00" in name or {".", ".."} & set(parts):
            raise ValueError(f"files: {name!r} is not a relative path inside the work dir")
        if isinstance(data, str):
            try:
                data = data.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError(f"files[{name!r}]: text is not valid UTF-8: {exc}") from None
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"files[{name!r}] must be str or bytes, not {type(data).__name__}")
        encoded[name] = ["b64", base64.b64encode(bytes(data)).decode("ascii")]
    return encoded


class _Pool:
    """Slots handed out through a queue; a ``None`` entry is a slot not (re)started yet."""

    def __init__(self, plan: BwrapPlan, size: int, fast: bool) -> None:
        self._plan, self._fast, self._size = plan, fast, size
        self._idle: queue.Queue[Slot | None] = queue.Queue()
        for _ in range(size):
            self._idle.put(None)
        self._live: set[Slot] = set()
        self._lock = threading.Lock()
        self.closed = False

    def _start(self, one_shot: bool) -> Slot:
        slot = Slot(self._plan, one_shot=one_shot)
        with self._lock:
            if not self.closed:
                self._live.add(slot)
                return slot
        slot.kill()
        raise RuntimeError("the local sandbox was closed")

    def _discard(self, slot: Slot | None) -> None:
        if slot is not None:
            with self._lock:
                self._live.discard(slot)
            slot.kill()

    def warm(self) -> None:
        """Start one slot now, so a host that cannot sandbox fails at construction."""
        slot = self._idle.get()
        try:
            slot = slot or self._start(one_shot=False)
        finally:
            self._idle.put(slot)

    def execute(self, request: dict, budget: float) -> dict:
        """Run ``request`` on a slot; raise TimeoutError or SlotDied(started=True)."""
        if not self._fast:
            slot = self._start(one_shot=True)
            try:
                return slot.run(request, time.monotonic() + budget)
            finally:
                self._discard(slot)
        slot = self._idle.get()
        try:
            for _ in range(3):
                if self.closed:
                    raise RuntimeError("the local sandbox was closed")
                if slot is None or not slot.alive():
                    self._discard(slot)
                    slot = None
                    slot = self._start(one_shot=False)
                try:
                    return slot.run(request, time.monotonic() + budget)
                except (SlotDied, TimeoutError) as exc:
                    self._discard(slot)
                    slot = None
                    if not isinstance(exc, SlotDied) or exc.started:
                        raise
            raise SlotDied("sandbox workers kept dying before the run started", started=True)
        finally:
            if self.closed:
                self._discard(slot)
                slot = None
            self._idle.put(slot)

    def worker_pids(self) -> list[int]:
        with self._lock:
            return [s.worker_pid for s in self._live if s.worker_pid is not None and s.alive()]

    def close(self) -> None:
        """Kill every slot. Idle slots are released here; a slot in use is only terminated
        (its pipes stay open) and released by the thread running on it."""
        with self._lock:
            self.closed = True
            busy = set(self._live)
        while True:
            try:
                idle = self._idle.get_nowait()
            except queue.Empty:
                break
            if idle is not None:
                busy.discard(idle)
                self._discard(idle)
        for slot in busy:
            slot.terminate()
        for _ in range(self._size):
            self._idle.put(None)  # wake callers waiting for a slot: they see ``closed``


class LocalSandbox(Sandbox):
    """bubblewrap sandbox with a pool of pre-forked workers (``fast=False``: bwrap per run)."""

    name = "local"

    def __init__(
        self,
        *,
        pool_size: int | None = None,
        fast: bool = True,
        limits: Limits | None = None,
        python: str | None = None,
        tmp_size_mb: int = 256,
        grace_seconds: float = 2.0,
    ) -> None:
        pool_size = (os.cpu_count() or 1) if pool_size is None else pool_size
        if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
            raise ValueError(f"LocalSandbox: pool_size must be an int >= 1, got {pool_size!r}")
        if not isinstance(tmp_size_mb, int) or tmp_size_mb < 1:
            raise ValueError(f"LocalSandbox: tmp_size_mb must be an int >= 1, got {tmp_size_mb!r}")
        if not grace_seconds > 0:
            raise ValueError(f"LocalSandbox: grace_seconds must be > 0, got {grace_seconds!r}")
        self.limits = limits if limits is not None else Limits()
        _check_limits(self.limits)
        self.pool_size, self.fast, self.grace_seconds = pool_size, fast, float(grace_seconds)
        plan = BwrapPlan(find_bwrap(), host_python(python), os.geteuid() == 0, tmp_size_mb)
        self._as_root = plan.as_root
        self._pool = _Pool(plan, pool_size, fast)
        self._finalizer = weakref.finalize(self, self._pool.close)
        if fast:
            self._pool.warm()
        else:  # one throwaway start: fail now, with bwrap's message, if the host cannot sandbox
            Slot(plan, one_shot=True).kill()

    def run(
        self,
        source: str,
        *,
        stdin: str = "",
        files: Mapping[str, str | bytes] | None = None,
        limits: Limits | None = None,
        guests: bool = False,
    ) -> RunResult:
        """Run ``source`` as ``python main.py`` would, with ``files`` in its working directory
        (``guests``: see ``Sandbox.run``)."""
        if not isinstance(source, str):
            raise TypeError(f"source must be str, not {type(source).__name__}")
        if not isinstance(stdin, str):
            raise TypeError(f"stdin must be str, not {type(stdin).__name__}")
        limits = limits if limits is not None else self.limits
        _check_limits(limits)
        if self._pool.closed:
            raise RuntimeError("the local sandbox was closed")
        wire = dataclasses.asdict(limits)
        if not self._as_root:
            wire["max_processes"] += 1  # the zygote shares the run's uid in userns mode
        request = {"source": source, "stdin": stdin, "files": _encode_files(files), "limits": wire}
        request["guests"] = bool(guests)
        start = time.monotonic()
        try:
            report = self._pool.execute(request, limits.wall_seconds + self.grace_seconds)
        except TimeoutError:
            return host_timeout_result(time.monotonic() - start)
        except SlotDied as exc:
            if self._pool.closed:
                raise RuntimeError("the local sandbox was closed during the run") from None
            return worker_died_result(time.monotonic() - start, str(exc))
        return to_result(report, limits, time.monotonic() - start)

    def worker_pids(self) -> list[int]:
        """Host pids of the live workers (each the PID 1 of its slot's PID namespace)."""
        return self._pool.worker_pids()

    def close(self) -> None:
        """Kill every worker and wait until its processes are gone. Idempotent."""
        self._finalizer()
