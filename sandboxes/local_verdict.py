"""Turn a zygote report into a RunResult: how timeouts and out-of-memory are recognised.

``timed_out`` is set when the wall-clock limit was hit (by the zygote, or by the host's
backstop when the slot itself stopped answering) or the CPU limit was (SIGXCPU at
``cpu_seconds``, SIGKILL at ``cpu_seconds + 1`` if the program ignores SIGXCPU).

``out_of_memory`` is a heuristic, because RLIMIT_AS does not kill: it makes allocations fail.
A run counts as out of memory when it was not killed by the sandbox itself and

1. it died of an uncaught ``MemoryError`` (exit code 1, last stderr line ``MemoryError...``), or
2. it died of SIGABRT/SIGSEGV/SIGBUS and the end of stderr reports an allocation failure
   (``MemoryError``, ``Cannot allocate memory``, ``std::bad_alloc``, ``out of memory``), as
   C code that does not check ``malloc`` does, or
3. it died of a SIGKILL nobody in the sandbox sent for a limit while its peak RSS was within
   10 % of ``memory_mb`` (the kernel OOM killer; a pids/memory cgroup would do the same).

A program can fake 1 and 2 by printing those words and failing: the verdict is still a
failure, only its label is wrong.
"""

from __future__ import annotations

import signal

from sandboxes.base import Limits, RunResult

MEMORY_MARKERS = ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory")
CRASH_SIGNALS = (signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS)


def _last_line(text: str) -> str:
    lines = [line for line in text[-4096:].splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def looks_out_of_memory(report: dict, limits: Limits) -> bool:
    """The slot's memory cgroup killed a process, or the documented heuristic above."""
    if report.get("oom_kills"):
        return True
    if report["killed"] is not None:
        return False
    sig, stderr = report["signal"], report["stderr"]
    if report["exit_code"] == 1 and _last_line(stderr).startswith("MemoryError"):
        return True
    if sig in CRASH_SIGNALS and any(m in stderr[-4096:] for m in MEMORY_MARKERS):
        return True
    near_limit = report["maxrss_kb"] * 1024 >= 0.9 * limits.memory_mb * (1 << 20)
    return sig == signal.SIGKILL and near_limit and not _cpu_exceeded(report, limits)


def _cpu_exceeded(report: dict, limits: Limits) -> bool:
    sig = report["signal"]
    if sig == signal.SIGXCPU:
        return True
    return sig == signal.SIGKILL and report["main_cpu"] >= limits.cpu_seconds


def to_result(report: dict, limits: Limits, host_seconds: float) -> RunResult:
    """The RunResult for a run the zygote finished and reported."""
    cpu = _cpu_exceeded(report, limits) and report["killed"] is None
    return RunResult(
        stdout=report["stdout"],
        stderr=report["stderr"],
        exit_code=report["exit_code"],
        wall_seconds=report["wall"],
        timed_out=report["killed"] == "timeout" or cpu,
        out_of_memory=looks_out_of_memory(report, limits),
        output_truncated=report["stdout_truncated"] or report["stderr_truncated"],
        signal=report["signal"],
        extra={
            "killed_by": "cpu_limit" if cpu else report["killed"],
            "cpu_seconds": round(report["cpu"], 4),
            "max_rss_kb": report["maxrss_kb"],
            "processes": report["processes"],
            "host_seconds": round(host_seconds, 4),
        },
    )


def host_timeout_result(host_seconds: float) -> RunResult:
    """The slot stopped answering before its deadline; the host killed it."""
    return RunResult(
        stdout="",
        stderr="sandbox: the run exceeded its wall-clock limit and its worker was killed\n",
        exit_code=None,
        wall_seconds=host_seconds,
        timed_out=True,
        signal=signal.SIGKILL,
        extra={"killed_by": "host", "host_seconds": round(host_seconds, 4)},
    )


def worker_died_result(host_seconds: float, reason: str) -> RunResult:
    """The slot's worker died while the run was in progress (the run is a failure)."""
    return RunResult(
        stdout="",
        stderr=f"sandbox: the worker running this program died ({reason})\n",
        exit_code=None,
        wall_seconds=host_seconds,
        extra={"killed_by": "worker_died", "host_seconds": round(host_seconds, 4)},
    )
