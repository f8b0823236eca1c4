"""Child side of the sandbox zygote: prepare one forked child and run the program in it.

Imported only inside the sandbox, by ``_zygote.py`` (it is bind-mounted next to it).
Everything here runs after ``fork()`` and before the untrusted source; ``child_main``
never returns.
"""

from __future__ import annotations

import atexit
import builtins
import ctypes
import io
import linecache
import os
import signal
import site
import sys
import types

try:
    import _guest  # inside the sandbox: bind-mounted side by side
except ImportError:  # imported as part of the sandboxes package (tests, lint)
    from sandboxes import _guest

WORKDIR = "/tmp"
SETUP_FAILED = 125  # exit code of a child whose setup (not the program) failed
CHILD_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": WORKDIR,
    "TMPDIR": WORKDIR,
    "LANG": "C.UTF-8",
    "USER": "sandbox",
    "LOGNAME": "sandbox",
    "PYTHONNOUSERSITE": "1",  # an interpreter the program starts ignores a planted user site
    "PYTHONDONTWRITEBYTECODE": "1",
}
SYSV_TABLES = ("shm", "msg", "sem")

_LIBC = ctypes.CDLL(None, use_errno=True)


def prctl_dumpable(flag: int) -> None:
    """PR_SET_DUMPABLE: 0 forbids ptrace and /proc/PID/mem access by same-uid processes."""
    _LIBC.prctl(4, flag, 0, 0, 0)


def _write_files(files: dict) -> None:
    """Write the request's files (base64 on the wire) into the work dir."""
    import base64  # here, not at start-up: most runs have no files

    for name, (_, data) in files.items():
        path = os.path.join(WORKDIR, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(base64.b64decode(data))


def _std_streams() -> None:
    """Fresh sys.stdin/stdout/stderr on fds 0-2, configured as the interpreter would."""

    def stream(fd: int, mode: str, errors: str, line: bool) -> io.TextIOWrapper:
        raw = io.FileIO(fd, mode, closefd=False)
        buf = io.BufferedReader(raw) if mode == "r" else io.BufferedWriter(raw)
        return io.TextIOWrapper(buf, encoding="utf-8", errors=errors, line_buffering=line)

    sys.stdin = sys.__stdin__ = stream(0, "r", "surrogateescape", False)
    sys.stdout = sys.__stdout__ = stream(1, "w", "surrogateescape", False)
    sys.stderr = sys.__stderr__ = stream(2, "w", "backslashreplace", True)


def _exit_status(code: object) -> int:
    """The process exit status for ``SystemExit(code)``, as the interpreter computes it."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _finish(status: int) -> int:
    """What the interpreter does at exit: join threads, run atexit hooks, flush."""
    threading = sys.modules.get("threading")
    try:
        if threading is not None:
            threading._shutdown()  # type: ignore[attr-defined]
        atexit._run_exitfuncs()
    except BaseException:  # a failing hook must not stop the flush below
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            status = status or 120
    return status


def _run_program(source: str, guests: bool) -> int:
    """Run ``source`` as ``__main__`` the way ``python main.py`` would; return the exit code.

    With guests, the work dir is not put on ``sys.path``: guests may write to ``/tmp``, and a
    module they plant there must never be imported by the program."""
    _std_streams()
    site.setquit()  # exit() / quit() builtins, which -S leaves out
    main = types.ModuleType("__main__")
    main.__builtins__ = builtins  # type: ignore[attr-defined]
    sys.modules["__main__"] = main
    sys.argv = ["main.py"]
    if not guests:
        sys.path.insert(0, WORKDIR)
    linecache.cache["main.py"] = (len(source), None, source.splitlines(True), "main.py")
    random = sys.modules.get("random")
    if random is not None:
        random.seed()
    try:
        exec(compile(source, "main.py", "exec"), main.__dict__)  # we are the sandboxed child
        status = 0
    except SystemExit as exc:
        status = _exit_status(exc.code)
    except BaseException as exc:
        status = 1
        try:
            import traceback

            traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)  # type: ignore[union-attr]
        except BaseException:
            os.write(2, f"\n{type(exc).__name__}\n".encode())
    return _finish(status)


def _start_guests(args: dict, limits: dict) -> None:
    """Fork the guest launcher (still privileged) and put the program's end at GUEST_FD."""
    uid = args["guest_uid"] if args["setuid"] else None
    fd = _guest.start_launcher(uid, uid, limits).detach()
    if fd != _guest.GUEST_FD:
        os.dup2(fd, _guest.GUEST_FD)
        os.close(fd)


def child_main(req: dict, args: dict, stdin_fd: int, out_w: int, err_w: int) -> None:
    """Runs in the forked child; never returns.

    With ``req["guests"]`` the program is trusted to keep secrets: it stays non-dumpable (no
    process of its uid can ptrace it or open its ``/proc`` files), its files are private
    (umask 077) and it may start guests through the launcher (see ``_guest``)."""
    guests = bool(req.get("guests"))
    try:
        os.setsid()
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for fd, target in ((stdin_fd, 0), (out_w, 1), (err_w, 2)):
            os.dup2(fd, target)
        os.closerange(3, 1 << 20)
        if guests:
            _start_guests(args, req["limits"])
        # out of memory, the kernel kills the run (guests first) before the worker, which may
        # not lower its own score (docker)
        _guest.prefer_for_oom_killer(500 if guests else 1000)
        if args["setuid"]:
            _guest.drop_privileges(args["uid"], args["gid"])
        prctl_dumpable(0 if guests else 1)
        os.umask(0o077 if guests else 0o022)
        os.chdir(WORKDIR)
        _write_files(req.get("files") or {})
        _guest.apply_limits(req["limits"])
        os.environ.clear()
        os.environ.update(CHILD_ENV)
        if guests:
            os.environ["GRPOKIT_GUEST_FD"] = str(_guest.GUEST_FD)
    except BaseException as exc:
        os.write(2, f"sandbox setup failed: {exc!r}\n".encode())
        os._exit(SETUP_FAILED)
    status = 1
    try:
        status = _run_program(req["source"], guests)
    finally:
        os._exit(status)


# ----------------------------------------------------------------------------- janitor


def _remove_sysv_ipc() -> None:
    """Remove the SysV shared memory, queues and semaphores we own (IPC_RMID == 0)."""
    libc = _LIBC
    removers = {
        "shm": lambda ident: libc.shmctl(ident, 0, None),
        "msg": lambda ident: libc.msgctl(ident, 0, None),
        "sem": lambda ident: libc.semctl(ident, 0, 0),
    }
    for kind in SYSV_TABLES:
        for ident in sysv_ids(kind):
            removers[kind](ident)  # objects of the other uid are that uid's janitor's job


def sysv_ids(kind: str) -> list[int]:
    """Identifiers of the SysV IPC objects of one kind in our IPC namespace."""
    with open(f"/proc/sysvipc/{kind}") as table:
        return [int(line.split()[1]) for line in table.readlines()[1:] if line.strip()]


def janitor_main(uid: int | None, gid: int | None, scratch: tuple[str, ...] = (WORKDIR,)) -> None:
    """Runs in a forked child after each request, as one of the run's uids; never returns.

    Empties every ``scratch`` directory of what this uid owns (POSIX message queues are files
    of ``/dev/mqueue``, so listing that directory here wipes them too) and its SysV objects."""
    status = 1
    try:
        if uid is not None:
            _guest.drop_privileges(uid, gid)
        for directory in scratch:
            _guest.remove_tree_contents(directory, mine_only=True)
        _remove_sysv_ipc()
        status = 0
    except BaseException as exc:
        os.write(2, f"sandbox janitor failed: {exc!r}\n".encode())
    finally:
        os._exit(status)


def leftovers(scratch: tuple[str, ...] = (WORKDIR,)) -> list[str]:
    """What a wiped sandbox still holds (entries of the scratch dirs, SysV IPC objects); [] if
    clean."""
    found = [f"{directory}/{name}" for directory in scratch for name in os.listdir(directory)]
    for kind in SYSV_TABLES:
        found += [f"sysv {kind} {ident}" for ident in sysv_ids(kind)]
    return found


def set_subreaper() -> None:
    """PR_SET_CHILD_SUBREAPER: where the zygote is not PID 1 (docker), every process the run
    orphans is re-parented to it, not to PID 1, so its kill-all and reap loop sees them all."""
    if _LIBC.prctl(_guest.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")
