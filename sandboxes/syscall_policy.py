"""The system calls no sandboxed process may make, as one policy for both backends.

Every process in a sandbox (the zygote, the program, its guests and their children) runs under
a seccomp filter that allows everything except the calls below. They are the kernel surface
that container escapes and cross-run persistence go through, and nothing a test program needs:

- new namespaces and mounts: ``unshare``, ``setns``, ``clone``/``clone3`` with a namespace
  flag, ``mount`` and the new mount API, ``pivot_root``, ``chroot``: no nested user namespace,
  so no private capabilities, uncapped tmpfs, netfilter or raw sockets;
- kernel keyrings (``keyctl``, ``add_key``, ``request_key``): they outlive the process and the
  sandbox, a channel from one run to the next;
- other processes' memory and descriptors (``ptrace``, ``process_vm_readv``/``writev``,
  ``pidfd_getfd``, ``kcmp``);
- large attack surfaces with a history of exploits (``bpf``, ``perf_event_open``,
  ``userfaultfd``, ``io_uring_*``), and host administration (modules, ``kexec``, ``reboot``,
  swap, clocks, quotas, ``syslog``, file handles, ``personality``...).

The denied calls fail with EPERM. ``clone3`` fails with ENOSYS, because its flags sit in memory
that a filter cannot read; the C library then falls back to ``clone``, whose flags it checks.
The local backend compiles the policy to a BPF program with libseccomp (``bwrap --seccomp``),
the docker backend passes it to the engine as a seccomp profile.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile

DENIED = (
    # namespaces and mounts
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "mount_setattr",
    "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick",
    # keyrings
    "keyctl", "add_key", "request_key",
    # other processes
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
    # large attack surfaces
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "fanotify_init", "name_to_handle_at", "open_by_handle_at",
    # host administration
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
    "swapon", "swapoff", "acct", "quotactl", "syslog", "settimeofday", "clock_settime",
    "clock_adjtime", "adjtimex", "sethostname", "setdomainname", "iopl", "ioperm",
    "personality", "lookup_dcookie", "vhangup", "uselib", "ustat", "sysfs",
)  # fmt: skip
NOT_IMPLEMENTED = ("clone3",)
CLONE_NAMESPACE_FLAGS = {
    "CLONE_NEWTIME": 0x00000080,
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
}


def bpf_program() -> bytes:
    """The policy as a raw BPF program for this machine's architecture (``bwrap --seccomp``).

    Needs libseccomp through ``pyseccomp``; a syscall this kernel's table lacks is skipped."""
    import pyseccomp as seccomp

    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in DENIED:
        _add(rules, seccomp.ERRNO(errno.EPERM), name)
    for name in NOT_IMPLEMENTED:
        _add(rules, seccomp.ERRNO(errno.ENOSYS), name)
    for flag in CLONE_NAMESPACE_FLAGS.values():
        # clone(flags, ...): the flags are the first argument on every architecture but s390
        rules.add_rule(
            seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag)
        )
    with tempfile.TemporaryFile() as handle:
        rules.export_bpf(handle)
        handle.seek(0)
        return handle.read()


def _add(rules, action, name: str) -> None:  # noqa: ANN001 - pyseccomp objects
    with contextlib.suppress(ValueError, RuntimeError, OSError):  # unknown to this architecture
        rules.add_rule(action, name)


def docker_profile() -> dict:
    """The policy as a Docker seccomp profile (the JSON the engine takes in ``security_opt``)."""
    denied = {"names": list(DENIED), "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EPERM}
    enosys = {"names": list(NOT_IMPLEMENTED), "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOSYS}
    clone = [
        {
            "names": ["clone"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": errno.EPERM,
            "args": [{"index": 0, "value": flag, "valueTwo": flag, "op": "SCMP_CMP_MASKED_EQ"}],
        }
        for flag in CLONE_NAMESPACE_FLAGS.values()
    ]
    return {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [denied, enosys, *clone]}


def sealed_fd(data: bytes) -> int:
    """A pipe's read end pre-filled with ``data`` (a filter is a few hundred bytes: it fits)."""
    if len(data) > 60_000:
        raise ValueError(f"{len(data)} bytes do not fit a pipe buffer")
    read_fd, write_fd = os.pipe()
    os.write(write_fd, data)
    os.close(write_fd)
    return read_fd
