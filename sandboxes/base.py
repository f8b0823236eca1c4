"""The one interface every sandbox backend implements.

A sandbox runs an untrusted Python program (its source, stdin and extra files) under
resource limits and reports what happened. It never raises because the *program*
misbehaved: crashes, timeouts and memory exhaustion are results, not exceptions.
It raises only when the sandbox itself cannot work (backend missing, engine down).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limits:
    """Resource limits for one run. Every backend enforces all of them."""

    wall_seconds: float = 10.0  # wall-clock timeout, whole process tree
    cpu_seconds: int = 10  # RLIMIT_CPU
    memory_mb: int = 512  # address space (RLIMIT_AS) or cgroup/container memory
    max_processes: int = 32  # RLIMIT_NPROC / pids limit
    max_file_mb: int = 16  # RLIMIT_FSIZE: largest file the program may write
    max_open_files: int = 64  # RLIMIT_NOFILE
    max_output_bytes: int = 1 << 20  # stdout and stderr are each cut here


@dataclass
class RunResult:
    """What one sandboxed run did."""

    stdout: str
    stderr: str
    exit_code: int | None  # None when killed before exiting on its own
    wall_seconds: float
    timed_out: bool = False
    out_of_memory: bool = False
    output_truncated: bool = False
    signal: int | None = None  # terminating signal number, if any
    extra: dict = field(default_factory=dict)  # backend-specific diagnostics

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.out_of_memory


class SandboxUnavailable(RuntimeError):
    """The backend cannot run here (missing tool, no engine); says why."""


class Sandbox(ABC):
    """Runs untrusted Python source in isolation. Backends: ``local``, ``docker``."""

    name: str = "abstract"

    @abstractmethod
    def run(
        self,
        source: str,
        *,
        stdin: str = "",
        files: Mapping[str, str | bytes] | None = None,
        limits: Limits | None = None,
        guests: bool = False,
    ) -> RunResult:
        """Run ``source`` as a Python program with ``files`` in its working directory.

        ``guests=True``: the program may start *guest* processes through the launcher socket
        whose descriptor number is in ``$GRPOKIT_GUEST_FD`` (protocol: ``sandboxes._guest``).
        Guests run as another uid than the program where the backend runs as root, in fresh
        interpreters that inherit nothing of the program but the descriptors it passes; the
        program itself is non-dumpable and keeps its files private. A test harness uses this
        to run a candidate's code where it cannot reach the tests or the verdicts."""

    def close(self) -> None:  # noqa: B027 - optional for backends that hold nothing
        """Release workers, containers and temp dirs. Idempotent."""

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
