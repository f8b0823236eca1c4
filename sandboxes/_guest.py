"""Guest launcher: lets a sandboxed program run code as a second, separate user (the "guest").

Runs inside the sandbox (bind-mounted next to ``_zygote.py``; standard library only). When a
request asks for guests, the run's child forks this launcher *before* it drops privileges, and
the program gets one end of a socket pair as file descriptor ``GUEST_FD`` (environment variable
``GRPOKIT_GUEST_FD``). Where the sandbox runs as real root, the launcher keeps only
CAP_SETUID/CAP_SETGID/CAP_KILL and every guest runs as its own uid, different from the
program's: a guest can neither signal, ptrace nor read the memory, descriptors or environment of
the program (which is also non-dumpable) or of the launcher. Without root (a user namespace
maps one uid only) guests share the program's uid; the program stays non-dumpable, so a guest
still cannot read its memory or descriptors, but could signal it.

Every guest is a fresh interpreter (``execve``): it inherits no memory of the program or of the
launcher, only the descriptors the program passed and a fixed environment. The launcher is a
child subreaper, so every process a guest leaves behind becomes the launcher's child and is
killed by the next ``reset``.

Protocol (SOCK_SEQPACKET, one JSON object per message, descriptors as SCM_RIGHTS):

- ``{"op": "spawn", "argv": [...]}`` with descriptors for the guest's fds 0, 1, 2, 3, ...
  (``argv[0]`` is replaced by this interpreter's path) -> ``{"pid": N}`` or ``{"error": "..."}``
- ``{"op": "wait", "pid": N, "seconds": S}`` -> ``{"status": wait-status or null}`` (null: still
  running after S seconds)
- ``{"op": "reset"}``: SIGKILL every guest process, reap them, empty the guest home ->
  ``{"killed": N}``

The launcher exits when the program's end of the socket closes, after a final reset.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import select
import signal
import stat
import sys
import time

GUEST_FD = 3
GUEST_HOME = "/tmp/guest"
GUEST_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": GUEST_HOME,
    "TMPDIR": GUEST_HOME,
    "LANG": "C.UTF-8",
    "PYTHONNOUSERSITE": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
}
MAX_MESSAGE = 1 << 20
MAX_FDS = 8
PR_SET_CHILD_SUBREAPER = 36
PR_SET_DUMPABLE = 4

_LIBC = ctypes.CDLL(None, use_errno=True)


def _prctl(option: int, value: int) -> None:
    if _LIBC.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


class Launcher:
    """Serves one program's requests; ``uid``/``gid`` is the guest identity (None: keep ours)."""

    def __init__(self, sock: object, uid: int | None, gid: int | None, limits: dict):
        self.sock, self.uid, self.gid, self.limits = sock, uid, gid, limits
        self.statuses: dict[int, int] = {}  # exit statuses of reaped children, by pid
        self.spawned: set[int] = set()

    # -- requests ------------------------------------------------------------------------------

    def serve(self) -> None:
        import socket

        while True:
            try:
                data, fds, _, _ = socket.recv_fds(self.sock, MAX_MESSAGE, MAX_FDS)
            except OSError:
                break
            if not data:
                for fd in fds:
                    os.close(fd)
                break
            try:
                reply = self._handle(json.loads(data), fds)
            except Exception as exc:  # a bad request gets an answer, never kills the launcher
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            finally:
                for fd in fds:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            try:
                self.sock.send(json.dumps(reply).encode())
            except OSError:
                break
        self.reset()

    def _handle(self, request: dict, fds: list[int]) -> dict:
        op = request.get("op")
        if op == "spawn":
            return {"pid": self.spawn([str(a) for a in request["argv"]], fds)}
        if op == "wait":
            return {"status": self.wait(int(request["pid"]), float(request["seconds"]))}
        if op == "reset":
            return {"killed": self.reset()}
        raise ValueError(f"unknown op {op!r}")

    # -- spawn ---------------------------------------------------------------------------------

    def spawn(self, argv: list[str], fds: list[int]) -> int:
        if not argv:
            raise ValueError("empty argv")
        if len(self.spawned) >= int(self.limits["max_processes"]):
            raise ValueError("too many guests")
        pid = os.fork()
        if pid == 0:
            try:
                self._become_guest(fds)
                os.execve(sys.executable, [sys.executable, *argv[1:]], GUEST_ENV)
            finally:
                os._exit(127)
        self.spawned.add(pid)
        return pid

    def _become_guest(self, fds: list[int]) -> None:
        """In the forked child: new session, guest uid, home, limits, descriptors."""
        os.setsid()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        signal.set_wakeup_fd(-1)
        prefer_for_oom_killer(1000)  # out of memory, a guest goes first (the tester stays)
        if self.uid is not None:
            drop_privileges(self.uid, self.gid)
        os.umask(0o077)
        with contextlib.suppress(FileExistsError):
            os.mkdir(GUEST_HOME, 0o700)
        home = os.lstat(GUEST_HOME)
        if not stat.S_ISDIR(home.st_mode) or home.st_uid != os.getuid():
            raise PermissionError("the guest home is not the guest's own directory")
        os.chdir(GUEST_HOME)
        apply_limits(self.limits)
        moved = [os.dup(fd) for fd in fds]  # above every target number before the dup2s
        for target, fd in enumerate(moved):
            os.dup2(fd, target, inheritable=True)
        os.closerange(len(moved), 1 << 20)

    # -- wait and reset ------------------------------------------------------------------------

    def _reap(self, block_seconds: float = 0.0) -> None:
        """Collect exit statuses of every finished child (guests and orphans reparented to us)."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.statuses[pid] = status

    def wait(self, pid: int, seconds: float) -> int | None:
        """The wait status of guest ``pid`` once it exits, or None after ``seconds``."""
        if pid not in self.spawned:
            raise ValueError(f"{pid} is not a guest")
        deadline = time.monotonic() + max(seconds, 0.0)
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            pidfd = None
        try:
            while pid not in self.statuses:
                self._reap()
                if pid in self.statuses:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0 or pidfd is None:
                    return None
                select.select([pidfd], [], [], min(remaining, 0.5))
        finally:
            if pidfd is not None:
                os.close(pidfd)
        return self.statuses[pid]

    def reset(self) -> int:
        """SIGKILL every process left under us, reap it, and empty the guest home."""
        killed = 0
        while True:
            children = _children()
            if not children:
                self._reap()
                if not _children():
                    break
                continue
            for pid in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
            time.sleep(0)  # let the kernel deliver, then reap below
            for _ in children:
                try:
                    pid, status = os.waitpid(-1, 0)
                except ChildProcessError:
                    break
                self.statuses[pid] = status
        self.spawned.clear()
        self.statuses.clear()
        self._wipe_home()
        return killed

    def _wipe_home(self) -> None:
        """Empty the guest home as the guest (we have no right to its files otherwise)."""
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                if self.uid is not None:
                    drop_privileges(self.uid, self.gid)
                if os.path.isdir(GUEST_HOME) and os.lstat(GUEST_HOME).st_uid == os.getuid():
                    remove_tree_contents(GUEST_HOME)
                status = 0
            finally:
                os._exit(status)
        os.waitpid(pid, 0)


def _children() -> list[int]:
    """Our live children (guests, and processes they left that were reparented to us)."""
    return children_of(os.getpid())


def children_of(pid: int) -> list[int]:
    """The pids of ``pid``'s children (also used by the host, for its workers)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(p) for p in handle.read().split()]
    except OSError:
        pass
    found: list[int] = []
    for name in os.listdir("/proc"):  # kernels without CONFIG_PROC_CHILDREN
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(name))
    return found


def drop_privileges(uid: int, gid: int) -> None:
    """Become ``uid``/``gid`` with no supplementary groups."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)  # from root to non-root: clears every capability


def prefer_for_oom_killer(score: int) -> None:
    """Raise our ``oom_score_adj`` (always allowed, unlike lowering it): out of memory, the
    kernel kills the higher scores first."""
    with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as handle:
        handle.write(str(score))


def apply_limits(limits: dict) -> None:
    """The run's rlimits (hard == soft, so they cannot be raised)."""
    mb = 1 << 20
    for which, value in (
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_MSGQUEUE, 0),
        (resource.RLIMIT_CPU, int(limits["cpu_seconds"])),
        (resource.RLIMIT_AS, int(limits["memory_mb"]) * mb),
        (resource.RLIMIT_NPROC, int(limits["max_processes"])),
        (resource.RLIMIT_FSIZE, int(limits["max_file_mb"]) * mb),
        (resource.RLIMIT_NOFILE, int(limits["max_open_files"])),
    ):
        # CPU: SIGXCPU at the soft limit, SIGKILL one second later at the hard limit
        hard = value + 1 if which == resource.RLIMIT_CPU else value
        resource.setrlimit(which, (value, hard))


def remove_tree_contents(root: str, mine_only: bool = False) -> None:
    """Delete everything under ``root``, fixing modes on the way (no recursion limit).

    ``mine_only``: leave the top-level entries another uid owns (a sticky, shared ``/tmp``),
    for that uid's own janitor."""
    me = os.getuid()
    stack = []
    for name in os.listdir(root):
        path = os.path.join(root, name)
        if not mine_only or os.lstat(path).st_uid == me:
            stack.append((path, False))
    while stack:
        path, emptied = stack.pop()
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            os.unlink(path)
        elif emptied:
            os.rmdir(path)
        else:
            os.chmod(path, 0o700)
            stack.append((path, True))
            stack.extend((os.path.join(path, name), False) for name in os.listdir(path))


def start_launcher(uid: int | None, gid: int | None, limits: dict) -> object:
    """Fork the launcher from the run's child; return the program's end of the socket.

    ``socket`` is imported here, not at module level: a run without guests never pays for it."""
    import socket

    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        status = 0
        try:
            ours.close()
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            keep = theirs.fileno()
            os.closerange(3, keep)
            os.closerange(keep + 1, 1 << 20)
            _prctl(PR_SET_DUMPABLE, 0)
            _prctl(PR_SET_CHILD_SUBREAPER, 1)
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
                signal.signal(sig, signal.SIG_IGN)
            Launcher(theirs, uid, gid, limits).serve()
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    theirs.close()
    return ours
