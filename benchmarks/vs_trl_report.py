"""Figures and the report of bench_vs_trl.py: vs_trl.json (everything measured) and vs_trl.md."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

SPLIT = ("generation", "scoring", "other", "optimisation")


def summarise(run: dict, gain: float) -> dict:
    """Per-step means (the first step, which starts pools and caches, left out), totals and the
    held-out figures of one run."""
    steps = run["steps"]
    timed = steps[1:] if len(steps) > 1 else steps

    def mean(key: str) -> float:
        return statistics.fmean(s.get(key) or 0.0 for s in timed)

    evals = run.get("evaluations") or []
    hit = None
    if evals:
        target = evals[0]["accuracy"] + gain - 1e-9
        hit = next((e for e in evals if e["accuracy"] >= target), None)
    last = steps[-10:]
    return {
        "steps": len(steps),
        "seconds_per_step": mean("wall"),
        "median_step": statistics.median(s["wall"] for s in timed),
        "split": {k: mean(k) for k in SPLIT},
        "scoring_hidden": mean("scoring_hidden"),
        "scored_early": mean("scored_early"),
        "train_seconds": sum(s["wall"] for s in steps),
        "final_reward": statistics.fmean(s["reward"] for s in last),
        "heldout_start": evals[0]["accuracy"] if evals else None,
        "heldout_final": evals[-1]["accuracy"] if evals else None,
        "steps_to_gain": hit["step"] if hit else None,
        "train_seconds_to_gain": hit["train_seconds"] if hit else None,
        "curve": [(e["step"], e["accuracy"]) for e in evals],
        "peak_rss_mb": run["peak_rss_mb"],
        "load_1min": run["load_1min"],
    }


def _f(value, pattern: str = "{:.3f}") -> str:
    return "n/a" if value is None else pattern.format(value)


def _split_text(s: dict) -> str:
    total = s["seconds_per_step"] or 1.0
    return ", ".join(f"{k} {v:.4f} s ({v / total:.0%})" for k, v in s["split"].items())


def head_to_head_lines(runs: dict[str, dict], gain: float) -> list[str]:
    rows = [
        ("seconds per step (mean, steps 2..N)", "{:.4f}", "seconds_per_step"),
        ("median step (s)", "{:.4f}", "median_step"),
        ("peak RSS of the trainer process (MiB)", "{:.0f}", "peak_rss_mb"),
        ("final reward (mean of the last 10 steps)", "{:.3f}", "final_reward"),
        ("held-out accuracy at step 0", "{:.1%}", "heldout_start"),
        ("held-out accuracy at the last step", "{:.1%}", "heldout_final"),
        (f"steps to +{gain:.0%} held-out", "{}", "steps_to_gain"),
        (
            f"training seconds to +{gain:.0%} (evaluation excluded)",
            "{:.1f}",
            "train_seconds_to_gain",
        ),
        ("training seconds, all steps", "{:.1f}", "train_seconds"),
    ]
    lines = ["| | " + " | ".join(runs) + " |", "|---" * (len(runs) + 1) + "|"]
    for label, pattern, key in rows:
        lines.append(
            f"| {label} | " + " | ".join(_f(r[key], pattern) for r in runs.values()) + " |"
        )
    for key in SPLIT:
        values = " | ".join(f"{r['split'][key]:.4f}" for r in runs.values())
        lines.append(f"| {key} per step (s) | {values} |")
    loads = " | ".join(f"{r['load_1min'][0]} / {r['load_1min'][1]}" for r in runs.values())
    lines.append(f"| 1-min load before / after | {loads} |")
    return lines


def overlap_lines(cases: list[dict]) -> list[str]:
    lines = [
        "| setting | overlap | s/step (median) | generation | scoring (wait) | scoring hidden | "
        "optimisation | scored before generation ended | rewards identical | saved per step |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case in cases:
        off, on = case["summary"]["off"], case["summary"]["on"]
        for name, s in (("off", off), ("on", on)):
            saved = ""
            if name == "on":
                delta = off["seconds_per_step"] - on["seconds_per_step"]
                saved = f"{delta:+.3f} s ({delta / off['seconds_per_step']:+.0%})"
            lines.append(
                f"| {case['label']} | {name} | {s['seconds_per_step']:.3f} "
                f"({s['median_step']:.3f}) | "
                f"{s['split']['generation']:.3f} | {s['split']['scoring']:.3f} | "
                f"{s['scoring_hidden']:.3f} | {s['split']['optimisation']:.3f} | "
                f"{s['scored_early']:.1f} of {case['completions']} | "
                f"{'yes' if case['identical'] else 'NO'} | {saved} |"
            )
    return lines


def report(data: dict, results: Path, gain: float) -> None:
    """Summarise, write vs_trl.json / vs_trl.md and print the markdown."""
    names = {"grpokit": "grpokit `Trainer`", "trl": "TRL `GRPOTrainer`, matched"}
    names["trl_defaults"] = "TRL, with its bf16 + gradient-checkpointing defaults"
    data["summary"] = {k: summarise(data[k], gain) for k in names}
    ours, trl = data["summary"]["grpokit"], data["summary"]["trl"]
    for case in data["overlap"]:
        case["summary"] = {k: summarise(case[k], gain) for k in ("off", "on")}
        rewards = [
            [(s["reward"], s["completion_len"]) for s in case[k]["steps"]] for k in ("off", "on")
        ]
        case["identical"] = rewards[0] == rewards[1]
        case["completions"] = case["config"]["prompts_per_step"] * case["config"]["group_size"]
    results.mkdir(parents=True, exist_ok=True)
    (results / "vs_trl.json").write_text(json.dumps(data, indent=2, default=str))
    m, st = data["machine"], data["settings"]
    biggest = max(ours["split"], key=ours["split"].get)
    ratio = trl["seconds_per_step"] / ours["seconds_per_step"]
    ratio_defaults = data["summary"]["trl_defaults"]["seconds_per_step"] / ours["seconds_per_step"]
    lines = [
        "# grpokit `Trainer` vs TRL `GRPOTrainer` (`benchmarks/bench_vs_trl.py`)",
        "",
        f"Embedded default policy after its cached warm start ({data['policy']['parameters']} "
        f"parameters), suite `arithmetic`, {st['steps']} steps, G = {st['group_size']}, "
        f"{st['prompts_per_step']} prompts per step, max_new_tokens {st['max_new_tokens']}, "
        f"lr {st['lr']:g} constant, temperature {st['temperature']}, beta {st['beta']}, "
        f"epsilon 0.2, mu 1, token aggregation = TRL `loss_type=dapo`, group-scaled advantages "
        f"with the sample std (TRL `scale_rewards=group`), seed {st['seed']}. Held-out: greedy, "
        f"same 500 test rows and evaluator for both, every {st['eval_every']} steps, not timed. "
        f"Matched TRL: float32 and no gradient checkpointing like grpokit (mixed precision "
        f"{data['trl']['mixed_precision']}, gradient checkpointing "
        f"{data['trl']['gradient_checkpointing']}); the third column keeps TRL's defaults for "
        f"these two (mixed precision {data['trl_defaults']['mixed_precision']}, gradient "
        f"checkpointing {data['trl_defaults']['gradient_checkpointing']}). "
        f"Each trainer in its own process, 2 torch threads, {m['cpus']} CPU cores.",
        "",
        *head_to_head_lines({names[k]: data["summary"][k] for k in names}, gain),
        "",
        f"Matched TRL takes {ratio:.2f}x grpokit's time per step ({ratio_defaults:.2f}x with its "
        f"defaults). grpokit's step: {_split_text(ours)}; "
        f"its largest remaining cost is **{biggest}**. Matched TRL's step: {_split_text(trl)} "
        '(TRL "other" = advantages, metrics and gathers inside `_generate_and_score_completions`; '
        'grpokit "other" = the metrics row built after the timed step).',
        "",
        "grpokit held-out curve: " + ", ".join(f"{s}: {a:.1%}" for s, a in ours["curve"]),
        "",
        "Matched TRL held-out curve: " + ", ".join(f"{s}: {a:.1%}" for s, a in trl["curve"]),
        "",
        "TRL (defaults) held-out curve: "
        + ", ".join(f"{s}: {a:.1%}" for s, a in data["summary"]["trl_defaults"]["curve"]),
        "",
        "## Reward scoring overlapped with generation (`overlap_scoring`)",
        "",
        "grpokit only, same seed on and off (so the same completions and rewards: checked below). "
        "Completions are handed to the scoring workers as soon as their EOS is sampled, while the "
        "rest of the batch still generates; `scoring (wait)` is what is left after generation, "
        "`scoring hidden` the generation time during which scoring ran. Means over steps 2..N. "
        "The humaneval cases use a randomly initialised policy of the default architecture "
        "(completion lengths spread out; with the code verifier every reward is 0, so no update "
        "is made). Overlap hides at most the generation time, and only what a free core can "
        "score meanwhile: CPU-bound verifiers (math, sandboxed code) compete with torch's "
        "threads for the same cores, a latency-bound one (a judge behind an API: the stand-in "
        "waits without using the CPU) does not.",
        "",
        *overlap_lines(data["overlap"]),
        "",
        f"Machine: 1/5/15-min load {m['load_1min_5min_15min_start']} at the start, "
        f"{m['load_1min_5min_15min_end']} at the end; the per-run figures include the benchmark's "
        "own trainer process (shared machine: other jobs slow torch's 2-thread regions "
        f"sharply); benchmark wall time {m['benchmark_seconds']} s. Versions: "
        + ", ".join(f"{k} {m[k]}" for k in ("python", "torch", "transformers", "accelerate", "trl"))
        + ".",
        "",
    ]
    (results / "vs_trl.md").write_text("\n".join(lines))
    print("\n".join(lines))
