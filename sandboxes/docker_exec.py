"""One program run inside a running container: one ``docker exec`` and its streams.

The exec runs a small ``sh`` wrapper as the unprivileged run user. It wipes the scratch
dirs (``/work``, ``/tmp``, ``/dev/shm``, SysV IPC), unpacks a tar read from its stdin (the
program, its stdin and its files), runs ``python3`` under ``timeout -s KILL`` and ``prlimit
--cpu``, waits (up to the same wall-clock deadline) for the rest of the run's process tree,
kills whatever is left (``kill -9 -1``) and wipes again. The host reads the multiplexed
stdout/stderr frames, keeps at most ``max_output_bytes`` of each and gives up at a host-side
deadline (the caller then destroys the container).
"""

from __future__ import annotations

import io
import socket
import tarfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from sandboxes.base import Limits

RUN_USER = "65534:65534"  # nobody:nogroup; the container's PID 1 runs as another uid
WORK = "/work"
PROGRAM = f"{WORK}/.grpokit/main.py"
STDIN = f"{WORK}/.grpokit/stdin"
RUN_DIR = f"{WORK}/run"
SETUP_FAILED = 125  # the wrapper's exit status when the run files cannot be unpacked
HOST_GRACE_SECONDS = 3.0  # the host waits this much past the in-container timeout

# `wipe` empties the scratch dirs and SysV IPC, forking find/ipcrm only when something is there.
# $1: wall seconds, $2: cpu seconds, $3: wall centiseconds. fd 3 is the real stderr: only the
# program's subshell gets it back, so the shell's own messages go to /dev/null. `timeout
# --foreground` kills only python (exit 137 on a timeout). The run lasts until its whole process
# tree is gone: the shell then waits (builtins and sleep only) for every other process in the
# container but PID 1 to end, up to the same deadline, before `kill -9 -1` ends what is left;
# status 137 then says the tree had to be killed.
WRAPPER = f"""exec 3>&2 2>/dev/null
scratch="{WORK} /tmp /dev/shm"
files() {{ for d in $scratch; do for f in $d/* $d/.[!.]* $d/..?*; do
  [ -e "$f" ] || [ -L "$f" ] && return 0; done; done; return 1; }}
ipc() {{ for f in /proc/sysvipc/*; do {{ read -r _ && read -r _; }} <"$f" && return 0; done; return 1; }}
wipe() {{ cd / && {{ ! files || find $scratch -mindepth 1 -delete; }}; ! ipc || ipcrm -a; }}
now() {{ read -r up _ </proc/uptime; up=${{up%.*}}${{up#*.}}; }}
others() {{ for p in /proc/[0-9]*; do case ${{p#/proc/}} in 1|$$) ;; *) return 0 ;; esac; done; return 1; }}
wipe
tar -x -C {WORK} -f - || {{ echo "grpokit-sandbox: cannot unpack the run files" >&3; exit {SETUP_FAILED}; }}
cd {RUN_DIR} || exit {SETUP_FAILED}
now
deadline=$((up + $3))
(exec 2>&3 3>&- <{STDIN}; exec prlimit --cpu="$2" -- \
  timeout --foreground --preserve-status -s KILL "$1" python3 {PROGRAM})
rc=$?
while others; do
  now
  [ "$up" -lt "$deadline" ] && sleep 0.05 || {{ rc=137; break; }}
done
kill -9 -1
wipe
exit $rc
"""

ENVIRONMENT = {
    "HOME": RUN_DIR,
    "TMPDIR": "/tmp",
    "PYTHONPATH": RUN_DIR,  # the run's files are importable, as next to a script
    "PYTHONDONTWRITEBYTECODE": "1",
    "LANG": "C.UTF-8",
    "PATH": "/usr/local/bin:/usr/bin:/bin",
}


def check_file_name(name: object) -> str:
    """Return ``name`` as a safe relative POSIX path, or raise ValueError saying why not."""
    if not isinstance(name, str) or not name or "\0" in name:
        raise ValueError(f"files: invalid file name {name!r} (need a non-empty string)")
    path = PurePosixPath(name)
    if path.is_absolute() or not path.parts or ".." in path.parts or name.endswith("/"):
        raise ValueError(f"files: {name!r} must be a relative path inside the work dir")
    return path.as_posix()


def build_payload(
    source: str, stdin: str, files: Mapping[str, str | bytes] | None, limits: Limits
) -> bytes:
    """The tar the wrapper unpacks into /work: the program, its stdin, and ``run/<files>``."""
    if not isinstance(source, str):
        raise TypeError(f"source must be str, got {type(source).__name__}")
    if not isinstance(stdin, str):
        raise TypeError(f"stdin must be str, got {type(stdin).__name__}")
    entries = {PROGRAM: source.encode(), STDIN: stdin.encode()}
    if len(entries[STDIN]) > limits.max_file_mb << 20:
        raise ValueError(
            f"stdin is {len(entries[STDIN])} bytes, over limits.max_file_mb={limits.max_file_mb}"
        )
    for name, content in (files or {}).items():
        relative = check_file_name(name)
        if isinstance(content, str):
            content = content.encode()
        if not isinstance(content, bytes):
            raise TypeError(f"files[{name!r}] must be str or bytes, got {type(content).__name__}")
        if len(content) > limits.max_file_mb << 20:
            raise ValueError(
                f"files[{name!r}] is {len(content)} bytes, over limits.max_file_mb={limits.max_file_mb}"
            )
        entries[f"{RUN_DIR}/{relative}"] = content
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        made: set[str] = set()
        for path, content in entries.items():
            for parent in reversed(PurePosixPath(path).parents[:-2]):
                _add_dir(tar, str(parent), made)
            info = tarfile.TarInfo(_member(path))
            info.size, info.mode, info.mtime = len(content), 0o644, int(time.time())
            tar.addfile(info, io.BytesIO(content))
        _add_dir(tar, RUN_DIR, made)
    return buffer.getvalue()


def _member(path: str) -> str:
    return path[len(WORK) + 1 :]


def _add_dir(tar: tarfile.TarFile, path: str, made: set[str]) -> None:
    if path not in made:
        made.add(path)
        info = tarfile.TarInfo(_member(path))
        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, int(time.time())
        tar.addfile(info)


@dataclass
class ExecOutcome:
    """What the host saw of one exec."""

    stdout: bytes
    stderr: bytes
    truncated: bool
    status: int | None  # the wrapper's exit status; None if unknown (deadline, container gone)
    host_timeout: bool
    elapsed: float


class _CappedStreams:
    """Demultiplexes Docker's 8-byte-header frames into two byte buffers, each capped."""

    def __init__(self, cap: int) -> None:
        self.cap, self.pending = cap, bytearray()
        self.out = {1: bytearray(), 2: bytearray()}
        self.truncated = False

    def feed(self, chunk: bytes) -> None:
        self.pending += chunk
        start = 0
        while len(self.pending) - start >= 8:
            size = int.from_bytes(self.pending[start + 4 : start + 8], "big")
            if len(self.pending) - start - 8 < size:
                break
            stream = self.pending[start]
            self._keep(stream, self.pending[start + 8 : start + 8 + size])
            start += 8 + size
        del self.pending[:start]

    def _keep(self, stream: int, data: bytearray) -> None:
        buffer = self.out.get(stream)
        if buffer is None:
            return
        room = self.cap - len(buffer)
        if len(data) > room:
            self.truncated = True
        buffer += data[: max(room, 0)]


def run_exec(api: Any, container_id: str, payload: bytes, limits: Limits) -> ExecOutcome:
    """Run the wrapper in ``container_id`` and collect its output until exit or the deadline.

    Raises ``docker.errors.APIError`` when the exec cannot even start (container not running).
    """
    wall = max(limits.wall_seconds, 0.01)
    command = ["sh", "-c", WRAPPER, "grpokit-run", f"{wall:.3f}"]
    command += [str(limits.cpu_seconds), str(round(wall * 100))]
    exec_id = api.exec_create(
        container_id, command, stdin=True, user=RUN_USER, workdir=WORK, environment=ENVIRONMENT
    )["Id"]
    started = time.monotonic()
    deadline = started + limits.wall_seconds + HOST_GRACE_SECONDS
    streams = _CappedStreams(limits.max_output_bytes)
    hijacked = api.exec_start(exec_id, socket=True)
    raw: socket.socket = getattr(hijacked, "_sock", hijacked)  # the SDK wraps it in a SocketIO
    host_timeout = False
    try:
        raw.settimeout(max(deadline - time.monotonic(), 0.001))
        raw.sendall(payload)
        raw.shutdown(socket.SHUT_WR)
        while True:
            raw.settimeout(max(deadline - time.monotonic(), 0.001))
            chunk = raw.recv(1 << 16)
            if not chunk:
                break
            streams.feed(chunk)
    except TimeoutError:
        host_timeout = True
    except OSError:
        pass  # the connection broke: the container died; the status tells
    finally:
        _close(hijacked, raw)
    elapsed = time.monotonic() - started
    status = None if host_timeout else _exit_status(api, exec_id)
    return ExecOutcome(
        bytes(streams.out[1]),
        bytes(streams.out[2]),
        streams.truncated,
        status,
        host_timeout,
        elapsed,
    )


def _close(hijacked: Any, raw: socket.socket) -> None:
    for closable in (getattr(hijacked, "_response", None), hijacked, raw):
        try:
            if closable is not None:
                closable.close()
        except (OSError, ValueError):  # already closed through another wrapper
            pass


def _exit_status(api: Any, exec_id: str, wait_seconds: float = 2.0) -> int | None:
    """The exec's exit code once Docker has recorded it (None if it never does)."""
    import docker.errors

    give_up = time.monotonic() + wait_seconds
    while True:
        try:
            info = api.exec_inspect(exec_id)
        except docker.errors.APIError:
            return None
        if not info.get("Running") and info.get("ExitCode") is not None:
            return int(info["ExitCode"])
        if time.monotonic() > give_up:
            return None
        time.sleep(0.005)
