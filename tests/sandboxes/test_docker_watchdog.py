"""The docker sandbox's watchdog against a real Docker engine: the containers of an owner that
dies without closing (SIGKILL, a scoring worker killed by its timeout) are removed at once, not
on the next sandbox start; a forked child does not keep them alive; ``close`` dismisses the
watchdog. The reaper backstop is tested in ``test_docker_lifecycle.py``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from rewards.scoring import BatchScorer
from rewards.verifier import Verifier, VerifyResult
from sandboxes.registry import get_sandbox

pytest.importorskip("docker", reason="the Docker SDK for Python is not installed")
from docker_helpers import (  # noqa: E402
    REPO,
    assert_nothing_left,
    engine,
    pid_alive,
    session_containers,
    watchdogs,
)

pytestmark = pytest.mark.docker

GONE_WITHIN_SECONDS = 10.0


@pytest.fixture(scope="module")
def client():
    return engine()


@pytest.fixture(scope="module", autouse=True)
def nothing_left_behind(client):
    yield
    assert_nothing_left(client)


def gone_within(predicate, seconds: float = GONE_WITHIN_SECONDS) -> float | None:
    """Seconds until ``predicate()`` held (polling), or None if it never did."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.1)
    return None


@pytest.fixture
def owner() -> Iterator[Any]:
    """Start a Python child that owns a docker sandbox; yields a function returning
    (process, first output line split). The process (and any pid it prints) is killed after."""
    started: list[subprocess.Popen] = []
    extra: list[int] = []

    def start(body: str) -> tuple[subprocess.Popen, list[str]]:
        prelude = f"import os, sys, time\nsys.path.insert(0, {str(REPO)!r})\n"
        code = prelude + textwrap.dedent(body)
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        started.append(proc)
        words = proc.stdout.readline().split()
        assert words, "the owner process did not start its sandbox"
        extra.extend(int(w) for w in words[1:])
        return proc, words

    yield start
    for pid in [p.pid for p in started] + extra:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for proc in started:
        proc.wait()


OWN_AND_SLEEP = """
from sandboxes.docker_sandbox import DockerSandbox
box = DockerSandbox(pool_size=2)
assert box.run("print(1)").ok
print(box.session, flush=True)
time.sleep(600)
"""


def test_the_containers_of_a_sigkilled_owner_are_removed_at_once(client, owner):
    proc, (session,) = owner(OWN_AND_SLEEP)
    assert session_containers(client, session)
    assert watchdogs(session), "no watchdog process runs for the sandbox"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert gone_within(lambda: session_containers(client, session) == []) is not None
    assert gone_within(lambda: watchdogs(session) == []) is not None  # it exits after sweeping


def test_a_forked_child_does_not_keep_a_dead_owners_containers(client, owner):
    body = """
    from sandboxes.docker_sandbox import DockerSandbox
    box = DockerSandbox(pool_size=1)
    assert box.run("print(1)").ok
    child = os.fork()
    if child == 0:
        time.sleep(600)
        os._exit(0)
    print(box.session, child, flush=True)
    time.sleep(600)
    """
    proc, (session, child) = owner(body)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert gone_within(lambda: session_containers(client, session) == []) is not None
    assert pid_alive(int(child)), "the forked child must still hold its copy of the pipe"


def test_close_dismisses_the_watchdog_and_leaves_nothing(client):
    box = get_sandbox("docker", pool_size=1)
    assert box.run("print(1)").ok
    assert watchdogs(box.session)
    box.close()
    assert watchdogs(box.session) == []
    assert session_containers(client, box.session) == []
    box.close()  # idempotent


class DockerThenHang(Verifier):
    """Opens a docker sandbox, runs once, says its session in a file, then hangs."""

    name = "docker_then_hang"
    kind = "correct"

    def verify(self, completion: str, row: Mapping[str, Any]) -> VerifyResult:
        box = get_sandbox("docker", pool_size=1)
        assert box.run("print(1)").ok
        Path(row["session_file"]).write_text(box.session)
        while True:
            time.sleep(0.1)


def test_a_scoring_worker_killed_by_its_timeout_leaves_no_container(client, tmp_path):
    session_file = tmp_path / "session"
    scorer = BatchScorer({"hang": DockerThenHang()}, workers=1, timeout=10)
    with scorer:
        (timed,) = scorer.score(["hang"], ["x"], [{"session_file": str(session_file)}])["hang"]
        assert timed.timed_out, timed
        session = session_file.read_text()
        seconds = gone_within(lambda: session_containers(client, session) == [])
    assert seconds is not None, "the killed worker's container outlived it"
