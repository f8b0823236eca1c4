"""Head-to-head: executions per second of the sandbox backends, side by side, in one run.

Run:  python benchmarks/bench_sandboxes.py  [--seconds 8 --concurrency 2]

Every variant runs the same small program (a function and three asserts) from
``--concurrency`` caller threads for ``--seconds`` of wall time after a short warm-up;
the rate is completed executions / elapsed seconds. Each execution must succeed.

Variants:
  local          ``get_sandbox("local", pool_size=2)``: pre-forked bwrap workers (fast path)
  local_cold     ``get_sandbox("local", fast=False)``: a fresh bwrap + interpreter per run
  docker_warm    ``get_sandbox("docker", pool_size=2)``: warm container pool (reuse=True)
  docker_cold    ``get_sandbox("docker", reuse=False)``: a new container per run
  subprocess     ``subprocess.run([python, "-c", program])``: no isolation at all (baseline)

A backend that cannot start here is recorded as unavailable, with the reason.
Targets (issue 11): local >= 200 isolated executions/s, docker warm >= 15/s on 2 cores.
Results go to benchmarks/results/sandboxes.json and sandboxes.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandboxes import SandboxUnavailable, get_sandbox  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
PROGRAM = (
    "def add(a, b):\n    return a + b\n\n"
    "assert add(1, 2) == 3\nassert add(-1, 1) == 0\nassert add('a', 'b') == 'ab'\n"
)
TARGETS = {"local": 200.0, "docker_warm": 15.0}
VARIANTS: dict[str, tuple[str, dict]] = {
    "local": ("local", {"pool_size": 2}),
    "local_cold": ("local", {"fast": False}),
    "docker_warm": ("docker", {"pool_size": 2}),
    "docker_cold": ("docker", {"reuse": False}),
}


@dataclass
class Outcome:
    variant: str
    available: bool
    reason: str = ""
    executions: int = 0
    failures: int = 0
    seconds: float = 0.0
    per_second: float = 0.0
    latency_p50_ms: float = 0.0
    latency_p95_ms: float = 0.0
    startup_seconds: float = 0.0


def _measure(run_once: Callable[[], bool], seconds: float, concurrency: int) -> Outcome:
    """Call ``run_once`` from ``concurrency`` threads until ``seconds`` have passed."""
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def caller() -> None:
        while time.monotonic() < stop_at:
            start = time.monotonic()
            ok = run_once()
            took = (time.monotonic() - start) * 1000
            with lock:
                latencies.append(took)
                failures[0] += not ok

    begin = time.monotonic()
    threads = [threading.Thread(target=caller) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - begin
    ordered = sorted(latencies)
    return Outcome(
        variant="",
        available=True,
        executions=len(latencies),
        failures=failures[0],
        seconds=round(elapsed, 3),
        per_second=round(len(latencies) / elapsed, 2),
        latency_p50_ms=round(statistics.median(ordered), 2) if ordered else 0.0,
        latency_p95_ms=round(ordered[int(0.95 * (len(ordered) - 1))], 2) if ordered else 0.0,
    )


def bench_sandbox(variant: str, seconds: float, concurrency: int, warmup: int) -> Outcome:
    backend, options = VARIANTS[variant]
    start = time.monotonic()
    try:
        sandbox = get_sandbox(backend, **options)
    except (SandboxUnavailable, ImportError) as exc:
        return Outcome(variant=variant, available=False, reason=f"{type(exc).__name__}: {exc}")
    startup = time.monotonic() - start
    try:
        for _ in range(warmup):
            sandbox.run(PROGRAM)
        outcome = _measure(lambda: sandbox.run(PROGRAM).ok, seconds, concurrency)
    finally:
        sandbox.close()
    outcome.variant, outcome.startup_seconds = variant, round(startup, 3)
    return outcome


def bench_subprocess(seconds: float, concurrency: int) -> Outcome:
    def once() -> bool:
        done = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, timeout=60)
        return done.returncode == 0

    outcome = _measure(once, seconds, concurrency)
    outcome.variant = "subprocess"
    return outcome


def _tool_version(argv: list[str]) -> str:
    if shutil.which(argv[0]) is None:
        return "not installed"
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"error: {exc}"
    return (
        (done.stdout or done.stderr).strip().splitlines()[0] if done.stdout or done.stderr else ""
    )


def machine() -> dict:
    return {
        "date_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "load_average_1min_at_start": round(os.getloadavg()[0], 2),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "bwrap": _tool_version(["bwrap", "--version"]),
        "docker": _tool_version(["docker", "version", "--format", "{{.Server.Version}}"]),
        "host_user": "root" if os.geteuid() == 0 else "non-root",
    }


def _row(o: Outcome) -> str:
    if not o.available:
        return f"| {o.variant} | unavailable | | | | | {o.reason} |"
    return (
        f"| {o.variant} | {o.per_second:.1f} | {o.latency_p50_ms:.1f} | {o.latency_p95_ms:.1f} "
        f"| {o.executions} | {o.failures} | startup {o.startup_seconds:.2f}s |"
    )


def _verdicts(outcomes: dict[str, Outcome]) -> list[str]:
    lines = []
    for name, target in TARGETS.items():
        o = outcomes.get(name)
        if o is None or not o.available:
            why = "not run" if o is None else "unavailable"
            lines.append(f"- {name}: target >= {target:.0f}/s: NOT MEASURED ({why})")
            continue
        met = "MET" if o.per_second >= target and o.failures == 0 else "NOT MET"
        lines.append(f"- {name}: {o.per_second:.1f}/s, target >= {target:.0f}/s: {met}")
    return lines


def report(outcomes: dict[str, Outcome], env: dict, args: argparse.Namespace) -> str:
    head = (
        f"# Sandbox executions per second\n\n"
        f"{env['cores']} cores ({env['cpu']}), kernel {env['kernel']}, python {env['python']}, "
        f"{env['bwrap']}, docker {env['docker']}, host user {env['host_user']}, "
        f"{env['date_utc']} UTC, 1-min load average at start {env['load_average_1min_at_start']}"
        f" (shared machine).\n\n"
        f"Same program (a function and three asserts) for every variant; {args.concurrency} "
        f"concurrent callers for {args.seconds:g}s after {args.warmup} warm-up runs. "
        f"Produced by `python benchmarks/bench_sandboxes.py`.\n\n"
        "| variant | executions/s | p50 ms | p95 ms | executions | failures | notes |\n"
        "|---|---:|---:|---:|---:|---:|---|\n"
    )
    rows = "\n".join(_row(o) for o in outcomes.values())
    return head + rows + "\n\n" + "\n".join(_verdicts(outcomes)) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="timed seconds per variant")
    parser.add_argument("--concurrency", type=int, default=2, help="concurrent caller threads")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs per variant")
    parser.add_argument("--only", nargs="*", choices=[*VARIANTS, "subprocess"], help="subset")
    args = parser.parse_args(argv)
    env = machine()
    outcomes: dict[str, Outcome] = {}
    for variant in args.only or [*VARIANTS, "subprocess"]:
        print(f"benchmarking {variant} ...", flush=True)
        if variant == "subprocess":
            outcomes[variant] = bench_subprocess(args.seconds, args.concurrency)
        else:
            outcomes[variant] = bench_sandbox(variant, args.seconds, args.concurrency, args.warmup)
    text = report(outcomes, env, args)
    print("\n" + text)
    RESULTS.mkdir(exist_ok=True)
    payload = {
        "machine": env,
        "settings": vars(args),
        "program": PROGRAM,
        "targets": TARGETS,
        "results": {k: asdict(o) for k, o in outcomes.items()},
    }
    (RESULTS / "sandboxes.json").write_text(json.dumps(payload, indent=2) + "\n")
    (RESULTS / "sandboxes.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
