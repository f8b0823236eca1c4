"""One program run inside a running container: one ``docker exec`` of the zygote and its frames.

The host writes the boot frame (the zygote's code, see ``docker_zygote``) and the request frame
(the same JSON frame the local backend sends: source, stdin, files, limits, guests; see
``sandboxes._zygote``) on the exec's stdin, without waiting, and
reads the zygote's ``ready``, ``ack``, ``result`` and ``clean`` frames from the exec's
demultiplexed stdout; the exec's stderr carries only the zygote's own diagnostics. Program
output never touches these streams: the zygote captures it (each stream capped at
``max_output_bytes``) and sends it inside the result frame. The host gives up at a deadline of
the wall-clock limit plus ``HOST_GRACE_SECONDS`` for the result, then ``CLEAN_SECONDS`` for the
clean frame (the caller discards a container that missed either).
"""

from __future__ import annotations

import base64
import dataclasses
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from sandboxes._zygote import HEADER, decode_body, encode_frame
from sandboxes.base import Limits
from sandboxes.docker_zygote import boot_frame, zygote_command

HOST_GRACE_SECONDS = 3.0  # past the wall-clock limit, for the zygote to start and report
CLEAN_SECONDS = 10.0  # after the result, for the janitors and the clean frame
DIAGNOSTICS_CAP = 64 << 10  # bytes of the zygote's stderr kept


def check_file_name(name: object) -> str:
    """Return ``name`` as a safe relative POSIX path, or raise ValueError saying why not."""
    if not isinstance(name, str) or not name or "\0" in name:
        raise ValueError(f"files: invalid file name {name!r} (need a non-empty string)")
    path = PurePosixPath(name)
    if path.is_absolute() or not path.parts or ".." in path.parts or name.endswith("/"):
        raise ValueError(f"files: {name!r} must be a relative path inside the work dir")
    return path.as_posix()


def _encode_files(files: Mapping[str, str | bytes] | None, limits: Limits) -> dict:
    """``{name: ["b64", data]}`` as the zygote child expects; each file within max_file_mb."""
    encoded: dict[str, list[str]] = {}
    for name, content in (files or {}).items():
        relative = check_file_name(name)
        if isinstance(content, str):
            content = content.encode()
        if not isinstance(content, bytes):
            raise TypeError(f"files[{name!r}] must be str or bytes, got {type(content).__name__}")
        if len(content) > limits.max_file_mb << 20:
            raise ValueError(
                f"files[{name!r}] is {len(content)} bytes, over limits.max_file_mb="
                f"{limits.max_file_mb}"
            )
        encoded[relative] = ["b64", base64.b64encode(content).decode("ascii")]
    return encoded


def build_request(
    source: str,
    stdin: str,
    files: Mapping[str, str | bytes] | None,
    limits: Limits,
    guests: bool = False,
) -> dict:
    """The request for the zygote (``run_exec`` frames it). stdin goes into a memfd inside
    (never a file), but the container's file-size limit still applies to it: checked here."""
    if not isinstance(source, str):
        raise TypeError(f"source must be str, got {type(source).__name__}")
    if not isinstance(stdin, str):
        raise TypeError(f"stdin must be str, got {type(stdin).__name__}")
    size = len(stdin.encode("utf-8", "surrogateescape"))
    if size > limits.max_file_mb << 20:
        raise ValueError(f"stdin is {size} bytes, over limits.max_file_mb={limits.max_file_mb}")
    request = {"source": source, "stdin": stdin, "files": _encode_files(files, limits)}
    request.update(limits=dataclasses.asdict(limits), guests=bool(guests))
    return request


def request_frame(request: dict, nproc: int) -> bytes:
    """The request as one frame, with RLIMIT_NPROC ``nproc`` for the run: the container's own
    hard limit, out of the way (the uids' processes are counted over every container of the
    host; the container's pids cgroup bounds the run instead)."""
    return encode_frame({**request, "limits": {**request["limits"], "max_processes": nproc}})


@dataclass
class ExecOutcome:
    """What the host saw of one exec: the zygote's frames by type, and its diagnostics."""

    frames: dict[str, dict] = field(default_factory=dict)
    diagnostics: str = ""
    host_timeout: bool = False
    broken: str | None = None  # why the frame stream is unusable, if it is
    elapsed: float = 0.0  # seconds from exec start to the result (or to giving up)

    @property
    def started(self) -> bool:
        """Whether the zygote got as far as reading the request (its ``ready`` frame)."""
        return "ready" in self.frames

    @property
    def report(self) -> dict | None:
        return self.frames.get("result")

    @property
    def left(self) -> list[str] | None:
        """What the wipe left after the run ([] if clean); None if it never reported."""
        clean = self.frames.get("clean")
        if clean is None:
            return None
        left = clean.get("left")
        return left if isinstance(left, list) else ["(malformed clean frame)"]


class _FrameStream:
    """Demultiplexes Docker's 8-byte-header records; parses the zygote's frames from stdout."""

    def __init__(self, outcome: ExecOutcome, max_frame: int) -> None:
        self.outcome, self.max_frame = outcome, max_frame
        self.records, self.stdout = bytearray(), bytearray()
        self.stderr = bytearray()

    def feed(self, chunk: bytes) -> None:
        self.records += chunk
        start = 0
        while len(self.records) - start >= 8:
            size = int.from_bytes(self.records[start + 4 : start + 8], "big")
            if len(self.records) - start - 8 < size:
                break
            data = self.records[start + 8 : start + 8 + size]
            if self.records[start] == 1:
                self.stdout += data
            elif self.records[start] == 2:
                self.stderr += data[: max(DIAGNOSTICS_CAP - len(self.stderr), 0)]
            start += 8 + size
        del self.records[:start]
        self._frames()

    def _frames(self) -> None:
        while len(self.stdout) >= HEADER.size and self.outcome.broken is None:
            (size,) = HEADER.unpack_from(self.stdout)
            if size > self.max_frame:
                self.outcome.broken = f"oversized frame ({size} bytes)"
                return
            if len(self.stdout) < HEADER.size + size:
                return
            try:
                frame = decode_body(bytes(self.stdout[HEADER.size : HEADER.size + size]))
            except ValueError as error:
                self.outcome.broken = f"undecodable frame: {error}"
                return
            del self.stdout[: HEADER.size + size]
            self.outcome.frames[str(frame.get("type"))] = frame


def _max_frame(limits: Limits) -> int:
    """The largest result frame a trusted zygote can send: both outputs JSON-escaped (at most
    12 bytes per input byte, for \\uXXXX surrogate pairs) plus room for the rest."""
    return 2 * 12 * limits.max_output_bytes + (1 << 20)


def run_exec(api: Any, container_id: str, frame: bytes, limits: Limits) -> ExecOutcome:
    """Run the zygote for the request ``frame`` in ``container_id``; collect its frames until it
    exits or a deadline passes. Raises ``docker.errors.APIError`` when the exec cannot even
    start (container not running)."""
    exec_id = api.exec_create(
        container_id, zygote_command(), stdin=True, user="0:0", workdir="/", environment={}
    )["Id"]
    started = time.monotonic()
    outcome = ExecOutcome()
    stream = _FrameStream(outcome, _max_frame(limits))
    hijacked = api.exec_start(exec_id, socket=True)
    raw: socket.socket = getattr(hijacked, "_sock", hijacked)  # the SDK wraps it in a SocketIO
    deadline = started + limits.wall_seconds + HOST_GRACE_SECONDS
    try:
        raw.settimeout(max(deadline - time.monotonic(), 0.001))
        raw.sendall(boot_frame() + frame)
        raw.shutdown(socket.SHUT_WR)
        _read(raw, stream, deadline, started)
    except TimeoutError:
        outcome.host_timeout = outcome.report is None
    except OSError as error:  # the connection broke: the container died
        outcome.broken = outcome.broken or f"exec stream broke: {error}"
    finally:
        _close(hijacked, raw)
        outcome.diagnostics = bytes(stream.stderr).decode("utf-8", "replace").strip()
    if not outcome.elapsed:
        outcome.elapsed = time.monotonic() - started
    return outcome


def _read(raw: socket.socket, stream: _FrameStream, deadline: float, started: float) -> None:
    """Read until the clean frame or the end of the stream; the deadline moves to
    ``CLEAN_SECONDS`` after the result. (The caller checks from the cgroup that the zygote is
    gone before the container runs anything else.)"""
    outcome = stream.outcome
    while outcome.broken is None:
        raw.settimeout(max(deadline - time.monotonic(), 0.001))
        chunk = raw.recv(1 << 16)
        if not chunk:
            return
        stream.feed(chunk)
        if "clean" in outcome.frames:  # the zygote's last word: it exits right after
            return
        if outcome.report is not None and not outcome.elapsed:
            outcome.elapsed = time.monotonic() - started
            deadline = time.monotonic() + CLEAN_SECONDS


def _close(hijacked: Any, raw: socket.socket) -> None:
    for closable in (getattr(hijacked, "_response", None), hijacked, raw):
        try:
            if closable is not None:
                closable.close()
        except (OSError, ValueError):  # already closed through another wrapper
            pass
