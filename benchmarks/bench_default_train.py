"""Head-to-head: ``grpo train`` on the embedded default vs TRL's GRPOTrainer on the same policy.

One run, on this machine's cores (2 torch threads each, one after the other):

1. grpokit: ``grpo train`` exactly as ``make demo`` runs it (no arguments but the output
   directory and a finer held-out evaluation every 5 steps), with a fresh ``GRPOKIT_CACHE`` so
   the supervised warm start is built and timed. Times count from process start.
2. TRL (skipped with ``--no-trl``): TRL's ``GRPOTrainer`` with the issue's anchor settings (G = 8,
   16 prompts per step, lr 1e-4 constant, beta 0, temperature 1, reward = exact match + 0.5 x
   per-digit credit) on the *same* warm-started policy from step 1, evaluated every 5 steps with
   the same function, held-out rows and greedy decoding. It stops at +20 points or ``--trl-steps``.

The issue's anchor (TRL 1.16 on its own 1.05M-parameter warm start) is quoted alongside.
Writes benchmarks/results/default_train.json and default_train.md.

    .venv/bin/python benchmarks/bench_default_train.py [--seeds 0,1,2] [--no-trl]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # trl_common
RESULTS = ROOT / "benchmarks" / "results"
GAIN = 0.20
EVAL_EVERY = 5
ANCHOR = {
    "label": "TRL 1.16 GRPOTrainer, issue anchor (quoted)",
    "model": "Llama 4x128, 1.05M params, tied, 17 tokens",
    "warm_start_heldout": 0.24,
    "steps_to_gain": 250,
    "seconds_to_gain_from_start": 140.0,
    "seconds_per_step": 0.215,
    "split": "generation 30 %, loss/backward/optimizer 66 %",
    "accuracy_after_800_steps": 0.595,
    "seconds_800_steps_total": 266.0,
}


# -- grpokit -----------------------------------------------------------------------------------


def run_grpokit(seed: int, work: Path) -> dict:
    """``grpo train`` in a subprocess with a fresh cache; figures from its metrics and summary."""
    out, cache = work / f"grpokit-seed{seed}", work / f"cache-seed{seed}"
    cmd = [str(ROOT / ".venv" / "bin" / "grpo"), "train", "--out", str(out), "--seed", str(seed)]
    cmd += ["--eval_every", str(EVAL_EVERY), "--progress", "false"]
    env = {**os.environ, "GRPOKIT_CACHE": str(cache)}
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"grpo train failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    rows = [json.loads(line) for line in (out / "metrics.jsonl").open()]
    summary = json.loads((out / "summary.json").read_text())
    policy = summary["policy"]
    evals = [
        (r["step"], r["heldout_accuracy"], r["elapsed"])
        for r in rows
        if r["heldout_accuracy"] is not None
    ]
    start_step, start_acc, start_elapsed = evals[0]
    hit = next(((s, a, e) for s, a, e in evals if a >= start_acc + GAIN - 1e-9), None)
    steps = [r for r in rows if r["step"] > 0]

    def mean(key: str) -> float:
        return sum(r[key] for r in steps) / len(steps)

    return {
        "label": f"grpokit grpo train (this run, seed {seed})",
        "seed": seed,
        "model": f"Llama {policy['spec']['model']['layers']}x{policy['spec']['model']['hidden']}, "
        f"{policy['parameters']} params, tied, {policy['vocab_size']} tokens",
        "warm_start_steps": policy["warm_start_steps"],
        "warm_start_seconds": policy["warm_start_seconds"],
        "warm_start_calibration": policy["calibration_accuracy"],
        "warm_start_heldout": start_acc,
        "ready_seconds_from_start": start_elapsed,
        "steps_to_gain": hit[0] if hit else None,
        "heldout_at_gain": hit[1] if hit else None,
        "seconds_to_gain_from_start": hit[2] if hit else None,
        "grpo_seconds_to_gain": (hit[2] - start_elapsed) if hit else None,
        "steps": summary["steps"],
        "final_heldout": summary["final_heldout_accuracy"],
        "process_wall_seconds": wall,
        "seconds_per_step": mean("time_step"),
        "split": {
            "generation": mean("time_generation"),
            "scoring": mean("time_scoring"),
            "optimisation": mean("time_optimisation"),
        },
        "eval_seconds_each": sum(r["time_eval"] for r in rows if r["time_eval"]) / len(evals),
        "policy_path": policy["path"],
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "curve": [(s, a) for s, a, _ in evals],
    }


# -- TRL ---------------------------------------------------------------------------------------


def run_trl(model_path: str, work: Path, max_steps: int, seed: int) -> dict:
    out = work / "trl.json"
    cmd = [sys.executable, __file__, "--trl-worker", model_path, str(out), str(max_steps)]
    cmd += [str(seed)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        raise SystemExit(f"TRL run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return json.loads(out.read_text())


def trl_worker(model_path: str, out: str, max_steps: int, seed: int) -> None:
    """Runs in its own process: TRL GRPOTrainer with the anchor's settings (trl_common)."""
    import torch

    torch.set_num_threads(2)
    import trl
    from transformers import AutoTokenizer
    from trl_common import (
        SchemeReward,
        arithmetic_task,
        build_trainer,
        heldout_evaluator,
        step_clock,
    )

    task = arithmetic_task(seed)
    reward = SchemeReward(task)  # exact match + 0.5 x per-digit credit: the suite's scheme
    trainer = build_trainer(
        model_path, task, reward,
        output_dir=str(Path(out).parent / "trl-run"), per_device_train_batch_size=128,
        num_generations=8, max_completion_length=6, learning_rate=1e-4,
        lr_scheduler_type="constant", beta=0.0, temperature=1.0, max_steps=max_steps, seed=seed,
    )  # fmt: skip
    evaluator = heldout_evaluator(AutoTokenizer.from_pretrained(model_path), task, 6)
    clock = step_clock(trainer, evaluator, EVAL_EVERY, stop_gain=GAIN)
    trainer.train()
    steps, hit, curve = trainer.state.global_step, clock.hit, clock.evaluations
    start = clock.began
    result = {
        "label": f"TRL {trl.__version__} GRPOTrainer on the same warm start (this run)",
        "warm_start_heldout": curve[0].accuracy,
        "steps_to_gain": hit.step if hit else None,
        "heldout_at_gain": hit.accuracy if hit else None,
        "grpo_seconds_to_gain": (hit.process_age - start) if hit else None,
        "process_seconds_to_gain": hit.process_age if hit else None,
        "steps": steps,
        "final_heldout": curve[-1].accuracy,
        "seconds_per_step": clock.train_seconds / max(steps, 1),
        "split": {"generation": sum(s["generation"] for s in clock.steps) / max(steps, 1)},
        "curve": [(e.step, e.accuracy) for e in curve],
    }
    Path(out).write_text(json.dumps(result))


# -- report ------------------------------------------------------------------------------------


def _fmt(value, pattern="{:.1f}") -> str:
    return "n/a" if value is None else pattern.format(value)


def _trl_total(trl: dict | None, main: dict) -> str:
    """TRL's own process time to +20 plus the warm start it was given (built by grpokit)."""
    if not trl or trl.get("process_seconds_to_gain") is None:
        return "n/a"
    own = trl["process_seconds_to_gain"]
    return f"{own:.1f} + warm start {main['warm_start_seconds']:.1f} = {own + main['warm_start_seconds']:.1f}"


def write_report(runs: list[dict], trl: dict | None) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {"anchor": ANCHOR, "grpokit": runs, "trl_same_policy": trl, "gain": GAIN}
    (RESULTS / "default_train.json").write_text(json.dumps(data, indent=2))
    main = runs[0]
    lines = [
        "# Default GRPO training: grpokit vs TRL (`benchmarks/bench_default_train.py`)",
        "",
        f"Task: 3-digit zero-padded addition, {GAIN:.0%}-point gain in held-out greedy accuracy "
        "(500 test problems) over the warm start. 2 torch threads, this machine, one run.",
        "",
        "| | anchor: TRL, own warm start (quoted) | TRL, our warm start (this run) | grpokit (this run) |",
        "|---|---|---|---|",
        f"| model | {ANCHOR['model']} | same as grpokit | {main['model']} |",
        f"| warm start held-out | {ANCHOR['warm_start_heldout']:.1%} | "
        f"{_fmt(trl and trl['warm_start_heldout'], '{:.1%}')} | {main['warm_start_heldout']:.1%} |",
        f"| warm start | n/a | (shared) | {main['warm_start_steps']} steps, "
        f"{main['warm_start_seconds']:.1f} s |",
        f"| steps to +20 points | {ANCHOR['steps_to_gain']} | "
        f"{_fmt(trl and trl['steps_to_gain'], '{}')} | {_fmt(main['steps_to_gain'], '{}')} |",
        f"| GRPO seconds to +20 | n/a | {_fmt(trl and trl['grpo_seconds_to_gain'])} | "
        f"{_fmt(main['grpo_seconds_to_gain'])} |",
        f"| **seconds from process start to +20** (incl. warm start) | "
        f"**{ANCHOR['seconds_to_gain_from_start']:.0f}** | {_trl_total(trl, main)} | "
        f"**{_fmt(main['seconds_to_gain_from_start'])}** |",
        f"| seconds per step | {ANCHOR['seconds_per_step']} | "
        f"{_fmt(trl and trl['seconds_per_step'], '{:.3f}')} | {main['seconds_per_step']:.3f} |",
        f"| step split | {ANCHOR['split']} | generation "
        f"{_fmt(trl and trl['split']['generation'], '{:.3f}')} s | generation "
        f"{main['split']['generation']:.3f} s, scoring {main['split']['scoring']:.4f} s, "
        f"optimisation {main['split']['optimisation']:.3f} s |",
        f"| final held-out | {ANCHOR['accuracy_after_800_steps']:.1%} after 800 steps | "
        f"{_fmt(trl and trl['final_heldout'], '{:.1%}')} after {_fmt(trl and trl['steps'], '{}')} "
        f"steps | {main['final_heldout']:.1%} after {main['steps']} steps |",
        f"| whole `grpo train` process | {ANCHOR['seconds_800_steps_total']:.0f} s (800 steps) | "
        f"n/a | {main['process_wall_seconds']:.1f} s ({main['steps']} steps) |",
        "",
        "Held-out evaluation (500 rows, greedy) every 5 steps is included in every time above "
        f"(grpokit: {main['eval_seconds_each']:.2f} s each). The machine is shared: 1-minute load "
        f"average {main['load_average'][0]} before and {main['load_average'][1]} after the "
        "headline run (2 cores; other jobs slow torch's 2-thread parallel regions sharply).",
        "",
    ]
    if len(runs) > 1:
        lines += [
            "Other seeds (warm start and GRPO both reseeded, fresh cache each):",
            "",
            "| seed | warm start | warm-start held-out | steps to +20 | s from start to +20 | "
            "final held-out | 1-min load before / after |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in runs:
            lines.append(
                f"| {r['seed']} | {r['warm_start_steps']} steps, {r['warm_start_seconds']:.1f} s | "
                f"{r['warm_start_heldout']:.1%} | {_fmt(r['steps_to_gain'], '{}')} | "
                f"{_fmt(r['seconds_to_gain_from_start'])} | {r['final_heldout']:.1%} | "
                f"{r['load_average'][0]} / {r['load_average'][1]} |"
            )
        lines.append("")
    curve = ", ".join(f"{s}: {a:.1%}" for s, a in main["curve"])
    lines += [f"grpokit held-out curve (step: accuracy): {curve}", ""]
    if trl:
        curve = ", ".join(f"{s}: {a:.1%}" for s, a in trl["curve"])
        lines += [f"TRL held-out curve (step: accuracy): {curve}", ""]
    (RESULTS / "default_train.md").write_text("\n".join(lines))
    print("\n".join(lines))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--trl-worker":
        trl_worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0", help="comma-separated; the first is the headline")
    parser.add_argument("--no-trl", action="store_true", help="skip the TRL head-to-head")
    parser.add_argument("--trl-steps", type=int, default=400, help="TRL step budget")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-default-train-") as tmp:
        work = Path(tmp)
        runs = []
        for seed in [int(s) for s in args.seeds.split(",")]:
            runs.append(run_grpokit(seed, work))
            print(json.dumps({k: v for k, v in runs[-1].items() if k != "curve"}), flush=True)
        trl = None
        if not args.no_trl:
            trl = run_trl(runs[0]["policy_path"], work, args.trl_steps, runs[0]["seed"])
            print(json.dumps({k: v for k, v in trl.items() if k != "curve"}), flush=True)
        for r in runs:
            r.pop("policy_path", None)
        write_report(runs, trl)


if __name__ == "__main__":
    main()
