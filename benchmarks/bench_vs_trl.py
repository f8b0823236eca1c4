"""Head-to-head: grpokit's ``Trainer`` vs TRL's ``GRPOTrainer``, one run, side by side; plus
``overlap_scoring`` on vs off for grpokit where scoring costs something.

Same policy (the embedded default after its cached warm start), task (``arithmetic``), reward
(the suite's scheme, applied by both: see trl_common), budget and loss:

- G = 8, 16 prompts per step (a 128-completion generation batch, one optimiser step on it),
  ``max_new_tokens`` = TRL ``max_completion_length`` (6: the embedded default's automatic budget),
  the same number of steps, seed, lr (2e-4, constant), temperature (0.7; both divide the
  log-prob logits by it), top-p 1, top-k off, AdamW betas (0.9, 0.99), no weight decay, gradient
  norm clipped at 1;
- the loss: beta = 0 (no reference model), epsilon = 0.2, mu = TRL ``num_iterations`` = 1, and the
  aggregation: grpokit ``token`` (every completion token of the step weighs the same: the sum
  over tokens divided by the step's token count) is TRL ``loss_type="dapo"`` (normalised by the
  active tokens of the whole generation batch; with one process, one micro-batch and
  ``steps_per_generation`` = 1, ``bnpo`` would be the same too);
- advantages: both group-mean-centred and divided by the group's *sample* standard deviation
  (TRL ``scale_rewards="group"`` uses Bessel's correction, so grpokit runs with
  ``advantage_std=sample``); the only difference left is the epsilon added to the std (TRL 1e-4,
  grpokit 1e-8).

Each trainer runs in its own process (its peak RSS is that process's ``ru_maxrss``) with 2 torch
threads. Both are evaluated with the same greedy evaluator (grpo_core.training.evaluation) on the
same 500 held-out rows every ``--eval-every`` steps; evaluation time is kept out of the step times.
grpokit's step time is the wall time of ``Trainer.train_step`` (split from its own metrics),
TRL's comes from callbacks and wrapped methods (trl_common.StepClock). Writes
benchmarks/results/vs_trl.json and vs_trl.md.

    .venv/bin/python benchmarks/bench_vs_trl.py [--quick] [--steps N] [--eval-every N] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(
    0, str(Path(__file__).resolve().parent)
)  # trl_common, vs_trl_report, latency_verifier

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
GAIN = 0.20
MATCHED = {"group_size": 8, "prompts_per_step": 16, "lr": 2e-4, "temperature": 0.7, "beta": 0.0}
#: the arithmetic scheme with the math-aware verifier for correctness (bare numbers: last number)
MATH_SCHEME = {
    "math": {"weight": 1.0, "options": {"fallback_last_number": True}},
    "arithmetic_digits": 0.5,
}
WAITING_SCHEME = {"bench_waiting_digits": {"weight": 1.0, "options": {"seconds": 0.05}}}


@dataclass(frozen=True)
class OverlapCase:
    """One overlap_scoring on/off comparison (grpokit only)."""

    label: str
    suite: str
    scheme: dict | None  #: None = the suite's default
    policy: str  #: "warm" (the embedded default) or "random" (same architecture, untrained)
    prompts: int
    max_new_tokens: int | None  #: None = automatic
    threads: int
    workers: int
    steps: int
    latency_plugin: bool = False  #: load benchmarks/latency_verifier.py


OVERLAP_CASES = (
    OverlapCase("arithmetic, math verifier", "arithmetic", MATH_SCHEME, "warm", 16, None, 2, 2, 20),
    OverlapCase("humaneval, sandboxed code verifier", "humaneval", None, "random", 4, 32, 2, 2, 8),
    OverlapCase("humaneval, sandboxed code verifier", "humaneval", None, "random", 4, 32, 1, 2, 8),
    OverlapCase(
        "humaneval prompts, latency-bound verifier (waits 50 ms, stand-in for a remote judge)",
        "humaneval",
        WAITING_SCHEME,
        "random",
        4,
        32,
        2,
        4,
        8,
        latency_plugin=True,
    ),  # fmt: skip
)


# -- the trainers (each in its own process) ---------------------------------------------------


def prepare_worker(spec: dict) -> dict:
    """Build (or load from the cache) the warm-started default policy and a random-init one."""
    from grpo_core.training.config import build_config
    from grpo_core.training.policy import completion_budget, load_policy, suite_rows
    from grpo_core.training.tiny_model import TinyModelSpec, build_model, build_tokenizer

    cfg = build_config({"seed": spec["seed"], "eval_every": 0})
    train, _, suite = suite_rows(cfg)
    model, _, info = load_policy(cfg, lambda m: print(m, flush=True), suite)
    tokenizer = build_tokenizer()
    build_model(TinyModelSpec(), tokenizer, spec["seed"]).save_pretrained(spec["random_path"])
    tokenizer.save_pretrained(spec["random_path"])
    keep = ("path", "warm_start_steps", "warm_start_seconds", "calibration_accuracy")
    return {
        **{k: info.get(k) for k in keep},
        "parameters": info["parameters"],
        "max_new_tokens": completion_budget(cfg, train, model),
    }


def ours_worker(spec: dict) -> dict:
    """grpokit's Trainer: ``train_step`` in a loop, held-out evaluation every N steps."""
    from trl_common import Evaluation, arithmetic_task, heldout_evaluator, peak_rss_mb

    from grpo_core.training.config import build_config
    from grpo_core.training.trainer import Trainer

    cfg = build_config(spec["config"])
    plugins = None
    if spec.get("latency"):
        from latency_verifier import plugins as latency_plugins

        plugins = latency_plugins()
    trainer = Trainer(cfg, log=lambda m: None, plugins=plugins)
    evaluator = None
    if spec["eval_every"]:
        evaluator = heldout_evaluator(trainer.tokenizer, arithmetic_task(cfg.seed), spec["mnt"])
    steps, evaluations, train_seconds = [], [], 0.0

    def evaluate(step: int) -> None:
        if evaluator is not None:
            accuracy, _ = evaluator(trainer.model)
            evaluations.append(Evaluation(step, accuracy, 0.0, train_seconds).__dict__)

    evaluate(0)
    try:
        for step in range(1, cfg.steps + 1):
            start = time.perf_counter()
            row = trainer.train_step()
            wall = time.perf_counter() - start
            train_seconds += wall
            steps.append(
                {
                    "wall": wall,
                    "generation": row["time_generation"],
                    "scoring": row["time_scoring"],
                    "scoring_hidden": row.get("time_scoring_hidden"),
                    "scored_early": row.get("scored_early"),
                    "other": wall - row["time_step"],
                    "optimisation": row["time_optimisation"],
                    "reward": row["reward_mean"],
                    "completion_len": row["completion_len_mean"],
                    "skipped": row["skipped"],
                }
            )
            if spec["eval_every"] and (step % spec["eval_every"] == 0 or step == cfg.steps):
                evaluate(step)
    finally:
        trainer.scheme.close()
    return {"steps": steps, "evaluations": evaluations, "peak_rss_mb": peak_rss_mb()}


def trl_worker(spec: dict) -> dict:
    """TRL's GRPOTrainer with the matched settings (module docstring)."""
    import torch

    torch.set_num_threads(2)
    from transformers import AutoTokenizer
    from trl_common import (
        SchemeReward,
        arithmetic_task,
        build_trainer,
        heldout_evaluator,
        peak_rss_mb,
        step_clock,
    )

    task = arithmetic_task(spec["seed"])
    reward = SchemeReward(task)
    trainer = build_trainer(spec["model"], task, reward, **spec["config"])
    evaluator = heldout_evaluator(AutoTokenizer.from_pretrained(spec["model"]), task, spec["mnt"])
    clock = step_clock(trainer, evaluator, spec["eval_every"], stop_gain=None)
    trainer.train()
    steps = [{**s, "reward": r} for s, r in zip(clock.steps, reward.means, strict=True)]
    return {
        "steps": steps,
        "evaluations": [e.__dict__ for e in clock.evaluations],
        "peak_rss_mb": peak_rss_mb(),
        "mixed_precision": str(trainer.accelerator.mixed_precision),
        "gradient_checkpointing": bool(trainer.args.gradient_checkpointing),
    }


WORKERS = {"prepare": prepare_worker, "ours": ours_worker, "trl": trl_worker}


# -- configurations ---------------------------------------------------------------------------


def ours_config(seed: int, steps: int, out: Path, mnt: int, **extra) -> dict:
    """grpokit TrainConfig values (evaluation is done by the benchmark, not the trainer)."""
    return {
        **MATCHED, "seed": seed, "steps": steps, "out": str(out), "max_new_tokens": mnt,
        "epsilon": 0.2, "mu": 1, "aggregation": "token", "advantage_scale": "group",
        "advantage_std": "sample", "adam_beta1": 0.9, "adam_beta2": 0.99, "weight_decay": 0.0,
        "max_grad_norm": 1.0, "lr_schedule": "constant", "top_p": 1.0, "top_k": 0,
        "micro_batch_size": 128, "threads": 2, "eval_every": 0, "samples_every": 0,
        "progress": False, "report_to": "none", "save_final": False, **extra,
    }  # fmt: skip


def trl_config(seed: int, steps: int, out: Path, mnt: int, matched: bool = True) -> dict:
    """The same run as GRPOConfig fields. ``matched=False`` keeps two TRL defaults that change
    the cost but not the objective: bf16 autocast and gradient checkpointing (both on in TRL,
    off in grpokit)."""
    config = {
        "output_dir": str(out), "seed": seed, "max_steps": steps,
        "per_device_train_batch_size": MATCHED["group_size"] * MATCHED["prompts_per_step"],
        "num_generations": MATCHED["group_size"], "max_completion_length": mnt,
        "learning_rate": MATCHED["lr"], "lr_scheduler_type": "constant",
        "temperature": MATCHED["temperature"], "top_p": 1.0, "top_k": 0,
        "beta": MATCHED["beta"], "epsilon": 0.2, "num_iterations": 1, "loss_type": "dapo",
        "scale_rewards": "group", "adam_beta1": 0.9, "adam_beta2": 0.99, "weight_decay": 0.0,
        "max_grad_norm": 1.0, "gradient_accumulation_steps": 1,
    }  # fmt: skip
    if matched:
        config.update(bf16=False, gradient_checkpointing=False)
    return config


# -- orchestration ----------------------------------------------------------------------------


def run_worker(kind: str, spec: dict, work: Path) -> dict:
    """``kind``'s worker in a fresh process; its result plus wall time and load before/after."""
    src, dst = work / f"{kind}-{time.monotonic_ns()}.in.json", work / f"{kind}.out.json"
    src.write_text(json.dumps(spec))
    load = os.getloadavg()[0]
    start = time.perf_counter()
    cmd = [sys.executable, __file__, "--worker", kind, str(src), str(dst)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        raise SystemExit(f"{kind} worker failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-4000:]}")
    result = json.loads(dst.read_text())
    result["process_seconds"] = round(time.perf_counter() - start, 2)
    result["load_1min"] = [round(load, 2), round(os.getloadavg()[0], 2)]
    return result


def head_to_head(args: argparse.Namespace, work: Path, ready: dict) -> dict:
    mnt = ready["max_new_tokens"]
    common = {"eval_every": args.eval_every, "mnt": mnt, "seed": args.seed}
    ours_cfg = ours_config(args.seed, args.steps, work / "ours", mnt)
    ours = run_worker("ours", {**common, "config": ours_cfg}, work)
    print("grpokit done", flush=True)
    out = {"grpokit": ours, "configs": {"grpokit": ours_cfg}}
    for name, matched in (("trl", True), ("trl_defaults", False)):
        cfg = trl_config(args.seed, args.steps, work / name, mnt, matched)
        out[name] = run_worker("trl", {**common, "config": cfg, "model": ready["path"]}, work)
        out["configs"][name] = cfg
        print(f"{name} done", flush=True)
    return out


def overlap_runs(args: argparse.Namespace, work: Path, ready: dict) -> list[dict]:
    cases = []
    for case in OVERLAP_CASES:
        threads = f"{case.threads} torch thread{'s' if case.threads > 1 else ''}"
        label = f"{case.label}, {case.workers} workers, {threads}"
        mnt = case.max_new_tokens or ready["max_new_tokens"]
        runs = {}
        for on in (False, True):
            extra = {
                "suite": case.suite, "reward_workers": case.workers, "overlap_scoring": on,
                "prompts_per_step": case.prompts, "threads": case.threads,
                "model": None if case.policy == "warm" else str(work / "random-policy"),
            }  # fmt: skip
            if case.scheme:
                extra["scheme"] = {"verifiers": case.scheme}
            steps = 3 if args.quick else case.steps
            cfg = ours_config(args.seed, steps, work / f"overlap-{on}", mnt, **extra)
            spec = {"config": cfg, "eval_every": 0, "mnt": mnt, "latency": case.latency_plugin}
            runs["on" if on else "off"] = run_worker("ours", spec, work)
        cases.append({"label": label, "policy": case.policy, "config": cfg, **runs})
        print(f"overlap: {label} done", flush=True)
    return cases


def versions() -> dict:
    import importlib.metadata as md

    names = ("torch", "transformers", "accelerate", "trl", "pebble", "grpokit")
    out = {n: md.version(n) for n in names}
    out["python"] = platform.python_version()
    out["cpus"] = os.cpu_count()
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        kind, src, dst = sys.argv[2:5]
        result = WORKERS[kind](json.loads(Path(src).read_text()))
        Path(dst).write_text(json.dumps(result))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run (20 steps)")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--eval-every", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.quick:
        args.steps = min(args.steps, 20)
    from vs_trl_report import report

    load_start = os.getloadavg()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-vs-trl-") as tmp:
        work = Path(tmp)
        spec = {"seed": args.seed, "random_path": str(work / "random-policy")}
        ready = run_worker("prepare", spec, work)
        data = {
            "settings": {**vars(args), **MATCHED, "max_new_tokens": ready["max_new_tokens"]},
            "policy": {k: v for k, v in ready.items() if k != "path"},
            **head_to_head(args, work, ready),
            "overlap": overlap_runs(args, work, ready),
        }
    data["machine"] = {
        "load_1min_5min_15min_start": [round(x, 2) for x in load_start],
        "load_1min_5min_15min_end": [round(x, 2) for x in os.getloadavg()],
        "benchmark_seconds": round(time.perf_counter() - started, 1),
        **versions(),
    }
    report(data, RESULTS, GAIN)


if __name__ == "__main__":
    main()
