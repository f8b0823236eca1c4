"""The sandbox zygote of the local backend, run once per ``docker exec`` in a warm container.

Every docker run is ONE ``docker exec`` as root (uid 0 with only CAP_SETUID, CAP_SETGID and
CAP_KILL, no new privileges) of ``python3 -I -S -B -c BOOTSTRAP``. The exec's stdin brings
first a boot frame, then the request frame. The boot frame carries ``_guest.py``,
``_zygote_child.py`` and ``_zygote.py`` (read from this package on the host at each start, each
as its source and its code compiled on the host) and the seccomp filter, so the image needs no
change when they change and nothing of ours lies on a path any run could write to. (They
travel on stdin, not in the command line: a 100 KB command line costs runc ~45 ms per exec.)
The bootstrap installs the modules in ``sys.modules`` (never on disk), stacks the local
backend's seccomp filter (``syscall_policy``) on top of Docker's default profile (which lets
``io_uring_*`` and ``ptrace`` through), and calls ``_zygote.main`` with ``--one-shot``: the
same code as the local backend then serves the one request, with the same guarantees:

- the program runs as ``RUN_UID``, its guests (``guests=True``) as ``GUEST_UID``, PID 1 (the
  container's reaper) as ``INIT_UID``: three uids, none of which can signal, ptrace or read the
  ``/proc`` files of another; the zygote, the guest launcher and a guest-running program are
  non-dumpable; the zygote holds the exec's stdin and stdout, no program process ever does;
- stdin travels in the request frame and reaches the program as a memfd: never a file;
- every interpreter starts isolated (``-I -S -B``: no user site, no ``.pth``, no ``PYTHON*``
  variables, nothing writable on ``sys.path`` but the work dir of a guest-less run);
- the zygote is a child subreaper, so orphans of the run stay its children, and its final
  ``kill(-1, SIGKILL)`` reaches every process of the container but PID 1 and itself;
- before its ``ready`` frame and after the run, janitors as each uid wipe ``SCRATCH`` (the work
  dir, ``/dev/shm``, the POSIX message queues in ``/dev/mqueue``) and SysV IPC, and the zygote
  checks that nothing is left (the last ``clean`` frame says what survived, if anything).
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import marshal
from pathlib import Path

log = logging.getLogger(__name__)

INIT_UID = 65533  # PID 1, the reaper
RUN_UID = 65534  # nobody: the program
GUEST_UID = 65532  # the program's guests (the code tester's candidates)
WORKDIR = "/tmp"
SCRATCH = (WORKDIR, "/dev/shm", "/dev/mqueue")  # every place a run can write to
MODULES = ("_guest", "_zygote_child", "_zygote")  # in import order
PACKAGE_DIR = Path(__file__).resolve().parent

# Reads the boot frame (4-byte big-endian length, then a marshal'ed dict: bpf, magic, modules)
# from fd 0 with plain reads, leaving the request frame behind it for the zygote. A module's code
# compiled on the host is used when this interpreter has the same bytecode magic (saves compiling
# ~60 KB of source per run), else its source is compiled here. (marshal: no import, no parse.)
BOOTSTRAP = """\
import marshal, os, sys, types
def read(size):
    data = b""
    while len(data) < size:
        chunk = os.read(0, size - len(data))
        if not chunk:
            raise SystemExit("grpokit bootstrap: stdin ended inside the boot frame")
        data += chunk
    return data
boot = marshal.loads(read(int.from_bytes(read(4), "big")))
bpf = boot["bpf"]
if bpf:  # stacked on Docker's own filter; allowed because no_new_privs is set
    import ctypes
    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
    code = ctypes.create_string_buffer(bpf, len(bpf))
    prog = Prog(len(bpf) // 8, ctypes.addressof(code))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:  # PR_SET_SECCOMP, MODE_FILTER
        raise SystemExit("grpokit bootstrap: no seccomp filter: errno %d" % ctypes.get_errno())
loader = sys.modules.get("_frozen_importlib_external")
same = getattr(loader, "MAGIC_NUMBER", b"").hex() == boot["magic"]
for name, compiled, source in boot["modules"]:
    module = types.ModuleType(name)
    module.__file__ = "/grpokit/" + name + ".py"
    sys.modules[name] = module
    if same:
        code = marshal.loads(compiled)
    else:
        code = compile(source, module.__file__, "exec")
    exec(code, module.__dict__)
del boot
os._exit(sys.modules["_zygote"].main(sys.argv[1:]))  # frames are written unbuffered
"""


@functools.cache
def seccomp_filter() -> bytes | None:
    """The local backend's filter as raw BPF (``syscall_policy.bpf_program``), or None when
    libseccomp/pyseccomp is missing on the host: the containers then run under
    ``syscall_policy.docker_profile()`` instead of Docker's default profile."""
    from sandboxes.syscall_policy import bpf_program

    try:
        return bpf_program()
    except (ImportError, OSError) as error:
        log.warning("docker sandbox: no libseccomp here (%s); using the policy as profile", error)
        return None


@functools.lru_cache(maxsize=4)
def _boot_frame(sources: tuple[str, ...], bpf: bytes) -> bytes:
    modules = []
    for name, source in zip(MODULES, sources, strict=True):
        code = compile(source, f"/grpokit/{name}.py", "exec", dont_inherit=True)
        modules.append((name, marshal.dumps(code), source))
    boot = {"bpf": bpf, "magic": importlib.util.MAGIC_NUMBER.hex(), "modules": modules}
    data = marshal.dumps(boot, 4)  # plain data: any Python 3 reads marshal version 4
    return len(data).to_bytes(4, "big") + data


def zygote_flags() -> list[str]:
    """The zygote's command-line flags in a container (see ``sandboxes._zygote``)."""
    flags = ["--uid", str(RUN_UID), "--gid", str(RUN_UID), "--guest-uid", str(GUEST_UID)]
    flags += ["--setuid", "--one-shot", "--subreaper"]
    for directory in SCRATCH:
        flags += ["--scratch", directory]
    return flags


def zygote_command(python: str = "python3") -> list[str]:
    """The ``docker exec`` command of one run; its stdin must start with ``boot_frame()``."""
    return [python, "-I", "-S", "-B", "-c", BOOTSTRAP, *zygote_flags()]


def boot_frame() -> bytes:
    """The frame the bootstrap reads first: the zygote's modules (each its code compiled here
    and its source) and the seccomp filter. The files are read at each exec, so a changed
    module is used at once; the frame is built once per content."""
    sources = tuple((PACKAGE_DIR / f"{name}.py").read_text() for name in MODULES)
    return _boot_frame(sources, seccomp_filter() or b"")
