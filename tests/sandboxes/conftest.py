"""Fixtures for the sandbox tests: real backends, a host secret, and leftover-process checks."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandboxes import Sandbox, SandboxUnavailable, get_sandbox

BACKENDS = ["local", "docker"]
SECRET_NAME = "GRPOKIT_SANDBOX_TEST_SECRET"
SECRET_VALUE = "s3cr3t-" + uuid.uuid4().hex


@pytest.fixture(scope="session")
def host_secret() -> Iterator[tuple[str, str]]:
    """(name, value) of a secret in this host process's environment, set before any sandbox."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SECRET_NAME, SECRET_VALUE)
        yield SECRET_NAME, SECRET_VALUE


def open_backend(name: str, **options: object) -> Sandbox:
    """``get_sandbox(name)``, or skip the test saying why the backend cannot run here."""
    try:
        return get_sandbox(name, **options)
    except (SandboxUnavailable, ImportError) as exc:
        pytest.skip(f"sandbox backend {name!r} unavailable: {exc}")


@pytest.fixture(scope="module", params=BACKENDS)
def any_sandbox(request: pytest.FixtureRequest, host_secret: tuple[str, str]) -> Iterator[Sandbox]:
    """One sandbox per backend, shared by a module's tests (the same instance must survive)."""
    options = {"pool_size": 2} if request.param == "local" else {}
    sandbox = open_backend(request.param, **options)
    yield sandbox
    sandbox.close()


@pytest.fixture(scope="module")
def local_sandbox(host_secret: tuple[str, str]) -> Iterator[Sandbox]:
    sandbox = open_backend("local", pool_size=2)
    yield sandbox
    sandbox.close()


@pytest.fixture
def marker() -> str:
    """A unique tag (fits /proc/PID/comm: 15 chars) to find a test's processes and files."""
    return "hx" + uuid.uuid4().hex[:10]


@pytest.fixture
def leftovers():
    """The ``leftover_processes(marker)`` check, for tests."""
    return leftover_processes


def processes_with(marker: str) -> list[int]:
    """Host pids whose command line or name contains ``marker`` (psutil-free /proc scan)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            text = (entry / "cmdline").read_bytes() + (entry / "comm").read_bytes()
        except OSError:
            continue
        if marker.encode() in text:
            found.append(int(entry.name))
    return found


def leftover_processes(marker: str, settle_seconds: float = 10.0) -> list[int]:
    """Processes tagged ``marker`` that are still there after ``settle_seconds`` of grace."""
    deadline = time.monotonic() + settle_seconds
    while (found := processes_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
