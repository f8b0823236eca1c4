"""One sandbox slot seen from the host: a bwrap'd zygote process and its request pipe.

Every ``bwrap`` is started from one long-lived spawner thread: ``--die-with-parent`` uses
PR_SET_PDEATHSIG, which fires when the *thread* that forked bwrap exits, so a slot started
from a short-lived caller thread would die with that thread.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import queue
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

from sandboxes._guest import children_of
from sandboxes._zygote import HEADER, MAX_FRAME, decode_body, encode_frame
from sandboxes.base import SandboxUnavailable
from sandboxes.local_bwrap import BwrapPlan, bwrap_argv, next_slot_uid, passwd_data
from sandboxes.local_cgroup import SlotCgroup
from sandboxes.syscall_policy import bpf_program, sealed_fd

START_TIMEOUT = 30.0  # seconds for bwrap + interpreter start (generous: 2 busy cores)
KILL_TIMEOUT = 10.0  # seconds to wait for a killed sandbox's processes to be gone


class SlotDied(RuntimeError):
    """The zygote vanished. ``started`` says whether the request had begun running."""

    def __init__(self, message: str, *, started: bool) -> None:
        super().__init__(message)
        self.started = started


class _Spawner:
    """Runs callables on one daemon thread that lives as long as the process."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def call(self, fn: Callable[[], subprocess.Popen]) -> subprocess.Popen:
        """``fn()`` run on the spawner thread; its exception is re-raised here."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="sandbox-spawner", daemon=True
                )
                self._thread.start()
        future: Future = Future()
        self._jobs.put((fn, future))
        return future.result()

    def _loop(self) -> None:
        while True:
            fn, future = self._jobs.get()
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed back to the caller
                future.set_exception(exc)


_SPAWNER = _Spawner()


@functools.cache
def _seccomp_bpf() -> bytes:
    try:
        return bpf_program()
    except (ImportError, OSError) as exc:
        raise SandboxUnavailable(
            f"the local sandbox needs libseccomp and pyseccomp for its syscall filter: {exc} "
            "(pip install pyseccomp; apt-get install libseccomp2)"
        ) from exc


def _data_pipe(data: bytes) -> int:
    """A pipe read end pre-filled with ``data`` (small: fits the pipe buffer)."""
    read_fd, write_fd = os.pipe()
    os.write(write_fd, data)
    os.close(write_fd)
    return read_fd


class Slot:
    """A running zygote: send it a request, read its ack and result frames."""

    def __init__(self, plan: BwrapPlan, *, one_shot: bool) -> None:
        self.uid = self.gid = next_slot_uid()
        self._kill_lock = threading.Lock()
        self._dead = self._closed = False
        self.pidfd: int | None = None
        self.worker_pid: int | None = None
        self._buf = bytearray()
        self.cgroup: SlotCgroup | None = None
        info_r, info_w = os.pipe()
        try:
            self.proc = self._spawn(plan, one_shot, info_w)
            self._handshake(info_r, plan.as_root)
        finally:
            os.close(info_r)
        self._confine()

    def _confine(self) -> None:
        """Put the worker (which has run nothing yet) in a memory cgroup of its own."""
        self.cgroup = SlotCgroup.create()
        try:
            if self.cgroup is not None:
                self.cgroup.attach(self.worker_pid)  # type: ignore[arg-type]
        except OSError as exc:
            self.kill()
            raise SandboxUnavailable(
                f"cannot move the sandbox worker to its cgroup: {exc}"
            ) from exc

    def _spawn(self, plan: BwrapPlan, one_shot: bool, info_w: int) -> subprocess.Popen:
        passwd, group = passwd_data(self.uid, self.gid)
        fds = [_data_pipe(passwd), _data_pipe(group), sealed_fd(_seccomp_bpf()), info_w]
        argv = bwrap_argv(
            plan,
            self.uid,
            self.gid,
            one_shot=one_shot,
            passwd_fd=fds[0],
            group_fd=fds[1],
            seccomp_fd=fds[2],
            info_fd=info_w,
        )
        popen = functools.partial(
            subprocess.Popen,
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=fds,
        )
        try:
            return _SPAWNER.call(popen)
        except OSError as exc:
            raise SandboxUnavailable(f"cannot start bwrap ({argv[0]}): {exc}") from exc
        finally:
            for fd in fds:
                os.close(fd)

    def _handshake(self, info_r: int, as_root: bool) -> None:
        """Wait for the zygote's ``ready``; learn its host pid from bwrap's --info-fd JSON."""
        self._in = self.proc.stdin.fileno()  # type: ignore[union-attr]
        self._out = self.proc.stdout.fileno()  # type: ignore[union-attr]
        os.set_blocking(self._in, False)
        try:
            self._expect("ready", time.monotonic() + START_TIMEOUT)
            chunks = []
            while chunk := os.read(info_r, 4096):  # bwrap closes it before starting the zygote
                chunks.append(chunk)
            self.worker_pid = int(json.loads(b"".join(chunks))["child-pid"])
            self.pidfd = os.pidfd_open(self.worker_pid)
        except (SlotDied, TimeoutError, OSError, ValueError, KeyError) as exc:
            detail = self.kill()
            hint = "" if as_root else " -- are unprivileged user namespaces enabled?"
            raise SandboxUnavailable(
                f"bwrap could not start the sandbox ({exc}); it said: {detail or '(nothing)'}"
                + hint
            ) from exc

    def alive(self) -> bool:
        """Whether bwrap (and so the zygote) is still running."""
        return self.proc.poll() is None

    def run(self, request: dict, deadline: float) -> dict:
        """Send ``request``; return the result frame (with ``oom_kills``: how many processes
        the kernel killed for memory during the run). TimeoutError past ``deadline``."""
        oom_before = 0
        if self.cgroup is not None:
            self.cgroup.limit(int(request["limits"]["memory_mb"]))
            oom_before = self.cgroup.oom_kills()
            request = {**request, "gate": True}
        self._send(encode_frame(request), deadline)
        self._expect("ack", deadline)
        if self.cgroup is not None:
            self._admit(deadline)
        try:
            report = self._expect("result", deadline)
        except SlotDied as exc:
            raise SlotDied(str(exc), started=True) from None
        report["oom_kills"] = self.cgroup.oom_kills() - oom_before if self.cgroup else 0
        return report

    def _admit(self, deadline: float) -> None:
        """Move the run's first process (waiting at the worker's gate) into the runs' cgroup,
        then let it go. Raises SlotDied if it cannot be moved: the run must not start uncounted."""
        children = children_of(self.worker_pid)  # type: ignore[arg-type]
        if len(children) != 1:
            raise SlotDied(f"expected one run process at the gate, found {children}", started=True)
        try:
            self.cgroup.admit(children[0])  # type: ignore[union-attr]
        except OSError as exc:
            raise SlotDied(f"cannot move the run into its cgroup: {exc}", started=True) from exc
        self._send(encode_frame({"type": "go"}), deadline)

    def terminate(self) -> None:
        """SIGKILL the zygote and wait until its whole PID namespace and bwrap are gone.

        Leaves the pipes open, so it is safe while another thread is inside ``run()``
        (that thread then sees the worker exit). Thread-safe and idempotent.
        """
        with self._kill_lock:
            if self._dead:
                return
            # Kill the zygote (PID 1: the kernel then kills the whole namespace) and let
            # bwrap reap it and exit; killing bwrap first would orphan the zygote to init.
            if self.pidfd is not None:
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
                select.select([self.pidfd], [], [], KILL_TIMEOUT)
            try:
                self.proc.wait(KILL_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self._dead = True

    def kill(self) -> str:
        """``terminate()``, then close the pipes; return what bwrap/the zygote said on stderr.

        Only for the thread that owns the slot (or when no thread is using it).
        """
        self.terminate()
        with self._kill_lock:
            if self._closed:
                return ""
            self._closed = True
            if self.pidfd is not None:
                os.close(self.pidfd)
                self.pidfd = None
            err = b""
            if self.proc.stderr is not None:
                os.set_blocking(self.proc.stderr.fileno(), False)
                with contextlib.suppress(OSError, ValueError):
                    err = self.proc.stderr.read(65536) or b""
            for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
            if self.cgroup is not None:
                self.cgroup.remove()
        return err.decode("utf-8", "replace").strip()

    def _send(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            self._wait(self._in, select.POLLOUT, deadline)
            try:
                view = view[os.write(self._in, view) :]
            except BrokenPipeError:
                raise SlotDied("sandbox worker exited", started=False) from None
            except BlockingIOError:
                continue

    def _expect(self, kind: str, deadline: float) -> dict:
        frame = self._read_frame(deadline)
        if frame.get("type") != kind:
            raise SlotDied(f"expected a {kind!r} frame, got {frame.get('type')!r}", started=True)
        return frame

    def _read_frame(self, deadline: float) -> dict:
        size = None
        while True:
            if size is None and len(self._buf) >= HEADER.size:
                (size,) = HEADER.unpack_from(self._buf)
                if size > MAX_FRAME:
                    raise SlotDied(f"oversized frame ({size} bytes)", started=True)
            if size is not None and len(self._buf) >= HEADER.size + size:
                body = bytes(self._buf[HEADER.size : HEADER.size + size])
                del self._buf[: HEADER.size + size]
                return decode_body(body)
            self._wait(self._out, select.POLLIN, deadline)
            chunk = os.read(self._out, 1 << 20)
            if not chunk:
                raise SlotDied("sandbox worker exited", started=False)
            self._buf += chunk

    @staticmethod
    def _wait(fd: int, event: int, deadline: float) -> None:
        poller = select.poll()
        poller.register(fd, event)
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not poller.poll(int(remaining * 1000) + 1):
            raise TimeoutError("sandbox worker did not answer in time")
