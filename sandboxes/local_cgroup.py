"""A memory cgroup per local sandbox slot: one bound on everything a run holds in memory.

RLIMIT_AS bounds each process's address space, but not what a run keeps outside it: pages of a
``memfd`` or a tmpfs file written with ``write()`` and then unmapped, or the sum over many
processes. A memory cgroup counts all of it (anonymous memory, page cache, tmpfs and shared
memory are charged to the cgroup of the process that allocates them), so a slot whose worker
lives in its own cgroup holds at most ``memory_mb + MARGIN_MB`` in total, swap included; past
that the kernel refuses the allocation or kills the largest process of the slot.

The worker is created in the host process's own cgroup (cgroup v2, or the v1 memory hierarchy)
and removed with the slot. Where cgroups are not writable (not root, or a read-only hierarchy),
``SlotCgroup.create`` returns None and the bound is per process (RLIMIT_AS) plus the tmpfs size;
``LocalSandbox.memory_bound`` says which applies.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from dataclasses import dataclass
from pathlib import Path

MARGIN_MB = 64  # the worker, the program's launcher and tester around a guest: not the run's
ROOT = Path("/sys/fs/cgroup")
_names = itertools.count()


def _own_cgroup() -> tuple[Path, int] | None:
    """(directory of this process's memory cgroup, cgroup version), if one can be found."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return ROOT / "memory" / path.lstrip("/"), 1
    for line in lines:
        if line.startswith("0::"):
            base = ROOT / "unified" if (ROOT / "unified" / "cgroup.procs").exists() else ROOT
            if (base / "cgroup.controllers").exists() and "memory" in (
                base / "cgroup.controllers"
            ).read_text().split():
                return base / line[3:].lstrip("/"), 2
    return None


@dataclass
class SlotCgroup:
    """One slot's memory cgroup."""

    path: Path
    version: int
    limit_bytes: int = 0

    @classmethod
    def create(cls) -> SlotCgroup | None:
        """A new, empty cgroup next to this process's, or None where that is not allowed."""
        own = _own_cgroup()
        if own is None or os.geteuid() != 0:
            return None
        parent, version = own
        path = parent / f"grpokit-{os.getpid()}-{next(_names)}"
        try:
            path.mkdir()
        except OSError:
            return None
        group = cls(path, version)
        try:
            if version == 2:
                (path / "memory.swap.max").write_text("0")
                (path / "memory.oom.group").write_text("0")
        except OSError:
            pass
        return group

    def attach(self, *pids: int) -> None:
        """Move ``pids`` (the worker before it has run anything) into this cgroup."""
        for pid in pids:
            (self.path / "cgroup.procs").write_text(str(pid))

    def limit(self, memory_mb: int) -> None:
        """Cap the slot at ``memory_mb + MARGIN_MB`` of memory, swap included."""
        wanted = (memory_mb + MARGIN_MB) << 20
        if wanted == self.limit_bytes:
            return
        if self.version == 2:
            (self.path / "memory.max").write_text(str(wanted))
        else:
            files = ["memory.limit_in_bytes"]
            if (self.path / "memory.memsw.limit_in_bytes").exists():
                files.append("memory.memsw.limit_in_bytes")  # memsw must stay >= the limit
            current = int((self.path / "memory.limit_in_bytes").read_text())
            if wanted > current:
                files.reverse()
            for name in files:
                (self.path / name).write_text(str(wanted))
        self.limit_bytes = wanted

    def oom_kills(self) -> int:
        """How many processes the kernel killed here for memory so far."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        with contextlib.suppress(OSError):
            for line in (self.path / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return 0

    def remove(self) -> None:
        """Delete the cgroup once its processes are gone (best effort)."""
        with contextlib.suppress(OSError):
            self.path.rmdir()


def protect_from_oom_killer(pid: int) -> None:
    """Make ``pid`` (a worker) the last choice of the OOM killer; its runs reset their own."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/oom_score_adj").write_text("-1000")
