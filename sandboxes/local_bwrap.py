"""How the local sandbox calls bubblewrap: host checks, the mount plan and the command line.

The sandbox sees only: read-only ``/usr`` (with the ``/bin``, ``/lib*`` links or binds the
host has), a few ``/etc`` files the dynamic loader needs plus a synthetic ``passwd``/``group``,
the interpreter's own install prefix read-only (its ``site-packages`` hidden under an empty
read-only tmpfs), the two zygote files, a fresh ``/proc`` of its own PID namespace, a
minimal ``/dev`` and a size-capped private tmpfs at ``/tmp`` (the only writable place).

Two ways to get an unprivileged program, chosen by who runs the host process:

* **root** (``setuid`` mode): no user namespace. The zygote keeps only CAP_SETUID, CAP_SETGID
  and CAP_KILL; each run's child drops to the slot's own uid (unique per slot, never a host
  account), so RLIMIT_NPROC is enforced (it is not for uid 0).
* **non-root** (``userns`` mode): an unprivileged user namespace maps the slot uid onto the
  host user; all capabilities are dropped and nested user namespaces are disabled.

In both modes every process runs under the seccomp filter of ``sandboxes.syscall_policy`` (no
new namespaces, mounts, keyrings, ptrace, bpf, io_uring...).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from sandboxes.base import SandboxUnavailable

ZYGOTE_DIR = "/opt/grpokit-sandbox"
ZYGOTE_FILES = ("_zygote.py", "_zygote_child.py", "_guest.py")
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives")
TOP_LEVEL_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
UID_BASE = 1_000_000  # slot uids live in [UID_BASE, UID_BASE + 10**8): keep host accounts out
GUEST_UID_OFFSET = 10**8  # a slot's guests run as its uid + this (root mode; see _guest.py)
_slot_counter = itertools.count()

_PROBE = (
    "import json, sys, sysconfig; print(json.dumps({'prefixes': [sys.base_prefix, "
    "sys.base_exec_prefix], 'site': [sysconfig.get_path(k, vars={'base': sys.base_prefix, "
    "'platbase': sys.base_exec_prefix}) for k in ('purelib', 'platlib')]}))"
)


@dataclass(frozen=True)
class HostPython:
    """The interpreter the sandbox runs and the directories it needs read-only."""

    executable: str
    prefixes: tuple[str, ...]
    hidden: tuple[str, ...]  # site-packages directories masked by an empty tmpfs


@dataclass(frozen=True)
class BwrapPlan:
    """Everything needed to build one sandbox's ``bwrap`` command line."""

    bwrap: str
    python: HostPython
    as_root: bool
    tmp_size_mb: int


def find_bwrap() -> str:
    """Path of ``bwrap``, or SandboxUnavailable saying how to install it."""
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxUnavailable(
            "the local sandbox needs bubblewrap: `bwrap` is not on PATH "
            "(run `sudo bash sandboxes/setup-host.sh` or `apt-get install bubblewrap`)"
        )
    return path


def host_python(executable: str | None = None) -> HostPython:
    """Describe ``executable`` (default: this interpreter's base install, not the venv)."""
    if executable is None:
        exe = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
        prefixes = [sys.base_prefix, sys.base_exec_prefix]
        paths = {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}
        site = [sysconfig.get_path(k, vars=paths) for k in ("purelib", "platlib")]
    else:
        exe = shutil.which(executable) or executable
        exe = os.path.realpath(exe)
        try:
            out = subprocess.run(
                [exe, "-I", "-S", "-c", _PROBE], capture_output=True, text=True, check=True
            ).stdout
        except (OSError, subprocess.CalledProcessError) as exc:
            raise SandboxUnavailable(f"cannot run python={executable!r}: {exc}") from exc
        info = json.loads(out)
        prefixes, site = info["prefixes"], info["site"]
    real = tuple(dict.fromkeys(os.path.realpath(p) for p in prefixes))
    for prefix in real:
        if prefix == "/" or not Path(prefix).is_dir():
            raise SandboxUnavailable(f"python prefix {prefix!r} of {exe} cannot be bound")
    if not any(exe.startswith(p + "/") for p in (*real, "/usr")):
        raise SandboxUnavailable(f"interpreter {exe} lies outside its prefixes {real}")
    hidden = tuple(dict.fromkeys(os.path.realpath(p) for p in site if Path(p).is_dir()))
    return HostPython(executable=exe, prefixes=real, hidden=hidden)


def next_slot_uid() -> int:
    """A uid no other live slot of this process uses (also distinct across processes)."""
    return UID_BASE + (os.getpid() % 100_000) * 1000 + next(_slot_counter) % 1000


def passwd_data(uid: int, gid: int) -> tuple[bytes, bytes]:
    """Synthetic ``/etc/passwd`` and ``/etc/group`` (no host accounts leak in)."""
    guest = uid + GUEST_UID_OFFSET
    passwd = (
        "root:x:0:0::/root:/usr/sbin/nologin\n"
        f"sandbox:x:{uid}:{gid}::/tmp:/usr/sbin/nologin\n"
        f"guest:x:{guest}:{guest}::/tmp/guest:/usr/sbin/nologin\n"
    )
    group = f"root:x:0:\nsandbox:x:{gid}:\nguest:x:{guest}:\n"
    return passwd.encode(), group.encode()


def _dirs_for(path: str) -> list[str]:
    """``--dir`` arguments (mode 0755) for every ancestor of ``path`` below ``/``."""
    args: list[str] = []
    parts = Path(path).parts[1:-1]
    for i in range(len(parts)):
        args += ["--perms", "0755", "--dir", "/" + "/".join(parts[: i + 1])]
    return args


def _system_mounts() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for top in TOP_LEVEL_LINKS:
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    args += ["--perms", "0755", "--dir", "/etc"]
    for path in ETC_FILES:
        args += ["--ro-bind-try", path, path]
    return args


def _python_mounts(py: HostPython) -> list[str]:
    args: list[str] = []
    for prefix in py.prefixes:
        if not prefix.startswith("/usr/"):
            args += _dirs_for(prefix) + ["--ro-bind", prefix, prefix]
    for site in py.hidden:
        args += ["--perms", "0755", "--tmpfs", site, "--remount-ro", site]
    here = Path(__file__).resolve().parent
    args += _dirs_for(f"{ZYGOTE_DIR}/x") + ["--perms", "0755", "--dir", ZYGOTE_DIR]
    for name in ZYGOTE_FILES:
        args += ["--ro-bind", str(here / name), f"{ZYGOTE_DIR}/{name}"]
    return args


def _identity(plan: BwrapPlan, uid: int, gid: int) -> list[str]:
    namespaces = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    namespaces.append("--unshare-cgroup-try")
    if plan.as_root:
        caps = ["--cap-drop", "ALL"]
        for cap in ("CAP_SETUID", "CAP_SETGID", "CAP_KILL"):
            caps += ["--cap-add", cap]
        return namespaces + caps
    user = ["--unshare-user", "--disable-userns", "--uid", str(uid), "--gid", str(gid)]
    return namespaces + user + ["--cap-drop", "ALL"]


def bwrap_argv(
    plan: BwrapPlan,
    uid: int,
    gid: int,
    *,
    one_shot: bool,
    passwd_fd: int,
    group_fd: int,
    info_fd: int,
    seccomp_fd: int,
) -> list[str]:
    """The full command line that starts one zygote (a pool slot, or a one-shot run)."""
    args = [plan.bwrap, *_identity(plan, uid, gid), "--info-fd", str(info_fd)]
    args += ["--seccomp", str(seccomp_fd)]  # sandboxes.syscall_policy
    args += ["--die-with-parent", "--new-session", "--as-pid-1", "--clearenv"]
    args += ["--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin", "--hostname", "sandbox"]
    args += _system_mounts()
    args += ["--perms", "0644", "--ro-bind-data", str(passwd_fd), "/etc/passwd"]
    args += ["--perms", "0644", "--ro-bind-data", str(group_fd), "/etc/group"]
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--perms", "1777", "--size", str(plan.tmp_size_mb << 20), "--tmpfs", "/tmp"]
    args += _python_mounts(plan.python)
    args += ["--remount-ro", "/dev", "--remount-ro", "/"]  # owned by the uid in userns mode
    args += ["--chdir", "/tmp", "--", plan.python.executable, "-I", "-S", "-B"]
    args += [f"{ZYGOTE_DIR}/_zygote.py", "--uid", str(uid), "--gid", str(gid)]
    args += ["--guest-uid", str(uid + GUEST_UID_OFFSET)]
    if plan.as_root:
        args.append("--setuid")
    if one_shot:
        args.append("--one-shot")
    return args
