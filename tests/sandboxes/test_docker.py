"""The docker sandbox backend against a real Docker engine and the locally built image: what one
run sees and cannot do (streams, files, limits, isolation, output caps, process trees, no traces
between runs, concurrent runs). The containers' life cycle: ``test_docker_lifecycle.py``.

Skipped only when no Docker engine answers (``make test`` starts one as root); a missing image
is an error, not a skip: ``sandboxes/setup-host.sh`` builds it.
"""

from __future__ import annotations

import signal
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest

from sandboxes.base import Limits
from sandboxes.registry import get_sandbox

docker = pytest.importorskip("docker", reason="the Docker SDK for Python is not installed")
from docker_helpers import (  # noqa: E402  (after the importorskip)
    assert_nothing_left,
    engine,
)

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def client():
    return engine()


@pytest.fixture(scope="module", autouse=True)
def nothing_left_behind(client):
    yield
    assert_nothing_left(client)


@pytest.fixture(scope="module")
def sandbox(client):
    box = get_sandbox("docker", pool_size=2)
    yield box
    box.close()


def test_basic_run_separates_streams_and_exit_codes(sandbox):
    ok = sandbox.run("import sys\nprint('out')\nprint('err', file=sys.stderr)")
    assert (ok.stdout, ok.stderr, ok.exit_code, ok.ok) == ("out\n", "err\n", 0, True)
    failed = sandbox.run("raise SystemExit(3)")
    assert failed.exit_code == 3 and not failed.ok and failed.signal is None
    crashed = sandbox.run("1 / 0")
    assert crashed.exit_code == 1 and "ZeroDivisionError" in crashed.stderr


def test_stdin_reaches_the_program(sandbox):
    result = sandbox.run("import sys\nprint(sys.stdin.read()[::-1])", stdin="abc\ndéf")
    assert result.stdout == "féd\ncba\n"


def test_files_are_in_the_work_dir_and_importable(sandbox):
    files = {"data/in.txt": "hello", "blob.bin": bytes([0, 255, 7]), "helper.py": "VALUE = 41\n"}
    source = (
        "import os, helper\n"
        "print(open('data/in.txt').read(), list(open('blob.bin', 'rb').read()), helper.VALUE + 1)\n"
        "open('written.txt', 'w').write('x')\nprint(os.path.exists('written.txt'))"
    )
    result = sandbox.run(source, files=files)
    assert result.stdout == "hello [0, 255, 7] 42\nTrue\n", result.stderr


@pytest.mark.parametrize("name", ["../escape.txt", "/etc/passwd", "a/../../b", "", ".", "d/"])
def test_unsafe_file_names_are_refused(sandbox, name):
    with pytest.raises(ValueError, match="files"):
        sandbox.run("pass", files={name: "x"})


def test_bad_limits_are_refused_with_the_field_name(sandbox):
    with pytest.raises(ValueError, match="wall_seconds"):
        sandbox.run("pass", limits=Limits(wall_seconds=0))
    with pytest.raises(ValueError, match="memory_mb"):
        sandbox.run("pass", limits=Limits(memory_mb=1.5))


def test_memory_limit_reports_out_of_memory(sandbox, client):
    limits = Limits(memory_mb=64)
    result = sandbox.run("data = b'x' * (300 * 2**20)\nprint(len(data))", limits=limits)
    assert result.out_of_memory and not result.ok and not result.timed_out
    assert result.stdout == ""
    fine = sandbox.run("data = b'x' * (16 * 2**20)\nprint(len(data))", limits=limits)
    assert fine.ok and fine.stdout == f"{16 * 2**20}\n"
    memory = client.containers.get(fine.extra["container"]).attrs["HostConfig"]["Memory"]
    assert 64 << 20 <= memory <= 96 << 20


def test_pids_limit_stops_a_fork_bomb(sandbox):
    source = textwrap.dedent(
        """
        import os, time
        made = 0
        for _ in range(60):
            try:
                pid = os.fork()
            except OSError:
                break
            if pid == 0:
                time.sleep(1)
                os._exit(0)
            made += 1
        print(made)
        """
    )
    result = sandbox.run(source, limits=Limits(max_processes=8, wall_seconds=20))
    assert result.exit_code == 0 and not result.timed_out, result
    assert 1 <= int(result.stdout) < 8  # the program itself is one of the 8


def test_wall_timeout_kills_and_the_pool_goes_on(sandbox):
    result = sandbox.run("while True:\n    pass", limits=Limits(wall_seconds=1))
    assert result.timed_out and result.exit_code is None and not result.ok
    assert result.signal == signal.SIGKILL and not result.out_of_memory
    assert sandbox.run("print('next')").stdout == "next\n"


def test_cpu_limit_stops_a_busy_loop_before_the_wall_clock(sandbox):
    result = sandbox.run("while True:\n    pass", limits=Limits(cpu_seconds=1, wall_seconds=30))
    assert result.timed_out and result.extra["killed_by"] == "cpu_limit"  # as on local
    assert result.exit_code is None and result.wall_seconds < 10
    assert result.signal in (signal.SIGKILL, signal.SIGXCPU)


def test_runs_as_nobody_on_a_read_only_root(sandbox):
    source = textwrap.dedent(
        """
        import os
        print(os.getuid(), os.getgid())
        status = dict(line.split(':', 1) for line in open('/proc/self/status'))
        print(status['CapEff'].strip(), status['NoNewPrivs'].strip())
        for path in ('/etc/x', '/usr/x', '/x'):
            try:
                open(path, 'w')
                print('wrote', path)
            except OSError as error:
                print(error.errno)
        print(os.path.exists('/var/run/docker.sock'), os.path.exists('/run/docker.sock'))
        """
    )
    result = sandbox.run(source)
    assert result.stdout.split("\n")[:2] == ["65534 65534", "0000000000000000 1"], result.stderr
    assert result.stdout.split("\n")[2:6] == ["30", "30", "30", "False False"]


def test_containers_have_no_network_mounts_or_privileges(sandbox, client):
    source = textwrap.dedent(
        """
        import socket
        try:
            socket.create_connection(('1.1.1.1', 53), timeout=3)
            print('connected')
        except OSError as error:
            print('refused', error.errno)
        print(sorted(line.split(':')[0].strip() for line in open('/proc/net/dev').readlines()[2:]))
        """
    )
    result = sandbox.run(source)
    assert result.stdout.startswith("refused") and result.stdout.endswith("['lo']\n")
    attrs = client.containers.get(result.extra["container"]).attrs
    host = attrs["HostConfig"]
    assert attrs["Mounts"] == [] and not host["Binds"]
    assert host["NetworkMode"] == "none" and host["ReadonlyRootfs"] and not host["Privileged"]
    assert host["CapDrop"] == ["ALL"] and "no-new-privileges" in host["SecurityOpt"]
    assert sorted(host["CapAdd"]) == ["KILL", "SETGID", "SETUID"]  # for the root zygote only
    assert {u["Name"] for u in host["Ulimits"]} >= {"nofile", "fsize", "msgqueue"}
    init = sandbox.run("print(open('/proc/1/status').read())").stdout
    status = dict(line.split(":", 1) for line in init.splitlines() if ":" in line)
    assert status["Uid"].split() == ["65533"] * 4 and int(status["CapEff"], 16) == 0


def test_output_is_capped_per_stream(sandbox):
    # As on local, a stream over the cap ends the run (the zygote kills it), which may come
    # before or after the program's own exit.
    for stream, other in (("stdout", "stderr"), ("stderr", "stdout")):
        source = f"import sys\nsys.{other}.write('k')\nsys.{other}.flush()\n"
        source += f"sys.{stream}.write('o' * 50000)"
        result = sandbox.run(source, limits=Limits(max_output_bytes=1000))
        assert result.output_truncated and result.extra["killed_by"] in ("output", None)
        assert getattr(result, stream) == "o" * 1000 and getattr(result, other) == "k"


def test_a_run_lasts_until_its_whole_process_tree_is_gone(sandbox):
    source = textwrap.dedent(
        """
        import os, time
        if os.fork() == 0:
            os.setsid()
            time.sleep(0.5)
            print('child done', flush=True)
            os._exit(0)
        print('parent leaves', flush=True)
        """
    )
    result = sandbox.run(source)
    assert result.ok and result.stdout == "parent leaves\nchild done\n", result


def test_a_detached_leftover_times_out_and_is_killed(sandbox, client):
    source = textwrap.dedent(
        """
        import os, time
        if os.fork() == 0:
            os.setsid()
            os.close(1)
            os.close(2)
            time.sleep(60)
            os._exit(0)
        print('parent leaves')
        """
    )
    result = sandbox.run(source, limits=Limits(wall_seconds=1))
    assert result.timed_out and not result.ok and result.stdout == "parent leaves\n"
    container = client.containers.get(result.extra["container"])
    assert len(container.top()["Processes"]) == 1  # only PID 1 is left


LEAVE_TRACES = """
import ctypes, os, signal
for d in ('.', '/tmp', '/dev/shm'):
    open(os.path.join(d, '.secret'), 'w').write('s')
print(ctypes.CDLL(None).shmget(0, 4096, 0o1600) >= 0, flush=True)
if {kill_wrapper}:  # the wrapper dies before it can clean up after this run
    os.kill(-1, signal.SIGKILL)
"""
FIND_TRACES = """
import os
print([os.path.exists(os.path.join(d, '.secret')) for d in ('.', '/tmp', '/dev/shm', '/work/run')])
print(len(open('/proc/sysvipc/shm').read().splitlines()) - 1)
"""


@pytest.mark.parametrize("kill_wrapper", [False, True])
def test_nothing_leaks_from_one_run_to_the_next(client, kill_wrapper):
    with get_sandbox("docker", pool_size=1) as box:
        first = box.run(LEAVE_TRACES.format(kill_wrapper=kill_wrapper))
        second = box.run(FIND_TRACES)
    assert first.stdout == "True\n"
    assert first.extra["container"] == second.extra["container"]
    assert second.stdout == "[False, False, False, False]\n0\n"


def test_concurrent_runs_from_many_threads(sandbox):
    def one(index: int):
        return index, sandbox.run(
            f"import sys\nprint({index} * 2)\nprint({index}, file=sys.stderr)"
        )

    with ThreadPoolExecutor(max_workers=8) as threads:
        results = list(threads.map(one, range(24)))
    for index, result in results:
        assert (result.stdout, result.stderr, result.exit_code) == (
            f"{index * 2}\n",
            f"{index}\n",
            0,
        )
    assert len({result.extra["container"] for _, result in results}) <= 2 + 2  # pool + refills
