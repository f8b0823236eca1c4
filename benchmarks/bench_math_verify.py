"""Head-to-head: the ``math`` verifier through ``grpo eval`` vs a plain math-verify loop.

One run, same pairs (``math_pairs.make_pairs``, seeded, nothing downloaded):

(a) ``grpo eval --input ROWS.jsonl --verifiers math --workers W --timeout T --out OUT.jsonl
    --summary-json S.json`` as a subprocess: the verifier in grpokit's worker pool with a per-item kill;
(b) a plain sequential loop of ``math_verify.verify(math_verify.parse(gold), parse(completion))``
    timing each item. The gold is wrapped in ``$...$`` as math-verify's README asks for LaTeX
    golds (without it "\\{1, 2\\}" parses as the number 2 and "x^2+2x+1" not at all). The
    loop runs in a child process with a watchdog: an item that runs past 2 x T (Python
    big-integer arithmetic cannot be interrupted by math-verify's own alarm) is killed, counted
    over the timeout, and the loop resumes with the next item. Imports are warmed up first;
(c) for reference, the verifier in a plain in-process loop (no pool).

Printed side by side and written to benchmarks/results/math_verify.{json,md}: throughput ratio,
p50/p99 latency, items over the timeout, agreement with the labels per answer category, and
every pair where the two verdicts differ with a one-line explanation of the category.

    .venv/bin/python benchmarks/bench_math_verify.py [--n 2400] [--seed 0] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from math_pairs import CATEGORY_NOTES, Pair, make_pairs  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = {"throughput_ratio": 10.0, "p50_ms": 10.0, "p99_ms": 300.0, "over_timeout": 0}


def write_rows(pairs: list[Pair], path: Path) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for p in pairs:
            fh.write(json.dumps(p.row()) + "\n")


def _grpo_command() -> list[str]:
    exe = Path(sys.executable).parent / "grpo"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "rewards"]


def run_grpo_eval(rows: Path, workdir: Path, workers: int, timeout: float) -> dict[str, Any]:
    """(a): ``grpo eval`` as a subprocess; returns its summary and per-id verdicts."""
    out, summary_path = workdir / "out.jsonl", workdir / "summary.json"
    cmd = [*_grpo_command(), "eval", "--input", str(rows), "--verifiers", "math"]
    cmd += ["--workers", str(workers), "--timeout", str(timeout), "--out", str(out)]
    cmd += ["--summary-json", str(summary_path)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if not summary_path.exists():
        raise RuntimeError(f"grpo eval failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    summary = json.loads(summary_path.read_text())
    verdicts = {}
    for line in out.read_text().splitlines():
        obj = json.loads(line)
        r = obj["scores"]["math"]
        verdicts[obj["id"]] = {
            "pass": (r["score"] or 0) >= 0.5,
            "seconds": r["seconds"],
            "reason": r["reason"],
            "error": r["error"],
        }
    m = summary["verifiers"]["math"]
    return {
        "command": " ".join(cmd[-12:]),
        "exit_code": proc.returncode,
        "process_wall_seconds": wall,
        "scoring_wall_seconds": summary["wall_seconds"],
        "items_per_second": m["items_per_second"],
        "p50_ms": m["p50_seconds"] * 1000,
        "p99_ms": m["p99_seconds"] * 1000,
        "max_ms": m["max_seconds"] * 1000,
        "errors": m["errors"],
        "timeouts": m["timeouts"],
        "over_timeout": sum(v["seconds"] >= timeout for v in verdicts.values()),
        "verdicts": verdicts,
    }


def _baseline_worker(conn: Any, items: list[tuple[str, str, str]]) -> None:
    """Child process: the plain math-verify loop, one message per item."""
    import logging

    import math_verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)  # its timeout warnings echo inputs
    math_verify.verify(math_verify.parse("$\\frac{1}{2}$"), math_verify.parse("$0.5$"))  # warm up
    conn.send(("ready", None, None))
    for pid, gold, completion in items:
        start = time.perf_counter()
        try:
            ok = bool(
                math_verify.verify(math_verify.parse(f"${gold}$"), math_verify.parse(completion))
            )
        except Exception:
            ok = False
        conn.send((pid, ok, time.perf_counter() - start))


def run_baseline(pairs: list[Pair], timeout: float) -> dict[str, Any]:
    """(b): the sequential math-verify loop with a watchdog (module docstring)."""
    ctx = multiprocessing.get_context("spawn")
    items = [(p.id, p.gold, p.completion) for p in pairs]
    verdicts: dict[str, dict[str, Any]] = {}
    killed = 0
    loop_seconds = 0.0
    while len(verdicts) < len(items):
        todo = [it for it in items if it[0] not in verdicts]
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_baseline_worker, args=(child, todo), daemon=True)
        proc.start()
        parent.recv()  # "ready": imports and warm-up are not timed
        started = time.perf_counter()
        for pid, _, _ in todo:
            if not parent.poll(2 * timeout):
                proc.kill()
                verdicts[pid] = {"pass": False, "seconds": 2 * timeout, "killed": True}
                killed += 1
                break
            got, ok, seconds = parent.recv()
            verdicts[got] = {"pass": ok, "seconds": seconds, "killed": False}
        loop_seconds += time.perf_counter() - started
        proc.join(5)
        if proc.is_alive():
            proc.kill()
    times = sorted(v["seconds"] for v in verdicts.values())
    return {
        "loop_wall_seconds": loop_seconds,
        "items_per_second": len(items) / loop_seconds,
        "p50_ms": _pct(times, 0.5) * 1000,
        "p99_ms": _pct(times, 0.99) * 1000,
        "max_ms": times[-1] * 1000,
        "killed": killed,
        "over_timeout": sum(t >= timeout for t in times),
        "verdicts": verdicts,
    }


def run_ours_inline(pairs: list[Pair]) -> dict[str, Any]:
    """(c), for reference: the same verifier in a plain loop in this process (no pool), so the
    pool's parallelism and the verifier's own speed can be told apart."""
    import rewards.verifiers.math_sympy  # noqa: F401  (load and warm up before timing)
    from rewards.verifiers.math_answer import MathVerifier

    verifier = MathVerifier()
    times = []
    started = time.perf_counter()
    for p in pairs:
        t = time.perf_counter()
        verifier(p.completion, {"answer": p.gold})
        times.append(time.perf_counter() - t)
    wall = time.perf_counter() - started
    times.sort()
    return {
        "loop_wall_seconds": wall,
        "items_per_second": len(pairs) / wall,
        "p50_ms": _pct(times, 0.5) * 1000,
        "p99_ms": _pct(times, 0.99) * 1000,
        "max_ms": times[-1] * 1000,
    }


def _pct(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def compare(pairs: list[Pair], ours: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """Agreement with the labels (overall, per category) and the pairs where verdicts differ."""
    per_cat: dict[str, Counter] = defaultdict(Counter)
    differ, both_wrong = [], []
    for p in pairs:
        o, b = ours["verdicts"][p.id], base["verdicts"][p.id]
        label = p.label == 1
        c = per_cat[p.category]
        c["n"] += 1
        c["ours"] += o["pass"] == label
        c["base"] += b["pass"] == label
        entry = {
            "id": p.id,
            "category": p.category,
            "gold": p.gold,
            "answer_tail": p.completion[-90:],
            "label": p.label,
            "ours": int(o["pass"]),
            "math_verify": int(b["pass"]),
            "our_reason": (o["error"] or o["reason"])[:160],
            "explanation": CATEGORY_NOTES[p.category],
        }
        if o["pass"] != b["pass"]:
            entry["right"] = "ours" if o["pass"] == label else "math-verify"
            differ.append(entry)
        elif o["pass"] != label:
            both_wrong.append(entry)
    n = len(pairs)
    return {
        "agreement_ours": sum(c["ours"] for c in per_cat.values()) / n,
        "agreement_math_verify": sum(c["base"] for c in per_cat.values()) / n,
        "per_category": {
            k: {"n": c["n"], "ours": c["ours"] / c["n"], "math_verify": c["base"] / c["n"]}
            for k, c in sorted(per_cat.items())
        },
        "differ": differ,
        "both_wrong": both_wrong,
    }


def render(cfg: dict, ours: dict, base: dict, inline: dict, cmp: dict) -> str:
    """The side-by-side report (markdown; also printed)."""
    ratio = ours["items_per_second"] / base["items_per_second"]
    lines = [
        "# math verifier vs plain math-verify",
        "",
        f"{cfg['pairs']} pairs (seed {cfg['seed']}), {cfg['cpus']} CPUs, per-item timeout "
        f"{cfg['timeout']:g}s, grpo eval with {cfg['workers']} workers. Load average (1/5/15 min)"
        f" at start {cfg['load_average_at_start']}, at end {cfg['load_average_at_end']}: the"
        " machine is shared, so latencies include waiting for a core.",
        "",
        "| | grpo eval (math verifier) | plain math-verify loop | target |",
        "|---|---:|---:|---:|",
        f"| items/s | {ours['items_per_second']:.1f} | {base['items_per_second']:.1f} | |",
        f"| throughput ratio | {ratio:.2f}x | 1.00x | >= {TARGETS['throughput_ratio']}x |",
        f"| p50 latency | {ours['p50_ms']:.2f} ms | {base['p50_ms']:.2f} ms | <= 10 ms |",
        f"| p99 latency | {ours['p99_ms']:.2f} ms | {base['p99_ms']:.2f} ms | <= 300 ms |",
        f"| max latency | {ours['max_ms']:.1f} ms | {base['max_ms']:.1f} ms | |",
        f"| items over timeout | {ours['over_timeout']} (pool timeouts {ours['timeouts']}) "
        f"| {base['over_timeout']} (killed {base['killed']}) | 0 |",
        f"| errors | {ours['errors']} | - | |",
        f"| agreement with labels | {cmp['agreement_ours']:.4f} | {cmp['agreement_math_verify']:.4f} | |",
        "",
        f"grpo eval process wall (incl. start-up): {ours['process_wall_seconds']:.2f}s; scoring "
        f"wall {ours['scoring_wall_seconds']:.2f}s. math-verify loop wall: "
        f"{base['loop_wall_seconds']:.2f}s.",
        "",
        f"For reference, the math verifier in a plain loop in one process (no pool): "
        f"{inline['items_per_second']:.1f} items/s ({inline['items_per_second'] / base['items_per_second']:.2f}x "
        f"the math-verify loop), p50 {inline['p50_ms']:.2f} ms, p99 {inline['p99_ms']:.2f} ms, "
        f"max {inline['max_ms']:.1f} ms. Most of the speed comes from answering plain numbers, "
        "text and written-out sets/tuples without sympy, and from reading only the final answer.",
        "",
        "## Agreement with labels per category",
        "",
        "| category | n | ours | math-verify | note |",
        "|---|---:|---:|---:|---|",
    ]
    for k, v in cmp["per_category"].items():
        lines.append(
            f"| {k} | {v['n']} | {v['ours']:.3f} | {v['math_verify']:.3f} | {CATEGORY_NOTES[k]} |"
        )
    right = Counter(d["right"] for d in cmp["differ"])
    lines += [
        "",
        f"## Pairs where the verdicts differ: {len(cmp['differ'])} "
        f"(ours right {right['ours']}, math-verify right {right['math-verify']})",
        "",
        "| id | label | ours | math-verify | gold | explanation |",
        "|---|---:|---:|---:|---|---|",
    ]
    for d in cmp["differ"]:
        gold = d["gold"].replace("|", "\\|")[:40]
        lines.append(
            f"| {d['id']} | {d['label']} | {d['ours']} | {d['math_verify']} | `{gold}` "
            f"| {d['explanation']} |"
        )
    lines += ["", f"## Pairs both get wrong: {len(cmp['both_wrong'])}", ""]
    for d in cmp["both_wrong"]:
        lines.append(
            f"- {d['id']} (label {d['label']}): gold `{d['gold'][:40]}`; ours: {d['our_reason']}"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args()
    pairs = make_pairs(args.n, args.seed)
    cfg = {
        "pairs": len(pairs),
        "seed": args.seed,
        "workers": args.workers,
        "timeout": args.timeout,
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    with tempfile.TemporaryDirectory(prefix="bench_math_") as tmp:
        rows = Path(tmp) / "rows.jsonl"
        write_rows(pairs, rows)
        print(f"(a) grpo eval on {len(pairs)} pairs ...", flush=True)
        ours = run_grpo_eval(rows, Path(tmp), args.workers, args.timeout)
    print("(b) plain math-verify loop ...", flush=True)
    base = run_baseline(pairs, args.timeout)
    print("(c) math verifier, plain loop in this process ...", flush=True)
    inline = run_ours_inline(pairs)
    cfg["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    cmp = compare(pairs, ours, base)
    report = render(cfg, ours, base, inline, cmp)
    print(report)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "math_verify.md").write_text(report)
    strip = ("verdicts",)
    payload = {
        "config": cfg,
        "targets": TARGETS,
        "throughput_ratio": ours["items_per_second"] / base["items_per_second"],
        "ours": {k: v for k, v in ours.items() if k not in strip},
        "math_verify": {k: v for k, v in base.items() if k not in strip},
        "ours_plain_loop": inline,
        **cmp,
    }
    (args.results / "math_verify.json").write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
