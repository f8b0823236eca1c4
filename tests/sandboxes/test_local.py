"""The ``local`` bubblewrap sandbox: behaviour, limits, isolation, concurrency, recovery."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from sandboxes import Limits, Sandbox, SandboxUnavailable, get_sandbox
from sandboxes.local import LocalSandbox


def test_basic_run(local_sandbox: Sandbox) -> None:
    result = local_sandbox.run("print('hello', 6 * 7)")
    assert result.ok and result.stdout == "hello 42\n" and result.stderr == ""
    assert result.exit_code == 0 and result.signal is None


def test_exit_codes_and_tracebacks(local_sandbox: Sandbox) -> None:
    assert local_sandbox.run("import sys; sys.exit(3)").exit_code == 3
    assert local_sandbox.run("exit(5)").exit_code == 5  # exit() exists even without site
    failed = local_sandbox.run("x = 1\nraise ValueError('boom')\n")
    assert failed.exit_code == 1 and not failed.ok
    assert 'File "main.py", line 2' in failed.stderr and "ValueError: boom" in failed.stderr
    assert "_zygote" not in failed.stderr
    syntax = local_sandbox.run("def f(:\n")
    assert syntax.exit_code == 1 and "SyntaxError" in syntax.stderr


def test_stdin(local_sandbox: Sandbox) -> None:
    result = local_sandbox.run("import sys\nprint(sys.stdin.read()[::-1])", stdin="abc\u00e9")
    assert result.stdout == "\u00e9cba\n"
    big = "x" * (3 << 20)
    result = local_sandbox.run("import sys; print(len(sys.stdin.read()))", stdin=big)
    assert result.stdout == f"{len(big)}\n"


def test_extra_files(local_sandbox: Sandbox) -> None:
    files = {"data.txt": "line\n", "pkg/helper.py": "def twice(x):\n    return 2 * x\n"}
    files["blob.bin"] = bytes(range(256))
    source = (
        "from pkg.helper import twice\n"
        "print(open('data.txt').read().strip(), twice(21), len(open('blob.bin', 'rb').read()))\n"
    )
    assert local_sandbox.run(source, files=files).stdout == "line 42 256\n"
    # files do not survive into the next run: each run starts in an empty work dir
    assert local_sandbox.run("import os; print(os.listdir('.'))").stdout == "[]\n"


@pytest.mark.parametrize("name", ["../escape.py", "/etc/passwd", "", "a/../../b", "./."])
def test_bad_file_names_are_rejected(local_sandbox: Sandbox, name: str) -> None:
    with pytest.raises(ValueError, match="not a relative path"):
        local_sandbox.run("pass", files={name: "x"})


def test_bad_arguments_are_rejected(local_sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="Limits.memory_mb"):
        local_sandbox.run("pass", limits=Limits(memory_mb=0))
    with pytest.raises(TypeError, match="files\\['f'\\] must be str or bytes"):
        local_sandbox.run("pass", files={"f": 3})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="source must be str"):
        local_sandbox.run(b"print(1)")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pool_size"):
        LocalSandbox(pool_size=0)


def test_file_size_limit(local_sandbox: Sandbox) -> None:
    limits = Limits(max_file_mb=1)
    small = local_sandbox.run("open('f', 'wb').write(b'x' * 1000)", limits=limits)
    assert small.ok
    big = local_sandbox.run("open('f', 'wb').write(b'x' * (2 << 20))", limits=limits)
    assert not big.ok and "File too large" in big.stderr


def test_open_files_limit(local_sandbox: Sandbox) -> None:
    source = "fs = []\ntry:\n    while True:\n        fs.append(open('/dev/null'))\nexcept OSError:\n    print(len(fs))\n"
    opened = int(local_sandbox.run(source, limits=Limits(max_open_files=20)).stdout)
    assert 10 <= opened < 20


def test_process_limit(local_sandbox: Sandbox) -> None:
    source = (
        "import os, time\nn = 0\n"
        "try:\n    while True:\n        if os.fork() == 0:\n            time.sleep(30)\n"
        "            os._exit(0)\n        n += 1\n"
        "except OSError:\n    print(n)\n"
    )
    result = local_sandbox.run(source, limits=Limits(max_processes=8, wall_seconds=2))
    assert result.timed_out  # the sleeping children keep the run going until the wall limit
    assert int(result.stdout) == 7  # 8 processes in all, counting the program itself


def test_memory_limit(local_sandbox: Sandbox) -> None:
    limits = Limits(memory_mb=200)
    assert local_sandbox.run("b = bytearray(50 << 20); print(len(b))", limits=limits).ok
    result = local_sandbox.run("b = bytearray(300 << 20)", limits=limits)
    assert result.out_of_memory and not result.ok and "MemoryError" in result.stderr


def test_cpu_limit(local_sandbox: Sandbox) -> None:
    result = local_sandbox.run("while True: pass", limits=Limits(cpu_seconds=1, wall_seconds=60))
    assert result.timed_out and result.extra["killed_by"] == "cpu_limit"
    assert result.signal == signal.SIGXCPU


def test_wall_limit_and_output_cap(local_sandbox: Sandbox) -> None:
    slow = local_sandbox.run(
        "import time; print('a', flush=True); time.sleep(30)", limits=Limits(wall_seconds=1)
    )
    assert slow.timed_out and slow.stdout == "a\n" and slow.signal == signal.SIGKILL
    loud = local_sandbox.run("print('y' * 5000)", limits=Limits(max_output_bytes=1000))
    assert loud.output_truncated and loud.stdout == "y" * 1000


def test_concurrent_runs_from_threads(local_sandbox: Sandbox) -> None:
    results: dict[int, str] = {}

    def worker(base: int) -> None:
        for i in range(base, base + 5):
            results[i] = local_sandbox.run(f"print({i} * {i})").stdout

    threads = [threading.Thread(target=worker, args=(k * 100,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 40
    assert all(out == f"{i * i}\n" for i, out in results.items())


def test_runs_as_unprivileged_user(local_sandbox: Sandbox) -> None:
    source = (
        "import os\nstatus = open('/proc/self/status').read()\n"
        "caps = [l.split()[1] for l in status.splitlines() if l.startswith('CapEff')]\n"
        "print(os.getuid(), os.geteuid(), os.getgid(), caps[0], os.getgroups())\n"
    )
    uid, euid, gid, caps, groups = local_sandbox.run(source).stdout.split(maxsplit=4)
    assert int(uid) != 0 and int(euid) != 0 and int(gid) != 0
    assert int(caps, 16) == 0 and groups.strip() in ("[]", f"[{gid}]")


def test_environment_is_scrubbed(local_sandbox: Sandbox, host_secret: tuple[str, str]) -> None:
    name, value = host_secret
    result = local_sandbox.run("import os; print(sorted(os.environ.items()))")
    assert value not in result.stdout and name not in result.stdout
    assert "'HOME', '/tmp'" in result.stdout and "VIRTUAL_ENV" not in result.stdout


def test_no_host_tmp_home_or_processes(local_sandbox: Sandbox) -> None:
    with tempfile.NamedTemporaryFile(prefix="grpokit-visible-") as host_file:
        source = (
            "import os\n"
            f"print([os.path.exists(p) for p in ({host_file.name!r}, '/home', '/work', '/run')])\n"
            "print(os.listdir('/dev/shm'), os.listdir('/tmp'))\n"
            "pids = [p for p in os.listdir('/proc') if p.isdigit()]\n"
            "print(len(pids), any(b'pytest' in open(f'/proc/{p}/cmdline', 'rb').read() for p in pids))\n"
        )
        lines = local_sandbox.run(source).stdout.splitlines()
    assert lines == ["[False, False, False, False]", "[] []", "2 False"]  # the worker + itself


def test_only_tmp_is_writable(local_sandbox: Sandbox) -> None:
    source = (
        "import os\nok = []\n"
        "for d in ['/', '/usr', '/etc', '/root', '/dev', '/dev/shm', '/dev/pts', '/proc', '/opt', '/tmp',"
        " '/usr/lib', os.path.dirname(os.__file__)]:\n"
        "    try:\n        open(os.path.join(d, 'probe'), 'w').close()\n        ok.append(d)\n"
        "    except OSError:\n        pass\n"
        "print(ok)\n"
    )
    assert local_sandbox.run(source).stdout == "['/tmp']\n"


def test_slot_recovery_after_worker_killed(leftovers) -> None:
    with LocalSandbox(pool_size=1) as sandbox:
        (worker,) = sandbox.worker_pids()
        os.kill(worker, signal.SIGKILL)
        result = sandbox.run("print(1+1)")
        assert result.ok and result.stdout == "2\n"
        assert sandbox.worker_pids() and worker not in sandbox.worker_pids()


def test_hung_worker_is_killed_from_the_host() -> None:
    with LocalSandbox(pool_size=1, grace_seconds=1.0) as sandbox:
        (worker,) = sandbox.worker_pids()
        os.kill(worker, signal.SIGSTOP)  # the worker can no longer enforce anything itself
        result = sandbox.run("print('never')", limits=Limits(wall_seconds=1))
        assert result.timed_out and result.extra["killed_by"] == "host" and not result.ok
        assert sandbox.run("print(1+1)").stdout == "2\n"


def test_close_leaves_nothing_behind(marker: str, leftovers) -> None:
    sandbox = LocalSandbox(pool_size=2)
    source = (
        "import subprocess, sys\n"
        f"subprocess.run([sys.executable, '-c', 'import time; time.sleep(60)', {marker!r}])\n"
    )
    outcome: list[BaseException | object] = []

    def in_flight() -> None:
        try:
            outcome.append(sandbox.run(source, limits=Limits(wall_seconds=60)))
        except RuntimeError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=in_flight)
    thread.start()
    while not leftovers(marker, settle_seconds=0):  # wait until the run is under way
        assert thread.is_alive()
    workers = sandbox.worker_pids()
    assert len(workers) >= 1
    sandbox.close()
    thread.join()
    sandbox.close()  # idempotent
    assert isinstance(outcome[0], RuntimeError) and "closed" in str(outcome[0])
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    assert leftovers(marker, settle_seconds=0) == []
    with pytest.raises(RuntimeError, match="closed"):
        sandbox.run("print(1)")


def test_fresh_bwrap_per_run(marker: str, leftovers) -> None:
    with LocalSandbox(fast=False) as sandbox:
        assert sandbox.run("print(2 + 2)").stdout == "4\n"
        source = (
            "import subprocess, sys\n"
            f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', {marker!r}])\n"
        )
        assert sandbox.run(source, limits=Limits(wall_seconds=1)).timed_out
        assert sandbox.worker_pids() == []
    assert leftovers(marker) == []


def test_missing_bwrap_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SandboxUnavailable, match="bwrap"):
        get_sandbox("local")


USERNS_SCRIPT = """
import json, os
from sandboxes import Limits
from sandboxes.local import LocalSandbox
out = {"host_euid": os.geteuid()}
with LocalSandbox(pool_size=1) as sandbox:
    out["uid"] = sandbox.run("import os; print(os.getuid())").stdout.strip()
    nested = "import ctypes; print(ctypes.CDLL(None).unshare(0x10000000))"  # CLONE_NEWUSER
    out["nested_userns"] = sandbox.run(nested).stdout.strip()
    out["hostile_ok"] = sandbox.run("import os\\nos.system('kill -9 -1')\\nraise SystemExit(4)").ok
    out["after"] = sandbox.run("print(1+1)").stdout
    probe = "import os\\nfor d in ['/', '/usr', '/etc', '/dev', '/dev/shm', '/opt', '/tmp']:\\n"
    probe += "    try:\\n        open(d + '/probe', 'w').close()\\n        print(d)\\n    except OSError:\\n        pass"
    out["writable"] = sandbox.run(probe).stdout
    out["timed_out"] = sandbox.run("while True: pass", limits=Limits(wall_seconds=1)).timed_out
print(json.dumps(out))
"""


def test_non_root_host_uses_a_user_namespace() -> None:
    """The code path for a non-root host user, run for real: an outer bwrap makes us uid 1000."""
    repo = Path(__file__).resolve().parents[2]
    argv = ["bwrap", "--dev-bind", "/", "/", "--unshare-user", "--uid", "1000", "--gid", "1000"]
    argv += ["--tmpfs", "/tmp"]
    for path in sorted({str(repo), sys.prefix, sys.base_prefix}):  # a clone under /tmp stays
        if Path(path).resolve().is_relative_to("/tmp"):
            argv += ["--bind", path, path]
    argv += [sys.executable, "-c", USERNS_SCRIPT]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=repo, env=env)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["host_euid"] == 1000 and out["uid"] != "0"
    assert out["nested_userns"] == "-1"  # --disable-userns: no nested user namespaces
    assert out["hostile_ok"] is False and out["after"] == "2\n" and out["timed_out"] is True
    assert out["writable"] == "/tmp\n"


HOST_SCRIPT = """
import sys, threading, time
from pathlib import Path
from sandboxes import Limits
from sandboxes.local import LocalSandbox
marker, how = sys.argv[1], sys.argv[2]
sandbox = LocalSandbox(pool_size=1)
source = f"import subprocess, sys\\nsubprocess.run([sys.executable, '-c', 'import time; time.sleep(90)', {marker!r}])"
threading.Thread(target=sandbox.run, args=(source,), kwargs={"limits": Limits(wall_seconds=90)}, daemon=True).start()
def seen():
    for entry in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker.encode() in entry.read_bytes():
                return True
        except OSError:
            pass
    return False
while not seen():
    time.sleep(0.05)
print("running", flush=True)
if how == "hang":
    time.sleep(600)
"""


@pytest.mark.parametrize("how", ["exit", "hang"])
def test_host_process_end_leaves_nothing(marker: str, leftovers, how: str) -> None:
    """Interpreter exit without close() (finalizer), or SIGKILL of the host (die-with-parent)."""
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    argv = [sys.executable, "-c", HOST_SCRIPT, marker, how]
    host = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env, cwd=repo)
    assert host.stdout is not None and host.stdout.readline() == "running\n"
    assert leftovers(marker, settle_seconds=0)  # the sandboxed process is there
    if how == "hang":
        host.kill()
    assert host.wait(timeout=60) == (0 if how == "exit" else -signal.SIGKILL)
    assert leftovers(marker) == []


def test_interpreter_and_session(local_sandbox: Sandbox) -> None:
    source = (
        "import os, sys\n"
        "print(sys.flags.isolated, sys.flags.no_site, os.getsid(0) == os.getpid())\n"
        "try:\n    open('/dev/tty')\nexcept OSError as exc:\n    print('no tty', exc.errno)\n"
        "try:\n    import pluggy\nexcept ImportError:\n    print('no site-packages')\n"
    )
    result = local_sandbox.run(source)
    assert result.stdout == "1 1 True\nno tty 6\nno site-packages\n", result  # 6: ENXIO


def test_unusable_interpreter_is_reported() -> None:
    with pytest.raises(SandboxUnavailable, match="cannot run python='/nonexistent/python3'"):
        LocalSandbox(python="/nonexistent/python3")


def test_memory_cgroups_are_removed_and_stale_ones_swept() -> None:
    """Each slot's cgroups go with the slot; a host killed before it cleaned up leaves its
    cgroups to the next sandbox, which removes them (nothing accumulates on the host)."""
    from sandboxes.local_cgroup import _own_cgroup

    own = _own_cgroup()
    if own is None or os.geteuid() != 0:
        pytest.skip("no writable memory cgroup here: the slots run without one")
    parent = own[0]
    stale = parent / "grpokit-999999999-0"  # no such pid
    (stale / "run").mkdir(parents=True)
    before = set(parent.glob(f"grpokit-{os.getpid()}-*"))  # other tests' live sandboxes
    with LocalSandbox(pool_size=2) as sandbox:
        assert not stale.exists()
        mine = set(parent.glob(f"grpokit-{os.getpid()}-*")) - before
        assert len(mine) >= 1 and all((path / "run").is_dir() for path in mine)
        assert sandbox.run("print(1)").stdout == "1\n"
    assert not [path for path in mine if path.exists()]
