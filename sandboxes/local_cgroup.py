"""Memory cgroups for a local sandbox slot: one bound on everything a run holds in memory.

RLIMIT_AS bounds each process's address space, but not what a run keeps outside it: pages of a
``memfd`` or a tmpfs file written with ``write()`` and then unmapped, or the sum over many
processes. A memory cgroup counts all of it (anonymous memory, page cache, tmpfs and shared
memory are charged to the cgroup of the process that allocates them). Each slot gets a cgroup
for its worker and, inside it, one for its runs: the host moves every run's first process there
before it does anything (the worker holds it at a gate until then), so a run holds at most
``memory_mb + MARGIN_MB`` in total, swap included; past that the kernel refuses the allocation
or kills the run's largest process. The worker is outside that limit, so a run that fills
memory can never take the worker down with it.

The cgroups are created in the host process's own cgroup (cgroup v2, or the v1 memory
hierarchy) and removed with the slot. Where cgroups are not writable (not root, or a read-only hierarchy),
``SlotCgroup.create`` returns None and the bound is per process (RLIMIT_AS) plus the tmpfs size;
``LocalSandbox.memory_bound`` says which applies.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from dataclasses import dataclass
from pathlib import Path

MARGIN_MB = 64  # a guest's tester and launcher, on top of the run's memory_mb
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
    """One slot's memory cgroup (the worker) and its ``run`` child (each run's processes)."""

    path: Path
    version: int
    limit_bytes: int = 0

    @property
    def run(self) -> Path:
        return self.path / "run"

    @classmethod
    def create(cls) -> SlotCgroup | None:
        """A new, empty cgroup next to this process's, or None where that is not allowed."""
        own = _own_cgroup()
        if own is None or os.geteuid() != 0:
            return None
        parent, version = own
        _sweep(parent)
        path = parent / f"grpokit-{os.getpid()}-{next(_names)}"
        try:
            path.mkdir()
            (path / "run").mkdir()
        except OSError:
            with contextlib.suppress(OSError):
                path.rmdir()
            return None
        group = cls(path, version)
        with contextlib.suppress(OSError):
            if version == 2:
                (path / "cgroup.subtree_control").write_text("+memory")
                (group.run / "memory.swap.max").write_text("0")
        return group

    def attach(self, pid: int) -> None:
        """Move the worker (before it has run anything) into the slot's cgroup."""
        (self.path / "cgroup.procs").write_text(str(pid))

    def admit(self, pid: int) -> None:
        """Move a run's first process (held at the worker's gate) into the runs' cgroup."""
        (self.run / "cgroup.procs").write_text(str(pid))

    def limit(self, memory_mb: int) -> None:
        """Cap the slot at ``memory_mb + MARGIN_MB`` of memory, swap included."""
        wanted = (memory_mb + MARGIN_MB) << 20
        if wanted == self.limit_bytes:
            return
        if self.version == 2:
            (self.run / "memory.max").write_text(str(wanted))
        else:
            files = ["memory.limit_in_bytes"]
            if (self.run / "memory.memsw.limit_in_bytes").exists():
                files.append("memory.memsw.limit_in_bytes")  # memsw must stay >= the limit
            current = int((self.run / "memory.limit_in_bytes").read_text())
            if wanted > current:
                files.reverse()
            for name in files:
                (self.run / name).write_text(str(wanted))
        self.limit_bytes = wanted

    def oom_kills(self) -> int:
        """How many processes the kernel killed here for memory so far."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        with contextlib.suppress(OSError):
            for line in (self.run / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return 0

    def remove(self) -> None:
        """Delete the cgroups once their processes are gone (retried briefly: the kernel may
        still be tearing the last task down). A host killed before this ran leaves them to the
        next sandbox's ``_sweep``."""
        give_up = time.monotonic() + 2.0
        for path in (self.run, self.path):
            while path.exists():
                try:
                    path.rmdir()
                except OSError:
                    if time.monotonic() > give_up:
                        break
                    time.sleep(0.01)


def _sweep(parent: Path) -> None:
    """Remove the slot cgroups that hosts which died without cleaning up left under ``parent``."""
    for stale in parent.glob("grpokit-*-*"):
        try:
            owner = int(stale.name.split("-")[1])
        except ValueError:
            continue
        if owner != os.getpid() and not Path(f"/proc/{owner}").exists():
            for path in (stale / "run", stale):
                with contextlib.suppress(OSError):
                    path.rmdir()
