"""Hostile programs against every sandbox backend (real bwrap / real Docker engine, no mocks).

Each program must end in a failure verdict within its limit plus slack, leave no process
(found by a unique marker in /proc) or host file behind, and the SAME sandbox instance must
then run ``print(1+1)`` correctly.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from sandboxes import Limits, RunResult, Sandbox

pytestmark = pytest.mark.slow

LIMITS = Limits(wall_seconds=3.0, cpu_seconds=10, memory_mb=256, max_processes=32)
SLACK = 10.0  # seconds on top of wall_seconds: sandbox start/kill/cleanup on 2 busy cores
TAG = "try:\n    open('/proc/self/comm', 'w').write({m!r})\nexcept OSError:\n    pass\n"


@pytest.fixture
def hostile(any_sandbox: Sandbox, marker: str, leftovers):
    """``hostile(body, limits)``: run ``body`` on the backend under test and check the promises."""
    return lambda body, limits=LIMITS: run_hostile(any_sandbox, marker, leftovers, body, limits)


def run_hostile(
    sandbox: Sandbox, marker: str, leftovers, body: str, limits: Limits = LIMITS
) -> RunResult:
    """Run ``body`` (``{m}`` is the marker) tagged with the marker; check the common promises."""
    source = TAG.format(m=marker) + body.replace("{m}", marker)
    start = time.monotonic()
    result = sandbox.run(source, limits=limits)
    elapsed = time.monotonic() - start
    assert elapsed <= limits.wall_seconds + SLACK, f"run took {elapsed:.1f}s: {result}"
    assert not result.ok, f"hostile program got a success verdict: {result}"
    assert leftovers(marker) == [], f"processes left behind: {result}"
    again = sandbox.run("print(1+1)")
    assert again.ok and again.stdout == "2\n", f"sandbox broken after the hostile run: {again}"
    return result


def test_fork_bomb(hostile, marker: str) -> None:
    body = (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    )
    result = hostile(body)
    assert result.timed_out or result.signal is not None or result.exit_code not in (0, None)


def test_memory_bomb(hostile, marker: str) -> None:
    body = "hog = []\nwhile True:\n    hog.append(bytearray(16 << 20))\n"
    result = hostile(body)
    assert result.out_of_memory, result


def test_infinite_loop(hostile, marker: str) -> None:
    result = hostile("while True:\n    pass\n")
    assert result.timed_out, result


def test_busy_threads(hostile, marker: str) -> None:
    body = (
        "import threading\n"
        "def spin():\n    while True:\n        pass\n"
        "for _ in range(8):\n    threading.Thread(target=spin).start()\n"
    )
    result = hostile(body)
    assert result.timed_out, result


def test_huge_stdout(hostile, marker: str) -> None:
    limits = Limits(wall_seconds=3.0, max_output_bytes=64 << 10)
    body = "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n"
    result = hostile(body, limits)
    assert result.output_truncated, result
    assert len(result.stdout.encode()) <= limits.max_output_bytes


def test_write_outside_workdir(hostile, marker: str) -> None:
    targets = [
        f"/{marker}",
        f"/usr/{marker}",
        f"/etc/{marker}",
        f"/root/{marker}",
        f"/home/{marker}",
        f"/dev/shm/{marker}",
        f"{sys.base_prefix}/{marker}",
        f"{os.getcwd()}/{marker}",
    ]
    body = (
        f"for path in {targets!r}:\n"
        "    try:\n        open(path, 'w').write('pwned')\n        print('wrote', path)\n"
        "    except OSError:\n        pass\n"
        "open('/usr/lib/{m}', 'w').write('pwned')\n"
    )
    hostile(body)
    on_host = [p for p in [*targets, f"/usr/lib/{marker}", f"/tmp/{marker}"] if Path(p).exists()]
    assert on_host == []


def test_read_host_secrets(hostile, marker: str, host_secret: tuple[str, str]) -> None:
    name, value = host_secret
    body = (
        "import os, glob\n"
        "seen = repr(dict(os.environ))\n"
        "for path in glob.glob('/proc/*/environ'):\n"
        "    try:\n        seen += open(path, 'rb').read().decode(errors='replace')\n"
        "    except OSError:\n        pass\n"
        "print(seen)\n"
        f"assert {name!r} in seen, 'no secret found'\n"
    )
    result = hostile(body)
    assert value not in result.stdout + result.stderr
    assert name not in result.stdout


def test_network_egress(hostile, marker: str) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    body = (
        "import socket\n"
        f"for addr in [('127.0.0.1', {port}), ('1.1.1.1', 80), ('8.8.8.8', 53)]:\n"
        "    try:\n"
        "        socket.create_connection(addr, timeout=2).close()\n"
        "        print('CONNECTED', addr)\n"
        "    except OSError as exc:\n"
        "        print('errno', exc.errno, addr)\n"
        "raise SystemExit(1)\n"
    )
    try:
        result = hostile(body)
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()
    assert "CONNECTED" not in result.stdout
    fast_failures = {errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL}
    codes = [
        int(line.split()[1]) for line in result.stdout.splitlines() if line.startswith("errno")
    ]
    assert len(codes) == 3 and set(codes) <= fast_failures, result.stdout  # no timeout: no route


def test_unix_sockets(hostile, marker: str) -> None:
    abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    abstract.bind(f"\0grpokit-{marker}")
    abstract.listen(8)
    body = (
        "import socket\n"
        f"for addr in ['\\0grpokit-{marker}', '/var/run/docker.sock', '/run/docker.sock']:\n"
        "    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
        "    try:\n        s.connect(addr)\n        print('CONNECTED', repr(addr))\n"
        "    except OSError as exc:\n        print('refused', repr(addr), exc)\n"
        "raise SystemExit(1)\n"
    )
    try:
        result = hostile(body)
        abstract.setblocking(False)
        with pytest.raises(BlockingIOError):
            abstract.accept()
    finally:
        abstract.close()
    lines = result.stdout.splitlines()
    assert "CONNECTED" not in result.stdout
    assert len([line for line in lines if line.startswith("refused")]) == 3


def test_kill_parent_and_everything(hostile, marker: str) -> None:
    body = (
        "import os, signal\n"
        "for pid in (os.getppid(), -1):\n"
        "    try:\n        os.kill(pid, signal.SIGKILL)\n"
        "    except OSError as exc:\n        print('kill', pid, exc)\n"
        "raise SystemExit(3)\n"
    )
    result = hostile(body)
    assert result.exit_code == 3 or result.signal == signal.SIGKILL, result


def test_shell_kill_minus_one(hostile, marker: str) -> None:
    hostile("import os\nos.system('kill -9 -1')\nraise SystemExit(4)\n")


def test_child_outlives_parent(hostile, marker: str) -> None:
    body = (
        "import subprocess, sys\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)', '{m}'],\n"
        "                 start_new_session=True)\n"
        "print('parent exits')\n"
    )
    result = hostile(body)
    assert result.timed_out, result


def test_segfault(hostile, marker: str) -> None:
    result = hostile("import ctypes\nctypes.string_at(0)\n")
    assert result.signal == signal.SIGSEGV or result.exit_code == 128 + signal.SIGSEGV, result
