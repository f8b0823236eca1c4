"""The ``docker`` sandbox backend: untrusted Python in locked-down, reused containers.

Every container has no network (``network_mode="none"``), a read-only root filesystem, tmpfs
scratch dirs, memory/pids limits and nofile/fsize/msgqueue ulimits, no new privileges and no
host mounts at all. Each run is one ``docker exec`` of the local backend's zygote
(``docker_zygote``), with the local backend's guarantees: the program runs as ``nobody``
(65534), its guests as 65532, in fresh isolated interpreters; the zygote is the only process
holding the exec's streams; the local seccomp policy is stacked on Docker's default profile;
the scratch dirs and IPC tables are wiped as each uid and checked empty before and after the
run. With ``reuse=True`` (default) a pool of ``pool_size`` warm containers is shared by all
threads, one run at a time per container; after each run the host also checks from the
container's cgroup that nothing but PID 1 is left, and replaces a container that is not clean
(``docker_verdict``). ``reuse=False`` starts and removes one container per run (the cold
baseline the benchmark compares against).

Containers are labelled with their owner process: ``close()`` (also run at interpreter exit)
removes them; if the owner dies without closing (a scoring worker killed by its timeout), its
watchdog process removes them at once (``docker_watchdog``); and every new sandbox first reaps
the containers of owners that died.

The default image is built locally by ``sandboxes/docker_image/build.sh``.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Mapping
from typing import Any

from sandboxes.base import Limits, RunResult, Sandbox, SandboxUnavailable
from sandboxes.docker_container import ContainerSpec, Resources
from sandboxes.docker_exec import build_request, request_frame, run_exec
from sandboxes.docker_owner import SESSION_LABEL, new_session_labels, reap_orphans
from sandboxes.docker_pool import ContainerPool
from sandboxes.docker_verdict import container_verdict
from sandboxes.docker_watchdog import Watchdog

DEFAULT_IMAGE = "grpokit-sandbox:latest"
BUILD_HINT = "build it with `sudo bash sandboxes/docker_image/build.sh` (or `make system`)"


def _docker_module() -> Any:
    try:
        import docker
    except ImportError as error:
        raise SandboxUnavailable(
            "the docker backend needs the Docker SDK for Python: pip install 'docker>=7'"
        ) from error
    return docker


def _connect(docker: Any, timeout: int) -> Any:
    """A client of the engine from the environment (``DOCKER_HOST``...). On a local unix
    socket, requests does not look up proxy variables for every call (no proxy applies)."""
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except docker.errors.DockerException as error:
        raise SandboxUnavailable(
            f"no Docker engine answers ({error}); start one (as root: "
            "`bash sandboxes/setup-host.sh` starts dockerd) or set DOCKER_HOST"
        ) from error
    if str(client.api.base_url).startswith("http+docker://"):
        client.api.trust_env = False
    return client


def check_limits(limits: Limits) -> Limits:
    """Return ``limits`` if wall_seconds is a positive number and the rest positive integers."""
    if not isinstance(limits, Limits):
        raise TypeError(f"limits must be a sandboxes.base.Limits, got {type(limits).__name__}")
    for item in dataclasses.fields(limits):
        value = getattr(limits, item.name)
        kinds = (int, float) if item.name == "wall_seconds" else (int,)
        if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0:
            kind = "number" if item.name == "wall_seconds" else "integer"
            raise ValueError(f"limits.{item.name} must be a positive {kind}, got {value!r}")
    return limits


class DockerSandbox(Sandbox):
    """Runs untrusted Python in Docker containers built from a locally built image."""

    name = "docker"

    def __init__(
        self,
        image: str = DEFAULT_IMAGE,
        pool_size: int = 2,
        reuse: bool = True,
        limits: Limits | None = None,
        tmpfs_mb: int = 64,
        api_timeout: int = 60,
    ) -> None:
        if not isinstance(image, str) or not image:
            raise ValueError(f"image must be a non-empty image name, got {image!r}")
        for option, value in (("pool_size", pool_size), ("tmpfs_mb", tmpfs_mb)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{option} must be an integer >= 1, got {value!r}")
        self.image, self.pool_size, self.reuse, self.tmpfs_mb = image, pool_size, reuse, tmpfs_mb
        self.limits = check_limits(limits or Limits())
        self._docker = _docker_module()
        self._client = _connect(self._docker, api_timeout)
        self._check_image()
        self.reaped = reap_orphans(self._client)  # containers of crashed owners, removed
        default = (self._spec(self.limits), Resources.from_limits(self.limits))
        labels = new_session_labels()
        self._watchdog = Watchdog.start(labels[SESSION_LABEL])  # removes them if we die
        self._pool = ContainerPool(self._client, pool_size, labels, default)
        self._finalizer = weakref.finalize(self, _close, self._pool, self._watchdog)
        if reuse:
            self._pool.warm()

    @property
    def session(self) -> str:
        """The value of the ``grpokit.sandbox`` label on this sandbox's containers."""
        return self._pool.session

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
        (``guests``: see ``Sandbox.run``); one ``docker exec`` of the zygote (``docker_zygote``)."""
        limits = check_limits(limits or self.limits)
        request = build_request(source, stdin, files, limits, guests)
        spec, resources = self._spec(limits), Resources.from_limits(limits, guests)
        if not self.reuse:
            return self._run_cold(spec, resources, request, limits)
        failures: list[str] = []
        for _ in range(self.pool_size + 2):
            pooled = self._pool.acquire(spec, resources)
            try:
                pooled.resize(resources)
                frame = request_frame(request, pooled.nproc)
                outcome = run_exec(self._client.api, pooled.id, frame, limits)
            except self._docker.errors.APIError as error:  # dead container: try another
                failures.append(str(error))
                self._pool.discard(pooled)
                continue
            except (OSError, self._docker.errors.DockerException) as error:  # engine gone
                self._pool.discard(pooled)
                raise SandboxUnavailable(f"the Docker engine stopped answering: {error}") from error
            except BaseException:
                self._pool.discard(pooled)
                raise
            if not outcome.started and not outcome.host_timeout:  # the request never ran
                failures.append(outcome.broken or outcome.diagnostics or "no zygote answered")
                self._pool.discard(pooled)
                continue
            result, reusable = container_verdict(pooled, outcome, limits)
            (self._pool.release if reusable else self._pool.discard)(pooled)
            return result
        raise SandboxUnavailable(f"no sandbox container could start the program: {failures[-1]}")

    def close(self) -> None:
        """Remove every container of this sandbox. Idempotent; also runs at interpreter exit."""
        self._finalizer()

    def _check_image(self) -> None:
        try:
            self._client.images.get(self.image)
        except self._docker.errors.ImageNotFound:
            raise SandboxUnavailable(
                f"the docker sandbox image {self.image!r} is not present (images are never "
                f"pulled); {BUILD_HINT}"
            ) from None
        except self._docker.errors.DockerException as error:
            raise SandboxUnavailable(f"cannot inspect image {self.image!r}: {error}") from error

    def _spec(self, limits: Limits) -> ContainerSpec:
        return ContainerSpec.from_limits(self.image, limits, self.tmpfs_mb)

    def _run_cold(
        self, spec: ContainerSpec, resources: Resources, request: dict, limits: Limits
    ) -> RunResult:
        """One fresh container for this run only: started, used once, removed."""
        pooled = self._pool.start(spec, resources)
        try:
            frame = request_frame(request, pooled.nproc)
            outcome = run_exec(self._client.api, pooled.id, frame, limits)
            if not outcome.started and not outcome.host_timeout:
                detail = outcome.broken or outcome.diagnostics or "no zygote answered"
                raise SandboxUnavailable(f"cold sandbox container failed: {detail}")
            result, _ = container_verdict(pooled, outcome, limits)
        except self._docker.errors.APIError as error:
            raise SandboxUnavailable(f"cold sandbox container failed: {error}") from error
        finally:
            self._pool.remove_now(pooled)
        result.extra["cold"] = True
        return result


def _close(pool: ContainerPool, watchdog: Watchdog) -> None:
    try:
        pool.close()
    finally:
        watchdog.stop()
