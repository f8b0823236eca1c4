"""A bounded pool of warm sandbox containers, shared by the threads of one sandbox.

At most ``size`` containers live at once. A run takes an idle container whose spec matches
its limits, or starts one if there is room, or evicts an idle container of another spec, or
waits. A container that cannot be trusted any more (timed out, left processes behind, died)
is discarded: removed in the background while a fresh one takes its slot. ``close`` removes
every container this pool ever started, including ones still busy.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sandboxes.base import SandboxUnavailable
from sandboxes.docker_container import ContainerSpec, PooledContainer, Resources, start_container
from sandboxes.docker_owner import SESSION_LABEL, labelled_containers, remove_container

log = logging.getLogger(__name__)


class ContainerPool:
    """Warm containers for one sandbox object; thread-safe."""

    def __init__(
        self,
        client: Any,
        size: int,
        labels: dict[str, str],
        default: tuple[ContainerSpec, Resources],
    ):
        self._client, self._size, self._labels, self._default = client, size, labels, default
        self._cond = threading.Condition()
        self._idle: list[PooledContainer] = []
        self._slots = 0  # containers alive or being started
        self._live: dict[str, PooledContainer] = {}  # every started, not yet removed container
        self._closed = False
        self._jobs = ThreadPoolExecutor(max_workers=2, thread_name_prefix="grpokit-docker-pool")
        self.errors: list[str] = []  # failures of background starts, newest last

    @property
    def session(self) -> str:
        return self._labels[SESSION_LABEL]

    def warm(self) -> None:
        """Start containers of the default spec in the background until the pool is full."""
        with self._cond:
            missing = self._size - self._slots
            self._slots += missing
        for _ in range(missing):
            self._background(self._refill)

    def acquire(self, spec: ContainerSpec, resources: Resources) -> PooledContainer:
        """An idle container for ``spec``, started (with ``resources``) or waited for."""
        victim = None
        with self._cond:
            while True:
                if self._closed:
                    raise SandboxUnavailable("the docker sandbox is closed")
                for index, pooled in enumerate(self._idle):
                    if pooled.spec == spec:
                        return self._idle.pop(index)
                if self._slots < self._size:
                    self._slots += 1
                    break
                if self._idle:  # room for our spec: give up the oldest idle one of another
                    victim = self._idle.pop(0)
                    break
                self._cond.wait()
        if victim is not None:
            self._background(self._remove, victim)
        try:
            return self.start(spec, resources)
        except BaseException:
            self._free_slot()
            raise

    def release(self, pooled: PooledContainer) -> None:
        """Give back a container that is clean and may run the next program."""
        with self._cond:
            if not self._closed:
                self._idle.append(pooled)
                self._cond.notify_all()
                return
        self._remove(pooled)

    def discard(self, pooled: PooledContainer) -> None:
        """Remove an untrusted or dead container; a fresh default one takes its slot."""
        self._background(self._remove, pooled)
        with self._cond:
            closed = self._closed
        if closed:
            self._free_slot()
        else:
            self._background(self._refill)

    def start(self, spec: ContainerSpec, resources: Resources) -> PooledContainer:
        """Start a container outside the pool's accounting (it is still removed by close)."""
        import docker.errors

        try:
            pooled = start_container(self._client, spec, resources, self._labels)
        except (docker.errors.DockerException, RuntimeError) as error:
            raise SandboxUnavailable(
                f"cannot start a sandbox container from image {spec.image!r}: {error}"
            ) from error
        with self._cond:
            closed = self._closed
            if not closed:
                self._live[pooled.id] = pooled
        if closed:
            pooled.remove()
            raise SandboxUnavailable("the docker sandbox is closed")
        return pooled

    def remove_now(self, pooled: PooledContainer) -> None:
        self._remove(pooled)

    def close(self) -> None:
        """Remove every container of this pool (idle, busy and labelled strays). Idempotent."""
        with self._cond:
            self._closed = True
            self._idle.clear()
            self._cond.notify_all()
        self._jobs.shutdown(wait=True)
        with self._cond:
            doomed = list(self._live.values())
        threads = [threading.Thread(target=self._remove, args=(p,)) for p in doomed]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self._remove_strays()

    def _remove_strays(self) -> None:
        """Containers of this session that never made it into the books (failed starts)."""
        try:
            for info in labelled_containers(self._client, f"{SESSION_LABEL}={self.session}"):
                remove_container(self._client, info["Id"])
        except Exception as error:  # noqa: BLE001 - best effort; the reaper gets them later
            log.warning("docker sandbox: could not remove stray containers: %s", error)

    def _refill(self) -> None:
        """Start a default-spec container into an already reserved slot."""
        try:
            pooled = self.start(*self._default)
        except SandboxUnavailable as error:
            self.errors.append(str(error))
            self._free_slot()
            return
        self.release(pooled)

    def _remove(self, pooled: PooledContainer) -> None:
        try:
            pooled.remove()
        except Exception as error:  # noqa: BLE001 - logged; close() and the reaper retry
            log.warning("docker sandbox: could not remove %s: %s", pooled.id[:12], error)
        with self._cond:
            self._live.pop(pooled.id, None)

    def _free_slot(self) -> None:
        with self._cond:
            self._slots -= 1
            self._cond.notify_all()

    def _background(self, job: Any, *args: Any) -> None:
        """Run ``job`` on the pool's workers, or right here when they are gone (shutdown)."""
        try:
            self._jobs.submit(job, *args)
        except RuntimeError:
            job(*args)
