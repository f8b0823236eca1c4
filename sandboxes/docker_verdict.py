"""Turn what the host saw of one docker exec into a RunResult, and say if the container is clean.

The zygote's result frame becomes the RunResult exactly as for the local backend
(``local_verdict.to_result``: timeouts, CPU limit, the out-of-memory rules), with the kernel's
OOM kills counted from the container's memory cgroup on the host, where no program can forge
them. A zygote that stopped answering before its deadline is a host timeout; one that died
before its result frame (the container's OOM killer chose it, the container was removed) is a
dead worker. A container may run the next program only if all three hold: the zygote reported
a result, its wipe check found nothing left (the ``clean`` frame), and the host sees no process
but PID 1 in the container's cgroup.
"""

from __future__ import annotations

from sandboxes.base import Limits, RunResult
from sandboxes.docker_container import PooledContainer
from sandboxes.docker_exec import ExecOutcome
from sandboxes.local_verdict import host_timeout_result, to_result, worker_died_result


def _run_result(outcome: ExecOutcome, oom: bool, limits: Limits) -> RunResult:
    if outcome.host_timeout:
        return host_timeout_result(outcome.elapsed)
    report = outcome.report
    if report is None:
        reason = outcome.broken or outcome.diagnostics[-500:] or "the exec ended without a result"
        result = worker_died_result(outcome.elapsed, reason)
        result.out_of_memory = oom
        return result
    return to_result({**report, "oom_kills": int(oom)}, limits, outcome.elapsed)


def container_verdict(
    pooled: PooledContainer, outcome: ExecOutcome, limits: Limits
) -> tuple[RunResult, bool]:
    """(the RunResult, whether the container is clean enough to run the next program)."""
    pooled.runs += 1
    oom = pooled.new_oom_kills()  # read after every run (a host file read): never stale
    result = _run_result(outcome, oom, limits)
    left = outcome.left
    clean = outcome.report is not None and left == [] and pooled.only_init_left()
    result.extra.update(container=pooled.id[:12], container_runs=pooled.runs)
    if left:
        result.extra["left_after_wipe"] = left[:5]
    if not clean and outcome.diagnostics:
        result.extra["zygote_stderr"] = outcome.diagnostics[-2000:]
    return result, clean
