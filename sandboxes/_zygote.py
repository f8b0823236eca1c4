"""Pre-forked sandbox worker (the "zygote"): PID 1 of a bubblewrap sandbox.

The host starts it once per pool slot as ``python -I -S zygote.py --uid U --gid G [--setuid]``
inside ``bwrap`` (see ``sandboxes.local_bwrap``). It then serves requests, one at a time:

1. read a request frame (source, stdin, files, limits) from fd 0;
2. fork a child that starts a new session, drops to the unprivileged uid (``--setuid``, when
   the sandbox runs as real root), enters the empty work dir, writes the files, applies the
   rlimits, and runs the source in a fresh ``__main__`` module (no new interpreter start);
3. collect stdout/stderr (each capped) until every process of the run has exited, or the
   wall-clock limit / output cap is hit, then SIGKILL everything left: ``kill(-1)`` from PID 1
   reaches every other process of the PID namespace, and orphans are reparented to us;
4. send an ``ack`` frame right after the fork and a ``result`` frame at the end, on fd 1;
5. fork a janitor as each uid of the run that wipes the scratch dirs (``--scratch DIR``,
   repeatable; default the work dir) and SysV IPC objects, then check that nothing is left:
   a served zygote exits if anything is, a ``--one-shot`` zygote reports it in a last
   ``clean`` frame (``left``: what survived, ``[]`` if clean) and exits.

Before its ``ready`` frame the zygote checks the same places and wipes them if they hold
anything (a reused docker container), and exits without ``ready`` if that fails.

``--subreaper``: where the zygote is not PID 1 (``docker exec`` as root, with CAP_KILL), it
becomes a child subreaper, so every orphan of the run is its child; ``kill(-1)`` then reaches
every process of the container but PID 1 and the zygote itself. When ``_zygote_child`` is
already in ``sys.modules`` (installed there by the docker bootstrap, which ships these
sources in its command line) it is used as is, with nothing added to ``sys.path``.

Frames are a 4-byte big-endian length and a JSON object. The host imports this module for
the framing helpers, so it imports nothing outside the standard library.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import struct
import sys
import time
from types import ModuleType

HEADER = struct.Struct("!I")
MAX_FRAME = 1 << 30
PRELOAD = (
    "collections",
    "functools",
    "itertools",
    "math",
    "re",
    "string",
    "typing",
    "traceback",
    "base64",
    "socket",
)


def encode_frame(obj: dict) -> bytes:
    """Serialise ``obj`` as one length-prefixed JSON frame."""
    data = json.dumps(obj, separators=(",", ":")).encode()
    return HEADER.pack(len(data)) + data


def decode_body(data: bytes) -> dict:
    """Parse a frame body (without its length header)."""
    obj = json.loads(data)
    if not isinstance(obj, dict):
        raise ValueError("sandbox frame is not a JSON object")
    return obj


def _read_exact(fd: int, size: int) -> bytes | None:
    chunks, need = [], size
    while need:
        chunk = os.read(fd, min(need, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        need -= len(chunk)
    return b"".join(chunks)


def _read_frame(fd: int) -> dict | None:
    header = _read_exact(fd, HEADER.size)
    if header is None:
        return None
    (size,) = HEADER.unpack(header)
    body = _read_exact(fd, size) if size <= MAX_FRAME else None
    return None if body is None else decode_body(body)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


# ----------------------------------------------------------------------------- zygote side


def _reap(reaped: dict, block: bool = False) -> bool:
    """Reap finished processes into ``reaped``; False once no process is left but us."""
    while True:
        try:
            pid, status, usage = os.wait3(0 if block else os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True
        reaped[pid] = (status, usage)
        block = False


def _kill_all(reaped: dict) -> None:
    """SIGKILL every other process of this PID namespace (we are its init) and reap them."""
    while True:
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
        if not _reap(reaped, block=True):
            return


def _pump(fd: int, buf: bytearray, cap: int) -> tuple[bool, bool]:
    """Read one chunk from ``fd`` into ``buf`` (kept under ``cap``): (at_eof, overflowed)."""
    data = os.read(fd, 1 << 16)
    room = max(cap - len(buf), 0)
    buf += data[:room]
    return not data, len(data) > room


def _drain(fd: int) -> None:
    """Empty the non-blocking signal wake-up pipe."""
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def _collect(out_r: int, err_r: int, wake_r: int, limits: dict) -> dict:
    """Gather output until every process of the run is gone, the deadline or the output cap."""
    cap, deadline = int(limits["max_output_bytes"]), time.monotonic() + limits["wall_seconds"]
    bufs = {out_r: bytearray(), err_r: bytearray()}
    overflow = {out_r: False, err_r: False}
    poller = select.poll()
    for fd in (out_r, err_r, wake_r):
        poller.register(fd, select.POLLIN)
    open_fds, reaped, killed = {out_r, err_r}, {}, None
    while killed is None:
        if not _reap(reaped) and not open_fds:
            break
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            killed = "timeout"
            break
        for fd, _ in poller.poll(int(remaining * 1000) + 1):
            if fd == wake_r:
                _drain(wake_r)
                continue
            eof, overflow[fd] = _pump(fd, bufs[fd], cap)
            if eof:
                poller.unregister(fd)
                open_fds.discard(fd)
            elif overflow[fd]:
                killed = "output"
    _kill_all(reaped)
    for fd in open_fds:  # every writer is dead now: read what is left up to EOF
        while True:
            eof, over = _pump(fd, bufs[fd], cap)
            overflow[fd] = overflow[fd] or over
            if eof:
                break
    return {"bufs": bufs, "overflow": overflow, "reaped": reaped, "killed": killed}


def _decode_status(status: int | None) -> tuple[int | None, int | None]:
    """(exit code, terminating signal) of a wait status; (None, None) if never reaped."""
    if status is not None and os.WIFEXITED(status):
        return os.WEXITSTATUS(status), None
    if status is not None and os.WIFSIGNALED(status):
        return None, os.WTERMSIG(status)
    return None, None


def _report(main_pid: int, out_r: int, err_r: int, run: dict) -> dict:
    """The result frame: output, the main process's fate, resource use of the whole tree."""
    status, usage = run["reaped"].get(main_pid, (None, None))
    usages = [u for _, u in run["reaped"].values()]
    exit_code, term_signal = _decode_status(status)
    return {
        "type": "result",
        "stdout": run["bufs"][out_r].decode("utf-8", "replace"),
        "stderr": run["bufs"][err_r].decode("utf-8", "replace"),
        "stdout_truncated": run["overflow"][out_r],
        "stderr_truncated": run["overflow"][err_r],
        "exit_code": exit_code,
        "signal": term_signal,
        "killed": run["killed"],
        "main_cpu": usage.ru_utime + usage.ru_stime if usage else 0.0,
        "cpu": sum(u.ru_utime + u.ru_stime for u in usages),
        "maxrss_kb": max((u.ru_maxrss for u in usages), default=0),
        "processes": len(usages),
    }


def _serve(req: dict, args: dict, proto: tuple[int, int], wake_r: int, child: ModuleType) -> None:
    """Run one request in a forked child; send the ack and result frames.

    With ``req["gate"]`` the child waits, before it does anything, until the host answers the
    ack with a ``go`` frame: the host first moves it into the run's memory cgroup (local
    backend), so every page the run allocates is counted there and none in the worker's."""
    proto_in, proto_out = proto
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    stdin_fd = os.memfd_create("stdin")
    _write_all(stdin_fd, req.get("stdin", "").encode("utf-8", "surrogateescape"))
    os.lseek(stdin_fd, 0, os.SEEK_SET)
    gate_r, gate_w = os.pipe() if req.get("gate") else (-1, -1)
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            if gate_r >= 0:
                os.close(gate_w)
                if os.read(gate_r, 1) != b"g":  # the host said no, or is gone
                    os._exit(child.SETUP_FAILED)
                os.close(gate_r)
            child.child_main(req, args, stdin_fd, out_w, err_w)
        finally:
            os._exit(child.SETUP_FAILED)
    for fd in (stdin_fd, out_w, err_w):
        os.close(fd)
    _write_all(proto_out, encode_frame({"type": "ack", "pid": pid}))
    if gate_r >= 0:
        os.close(gate_r)
        go = _read_frame(proto_in)
        if go is not None and go.get("type") == "go":
            os.write(gate_w, b"g")
        os.close(gate_w)
    report = _report(pid, out_r, err_r, _collect(out_r, err_r, wake_r, req["limits"]))
    report["wall"] = time.monotonic() - start
    os.close(out_r)
    os.close(err_r)
    _write_all(proto_out, encode_frame(report))


def _janitor(child: ModuleType, uid: int | None, scratch: tuple[str, ...]) -> bool:
    """Fork a janitor running as ``uid`` (None: ours); True if it wiped what that uid owns."""
    pid = os.fork()
    if pid == 0:
        child.janitor_main(uid, uid, scratch)
    _, status = os.waitpid(pid, 0)
    return status == 0


def _clean(args: dict, child: ModuleType, guests: bool) -> list[str]:
    """Wipe the scratch dirs and IPC objects as each uid of the run, then check: what is still
    left (``[]`` if the sandbox is clean). The janitors (a fork each) run only when there is
    something to wipe: they remove exactly what ``leftovers`` lists."""
    if not child.leftovers(args["scratch"]):
        return []
    uids = [args["uid"] if args["setuid"] else None]
    if guests and args["setuid"]:
        uids.append(args["guest_uid"])
    wiped = all([_janitor(child, uid, args["scratch"]) for uid in uids])
    left = child.leftovers(args["scratch"])
    return left if wiped or left else ["(a janitor failed)"]


def _check_clean_start(args: dict, child: ModuleType) -> None:
    """Before serving: the scratch dirs and IPC tables must be empty (wiped if they are not);
    exit, with no ``ready`` frame, if they cannot be emptied."""
    left = _clean(args, child, guests=True)
    if left:
        raise SystemExit(f"sandbox zygote: not clean before the run ({left[:3]}); exiting")


def _parse_args(argv: list[str], workdir: str) -> dict:
    """``--uid N --gid N [--guest-uid N] [--setuid] [--one-shot] [--subreaper]`` and any number
    of ``--scratch DIR`` (default: the work dir only)."""
    args = {"uid": os.getuid(), "gid": os.getgid(), "setuid": False, "one_shot": False}
    args.update(guest_uid=args["uid"], subreaper=False, scratch=[])
    it = iter(argv)
    for flag in it:
        if flag in ("--uid", "--gid", "--guest-uid"):
            args[flag[2:].replace("-", "_")] = int(next(it))
        elif flag in ("--setuid", "--one-shot", "--subreaper"):
            args[flag[2:].replace("-", "_")] = True
        elif flag == "--scratch":
            args["scratch"].append(next(it))
        else:
            raise SystemExit(f"sandbox zygote: unknown argument {flag!r}")
    args["scratch"] = tuple(args["scratch"]) or (workdir,)
    return args


def _child_module() -> ModuleType:
    """``_zygote_child``: the one already in ``sys.modules`` (docker bootstrap), else the file
    next to this one."""
    if "_zygote_child" not in sys.modules:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import _zygote_child

    return _zygote_child


def main(argv: list[str]) -> int:
    """Serve requests from fd 0 until EOF (or one request with ``--one-shot``)."""
    child = _child_module()
    args = _parse_args(argv, child.WORKDIR)
    if args["subreaper"]:
        child.set_subreaper()
    proto_in, proto_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    child.prctl_dumpable(0)  # no ptrace / /proc/1/mem access from a run with our uid
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # as PID 1: ignored from inside the sandbox
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    for name in () if args["one_shot"] else PRELOAD:  # shared by later runs: not one-shot
        __import__(name)
    _check_clean_start(args, child)
    _write_all(proto_out, encode_frame({"type": "ready", "pid": os.getpid()}))
    while (req := _read_frame(proto_in)) is not None:
        _serve(req, args, (proto_in, proto_out), wake_r, child)
        left = _clean(args, child, bool(req.get("guests")))
        if args["one_shot"]:
            _write_all(proto_out, encode_frame({"type": "clean", "left": left[:20]}))
            break
        if left:
            raise SystemExit(f"sandbox zygote: not clean after the run ({left[:3]}); exiting")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
