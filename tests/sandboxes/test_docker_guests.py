"""Issue 11 on the docker backend: a run with guests (``guests=True``), as the code tester uses it,
against a real Docker engine. Written as the attacker in a guest would try it: the program and
its guests are different users; the program is out of a guest's reach (memory, descriptors,
environment); no process of a run can write to the exec's stdout, where the verdict travels;
stdin (the tester's token and tests) is in no file; whatever a program and its guests leave in
run N is gone and has no effect in run N+1 on the same container; a container whose wipe check
fails is replaced; and the local backend's seccomp policy holds in the container too.
"""

from __future__ import annotations

import errno
import json
import uuid

import pytest

from sandboxes.base import Limits
from sandboxes.registry import get_sandbox

pytest.importorskip("docker", reason="the Docker SDK for Python is not installed")
from docker_helpers import assert_nothing_left, engine  # noqa: E402

pytestmark = pytest.mark.docker

LIMITS = Limits(wall_seconds=30, cpu_seconds=20, memory_mb=256, max_processes=32)

# Prepended to every program: ``guest(code)`` runs ``code`` in a guest, returns (status, output).
GUEST = r"""
import json, os, socket, sys
LAUNCHER = socket.socket(fileno=int(os.environ["GRPOKIT_GUEST_FD"]))

def ask(request, fds=()):
    socket.send_fds(LAUNCHER, [json.dumps(request).encode()], list(fds))
    return json.loads(LAUNCHER.recv(1 << 20))

def guest(code, seconds=20):
    out_r, out_w = os.pipe()
    null = os.open(os.devnull, os.O_RDONLY)
    pid = ask({"op": "spawn", "argv": ["python3", "-I", "-S", "-B", "-c", code]},
              [null, out_w, out_w])["pid"]
    os.close(out_w)
    os.close(null)
    out = b""
    while chunk := os.read(out_r, 1 << 16):
        out += chunk
    os.close(out_r)
    return ask({"op": "wait", "pid": pid, "seconds": seconds})["status"], out.decode()
"""


@pytest.fixture(scope="module")
def client():
    return engine()


@pytest.fixture(scope="module", autouse=True)
def nothing_left_behind(client):
    yield
    assert_nothing_left(client)


@pytest.fixture(scope="module")
def sandbox(client):
    box = get_sandbox("docker", pool_size=1)
    yield box
    box.close()


def run_guests(box, body: str, stdin: str = ""):
    result = box.run(GUEST + body, stdin=stdin, limits=LIMITS, guests=True)
    assert result.exit_code == 0, result
    return result


def last_json(result) -> dict:
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_guests_run_as_another_user_than_the_program(sandbox):
    body = (
        "status, out = guest('import os; print(os.getuid(), os.getgid(), os.getgroups())')\n"
        "print(json.dumps({'program': [os.getuid(), os.getgid()], 'guest': out.split(None, 2),"
        " 'status': status}))\n"
    )
    report = last_json(run_guests(sandbox, body))
    assert report["program"] == [65534, 65534] and report["status"] == 0
    assert report["guest"] == ["65532", "65532", "[]\n"]


def test_the_program_is_out_of_a_guests_reach(sandbox):
    # The program is non-dumpable and of another uid: a guest cannot list or open its
    # descriptors, read its environment or memory, signal it, or ptrace it.
    probe = r"""
import ctypes, json, os, signal, sys
pid = int(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
tried = {}
for what in ("fd", "environ", "mem", "fd/0", "fd/3", "cwd/x", "root/tmp"):
    try:
        path = "/proc/%d/%s" % (pid, what)
        os.listdir(path) if what == "fd" else open(path, "rb").read(16)
        tried[what] = "read"
    except OSError as exc:
        tried[what] = exc.errno
try:
    os.kill(pid, signal.SIGSTOP)
    tried["kill"] = "sent"
except OSError as exc:
    tried["kill"] = exc.errno
tried["ptrace"] = libc.ptrace(16, pid, 0, 0), ctypes.get_errno()  # PTRACE_ATTACH
print(json.dumps(tried))
"""
    body = (
        "import ctypes\n"
        "dumpable = ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)\n"  # PR_GET_DUMPABLE
        f"code = {probe!r}.replace('int(sys.argv[1])', str(os.getpid()))\n"
        "status, out = guest(code)\n"
        "print(json.dumps({'dumpable': dumpable, 'guest': json.loads(out)}))\n"
    )
    report = last_json(run_guests(sandbox, body))
    assert report["dumpable"] == 0
    tried = report["guest"]
    assert "read" not in tried.values() and tried["kill"] == errno.EPERM, tried
    assert tried["ptrace"] == [-1, errno.EPERM], tried


def test_no_process_of_a_run_can_write_to_the_exec_stdout(sandbox):
    # The verdict channel: only the zygote holds the exec's stdout. Every descriptor of every
    # process that is not the guest's own is tried for writing, from the guest and the program.
    forge = r"""
import json, os
me, forged, opened = os.getuid(), "FORGED-" + "VERDICT", []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        if pid == str(os.getpid()) or os.stat("/proc/" + pid).st_uid == me:
            continue  # its own processes: itself and its own children
        fds = os.listdir("/proc/%s/fd" % pid)
    except OSError:
        continue
    for fd in fds:
        try:
            with open("/proc/%s/fd/%s" % (pid, fd), "w") as handle:
                handle.write(forged + "\n")
            opened.append("%s/%s" % (pid, fd))
        except OSError:
            pass
print(json.dumps(opened))
"""
    body = (
        f"status, out = guest({forge!r})\n"
        f"exec({forge!r}.replace('print(json.dumps(opened))', 'mine = opened'))\n"
        "print(json.dumps({'guest': json.loads(out), 'program': mine}))\n"
    )
    result = run_guests(sandbox, body)
    report = last_json(result)
    assert report == {"guest": [], "program": []}, report
    assert "FORGED-VERDICT" not in result.stdout + result.stderr


def test_stdin_is_in_no_file_of_the_container(sandbox):
    token = "tok-" + uuid.uuid4().hex
    scan = r"""
import json, os, sys
token = sys.argv[1].encode()
hits, stack = [], ["/"]
for path in ["/proc/%s/%s" % (pid, f) for pid in os.listdir("/proc")
             if pid.isdigit() and pid != str(os.getpid()) for f in ("cmdline", "environ")]:
    try:
        if token in open(path, "rb").read():
            hits.append(path)
    except OSError:
        pass
while stack:
    top = stack.pop()
    try:
        entries = list(os.scandir(top))
    except OSError:
        continue
    for entry in entries:
        if entry.path in ("/proc", "/sys"):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            elif entry.is_file(follow_symlinks=False):
                with open(entry.path, "rb") as handle:
                    if token in handle.read(64 << 20):
                        hits.append(entry.path)
        except OSError:
            pass
print(json.dumps(hits))
"""
    body = (
        "secret = sys.stdin.read()\n"
        "os.close(0)\n"
        "sys.argv = ['scan', secret]\n"
        f"status, out = guest({scan!r}.replace('sys.argv[1]', repr(secret)))\n"
        f"exec({scan!r}.replace('print(json.dumps(hits))', 'mine = hits'))\n"
        "print(json.dumps({'guest': json.loads(out), 'program': mine, 'got': secret[:4]}))\n"
    )
    result = run_guests(sandbox, body, stdin=token)
    assert last_json(result) == {"guest": [], "program": [], "got": "tok-"}


# -- run N plants, run N+1 (same container) looks ------------------------------------------------

PLANT = r"""
import ctypes, os, sys
M = sys.argv[1]
EFFECT = M + "-effect"
PAYLOAD = "import sys; sys.stdout.write(%r + chr(10))" % EFFECT
libc = ctypes.CDLL(None, use_errno=True)
notes = []
def write(path, text):
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write(text)
    except OSError as exc:
        notes.append("%s: %s" % (path, exc.errno))
home = os.environ["HOME"]
site = os.path.join(home, ".local/lib/python%d.%d/site-packages" % sys.version_info[:2])
for d in (home, site, "/tmp", "/dev/shm", os.getcwd()):
    write(os.path.join(d, M + ".pth"), PAYLOAD + "\n")
    write(os.path.join(d, "sitecustomize.py"), PAYLOAD + "\n")
    write(os.path.join(d, "usercustomize.py"), PAYLOAD + "\n")
    write(os.path.join(d, M + "_ro", "inner", M + ".txt"), M)
    try:
        os.mkfifo(os.path.join(d, M + ".fifo"))
    except OSError as exc:
        notes.append("fifo %s: %s" % (d, exc.errno))
    for sub, mode in (("inner", 0o000), ("", 0o500)):
        try:
            os.chmod(os.path.join(d, M + "_ro", sub).rstrip("/"), mode)
        except OSError:
            pass
path = site
while path.startswith(home + "/"):  # the user site and its parents, read-only
    try:
        os.chmod(path, 0o500)
    except OSError:
        pass
    path = os.path.dirname(path)
if libc.mq_open(("/" + M).encode(), os.O_CREAT | os.O_RDWR, 0o666, None) < 0:
    notes.append("mq_open: %s" % ctypes.get_errno())
try:
    os.close(os.open("/dev/mqueue/" + M + "f", os.O_CREAT | os.O_RDONLY, 0o666))
except OSError as exc:
    notes.append("/dev/mqueue: %s" % exc.errno)
key = int(M[-7:], 16) + os.getuid()
for made in (libc.shmget(key, 4096, 0o1666), libc.msgget(key, 0o1666), libc.semget(key, 1, 0o1666)):
    if made < 0:
        notes.append("sysv: %s" % ctypes.get_errno())
print(repr(notes))
"""

LOOK = r"""
import json, os, subprocess, sys
M = sys.argv[1]
seen = []
for top in ("/tmp", "/dev/shm", "/dev/mqueue"):
    for root, dirs, files in os.walk(top):
        seen += [os.path.join(root, name) for name in dirs + files]
for kind in ("shm", "msg", "sem"):
    with open("/proc/sysvipc/" + kind) as table:
        seen += [kind + ": " + row for row in table.read().splitlines()[1:] if row.strip()]
ran = subprocess.run([sys.executable, "-c", "import sys"], capture_output=True, text=True)
print(json.dumps({"seen": seen, "effect": M + "-effect" in ran.stdout + ran.stderr}))
"""


def test_what_a_program_and_its_guests_leave_is_gone_in_the_next_run(sandbox):
    marker = "m" + uuid.uuid4().hex[:11]
    plant = (
        f"status, out = guest({PLANT!r}.replace('sys.argv[1]', {repr(marker)!r}))\n"
        f"exec({PLANT!r}.replace('sys.argv[1]', {repr(marker)!r}))\n"
        "print('guest notes', out)\n"
    )
    planted = run_guests(sandbox, plant)
    assert marker + "-effect" not in planted.stdout
    look = (
        f"status, out = guest({LOOK!r}.replace('sys.argv[1]', {repr(marker)!r}))\n"
        f"exec({LOOK!r}.replace('sys.argv[1]', {repr(marker)!r}).replace('print(', 'mine = ('))\n"
        "print(json.dumps({'guest': json.loads(out), 'program': json.loads(mine)}))\n"
    )
    looked = run_guests(sandbox, look)
    assert looked.extra["container"] == planted.extra["container"]  # the same, wiped container
    report = last_json(looked)
    for who in ("guest", "program"):
        assert report[who]["effect"] is False, report
        assert [s for s in report[who]["seen"] if not s.startswith("/tmp/guest")] == [], report
    assert marker not in looked.stdout + looked.stderr


def test_a_container_whose_wipe_check_fails_is_replaced(sandbox):
    # The program opens a directory to the guest, which nests a read-only directory of its own
    # in it: no janitor can empty that (each uid may only fix its own modes), the check finds
    # it, and the container is discarded instead of serving another run.
    marker = "m" + uuid.uuid4().hex[:11]
    lock = f"import os; os.makedirs('/tmp/open/{marker}/x'); os.chmod('/tmp/open/{marker}', 0o500)"
    body = f"os.mkdir('/tmp/open')\nos.chmod('/tmp/open', 0o777)\nprint(guest({lock!r})[0])\n"
    locked = run_guests(sandbox, body)
    assert locked.stdout.strip().splitlines()[-1] == "0"
    assert "/tmp/open" in locked.extra["left_after_wipe"], locked.extra
    after = sandbox.run("import os\nprint(sorted(os.listdir('/tmp')))", limits=LIMITS)
    assert after.extra["container"] != locked.extra["container"]
    assert after.stdout == "[]\n"


# -- the local backend's seccomp policy, stacked on Docker's default profile ---------------------

SYSCALLS = {  # x86_64 numbers; each harmless if it succeeded
    "unshare(CLONE_NEWUSER)": "libc.syscall(272, 0x10000000)",
    "setns": "libc.syscall(308, os.open('/proc/self/ns/net', os.O_RDONLY), 0)",
    "mount": "libc.syscall(165, b'none', b'/tmp', b'tmpfs', 0, b'size=1m')",
    "keyctl": "libc.syscall(250, 0, -4, 1)",
    "add_key": "libc.syscall(248, b'user', b'k', b'v', 1, -2)",
    "request_key": "libc.syscall(249, b'user', b'absent-key', None, 0)",
    "bpf": "libc.syscall(321, 0, ctypes.create_string_buffer(bytes([2, 0, 0, 0, 4, 0, 0, 0, 4, 0,"
    " 0, 0, 1]) + bytes(59)), 72)",
    "perf_event_open": "libc.syscall(298, ctypes.create_string_buffer(bytes([1, 0, 0, 0, 128])"
    " + bytes(35) + bytes([0x60]) + bytes(87)), 0, -1, -1, 0)",
    "userfaultfd": "libc.syscall(323, 1)",
    "io_uring_setup": "libc.syscall(425, 1, ctypes.create_string_buffer(256))",  # Docker allows
    "ptrace(PTRACE_TRACEME)": "libc.syscall(101, 0, 0, 0, 0)",  # even of its own tree
    "ptrace(attach PID 1)": "libc.syscall(101, 16, 1, 0, 0)",
    "clone(CLONE_NEWUSER)": "(lambda r: os._exit(0) if r == 0 else r)"
    "(libc.syscall(56, 0x10000000 | 17, 0, 0, 0, 0))",
}
CALLS = (
    "import ctypes, json, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
    "libc.syscall.restype = ctypes.c_long\nresults = {}\n"
    + "".join(
        f"ret = {call}\nresults[{name!r}] = [ret, ctypes.get_errno() if ret < 0 else 0]\n"
        for name, call in SYSCALLS.items()
    )
    + "print(json.dumps(results))\n"
)


@pytest.mark.parametrize("guests", [False, True], ids=["program", "guest"])
def test_the_local_seccomp_policy_holds_in_the_container(sandbox, guests):
    if guests:
        result = run_guests(sandbox, f"status, out = guest({CALLS!r})\nprint(out)\n")
    else:
        result = sandbox.run(CALLS, limits=LIMITS)
    got = last_json(result)
    refused = {
        name: ret == -1 and err in (errno.EPERM, errno.ENOSYS) for name, (ret, err) in got.items()
    }
    assert all(refused.values()), got


def test_without_libseccomp_on_the_host_the_policy_is_the_containers_profile(monkeypatch):
    # No BPF to stack (no pyseccomp here): the policy replaces Docker's default profile, and
    # the same calls are refused.
    import sandboxes.docker_container as container
    import sandboxes.docker_zygote as zygote

    for module in (zygote, container):
        monkeypatch.setattr(module, "seccomp_filter", lambda: None)
    with get_sandbox("docker", pool_size=1) as box:
        result = box.run(CALLS, limits=LIMITS)
        options = engine().containers.get(result.extra["container"]).attrs["HostConfig"]
    assert any(option.startswith("seccomp=") for option in options["SecurityOpt"])
    got = last_json(result)
    assert all(ret == -1 and err in (errno.EPERM, errno.ENOSYS) for ret, err in got.values()), got
