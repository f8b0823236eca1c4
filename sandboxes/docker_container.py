"""One sandbox container: how it is configured, started, inspected and removed.

A container is long-lived and holds nothing of its own: its PID 1 is a tiny Python reaper that
drops at once from root to uid 65533 (so no run, whose processes use other uids, can signal or
ptrace it), ignores every signal it can and waits for orphans. The container's user is root only
so that a ``docker exec`` as root gets the capabilities of the bounding set (CAP_SETUID,
CAP_SETGID, CAP_KILL, and nothing else): with ``no-new-privileges`` a root exec in a container
whose configured user is not root gets none, and the zygote (``docker_zygote``) needs those
three to drop each run to its uids and to kill what a run leaves. Programs never hold them:
dropping to a non-root uid clears every capability, and ``no-new-privileges`` keeps setuid
binaries from giving any back. What is fixed at creation is in ``ContainerSpec`` (runs only
get a container whose spec matches their limits); the memory and pids limits are
``Resources``, changed in place with ``docker update``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from sandboxes.base import Limits
from sandboxes.docker_cgroup import (
    CgroupPaths,
    find_cgroup,
    oom_kills,
    parse_oom_kills,
    process_limit,
    processes,
)
from sandboxes.docker_zygote import INIT_UID, WORKDIR, seccomp_filter

CONTAINER_USER = "0:0"  # see the module docstring; PID 1 itself runs as INIT_UID
INIT_USER = f"{INIT_UID}:{INIT_UID}"
CAPABILITIES = ["SETUID", "SETGID", "KILL"]  # for the root zygote only; no CHOWN, no DAC_*
MEMORY_OVERHEAD_MB = 32  # the reaper (~8 MB), the zygote and the guest launcher
PIDS_OVERHEAD = 2  # the reaper and the zygote (+1 for the guest launcher of a guests run)
MIN_OPEN_FILES = 64  # for the zygote; the program gets limits.max_open_files (an rlimit)
NPROC_FALLBACK = 4096  # RLIMIT_NPROC of a run when the host cannot read the engine's
LEFTOVER_WAIT_SECONDS = 0.5  # how long a killed run's processes may take to disappear

# PID 1: become INIT_UID, reap every orphan, ignore every catchable signal (SIGKILL and SIGSTOP
# from inside the pid namespace never reach an init process).
INIT_SCRIPT = f"""
import os, signal
os.setgroups([])
os.setresgid({INIT_UID}, {INIT_UID}, {INIT_UID})
os.setresuid({INIT_UID}, {INIT_UID}, {INIT_UID})
for s in set(signal.Signals) - {{signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD}}:
    signal.signal(s, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, {{signal.SIGCHLD}})
while True:
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass
    signal.sigwaitinfo({{signal.SIGCHLD}})
"""


@dataclass(frozen=True)
class Resources:
    """The cgroup limits of a container, which ``docker update`` can change between runs.

    The pids limit is the bound on the run's processes (program, guests and their children
    together): RLIMIT_NPROC cannot be, as it counts a uid over every container of the host."""

    memory_mb: int
    max_processes: int
    guests: bool = False

    @classmethod
    def from_limits(cls, limits: Limits, guests: bool = False) -> Resources:
        return cls(memory_mb=limits.memory_mb, max_processes=limits.max_processes, guests=guests)

    @property
    def memory_bytes(self) -> int:
        return (self.memory_mb + MEMORY_OVERHEAD_MB) << 20

    @property
    def pids(self) -> int:
        return self.max_processes + PIDS_OVERHEAD + int(self.guests)


@dataclass(frozen=True)
class ContainerSpec:
    """The settings fixed when a container is created; containers are reused for equal specs."""

    image: str
    max_file_mb: int
    max_open_files: int
    tmpfs_mb: int

    @classmethod
    def from_limits(cls, image: str, limits: Limits, tmpfs_mb: int) -> ContainerSpec:
        return cls(image, limits.max_file_mb, limits.max_open_files, tmpfs_mb)

    def create_kwargs(self, resources: Resources, labels: dict[str, str]) -> dict[str, Any]:
        """Arguments for ``client.containers.run``: no network, no mounts, three capabilities
        that only the root zygote holds, POSIX message queues limited to zero bytes."""
        from docker.types import Ulimit

        tmpfs = f"rw,nosuid,nodev,noexec,size={self.tmpfs_mb}m,mode=1777"
        file_bytes = self.max_file_mb << 20
        files = max(self.max_open_files, MIN_OPEN_FILES)
        return {
            "image": self.image,
            "entrypoint": ["python3", "-I", "-S", "-c", INIT_SCRIPT],
            "command": [],
            "detach": True,
            "labels": labels,
            "user": CONTAINER_USER,
            "working_dir": "/",
            "network_mode": "none",
            "read_only": True,
            "tmpfs": {WORKDIR: tmpfs},
            "shm_size": f"{self.tmpfs_mb}m",
            "ipc_mode": "private",
            "mem_limit": resources.memory_bytes,
            "memswap_limit": resources.memory_bytes,  # no swap: memory_mb is a hard ceiling
            "pids_limit": resources.pids,
            "ulimits": [
                Ulimit(name="nofile", soft=files, hard=files),
                Ulimit(name="fsize", soft=file_bytes, hard=file_bytes),
                Ulimit(name="core", soft=0, hard=0),
                Ulimit(name="msgqueue", soft=0, hard=0),
            ],
            "cap_drop": ["ALL"],
            "cap_add": list(CAPABILITIES),
            "security_opt": security_options(),
            "privileged": False,
            "init": False,
        }


@dataclass
class PooledContainer:
    """A started container with what the host knows about it."""

    container: Any  # docker.models.containers.Container
    spec: ContainerSpec
    resources: Resources
    init_pid: int
    cgroup: CgroupPaths | None
    nproc: int = NPROC_FALLBACK  # the RLIMIT_NPROC runs get (see ``start_container``)
    oom_kills_seen: int = 0
    runs: int = field(default=0)

    @property
    def id(self) -> str:
        return self.container.id

    def resize(self, resources: Resources) -> None:
        """Set the memory and pids limits for the next run (no-op when they already match).

        The SDK's ``update_container`` cannot set ``PidsLimit``, so this posts the documented
        ``/containers/{id}/update`` body itself. Raises ``docker.errors.APIError`` on failure.
        """
        if resources == self.resources:
            return
        import docker.errors
        import requests

        api = self.container.client.api
        url = f"{api.base_url}/v{api.api_version}/containers/{self.id}/update"
        body = {
            "Memory": resources.memory_bytes,
            "MemorySwap": resources.memory_bytes,
            "PidsLimit": resources.pids,
        }
        try:
            api.post(url, json=body, timeout=api.timeout).raise_for_status()
        except requests.exceptions.HTTPError as error:
            raise docker.errors.create_api_error_from_http_exception(error) from error
        self.resources = resources

    def processes(self) -> list[int] | None:
        """Host pids in the container (from the cgroup, else ``docker top``); None if gone."""
        if self.cgroup is not None:
            return processes(self.cgroup)
        try:
            return [int(row[1]) for row in self.container.top(ps_args="-eo user,pid")["Processes"]]
        except Exception:  # noqa: BLE001 - any API failure means we cannot vouch for it
            return None

    def only_init_left(self) -> bool:
        """True once nothing but PID 1 runs in the container (waits briefly for the kills)."""
        give_up = time.monotonic() + LEFTOVER_WAIT_SECONDS
        while True:
            pids = self.processes()
            if pids == [self.init_pid]:
                return True
            if pids is None or time.monotonic() > give_up:
                return False
            time.sleep(0.002)  # the zygote exits right after its last frame

    def new_oom_kills(self) -> bool:
        """True if the kernel OOM-killed a process here since the last call."""
        count = oom_kills(self.cgroup) if self.cgroup is not None else None
        if count is None:
            count = self._oom_kills_inside()
        fresh = count is not None and count > self.oom_kills_seen
        if count is not None:
            self.oom_kills_seen = count
        return fresh

    def _oom_kills_inside(self) -> int | None:
        files = "/sys/fs/cgroup/memory/memory.oom_control /sys/fs/cgroup/memory.events"
        try:
            command = ["sh", "-c", f"cat {files} 2>/dev/null"]
            result = self.container.exec_run(command, user=INIT_USER)
        except Exception:  # noqa: BLE001 - container gone: unknown
            return None
        return parse_oom_kills(result.output.decode(errors="replace"))

    def remove(self) -> None:
        import docker.errors

        try:
            self.container.remove(force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as error:
            if error.status_code != 409:  # 409: removal already in progress
                raise


def security_options() -> list[str]:
    """``no-new-privileges``, and Docker's default seccomp profile, on top of which each exec
    stacks the local backend's filter (``docker_zygote``). Without libseccomp on the host, the
    policy replaces the default profile instead (``syscall_policy.docker_profile``)."""
    options = ["no-new-privileges"]
    if seccomp_filter() is None:
        from sandboxes.syscall_policy import docker_profile

        options.append("seccomp=" + json.dumps(docker_profile()))
    return options


def start_container(
    client: Any, spec: ContainerSpec, resources: Resources, labels: dict[str, str]
) -> PooledContainer:
    """Create and start one sandbox container; raise ``docker.errors`` exceptions on failure."""
    container = client.containers.run(**spec.create_kwargs(resources, labels))
    try:
        container.reload()
        init_pid = int(container.attrs["State"]["Pid"])
        if container.status != "running" or init_pid <= 0:
            raise RuntimeError(f"sandbox container {container.short_id} exited at start")
    except BaseException:
        container.remove(force=True)
        raise
    pooled = PooledContainer(container, spec, resources, init_pid, find_cgroup(init_pid))
    # RLIMIT_NPROC counts a uid over every container of the host, so it must not bound a run
    # (the pids cgroup does): runs get the container's hard limit, which they cannot raise.
    pooled.nproc = process_limit(init_pid, NPROC_FALLBACK)
    pooled.new_oom_kills()  # sets the baseline
    return pooled
