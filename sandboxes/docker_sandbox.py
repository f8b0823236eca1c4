"""The ``docker`` sandbox backend: untrusted Python in locked-down, reused containers.

Every container has no network (``network_mode="none"``), a read-only root filesystem, tmpfs
scratch dirs, memory/pids limits and nofile/fsize ulimits, no capabilities, no new privileges
and no host mounts at all; programs run as ``nobody`` (65534). With ``reuse=True`` (default) a
pool of ``pool_size`` warm containers is shared by all threads; each run is one ``docker exec``
(see ``docker_exec``), after which the host checks from the container's cgroup that nothing
but PID 1 is left, else the container is replaced. ``reuse=False`` starts and removes one
container per run (the cold baseline the benchmark compares against).

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
from sandboxes.docker_container import ContainerSpec, PooledContainer, Resources
from sandboxes.docker_exec import ExecOutcome, build_payload, run_exec
from sandboxes.docker_owner import SESSION_LABEL, new_session_labels, reap_orphans
from sandboxes.docker_pool import ContainerPool
from sandboxes.docker_watchdog import Watchdog

DEFAULT_IMAGE = "grpokit-sandbox:latest"
BUILD_HINT = "build it with `sudo bash sandboxes/docker_image/build.sh` (or `make system`)"
SIGNAL_BASE = 128  # a shell reports "killed by signal n" as exit status 128 + n


def _docker_module() -> Any:
    try:
        import docker
    except ImportError as error:
        raise SandboxUnavailable(
            "the docker backend needs the Docker SDK for Python: pip install 'docker>=7'"
        ) from error
    return docker


def _connect(docker: Any, timeout: int) -> Any:
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except docker.errors.DockerException as error:
        raise SandboxUnavailable(
            f"no Docker engine answers ({error}); start one (as root: "
            "`bash sandboxes/setup-host.sh` starts dockerd) or set DOCKER_HOST"
        ) from error
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
    ) -> RunResult:
        limits = check_limits(limits or self.limits)
        payload = build_payload(source, stdin, files, limits)
        spec, resources = self._spec(limits), Resources.from_limits(limits)
        if not self.reuse:
            return self._run_cold(spec, resources, payload, limits)
        failures: list[str] = []
        for _ in range(self.pool_size + 2):
            pooled = self._pool.acquire(spec, resources)
            try:
                pooled.resize(resources)
                outcome = run_exec(self._client.api, pooled.id, payload, limits)
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
            result, reusable = self._result(pooled, outcome, limits)
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
        self, spec: ContainerSpec, resources: Resources, payload: bytes, limits: Limits
    ) -> RunResult:
        """One fresh container for this run only: started, used once, removed."""
        pooled = self._pool.start(spec, resources)
        try:
            outcome = run_exec(self._client.api, pooled.id, payload, limits)
            result, _ = self._result(pooled, outcome, limits)
        except self._docker.errors.APIError as error:
            raise SandboxUnavailable(f"cold sandbox container failed: {error}") from error
        finally:
            self._pool.remove_now(pooled)
        result.extra["cold"] = True
        return result

    def _result(
        self, pooled: PooledContainer, outcome: ExecOutcome, limits: Limits
    ) -> tuple[RunResult, bool]:
        """Turn what the host saw into a RunResult; also say if the container is reusable."""
        pooled.runs += 1
        status = outcome.status
        signal = None
        exit_code = status
        if outcome.host_timeout or status is None:
            exit_code, signal = None, 9
        elif SIGNAL_BASE < status <= SIGNAL_BASE + 64:
            exit_code, signal = None, status - SIGNAL_BASE
        # Read after every run (a host file read) so that the count never goes stale.
        oom = not outcome.host_timeout and pooled.new_oom_kills()
        stdout = outcome.stdout.decode("utf-8", errors="replace")
        stderr = outcome.stderr.decode("utf-8", errors="replace")
        timed_out = outcome.host_timeout or (
            signal == 9 and not oom and outcome.elapsed >= limits.wall_seconds
        )
        clean = not outcome.host_timeout and status is not None and pooled.only_init_left()
        extra: dict[str, Any] = {"container": pooled.id[:12], "container_runs": pooled.runs}
        if status is None and not outcome.host_timeout:
            extra["container_died"] = True
        result = RunResult(
            stdout=stdout,
            stderr=stderr,
            exit_code=exit_code,
            wall_seconds=outcome.elapsed,
            timed_out=timed_out,
            out_of_memory=bool(oom) or _memory_error(exit_code, stderr),
            output_truncated=outcome.truncated,
            signal=signal,
            extra=extra,
        )
        return result, clean


def _close(pool: ContainerPool, watchdog: Watchdog) -> None:
    try:
        pool.close()
    finally:
        watchdog.stop()


def _memory_error(exit_code: int | None, stderr: str) -> bool:
    """True when Python itself gave up with an uncaught MemoryError."""
    lines = stderr.rstrip().splitlines()
    return exit_code == 1 and bool(lines) and lines[-1].startswith("MemoryError")
