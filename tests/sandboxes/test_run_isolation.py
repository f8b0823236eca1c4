"""Issue 11, sandbox level: nothing one run leaves behind may be visible in, or change, the next
run on the same slot/container, and the local backend refuses the kernel surface escapes use.

Written as the attacker would: run N plants state everywhere it can write (``.pth`` and
``sitecustomize`` files, sourceless ``.pyc`` modules, read-only and mode-0000 directories, FIFOs,
POSIX message queues, SysV IPC objects, kernel keyring entries, a background process) and locks
what it can; run N+1, on the same slot (``pool_size=1``), looks for any of it and for its
effects. Every probe is plain Python sent through ``sandbox.run``: no backend internals.
"""

from __future__ import annotations

import errno
import json
import uuid

import pytest

from sandboxes import Limits, Sandbox, SandboxUnavailable, get_sandbox

BACKENDS = ["local", "docker"]
LIMITS = Limits(wall_seconds=30, cpu_seconds=20, memory_mb=256, max_processes=32)


def open_backend(name: str, **options: object) -> Sandbox:
    """``get_sandbox(name)``, or skip the test saying why the backend cannot run here."""
    try:
        return get_sandbox(name, **options)
    except (SandboxUnavailable, ImportError) as exc:
        pytest.skip(f"sandbox backend {name!r} unavailable: {exc}")


def broke_before(reason: str) -> pytest.MarkDecorator:
    """Records how the case failed before issue 11's fix (commit 918184a); it must pass now."""
    return pytest.mark.regression(reason=f"issue 11: {reason}")


def on(backends: dict[str, str | None]) -> list:
    """``backend`` params; a reason records how that backend failed before the fix."""
    return [
        pytest.param(name, marks=broke_before(reason) if reason else (), id=name)
        for name, reason in backends.items()
    ]


@pytest.fixture
def sandbox(request: pytest.FixtureRequest):
    """A fresh single-slot sandbox per test: every run lands on the same slot/container, and a
    poisoned one never leaks into another test."""
    box = open_backend(request.param, pool_size=1)
    yield box
    box.close()


# -- the probe: one program, told by stdin what to plant or look for ----------------------------

PROBE = r'''
import ctypes, errno, json, os, stat, subprocess, sys, time

REQ = json.loads(sys.stdin.read())
MODE, KIND, M = REQ["mode"], REQ["kind"], REQ["marker"]
LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.syscall.restype = ctypes.c_long
SKIP = ("/proc", "/sys", "/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/etc",
        "/boot", "/dev/pts", "/root/.pyenv", "/opt")
EFFECT = M + "-effect"
PAYLOAD = "import sys; sys.stdout.write(%r + chr(10)); sys.stdout.flush()" % EFFECT
notes = []


def writable_dirs():
    """Every directory this process can write to (a bounded walk of the whole tree)."""
    found, stack, seen = [], [], set()
    for d in [os.getcwd(), os.environ.get("HOME"), os.environ.get("TMPDIR"), "/tmp",
              "/var/tmp", "/dev/shm", "/run/shm", "/dev/mqueue", "/work", *sys.path, "/"]:
        if d:
            stack.append((os.path.abspath(d), 0))
    while stack and len(seen) < 3000:
        d, depth = stack.pop()
        if d in seen or (d != "/" and d.startswith(SKIP)):
            continue
        seen.add(d)
        if os.path.isdir(d) and os.access(d, os.W_OK | os.X_OK):
            found.append(d)
        if depth < 4:
            try:
                for e in os.scandir(d):
                    if e.is_dir(follow_symlinks=False):
                        stack.append((e.path, depth + 1))
            except OSError:
                pass
    return sorted(set(found))


def site_dir(base):
    return os.path.join(base, ".local", "lib", "python%d.%d" % sys.version_info[:2],
                        "site-packages")


def write(path, data, mode="w"):
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, mode) as fh:
            fh.write(data)
        return [path]
    except OSError as exc:
        notes.append("%s: %s" % (path, exc))
        return []


def lock(paths, mode=0o500):
    """chmod every directory we own to read-only, deepest first (so a wipe cannot empty it)."""
    for p in sorted(set(paths), key=len, reverse=True):
        try:
            if os.path.isdir(p) and not os.path.islink(p) and os.stat(p).st_uid == os.getuid():
                os.chmod(p, mode)
        except OSError:
            pass


def chain(base, leaf):
    """``leaf`` and its ancestors below ``base``."""
    out, p = [], leaf
    while p.startswith(base + "/"):
        out.append(p)
        p = os.path.dirname(p)
    return out


def pyc_bytes(source):
    import importlib.util, marshal
    code = compile(source, "<planted>", "exec")
    return importlib.util.MAGIC_NUMBER + b"\0" * 12 + marshal.dumps(code)


# -- planting ---------------------------------------------------------------------------------

def plant_files(dirs):
    planted, locks = [], []
    for d in dirs:
        ro = os.path.join(d, M + "_ro")
        if KIND == "pth":
            for site in (site_dir(d), d, ro):
                planted += write(os.path.join(site, M + ".pth"), PAYLOAD + "\n")
            locks += chain(d, site_dir(d)) + [ro]
        elif KIND == "customize":
            for site in (site_dir(d), d, ro):
                for name in ("sitecustomize.py", "usercustomize.py"):
                    planted += write(os.path.join(site, name), "MARK = %r\n%s\n" % (M, PAYLOAD))
            locks += chain(d, site_dir(d)) + [ro]
        elif KIND == "pyc":
            code = pyc_bytes("MARK = %r\n%s\n" % (M, PAYLOAD))
            for name in (M + "_mod.pyc", "random.pyc", "string.pyc", "json.pyc"):
                planted += write(os.path.join(d, name), code, "wb")
            planted += write(os.path.join(ro, M + "_mod.pyc"), code, "wb")
            pycache = os.path.join(d, "__pycache__")
            planted += write(os.path.join(pycache, M + "_src.cpython-%d%d.pyc" % sys.version_info[:2]),
                             code, "wb")
            locks += [ro, pycache]
        elif KIND == "rodirs":
            for sub, mode in (("_ro", 0o500), ("_none", 0o000), ("_wx", 0o300)):
                top = os.path.join(d, M + sub)
                planted += write(os.path.join(top, "inner", M + ".txt"), M)
                planted += write(os.path.join(top, M + ".txt"), M)
                lock([os.path.join(top, "inner")], 0o000)
                lock([top], mode)
        elif KIND == "fifo":
            for p in (os.path.join(d, M + ".fifo"), os.path.join(ro, M + ".fifo")):
                try:
                    os.makedirs(os.path.dirname(p), exist_ok=True)
                    os.mkfifo(p)
                    planted.append(p)
                except OSError as exc:
                    notes.append("%s: %s" % (p, exc))
            locks.append(ro)
        elif KIND == "lockdown":  # the writable dirs themselves, where we own them
            planted += write(os.path.join(d, M + ".txt"), M)
            locks.append(d)
    lock(locks)
    return planted


class MqAttr(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_long), ("maxmsg", ctypes.c_long),
                ("msgsize", ctypes.c_long), ("curmsgs", ctypes.c_long), ("pad", ctypes.c_long * 4)]


def mq_names():
    return ["/" + M, "/" + M + "b", "/" + M + "c"]


def plant_mq():
    planted = []
    for name in mq_names():
        for maxmsg, size in ((1, 64), (1, 1), (10, 8192)):
            attr = MqAttr(0, maxmsg, size, 0)
            fd = LIBC.mq_open(name.encode(), os.O_CREAT | os.O_RDWR, 0o666, ctypes.byref(attr))
            if fd >= 0:
                LIBC.mq_send(fd, M.encode()[:size], min(len(M), size), 0)
                planted.append(name)
                break
            notes.append("mq_open %s: %s" % (name, os.strerror(ctypes.get_errno())))
    if os.path.isdir("/dev/mqueue"):  # the queue file system, where mounted: a file is a queue
        try:
            os.close(os.open("/dev/mqueue/" + M + "c", os.O_CREAT | os.O_RDONLY, 0o666))
            planted.append("/" + M + "c")
        except OSError as exc:
            notes.append("/dev/mqueue: %s" % exc)
    return planted


def ipc_key():
    return int(M[-7:], 16)


def plant_sysv():
    planted, key = [], ipc_key()
    shm = LIBC.shmget(key, 4096, 0o1000 | 0o666)  # IPC_CREAT
    if shm >= 0:
        LIBC.shmat.restype = ctypes.c_void_p
        addr = LIBC.shmat(shm, None, 0)
        if addr not in (None, ctypes.c_void_p(-1).value):
            ctypes.memmove(addr, M.encode(), len(M))
        planted.append("shm:%d" % shm)
    msg = LIBC.msgget(key + 1, 0o1000 | 0o666)
    if msg >= 0:
        buf = ctypes.create_string_buffer(8 + len(M))
        ctypes.memmove(ctypes.addressof(buf), (1).to_bytes(8, "little") + M.encode(), 8 + len(M))
        LIBC.msgsnd(msg, buf, len(M), 0)
        planted.append("msg:%d" % msg)
    sem = LIBC.semget(key + 2, 1, 0o1000 | 0o666)
    if sem >= 0:
        planted.append("sem:%d" % sem)
    private = LIBC.shmget(0, 4096, 0o1000 | 0o666)  # IPC_PRIVATE
    if private >= 0:
        planted.append("shm:%d" % private)
    if not planted:
        notes.append("sysv: " + os.strerror(ctypes.get_errno()))
    return planted


RINGS = {"thread": -1, "process": -2, "session": -3, "user": -4, "user-session": -5}


def plant_keys():
    planted = []
    for ring, ident in RINGS.items():
        desc = ("%s-%s" % (M, ring)).encode()
        r = LIBC.syscall(248, b"user", desc, M.encode(), len(M), ident)  # add_key
        if r >= 0:
            planted.append(ring)
        else:
            notes.append("add_key %s: %s" % (ring, os.strerror(ctypes.get_errno())))
    return planted


def plant_background(dirs):
    """A double-forked process that keeps rewriting a file in every writable dir (message queues
    have their own test)."""
    dirs = [d for d in dirs if not d.startswith("/dev/mqueue")]
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            LIBC.prctl(15, M.encode()[:15], 0, 0, 0)  # PR_SET_NAME
            for fd in (0, 1, 2):
                os.close(fd)
            end = time.monotonic() + 60
            while time.monotonic() < end:
                for d in dirs:
                    try:
                        with open(os.path.join(d, M + ".bg"), "w") as fh:
                            fh.write(str(time.time()))
                    except OSError:
                        pass
                time.sleep(0.05)
            os._exit(0)
        os._exit(0)
    os.wait()
    time.sleep(0.2)
    return [os.path.join(d, M + ".bg") for d in dirs]


# -- looking ----------------------------------------------------------------------------------

def names_with_marker(dirs):
    hits = []
    for d in dirs:
        for root, subdirs, files in os.walk(d):
            if root.startswith(SKIP) or root.count("/") - d.count("/") > 8:
                subdirs[:] = []
                continue
            hits += [os.path.join(root, n) for n in subdirs + files if M in n]
    return hits


def interpreters_output():
    out = ""
    for exe in dict.fromkeys([sys.executable, "python3"]):
        try:
            run = subprocess.run([exe, "-c", "import sys"], capture_output=True, text=True,
                                 timeout=10, stdin=subprocess.DEVNULL)
            out += run.stdout + run.stderr
        except (OSError, subprocess.SubprocessError) as exc:
            notes.append("%s: %s" % (exe, exc))
    return out


def check_files(dirs):
    visible = [p for p in REQ.get("planted", []) if os.path.lexists(p)]
    visible += names_with_marker(dirs)
    effects = []
    sys.path[:0] = [d for d in dirs if d not in sys.path]
    for mod in (M + "_mod", "sitecustomize", "usercustomize", "random", "string", "json"):
        try:
            module = __import__(mod)
        except Exception:
            continue
        if getattr(module, "MARK", None) == M:
            effects.append("import " + mod)
    if EFFECT in interpreters_output():
        effects.append("a new interpreter ran planted code")
    return visible, effects


def check_mq():
    visible = []
    for name in mq_names():
        fd = LIBC.mq_open(name.encode(), os.O_RDONLY | os.O_NONBLOCK)
        err = ctypes.get_errno()
        if fd >= 0 or err == errno.EACCES:
            visible.append(name)
            LIBC.mq_unlink(name.encode())  # clean up what leaked
    return visible, []


def check_sysv():
    visible, key = [], ipc_key()
    for what, ident in (("shm", LIBC.shmget(key, 0, 0)), ("msg", LIBC.msgget(key + 1, 0)),
                        ("sem", LIBC.semget(key + 2, 0, 0))):
        if ident >= 0 or ctypes.get_errno() == errno.EACCES:
            visible.append("%s key %#x" % (what, key))
    for kind in ("shm", "msg", "sem"):
        try:
            with open("/proc/sysvipc/" + kind) as fh:
                rows = [line for line in fh.read().splitlines()[1:] if line.strip()]
        except OSError:
            rows = []
        visible += ["/proc/sysvipc/%s: %s" % (kind, " ".join(r.split()[:2])) for r in rows]
    return visible, []


def check_keys():
    visible = []
    for ring, ident in RINGS.items():
        for planted_in in RINGS:
            desc = ("%s-%s" % (M, planted_in)).encode()
            key = LIBC.syscall(250, 10, ident, b"user", desc, 0)  # KEYCTL_SEARCH
            if key >= 0:
                visible.append("%s found in the %s keyring" % (planted_in, ring))
                LIBC.syscall(250, 3, key)  # KEYCTL_REVOKE: clean up what leaked
                LIBC.syscall(250, 9, key, ident)  # KEYCTL_UNLINK
    try:
        with open("/proc/keys") as fh:
            visible += ["/proc/keys: " + line for line in fh if M in line]
    except OSError:
        pass
    return visible, []


def check_background(dirs):
    visible = [p for p in REQ.get("planted", []) if os.path.lexists(p)]
    visible += names_with_marker(dirs)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/comm" % pid) as fh:
                if fh.read().strip() == M[:15]:
                    visible.append("process %s" % pid)
        except OSError:
            pass
    return visible, []


dirs = writable_dirs()
if MODE == "plant":
    if KIND == "mq":
        planted = plant_mq()
    elif KIND == "sysv":
        planted = plant_sysv()
    elif KIND == "keyring":
        planted = plant_keys()
    elif KIND == "background":
        planted = plant_background(dirs)
    else:
        planted = plant_files(dirs)
    report = {"planted": planted, "dirs": dirs, "notes": notes[:20]}
else:
    check = {"mq": check_mq, "sysv": check_sysv, "keyring": check_keys}.get(KIND)
    if check is not None:
        visible, effects = check()
    elif KIND == "background":
        visible, effects = check_background(dirs)
    else:
        visible, effects = check_files(dirs)
    report = {"visible": sorted(set(visible)), "effects": effects, "notes": notes[:20]}
sys.stdout.write("REPORT " + json.dumps(report).replace(EFFECT, "<effect>") + "\n")
'''


def probe(
    box: Sandbox, mode: str, kind: str, marker: str, limits: Limits = LIMITS, **extra: object
) -> tuple[dict, str]:
    """Run the probe; return (its report, everything else the run printed)."""
    request = json.dumps({"mode": mode, "kind": kind, "marker": marker, **extra})
    run = box.run(PROBE, stdin=request, limits=limits)
    lines = run.stdout.splitlines()
    reports = [json.loads(line[7:]) for line in lines if line.startswith("REPORT ")]
    other = "\n".join(line for line in lines if not line.startswith("REPORT ")) + run.stderr
    assert reports, f"{mode} run ended without a report: exit {run.exit_code}, {run.stderr[-2000:]}"
    return reports[-1], other


def plant_then_check(box: Sandbox, kind: str) -> tuple[dict, dict, str]:
    marker = "m" + uuid.uuid4().hex[:11]
    # a background process outlives its run: a short wall limit ends that run sooner
    limits = (
        Limits(wall_seconds=3, cpu_seconds=5, memory_mb=256) if kind == "background" else LIMITS
    )
    planted, _ = probe(box, "plant", kind, marker, limits=limits)
    found, output = probe(box, "check", kind, marker, planted=planted["planted"])
    assert marker + "-effect" not in output, f"planted code ran in the next run: {output[-500:]}"
    return planted, found, output


DOCKER_WIPE = "docker: read-only dirs survive the wipe, the next python3 runs user-site files"


@pytest.mark.parametrize(
    "sandbox, kind",
    [
        pytest.param("local", "pth", id="local-pth"),
        pytest.param("docker", "pth", id="docker-pth", marks=broke_before(DOCKER_WIPE)),
        pytest.param("local", "customize", id="local-customize"),
        pytest.param("docker", "customize", id="docker-customize", marks=broke_before(DOCKER_WIPE)),
        pytest.param("local", "pyc", id="local-pyc"),
        pytest.param("docker", "pyc", id="docker-pyc", marks=broke_before(DOCKER_WIPE)),
        pytest.param("local", "rodirs", id="local-rodirs"),
        pytest.param("docker", "rodirs", id="docker-rodirs", marks=broke_before(DOCKER_WIPE)),
        pytest.param("local", "fifo", id="local-fifo"),
        pytest.param("docker", "fifo", id="docker-fifo", marks=broke_before(DOCKER_WIPE)),
    ],
    indirect=["sandbox"],
)
def test_planted_files_are_gone_in_the_next_run(sandbox, kind):
    planted, found, _ = plant_then_check(sandbox, kind)
    assert planted["planted"], f"the attack could not plant anything: {planted['notes']}"
    assert found["visible"] == [] and found["effects"] == [], (found, planted["notes"])


@pytest.mark.parametrize(
    "sandbox",
    on({"local": None, "docker": "docker: POSIX message queues survive into the next run"}),
    indirect=True,
)
def test_posix_message_queues_do_not_survive(sandbox):
    planted, found, _ = plant_then_check(sandbox, "mq")
    assert found["visible"] == [], (found, planted)


@pytest.mark.parametrize("sandbox", on({"local": None, "docker": None}), indirect=True)
def test_sysv_ipc_does_not_survive(sandbox):
    planted, found, _ = plant_then_check(sandbox, "sysv")
    assert found["visible"] == [], (found, planted)


@pytest.mark.parametrize(
    "sandbox",
    on({"local": "local: keyring entries carry over to the next run on a slot", "docker": None}),
    indirect=True,
)
def test_keyring_entries_do_not_survive(sandbox):
    planted, found, _ = plant_then_check(sandbox, "keyring")
    assert found["visible"] == [], (found, planted)


@pytest.mark.parametrize("sandbox", on({"local": None, "docker": None}), indirect=True)
def test_background_processes_do_not_survive(sandbox):
    planted, found, _ = plant_then_check(sandbox, "background")
    assert found["visible"] == [], (found, planted["notes"])


@pytest.mark.parametrize(
    "sandbox",
    on({"local": None, "docker": "docker: a run that locks its dirs breaks the container"}),
    indirect=True,
)
def test_a_locked_up_run_leaves_the_next_one_working(sandbox):
    marker = "m" + uuid.uuid4().hex[:11]
    for kind in ("pyc", "rodirs", "lockdown"):
        probe(sandbox, "plant", kind, marker)
    run = sandbox.run("import sys\nprint(sys.stdin.read()[::-1])\n", stdin="ko", limits=LIMITS)
    assert (run.exit_code, run.stdout) == (0, "ok\n"), run.stderr[-1000:]


# -- local backend: the kernel surface ----------------------------------------------------------

CALL = r"""
import ctypes, json, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
buf = ctypes.create_string_buffer(256)
os.makedirs("/tmp/mnt", exist_ok=True)
ret = %s
print(json.dumps({"ret": ret, "errno": ctypes.get_errno() if ret == -1 else 0}))
"""

# x86_64 syscall numbers; each call is harmless if it succeeds.
PERF_ATTR = "ctypes.create_string_buffer(bytes([1, 0, 0, 0, 128, 0, 0, 0]) + bytes(32) + bytes([0x60]) + bytes(87))"
SYSCALLS = {
    # unshare(CLONE_NEWUSER)
    "unshare": ("libc.syscall(272, 0x10000000)", "allowed today"),
    # setns(own net namespace, 0)
    "setns": ("libc.syscall(308, os.open('/proc/self/ns/net', os.O_RDONLY), 0)", None),
    # mount("none", "/tmp/mnt", "tmpfs", 0, "size=1m")
    "mount": ("libc.syscall(165, b'none', b'/tmp/mnt', b'tmpfs', 0, b'size=1m')", None),
    # keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 1)
    "keyctl": ("libc.syscall(250, 0, -4, 1)", "allowed today"),
    # add_key("user", "k", "v", 1, KEY_SPEC_PROCESS_KEYRING)
    "add_key": ("libc.syscall(248, b'user', b'k', b'v', 1, -2)", "allowed today"),
    # request_key("user", "absent", NULL, 0)
    "request_key": ("libc.syscall(249, b'user', b'absent-key', None, 0)", "ENOKEY today"),
    # bpf(BPF_MAP_CREATE, {BPF_MAP_TYPE_ARRAY, 4, 4, 1}, 72)
    "bpf": (
        "libc.syscall(321, 0, ctypes.create_string_buffer(bytes([2,0,0,0,4,0,0,0,4,0,0,0,1]) + bytes(59)), 72)",
        None,
    ),
    # perf_event_open(software cpu-clock, exclude_kernel|exclude_hv, this process, any cpu)
    "perf_event_open": (f"libc.syscall(298, {PERF_ATTR}, 0, -1, -1, 0)", "allowed today"),
    # userfaultfd(UFFD_USER_MODE_ONLY)
    "userfaultfd": ("libc.syscall(323, 1)", "allowed today"),
    # io_uring_setup(1, &params)
    "io_uring_setup": ("libc.syscall(425, 1, buf)", "allowed today"),
    # ptrace(PTRACE_ATTACH, 1): a process outside the candidate's tree
    "ptrace": ("libc.syscall(101, 16, 1, 0, 0)", None),
}


@pytest.fixture(scope="module")
def local_box():
    box = open_backend("local", pool_size=1)
    yield box
    box.close()


def run_call(box: Sandbox, expression: str) -> dict:
    run = box.run(CALL % expression, limits=LIMITS)
    assert run.exit_code == 0, run.stderr[-1000:]
    return json.loads(run.stdout.splitlines()[-1])


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(
            name, marks=broke_before(f"local: no seccomp filter ({name} {why})") if why else ()
        )
        for name, (_, why) in SYSCALLS.items()
    ],
)
def test_local_seccomp_refuses(local_box, name):
    got = run_call(local_box, SYSCALLS[name][0])
    assert got["ret"] == -1 and got["errno"] in (errno.EPERM, errno.ENOSYS), got


NAMESPACE_FLAGS = {
    "unshare-newuser": "libc.syscall(272, 0x10000000)",
    "unshare-newuser-newns-newnet": "libc.syscall(272, 0x10000000 | 0x20000 | 0x40000000)",
    # clone(CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWNET|SIGCHLD): the child (if any) exits at once
    "clone-namespaces": (
        "(lambda r: os._exit(0) if r == 0 else (r > 0 and os.waitpid(r, 0) and r) or r)"
        "(libc.syscall(56, 0x10000000 | 0x20000 | 0x40000000 | 17, 0, 0, 0, 0))"
    ),
}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=broke_before("local: nested user namespaces allowed in root mode"))
        for n in NAMESPACE_FLAGS
    ],
)
def test_local_refuses_nested_user_namespaces(local_box, name):
    got = run_call(local_box, NAMESPACE_FLAGS[name])
    assert got["ret"] == -1, f"{name} created namespaces: {got}"
    assert got["errno"] in (errno.EPERM, errno.ENOSPC, errno.EINVAL, errno.ENOSYS), got


# -- memory: the whole run, not just the address space --------------------------------------------

FILL = r"""
import os, sys
chunk = b"\xa5" * (1 << 20)
target = sys.stdin.read().strip()
total, keep = 0, []
while total < 512:
    try:
        if target == "memfd":
            fd = os.memfd_create("m%d" % total)
            keep.append(fd)
        else:
            fd = os.open(os.path.join(target, "fill%d" % total), os.O_WRONLY | os.O_CREAT, 0o600)
        for _ in range(8):
            os.write(fd, chunk)
        if target != "memfd":
            os.close(fd)
    except OSError as exc:
        print("stopped:", exc, flush=True)
        break
    total += 8
    print(total, flush=True)
"""
MEMORY_MB, MARGIN_MB = 64, 64
MEMORY_LIMITS = Limits(
    wall_seconds=30, cpu_seconds=20, memory_mb=MEMORY_MB, max_file_mb=16, max_open_files=256
)


@pytest.mark.parametrize(
    "sandbox, target",
    [
        pytest.param(
            "local", "memfd", id="local-memfd", marks=broke_before("local: memfd not counted")
        ),
        pytest.param(
            "local", "/tmp", id="local-tmp", marks=broke_before("local: tmpfs not counted")
        ),
        pytest.param("local", "/dev/shm", id="local-shm"),
        pytest.param("docker", "memfd", id="docker-memfd"),
        pytest.param("docker", "/tmp", id="docker-tmp"),
        pytest.param("docker", "/dev/shm", id="docker-shm"),
    ],
    indirect=["sandbox"],
)
def test_memory_counts_memfd_and_tmpfs(sandbox, target):
    run = sandbox.run(FILL, stdin=target, limits=MEMORY_LIMITS)
    figures = [int(line) for line in run.stdout.split() if line.isdigit()]
    # the control: the program ran (it printed), or the sandbox says memory ended it
    assert figures or "stopped:" in run.stdout or run.out_of_memory, (
        f"no output and not out_of_memory: {run.stderr[-500:]} {run.extra}"
    )
    held = figures[-1] if figures else 0
    assert held <= MEMORY_MB + MARGIN_MB, f"held {held} MiB with memory_mb={MEMORY_MB}"
