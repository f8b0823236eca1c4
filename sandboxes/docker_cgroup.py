"""Host-side view of one container's cgroup: which processes live in it, how many OOM kills.

Read from the host, these numbers cannot be forged by the program inside the container.
The paths come from ``/proc/<container init pid>/cgroup`` and ``/proc/self/mountinfo``, so
cgroup v1, v2 and hybrid layouts all work. When the host cannot see the files (a remote or
rootless engine), every probe returns ``None`` and the caller falls back to the Docker API.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CgroupPaths:
    """Host directories of a container's cgroups: one holding its processes, one its memory."""

    procs_dir: Path
    memory_dir: Path | None
    memory_v2: bool


def _mounts() -> dict[str, tuple[str, str]]:
    """Controller name ('' for cgroup v2) -> (mount root, mount point), from mountinfo."""
    found: dict[str, tuple[str, str]] = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        root, point, fstype, options = fields[3], fields[4], tail[0], tail[2]
        if fstype == "cgroup2":
            found.setdefault("", (root, point))
        elif fstype == "cgroup":
            for option in options.split(","):
                found.setdefault(option, (root, point))
    return found


def _host_dir(mounts: dict[str, tuple[str, str]], controller: str, path: str) -> Path | None:
    if controller not in mounts:
        return None
    root, point = mounts[controller]
    if root != "/" and path.startswith(root):
        path = path[len(root) :]
    directory = Path(point) / path.lstrip("/")
    return directory if directory.is_dir() else None


def find_cgroup(init_pid: int) -> CgroupPaths | None:
    """Locate the cgroups of the process ``init_pid`` (a host pid), or None if not visible."""
    try:
        lines = Path(f"/proc/{init_pid}/cgroup").read_text().splitlines()
        mounts = _mounts()
    except OSError:
        return None
    v1: dict[str, str] = {}
    v2_path: str | None = None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            v2_path = path
        for name in controllers.split(","):
            v1[name] = path
    memory = _host_dir(mounts, "memory", v1["memory"]) if "memory" in v1 else None
    procs = _host_dir(mounts, "pids", v1["pids"]) if "pids" in v1 else memory
    unified = _host_dir(mounts, "", v2_path) if v2_path is not None else None
    if memory is None and unified is not None:
        return CgroupPaths(procs_dir=procs or unified, memory_dir=unified, memory_v2=True)
    if procs is None:
        return None
    return CgroupPaths(procs_dir=procs, memory_dir=memory, memory_v2=False)


def processes(paths: CgroupPaths) -> list[int] | None:
    """Host pids of every process in the cgroup, or None when it is gone or unreadable."""
    try:
        text = (paths.procs_dir / "cgroup.procs").read_text()
    except OSError:
        return None
    return sorted(int(pid) for pid in text.split())


def parse_oom_kills(text: str) -> int | None:
    """The ``oom_kill`` counter of a v1 ``memory.oom_control`` or v2 ``memory.events`` file."""
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill" and value.strip().isdigit():
            return int(value)
    return None


def oom_kills(paths: CgroupPaths) -> int | None:
    """How many processes the kernel OOM-killed in this cgroup so far (None if unknown)."""
    if paths.memory_dir is None:
        return None
    name = "memory.events" if paths.memory_v2 else "memory.oom_control"
    try:
        return parse_oom_kills((paths.memory_dir / name).read_text())
    except OSError:
        return None


def process_limit(pid: int, default: int) -> int:
    """The hard RLIMIT_NPROC of host process ``pid`` (a container's PID 1: every exec of the
    container gets the same), or ``default`` when the host cannot read it (a remote engine)."""
    try:
        text = Path(f"/proc/{pid}/limits").read_text()
    except OSError:
        return default
    for line in text.splitlines():
        if line.startswith("Max processes"):
            hard = line.split()[3]
            return default if hard == "unlimited" else int(hard)
    return default
