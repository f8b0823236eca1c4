"""Remove a docker sandbox's containers the moment its owner process dies.

``DockerSandbox`` starts one watchdog per sandbox object: a small child process (its own
session, so a terminal's Ctrl-C does not reach it) whose stdin is a pipe from the owner. The
owner writes nothing to the pipe but one line, at ``close()``; then the watchdog exits and
touches nothing. When the pipe reaches end of file without that line, every copy of its write
end is closed, so the owner is gone however it died (SIGKILL by the scorer's timeout, the OOM
killer, ``os._exit``): the watchdog removes every container labelled with the sandbox's
session, sweeping again after a moment to catch a container whose creation was in flight, and
exits. A child forked by the owner swaps its inherited copy of the write end for /dev/null at
once, so it never keeps the owner's watchdog waiting. Until it has to sweep, the watchdog is a
bare interpreter (the Docker SDK is imported only to sweep). The reaper of ``docker_owner``
(run by every new sandbox) stays the backstop for a watchdog that was killed itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

CLOSE = b"close\n"
SWEEP_DELAYS = (0.0, 1.0, 2.0)  # seconds before each sweep (in-flight creations land late)
STOP_WAIT_SECONDS = 5.0
PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])
BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from sandboxes.docker_watchdog import main; sys.exit(main(sys.argv[2]))"
)

_write_ends: set[int] = set()  # fds of the pipes to this process's watchdogs
_lock = threading.Lock()  # held across a fork, so no pipe is forked half-recorded


def _before_fork() -> None:
    _lock.acquire()


def _after_fork_in_parent() -> None:
    _lock.release()


def _after_fork_in_child() -> None:
    """In a forked child: point every inherited write end at /dev/null (the child owns none;
    the fd numbers stay valid, so the parent's file objects copied here close nothing else)."""
    global _lock
    null = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
    try:
        for fd in _write_ends:
            with contextlib.suppress(OSError):
                os.dup2(null, fd, inheritable=False)
    finally:
        os.close(null)
    _write_ends.clear()
    _lock = threading.Lock()


os.register_at_fork(
    before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child
)


class Watchdog:
    """The owner's side of one watchdog process: ``start`` it, ``stop`` it on close."""

    def __init__(self, process: subprocess.Popen | None) -> None:
        self.process = process
        self._owner_pid = os.getpid()
        self._lock = threading.Lock()

    @classmethod
    def start(cls, session: str) -> Watchdog:
        """Start the watchdog of the containers labelled ``grpokit.sandbox=<session>``. If it
        cannot start, log why and go on without it (the next sandbox's reaper remains)."""
        command = [sys.executable, "-c", BOOTSTRAP, PACKAGE_ROOT, session]
        with _lock:  # subprocess's own fork runs no fork hooks: no deadlock here
            try:
                process = subprocess.Popen(
                    command,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            except OSError as error:
                log.warning("docker sandbox: no watchdog for session %s: %s", session, error)
                return cls(None)
            _write_ends.add(_stdin(process).fileno())
        return cls(process)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """Tell the watchdog that the owner closed the sandbox itself; wait for it to exit.
        Idempotent; does nothing in a forked child (the watchdog belongs to the parent)."""
        with self._lock:
            process, self.process = self.process, None
        if process is None or os.getpid() != self._owner_pid:
            return
        pipe = _stdin(process)
        with _lock:
            _write_ends.discard(pipe.fileno())
        _send_close(pipe)
        try:
            process.wait(timeout=STOP_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _stdin(process: subprocess.Popen) -> IO[bytes]:
    assert process.stdin is not None  # started with stdin=PIPE
    return process.stdin


def _send_close(pipe: IO[bytes]) -> None:
    with contextlib.suppress(OSError):  # a watchdog that is gone already cannot be told
        pipe.write(CLOSE)
        pipe.flush()
    with contextlib.suppress(OSError):
        pipe.close()


# -- the watchdog process -----------------------------------------------------------------


def main(session: str) -> int:
    """Wait for the owner's close line or its death; on death, remove the session's
    containers. Returns the exit status."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    if sys.stdin.buffer.readline() == CLOSE:
        return 0
    return 0 if sweep(session) else 1


def sweep(session: str, delays: tuple[float, ...] = SWEEP_DELAYS) -> bool:
    """Remove every container labelled with ``session``, once per delay; False on failure."""
    import docker

    from sandboxes.docker_owner import SESSION_LABEL, labelled_containers, remove_container

    ok = True
    client: Any = None
    for delay in delays:
        time.sleep(delay)
        try:
            client = client or docker.from_env(timeout=30)
            for info in labelled_containers(client, f"{SESSION_LABEL}={session}"):
                remove_container(client, info["Id"])
        except Exception:  # noqa: BLE001 - keep sweeping; the next sandbox's reaper remains
            ok = False
    return ok
