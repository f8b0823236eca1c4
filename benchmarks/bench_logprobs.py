"""Head-to-head: chunked ``token_logprobs`` vs naive ``log_softmax(...).gather(...)`` on CPU.

Run:  python benchmarks/bench_logprobs.py  [--batch 8 --steps 1024 --vocab 32768]
                                           [--repeats 3 --rounds 3 --chunk-sizes 1024,64]

Each (implementation, phase, chunk size) runs in a fresh subprocess so its peak memory is its own:
the worker allocates the float32 logits, records its resident set (VmRSS) just before the op,
resets the kernel's peak-RSS mark (``echo 5 > /proc/self/clear_refs``; falls back to the
process-lifetime ``ru_maxrss`` where that is not allowed), runs the op once and reads the peak
(VmHWM). Peak EXTRA memory = peak - RSS before, i.e. everything beyond the logits themselves
(for forward+backward that includes the [B, T, V] gradient, which both sides must produce).
Then it warms up once and times ``--repeats`` runs. ``--rounds`` rounds interleave all the
subprocesses so that load from other processes on a shared machine hits both sides alike; the
reported time is the median over all rounds' runs.

Phases: ``fwd`` (logits without grad) and ``fwd_bwd`` (logits requiring grad; backward of the
output's ``.sum()``). Targets: lean peak extra memory <= 25% of naive, lean time <= 1.2x naive.
Results go to benchmarks/results/logprobs.json and logprobs.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
MEM_TARGET, TIME_TARGET = 0.25, 1.2
MIB = 1024 * 1024


@dataclass
class Run:
    impl: str  # "naive" or "lean"
    phase: str  # "fwd" or "fwd_bwd"
    chunk_size: int | None
    peak_extra_mib: float
    time_median_s: float
    times_s: list[float]
    checksum: float  # sum of log-probs (+ sum |grad| for fwd_bwd): both impls must agree
    peak_method: str


# ----------------------------------------------------------------------------- worker side


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_kib(reset_ok: bool) -> tuple[int, str]:
    hwm = _status_kib("VmHWM")
    if reset_ok and hwm is not None:
        return hwm, "VmHWM after clear_refs reset"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "ru_maxrss (lifetime)"


def worker(args: argparse.Namespace) -> None:
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from grpo_core.logprobs import token_logprobs

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    shape = (args.batch, args.steps, args.vocab)
    logits = torch.randn(shape, dtype=torch.float32)
    ids = torch.randint(0, args.vocab, shape[:2])
    if args.phase == "fwd_bwd":
        logits.requires_grad_()

    def logprobs(x: torch.Tensor, token_ids: torch.Tensor) -> torch.Tensor:
        if args.impl == "naive":
            return torch.log_softmax(x, -1).gather(-1, token_ids[..., None]).squeeze(-1)
        return token_logprobs(x, token_ids, chunk_size=args.chunk_size)

    def step(x: torch.Tensor = logits, token_ids: torch.Tensor = ids) -> torch.Tensor:
        x.grad = None
        out = logprobs(x, token_ids)
        if args.phase == "fwd_bwd":
            out.sum().backward()
        return out.detach()

    # Load the kernels' code pages and thread pool on a tiny copy so that they do not count.
    tiny = logits[:1, :32].detach().clone().requires_grad_(logits.requires_grad)
    step(tiny, ids[:1, :32])
    del tiny
    rss_before = _status_kib("VmRSS") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    reset_ok = _reset_peak()
    out = step()
    peak, method = _peak_kib(reset_ok)
    # Checked after the peak is read: l1 norm is a reduction, no [B, T, V] temporary.
    checksum = float(out.sum())
    if logits.grad is not None:
        checksum += float(torch.linalg.vector_norm(logits.grad, ord=1))
    del out
    logits.grad = None
    step()  # warm-up
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    run = Run(
        impl=args.impl,
        phase=args.phase,
        chunk_size=args.chunk_size if args.impl == "lean" else None,
        peak_extra_mib=(peak - rss_before) / 1024,
        time_median_s=statistics.median(times),
        times_s=times,
        checksum=checksum,
        peak_method=method,
    )
    print(json.dumps(asdict(run)))


# ----------------------------------------------------------------------------- parent side


def run_one(args: argparse.Namespace, impl: str, phase: str, chunk_size: int) -> Run:
    cmd = [sys.executable, __file__, "--worker", "--impl", impl, "--phase", phase]
    cmd += ["--chunk-size", str(chunk_size), "--repeats", str(args.repeats)]
    cmd += ["--batch", str(args.batch), "--steps", str(args.steps), "--vocab", str(args.vocab)]
    cmd += ["--threads", str(args.threads)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"worker {impl}/{phase}/{chunk_size} failed:\n{done.stderr}")
    return Run(**json.loads(done.stdout.strip().splitlines()[-1]))


def machine_info(threads: int) -> dict[str, object]:
    import torch

    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "torch_threads": threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_avg_1m_at_start": os.getloadavg()[0],
    }


def merge(raw: list[Run]) -> list[Run]:
    """One row per (impl, phase, chunk): median memory over rounds, median over all timings."""
    keys = list(dict.fromkeys((r.impl, r.phase, r.chunk_size) for r in raw))
    merged = []
    for key in keys:
        group = [r for r in raw if (r.impl, r.phase, r.chunk_size) == key]
        times = [t for r in group for t in r.times_s]
        merged.append(
            Run(
                *key,
                peak_extra_mib=statistics.median(r.peak_extra_mib for r in group),
                time_median_s=statistics.median(times),
                times_s=times,
                checksum=group[0].checksum,
                peak_method=group[0].peak_method,
            )
        )
    return merged


def summarise(runs: list[Run], chunk_size: int, grad_mib: float) -> dict[str, dict[str, object]]:
    summary: dict[str, dict[str, object]] = {}
    for phase in ("fwd", "fwd_bwd"):
        naive = next(r for r in runs if r.impl == "naive" and r.phase == phase)
        lean = next(
            r for r in runs if r.impl == "lean" and r.phase == phase and r.chunk_size == chunk_size
        )
        mem_ratio = lean.peak_extra_mib / naive.peak_extra_mib
        time_ratio = lean.time_median_s / naive.time_median_s
        summary[phase] = {
            "chunk_size": chunk_size,
            "mem_ratio": round(mem_ratio, 4),
            "time_ratio": round(time_ratio, 4),
            "mem_target_met": mem_ratio <= MEM_TARGET,
            "time_target_met": time_ratio <= TIME_TARGET,
        }
    # Any fwd_bwd implementation must hand back a [B, T, V] gradient: the lowest possible ratio.
    summary["fwd_bwd"]["gradient_floor_ratio"] = round(
        grad_mib
        / next(r.peak_extra_mib for r in runs if r.impl == "naive" and r.phase == "fwd_bwd"),
        4,
    )
    return summary


def table(runs: list[Run]) -> list[str]:
    lines = [
        "| phase | impl | chunk_size | peak extra MiB | median time s | checksum |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in runs:
        chunk = "-" if r.chunk_size is None else str(r.chunk_size)
        lines.append(
            f"| {r.phase} | {r.impl} | {chunk} | {r.peak_extra_mib:.1f} | "
            f"{r.time_median_s:.3f} | {r.checksum:.6g} |"
        )
    return lines


def verdicts(summary: dict[str, dict[str, object]]) -> list[str]:
    lines = []
    for phase, s in summary.items():
        lines.append(
            f"- {phase} (lean chunk_size={s['chunk_size']}): memory lean/naive = "
            f"{s['mem_ratio']:.3f} (target <= {MEM_TARGET}: "
            f"{'MET' if s['mem_target_met'] else 'NOT MET'}), time lean/naive = "
            f"{s['time_ratio']:.3f} (target <= {TIME_TARGET}: "
            f"{'MET' if s['time_target_met'] else 'NOT MET'})"
        )
        if "gradient_floor_ratio" in s:
            lines.append(
                f"  - the [B, T, V] gradient alone is {s['gradient_floor_ratio']:.3f} of naive's "
                "peak extra memory: no implementation returning it can go below that ratio"
            )
    return lines


def check_agreement(runs: list[Run]) -> None:
    for r in runs:
        ref = next(n for n in runs if n.impl == "naive" and n.phase == r.phase)
        if abs(r.checksum - ref.checksum) > 1e-4 * abs(ref.checksum):
            raise RuntimeError(f"{r.impl}/{r.phase}/{r.chunk_size} disagrees with naive: {r}")


def write_results(
    args: argparse.Namespace, runs: list[Run], raw: list[Run], summary: dict, info: dict
) -> None:
    keys = ("batch", "steps", "vocab", "repeats", "rounds", "threads")
    config = {k: getattr(args, k) for k in keys}
    config["dtype"] = "float32"
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"machine": info, "config": config, "runs": [asdict(r) for r in runs]}
    payload["raw_runs_per_subprocess"] = [asdict(r) for r in raw]
    payload["summary"] = summary
    (RESULTS / "logprobs.json").write_text(json.dumps(payload, indent=2) + "\n")
    md = [
        "# token_logprobs (chunked) vs naive log_softmax().gather()",
        "",
        f"B={args.batch}, T={args.steps}, V={args.vocab}, float32, CPU. "
        f"Machine: {info['cpu']}, {info['cores']} cores, torch {info['torch']} "
        f"({info['torch_threads']} threads), python {info['python']}, {info['date']}, "
        f"1-min load average {info['load_avg_1m_at_start']:.2f} at start, "
        f"{info['load_avg_1m_at_end']:.2f} at end (other processes share the 2 cores).",
        "",
        "Every measurement runs in a fresh subprocess. Peak extra memory = peak RSS during the first call "
        f"minus RSS just before it ({runs[0].peak_method}); the logits "
        f"({args.batch * args.steps * args.vocab * 4 / MIB:.0f} MiB) are not counted, the "
        "gradient (same size) is. Time = median of "
        f"{args.rounds} rounds x {args.repeats} runs (each after one warm-up), the rounds "
        "interleaving naive and lean subprocesses. Memory = median over the rounds. "
        "Produced by `python benchmarks/bench_logprobs.py`.",
        "",
        *table(runs),
        "",
        *verdicts(summary),
        "",
    ]
    (RESULTS / "logprobs.md").write_text("\n".join(md))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=1024)
    parser.add_argument("--vocab", type=int, default=32768)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="interleaved rounds of all subprocesses (evens out load from other processes)",
    )
    parser.add_argument(
        "--chunk-sizes",
        default=None,
        help="comma-separated lean chunk sizes (rows) to compare; the first is judged against "
        "the targets (default: the library's default for --vocab, then 64)",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--impl", choices=("naive", "lean"), help=argparse.SUPPRESS)
    parser.add_argument("--phase", choices=("fwd", "fwd_bwd"), help=argparse.SUPPRESS)
    parser.add_argument("--chunk-size", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.worker:
        worker(args)
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from grpo_core.logprobs import DEFAULT_CHUNK_ELEMENTS

    sizes = [max(1, DEFAULT_CHUNK_ELEMENTS // args.vocab), 64]  # the default, a cache-sized chunk
    if args.chunk_sizes:
        sizes = [int(s) for s in args.chunk_sizes.split(",")]
    sizes = list(dict.fromkeys(sizes))
    info = machine_info(args.threads)
    raw: list[Run] = []
    for round_no in range(1, args.rounds + 1):
        for phase in ("fwd", "fwd_bwd"):
            for impl, size in [("naive", sizes[0])] + [("lean", size) for size in sizes]:
                raw.append(run_one(args, impl, phase, size))
                print(f"round {round_no}: {table([raw[-1]])[-1]}", flush=True)
    runs = merge(raw)
    info["load_avg_1m_at_end"] = os.getloadavg()[0]
    check_agreement(runs)
    summary = summarise(runs, sizes[0], args.batch * args.steps * args.vocab * 4 / MIB)
    print("\n".join(["", *table(runs), "", *verdicts(summary)]))
    write_results(args, runs, raw, summary, info)
    print(f"\nwrote {RESULTS / 'logprobs.json'} and {RESULTS / 'logprobs.md'}")


if __name__ == "__main__":
    main()
