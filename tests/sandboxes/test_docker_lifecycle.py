"""The docker sandbox's containers over their life cycle, against a real Docker engine: pools that
recover from killed containers, cold mode, close, orphans reaped after their owner dies, removal
at interpreter exit, a missing image, SDK or engine. Single runs: ``test_docker.py``, whose
engine helpers this module shares.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from sandboxes.base import Limits, SandboxUnavailable
from sandboxes.docker_container import ContainerSpec, Resources, start_container
from sandboxes.docker_exec import build_request, request_frame, run_exec
from sandboxes.docker_owner import SESSION_LABEL, new_session_labels
from sandboxes.registry import get_sandbox

pytest.importorskip("docker", reason="the Docker SDK for Python is not installed")
from conftest import processes_with  # noqa: E402
from docker_helpers import (  # noqa: E402
    REPO,
    assert_nothing_left,
    engine,
    session_containers,
    wait_for,
    watchdogs,
)

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def client():
    return engine()


@pytest.fixture(scope="module", autouse=True)
def nothing_left_behind(client):
    yield
    assert_nothing_left(client)


def test_pool_recovers_after_its_containers_are_killed_from_outside(client):
    with get_sandbox("docker", pool_size=2) as box:
        assert box.run("print(1)").ok
        assert wait_for(lambda: len(session_containers(client, box.session)) == 2)
        for container_id in session_containers(client, box.session):
            client.api.kill(container_id)
        results = [box.run(f"print({i})") for i in range(4)]
        assert [r.stdout for r in results] == [f"{i}\n" for i in range(4)]
        running = client.api.containers(filters={"label": f"{SESSION_LABEL}={box.session}"})
        assert 1 <= len(running) <= 2


def _stop_the_zygote_of(marker: str) -> None:
    """SIGSTOP (from the host) the parent of the process named ``marker``: its run's zygote."""
    assert wait_for(lambda: processes_with(marker) != [])
    (pid,) = processes_with(marker)
    status = Path(f"/proc/{pid}/status").read_text()
    zygote = int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid")))
    os.kill(zygote, signal.SIGSTOP)


def test_a_run_that_holds_the_exec_open_past_the_deadline_loses_its_container(client, marker):
    # No program can stop the zygote (root, another uid, non-dumpable); a zygote that stops
    # answering anyway (stopped from the host here) meets the host's own deadline.
    source = f"open('/proc/self/comm', 'w').write({marker!r})\nimport time\ntime.sleep(60)\n"
    with get_sandbox("docker", pool_size=1) as box:
        stopper = threading.Thread(target=_stop_the_zygote_of, args=(marker,))
        stopper.start()
        result = box.run(source, limits=Limits(wall_seconds=1))
        stopper.join()
        assert result.timed_out and result.exit_code is None
        assert result.extra["killed_by"] == "host"
        gone = result.extra["container"]

        def removed() -> bool:
            return all(not c.startswith(gone) for c in session_containers(client, box.session))

        assert wait_for(removed)
        assert box.run("print('fresh')").stdout == "fresh\n"


def test_cold_mode_uses_one_container_per_run(client):
    with get_sandbox("docker", reuse=False) as box:
        first, second = box.run("print(1)"), box.run("print(2)", stdin="")
        assert (first.stdout, second.stdout) == ("1\n", "2\n")
        assert first.extra["cold"] and first.extra["container"] != second.extra["container"]
        assert session_containers(client, box.session) == []


def test_close_removes_every_container_and_is_idempotent(client):
    box = get_sandbox("docker", pool_size=2)
    assert box.run("print(1)").ok
    assert session_containers(client, box.session)
    box.close()
    assert session_containers(client, box.session) == []
    box.close()
    with pytest.raises(SandboxUnavailable, match="closed"):
        box.run("print(1)")


def test_containers_of_a_killed_owner_are_reaped_by_the_next_sandbox(client):
    child = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(REPO)!r})
        from sandboxes.docker_sandbox import DockerSandbox
        box = DockerSandbox(pool_size=2)
        assert box.run("print(1)").ok
        print(box.session, flush=True)
        time.sleep(600)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    try:
        session = proc.stdout.readline().strip()
        assert session, "the child process did not start its sandbox"
        assert wait_for(lambda: len(session_containers(client, session)) == 2)
        for pid in watchdogs(session):  # the reaper is the backstop when the watchdog is gone
            os.kill(pid, signal.SIGKILL)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    orphans = set(session_containers(client, session))
    assert len(orphans) == 2  # a SIGKILLed owner (and watchdog) cannot clean up
    with get_sandbox("docker", pool_size=1) as box:
        assert orphans <= set(box.reaped)
    assert session_containers(client, session) == []


def test_a_missing_image_says_how_to_build_it(client):
    with pytest.raises(SandboxUnavailable, match="build.sh"):
        get_sandbox("docker", image="grpokit-sandbox-missing:never")


def test_interpreter_exit_removes_the_containers(client):
    child = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        from sandboxes.docker_sandbox import DockerSandbox
        box = DockerSandbox(pool_size=2)
        assert box.run("print(1)").ok
        print(box.session)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, timeout=300, check=True
    )
    session = done.stdout.strip()
    assert session, done.stderr
    assert session_containers(client, session) == []


# 40 MiB of its own (under RLIMIT_AS), then memfds (uncounted by RLIMIT_AS, each under the file
# size limit) until the container's memory cgroup is full: the kernel OOM-kills the program.
CGROUP_HOG = """
own = bytearray(40 << 20)
import os
fds = []
for _ in range(40):
    fd = os.memfd_create("hog")
    for _ in range(12):
        os.write(fd, b"x" * (1 << 20))
    fds.append(fd)
"""


def test_without_a_host_view_of_the_cgroup_the_engine_is_asked(client):
    spec = ContainerSpec("grpokit-sandbox:latest", max_file_mb=16, max_open_files=64, tmpfs_mb=16)
    pooled = start_container(
        client, spec, Resources(memory_mb=64, max_processes=8), new_session_labels()
    )
    try:
        pooled.cgroup = None  # as with a remote or rootless engine
        assert pooled.processes() == [pooled.init_pid]
        limits = Limits(memory_mb=64)
        frame = request_frame(build_request(CGROUP_HOG, "", None, limits), pooled.nproc)
        outcome = run_exec(client.api, pooled.id, frame, limits)
        assert outcome.report is None or outcome.report["signal"] == signal.SIGKILL, outcome
        assert pooled.new_oom_kills() and not pooled.new_oom_kills()
    finally:
        pooled.remove()


def test_a_missing_sdk_or_engine_is_reported_clearly(monkeypatch):
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "docker", None)
        with pytest.raises(SandboxUnavailable, match="pip install"):
            get_sandbox("docker")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(SandboxUnavailable, match="no Docker engine answers"):
        get_sandbox("docker")
