"""Conformance report: Math-Verify's own test cases scored by grpokit's ``math`` verifier and by
math-verify, written to benchmarks/results/math_conformance.{md,json}.

The cases and the protocol: ``tests/rewards/peer_math_cases.py`` (ported from the public
repository huggingface/Math-Verify; its commit is in the data file). Three rows: grpokit; plain
math-verify on the same completions; and, for reference, math-verify the way its own test suite
calls it (raw predictions and each test's options). Every case where grpokit differs from the
peer's expected value is listed with its reason; grpokit is run twice to show its verdicts do
not change from run to run, with the CPU time of the slowest case against the 2 s limit.

    .venv/bin/python benchmarks/math_conformance.py
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "rewards"))
from peer_math_cases import (  # noqa: E402
    KNOWN_DIFFERENCES,
    Case,
    Outcome,
    grpokit_outcome,
    load_cases,
    load_source,
    math_verify_outcome,
    own_harness_outcome,
    run_all,
    summarise,
)

from rewards.verifiers.math_answer import MathVerifier  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
ROWS = (
    ("grpokit `math` verifier", "grpokit"),
    ("math-verify, same completions (`verify(parse(gold), parse(completion))`)", "math_verify"),
    ("math-verify, its own test harness (raw prediction, each test's options)", "own_harness"),
)


def _short(text: str, limit: int = 70) -> str:
    flat = " ".join(text.replace("\n", " ⏎ ").split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _cell(text: str) -> str:
    return _short(text).replace("|", "\\|").replace("`", "'")


def score_everything(cases: list[Case]) -> dict[str, list[Outcome]]:
    import rewards.verifiers.math_sympy  # noqa: F401  (import and warm up before timing)

    verifier = MathVerifier()
    return {
        "grpokit": run_all(cases, lambda c: grpokit_outcome(c, verifier)),
        "grpokit_again": run_all(cases, lambda c: grpokit_outcome(c, verifier)),
        "math_verify": run_all(cases, math_verify_outcome),
        "own_harness": run_all(cases, own_harness_outcome),
    }


def differences(cases: list[Case], outcomes: list[Outcome]) -> list[dict[str, Any]]:
    """Every case where ``outcomes`` disagree with the peer's expected value."""
    out = []
    for case, o in zip(cases, outcomes, strict=True):
        if o.passed != bool(case.expected):
            out.append(
                {
                    "id": case.id,
                    "gold": case.gold,
                    "completion": case.completion,
                    "expected": case.expected,
                    "verdict": int(o.passed),
                    "reason": KNOWN_DIFFERENCES.get(case.id, "UNEXPLAINED"),
                    "verifier_reason": o.reason,
                }
            )
    return out


def build_report(cases: list[Case], scored: dict[str, list[Outcome]]) -> dict[str, Any]:
    ours = scored["grpokit"]
    seconds = sorted(o.seconds for o in ours)  # the first run: nothing of it cached yet
    slowest = max(zip(ours, cases, strict=True), key=lambda p: p[0].seconds)[1]
    return {
        "source": load_source()["source"],
        "math_verify_version": version("math-verify"),
        "table": {key: summarise(cases, scored[key]) for _, key in ROWS},
        "grpokit_differences": differences(cases, ours),
        "math_verify_differences": differences(cases, scored["math_verify"]),
        "determinism": {
            "verdicts_identical_across_two_runs": [o.passed for o in ours]
            == [o.passed for o in scored["grpokit_again"]],
            "max_cpu_seconds": round(seconds[-1], 3),
            "slowest_case": slowest.id,
            "p99_cpu_seconds": round(seconds[int(0.99 * (len(seconds) - 1))], 3),
            "time_limit_seconds": MathVerifier().options.time_limit,
        },
    }


def render(report: dict[str, Any]) -> str:
    src, det = report["source"], report["determinism"]
    lines = [
        "# math verifier: conformance with Math-Verify's own test cases",
        "",
        f"{report['table']['grpokit']['cases']} (gold, prediction, expected) cases: every "
        f"parametrised case of the tests of {src['repository']} at commit `{src['commit']}` "
        f"({', '.join(src['paths'])}), ported as data by `benchmarks/port_math_verify_cases.py` "
        "into `tests/rewards/data/math_verify_cases.json`; checked in CI by "
        "`tests/rewards/test_math_conformance.py`. Installed math-verify: "
        f"{report['math_verify_version']}.",
        "",
        "Protocol (the same for grpokit and math-verify): the gold as the peer wrote it; the "
        "prediction put in `\\boxed{}` when it has no final-answer marker; the peer's expected "
        "value as the label. A false positive is a pass on a case the peer expects to fail.",
        "",
        "| verifier | cases | agree | agree % | crashes | errors | false positives | "
        "false negatives |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for title, key in ROWS:
        t = report["table"][key]
        lines.append(
            f"| {title} | {t['cases']} | {t['agree']} | {t['agree_pct']} | {t['crashes']} | "
            f"{t['errors']} | {t['false_positives']} | {t['false_negatives']} |"
        )
    lines += [
        "",
        f"Determinism: grpokit's verdicts identical across two runs: "
        f"{det['verdicts_identical_across_two_runs']}; slowest case ({det['slowest_case']}) "
        f"{det['max_cpu_seconds']} s of CPU (p99 {det['p99_cpu_seconds']} s) against the "
        f"{det['time_limit_seconds']:g} s limit, which now counts CPU time: a comparison that "
        "waits for a core on a busy machine no longer uses its budget.",
        "",
        "## Where grpokit differs from the peer's expected value, and why",
        "",
        "| case | gold | completion | expected | grpokit | reason |",
        "|---|---|---|---:|---:|---|",
    ]
    for d in report["grpokit_differences"]:
        lines.append(
            f"| `{d['id']}` | {_cell(d['gold'])} | {_cell(d['completion'])} | {d['expected']} "
            f"| {d['verdict']} | {d['reason']} |"
        )
    lines += [
        "",
        "## Where math-verify (same completions) differs from its own tests' expected value",
        "",
        "| case | gold | completion | expected | math-verify |",
        "|---|---|---|---:|---:|",
    ]
    for d in report["math_verify_differences"]:
        lines.append(
            f"| `{d['id']}` | {_cell(d['gold'])} | {_cell(d['completion'])} | {d['expected']} "
            f"| {d['verdict']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    cases = load_cases()
    report = build_report(cases, score_everything(cases))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "math_conformance.json").write_text(json.dumps(report, indent=1) + "\n")
    (RESULTS / "math_conformance.md").write_text(render(report))
    for title, key in ROWS:
        print(title, report["table"][key])
    print("determinism", report["determinism"])


if __name__ == "__main__":
    main()
