"""Which process owns a sandbox container, and reaping the containers of dead owners.

Every container the docker backend creates carries two labels: ``grpokit.sandbox`` (a
``<pid>-<uuid>`` session id) and ``grpokit.sandbox.owner`` (host, pid namespace, pid and
process start time of the creating process). A crashed owner (SIGKILL, power loss of the
interpreter) cannot clean up after itself, so every new sandbox first removes the labelled
containers whose owner is gone. The start time guards against a recycled pid; the host and
pid namespace keep us from judging owners we cannot see (another machine on the same engine).
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SESSION_LABEL = "grpokit.sandbox"
OWNER_LABEL = "grpokit.sandbox.owner"


def _start_time(pid: int) -> str | None:
    """The start time (clock ticks since boot) of ``pid``; None if it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # fields 3, 4, ... of proc(5)
    return None if fields[0] in ("Z", "X") else fields[19]


def _pid_namespace() -> str:
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "?"


@dataclass(frozen=True)
class Owner:
    """The process that created a container."""

    host: str
    pid_namespace: str
    pid: int
    start_time: str

    @classmethod
    def current(cls) -> Owner:
        pid = os.getpid()
        return cls(socket.gethostname(), _pid_namespace(), pid, _start_time(pid) or "?")

    @classmethod
    def parse(cls, value: str) -> Owner | None:
        parts = value.split("|")
        if len(parts) != 4 or not parts[2].isdigit():
            return None
        return cls(parts[0], parts[1], int(parts[2]), parts[3])

    def label(self) -> str:
        return f"{self.host}|{self.pid_namespace}|{self.pid}|{self.start_time}"

    def same_machine(self, other: Owner) -> bool:
        return self.host == other.host and self.pid_namespace == other.pid_namespace

    def alive(self) -> bool:
        """True while this exact process runs (a recycled pid has another start time)."""
        return _start_time(self.pid) == self.start_time


def new_session_labels() -> dict[str, str]:
    """Labels for the containers of one new sandbox object owned by this process."""
    owner = Owner.current()
    return {
        SESSION_LABEL: f"{owner.pid}-{uuid.uuid4().hex[:12]}",
        OWNER_LABEL: owner.label(),
    }


def orphaned(labels: dict[str, str], me: Owner) -> bool:
    """True if a container with ``labels`` belongs to a dead process on this machine."""
    owner = Owner.parse(labels.get(OWNER_LABEL, ""))
    return owner is not None and owner.same_machine(me) and not owner.alive()


def labelled_containers(client: Any, label: str) -> list[dict[str, Any]]:
    """``{"Id", "Labels", ...}`` of every container (running or not) carrying ``label``.

    Uses the plain list call: the SDK's ``containers.list`` inspects each container and fails
    when one is removed meanwhile.
    """
    return client.api.containers(all=True, filters={"label": label})


def remove_container(client: Any, container_id: str) -> bool:
    """Force-remove a container; False if it was already gone or being removed."""
    import docker.errors

    try:
        client.api.remove_container(container_id, force=True)
    except docker.errors.NotFound:
        return False
    except docker.errors.APIError as error:
        if error.status_code != 409:  # 409: removal already in progress
            raise
        return False
    return True


def reap_orphans(client: Any) -> list[str]:
    """Remove every labelled container whose owner process is gone; return their ids."""
    me = Owner.current()
    return [
        info["Id"]
        for info in labelled_containers(client, SESSION_LABEL)
        if orphaned(info.get("Labels") or {}, me) and remove_container(client, info["Id"])
    ]
