"""Helpers shared by the docker sandbox test modules (a real engine; containers found by label)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sandboxes.docker_owner import OWNER_LABEL, SESSION_LABEL, Owner, labelled_containers

docker = pytest.importorskip("docker", reason="the Docker SDK for Python is not installed")
REPO = Path(__file__).resolve().parents[2]


def engine():
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except docker.errors.DockerException as error:
        pytest.skip(f"no Docker engine answers: {error}")
    return client


def ours(client) -> list[str]:
    """Ids of the containers created by this test process (any sandbox object)."""
    me = Owner.current().label()
    return [c["Id"] for c in labelled_containers(client, f"{OWNER_LABEL}={me}")]


def session_containers(client, session: str) -> list[str]:
    """Ids of the containers of one sandbox object, running or not."""
    return [c["Id"] for c in labelled_containers(client, f"{SESSION_LABEL}={session}")]


def assert_nothing_left(client) -> None:
    """Fail when containers of this test process are still there 10 s after a module's tests."""
    deadline = time.monotonic() + 10
    while ours(client) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ours(client) == [], "docker sandbox tests left containers behind"


def wait_for(predicate, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def watchdogs(session: str) -> list[int]:
    """Pids of live watchdog processes of ``session`` (its id is on their command line)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"docker_watchdog" in cmdline and session.encode() in cmdline:
            found.append(int(entry.name))
    return [pid for pid in found if pid_alive(pid)]
