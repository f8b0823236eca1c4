"""The body of ``grpo evaluate``: held-out greedy accuracy and pass@k of a saved model.

A model directory written by ``grpo train`` (OUT/final: ``save_pretrained`` model + tokenizer) is
loaded, the suite's held-out (``test``) rows are read, and for every row one greedy completion
is generated (held-out accuracy, as ``grpo train`` reports it) and, with ``samples`` K > 1, K
sampled completions (unbiased pass@k for k = 1, 2, 4, ... and K, grpo_core.passk). Every
completion is scored with the suite's default reward scheme (or ``scheme``) and written as one
JSONL line.

Settings left unset are taken from the run that saved the model when ``MODEL/../config.yaml``
exists (``grpo train`` writes it to OUT, next to OUT/final): the suite (and its options, when the
suite is the same), the seed (which picks the held-out rows), the sampling temperature / top-p /
top-k, ``max_new_tokens``, ``chat_template``, ``max_prompt_length``, ``prompt_truncation`` and
``dtype``; otherwise the ``TrainConfig`` defaults apply.

Automatic ``max_new_tokens`` (as grpo_core.training.policy.completion_budget does for training):
with a character-level tokenizer (every ordinary token one character, like the embedded default
policy's) and rows that carry a reference ``solution``, the longest solution plus EOS and one
spare token; otherwise 256, at most half the model's context.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from grpo_core.passk import correct_counts, k_values, mean_pass_at_k

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")
#: run settings ``grpo evaluate`` inherits from MODEL/../config.yaml when not given
INHERITED = (
    "seed", "temperature", "top_p", "top_k", "max_new_tokens", "chat_template",
    "max_prompt_length", "prompt_truncation", "dtype",
)  # fmt: skip


EPILOG = (
    "Unset options come from MODEL/../config.yaml (the run that saved MODEL) when it exists: "
    "suite (and its options, if the same suite), seed, temperature/top-p/top-k, max_new_tokens, "
    "chat_template, max_prompt_length, prompt_truncation, dtype. Automatic --max-new-tokens: the longest reference "
    "solution + 2 for a character-level tokenizer (the embedded default policy), else 256 (at "
    "most half the context). pass@k is the unbiased estimator of Chen et al. (2021) over the "
    "K samples per row, for k = 1, 2, 4, ... and K."
)


@dataclass
class EvaluateOptions:
    """What ``grpo evaluate`` is told; None = from the run's config.yaml, else the default."""

    model: str
    suite: str | None = None
    samples: int = 1  #: K sampled completions per row besides the greedy one; 1 = greedy only
    rows: int = 500  #: held-out rows (like grpo train's eval_rows)
    suite_options: dict[str, Any] | None = None
    scheme: str | None = None  #: reward scheme file; None = the suite's default scheme
    out: str | None = None  #: JSONL path; None = MODEL/eval-<suite>.jsonl
    temperature: float | None = None
    max_new_tokens: int | None = None
    seed: int | None = None
    batch_size: int = 500  #: completions per generate call


@dataclass
class EvaluateReport:
    """The figures ``grpo evaluate`` prints (accuracies are shares in [0, 1])."""

    suite: str
    rows: int
    greedy_accuracy: float | None
    greedy_reward: float
    samples: int
    sampled_accuracy: float | None = None
    sampled_reward: float | None = None
    pass_at: dict[int, float] = field(default_factory=dict)
    out: Path | None = None
    max_new_tokens: int = 0
    seconds: float = 0.0


def check_model_dir(model: str | Path) -> Path:
    """The model directory, checked for a model config and a tokenizer."""
    path = Path(model)
    if not path.is_dir():
        raise ValueError(f"model directory {path} does not exist (give grpo train's OUT/final)")
    if not (path / "config.json").is_file():
        raise ValueError(f"{path} has no config.json: not a save_pretrained model directory")
    if not any((path / name).is_file() for name in TOKENIZER_FILES):
        raise ValueError(
            f"{path} has no tokenizer ({', '.join(TOKENIZER_FILES)}): save it next to the model "
            "with tokenizer.save_pretrained, as grpo train does in OUT/final"
        )
    return path


def run_config(model_dir: Path) -> tuple[dict[str, Any], Path | None]:
    """The saving run's configuration (MODEL/../config.yaml), or ``{}`` when there is none."""
    path = model_dir.resolve().parent / "config.yaml"
    if not path.is_file():
        return {}, None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read the run configuration {path}: {exc}") from None
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: expected a mapping of grpo train settings")
    return dict(data), path


def parse_suite_options(text: str | None) -> dict[str, Any] | None:
    """``--suite-options``: inline JSON/YAML, or the path of a JSON/YAML file; a mapping."""
    if text is None:
        return None
    source = "--suite-options"
    if Path(text).is_file():
        source, text = text, Path(text).read_text(encoding="utf-8")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{source}: not valid JSON/YAML: {exc}") from None
    if not isinstance(value, Mapping):
        raise ValueError(f"{source}: expected a mapping such as '{{digits: 2}}', got {value!r}")
    return dict(value)


def resolve_settings(opts: EvaluateOptions, run: Mapping[str, Any]) -> dict[str, Any]:
    """Explicit options, then the run's settings, then the TrainConfig defaults."""
    from grpo_core.training.config import TrainConfig

    suite = opts.suite or run.get("suite")
    if not suite:
        raise ValueError("give --suite (no run config.yaml next to the model names one)")
    defaults = TrainConfig()
    settings = {k: run.get(k, getattr(defaults, k)) for k in INHERITED}
    settings["suite"] = suite
    same_suite = run.get("suite") == suite
    settings["suite_options"] = (
        opts.suite_options
        if opts.suite_options is not None
        else dict(run.get("suite_options") or {})
        if same_suite
        else {}
    )
    for key in ("seed", "temperature", "max_new_tokens"):
        if getattr(opts, key) is not None:
            settings[key] = getattr(opts, key)
    if opts.samples < 1:
        raise ValueError(f"--samples must be >= 1, got {opts.samples}")
    if opts.rows < 1:
        raise ValueError(f"--rows must be >= 1, got {opts.rows}")
    if settings["max_new_tokens"] is not None and settings["max_new_tokens"] < 1:
        raise ValueError(f"--max-new-tokens must be >= 1, got {settings['max_new_tokens']}")
    if settings["temperature"] <= 0:
        raise ValueError(f"--temperature must be > 0, got {settings['temperature']}")
    return settings


def is_character_level(tokenizer: Any) -> bool:
    """Every ordinary (non-special) token of the vocabulary is a single character."""
    special = set(tokenizer.all_special_tokens)
    return all(len(t) == 1 for t in tokenizer.get_vocab() if t not in special)


def auto_max_new_tokens(tokenizer: Any, rows: list[dict], model: Any) -> tuple[int, str]:
    """The automatic completion budget (module docstring) and how it was chosen."""
    from grpo_core.training.policy import HF_MAX_NEW_TOKENS, context_budget, solution_budget

    if is_character_level(tokenizer) and all("solution" in r for r in rows):
        budget = solution_budget(rows)
        return budget, f"longest solution {budget - 2} characters + EOS + 1 spare"
    context = getattr(model.config, "max_position_embeddings", None)
    return context_budget(model), f"{HF_MAX_NEW_TOKENS}, at most half the context ({context})"


def run_evaluate(
    opts: EvaluateOptions, log: Callable[[str], None] = print, plugins: Any = None
) -> EvaluateReport:
    """Load, generate (greedy, then K samples), score, write the JSONL, and report."""
    import time

    from grpo_core.training.evaluation import summarise

    model_dir = check_model_dir(opts.model)
    run, run_path = run_config(model_dir)
    settings = resolve_settings(opts, run)
    if run_path is not None:
        log(f"settings not given are taken from {run_path}")
    start = time.perf_counter()
    rows, scheme = _suite_rows_and_scheme(opts, settings, plugins)
    try:
        model, tokenizer = _load(model_dir, settings, log)
        budget, why = settings["max_new_tokens"], "given"
        if budget is None:
            budget, why = auto_max_new_tokens(tokenizer, rows, model)
        log(f"suite {settings['suite']} options {settings['suite_options']}: {len(rows)} held-out "
            f"rows (seed {settings['seed']}); {scheme.describe()}; max_new_tokens {budget} ({why})")  # fmt: skip
        greedy, sampled = _generate(model, tokenizer, rows, scheme, settings, budget, opts)
    finally:
        scheme.close()
    out = Path(opts.out) if opts.out else model_dir / f"eval-{settings['suite']}.jsonl"
    write_completions(out, rows, greedy, sampled)
    first = summarise(len(rows), greedy)
    report = EvaluateReport(
        suite=settings["suite"], rows=len(rows), greedy_accuracy=first.accuracy,
        greedy_reward=first.reward_mean, samples=opts.samples, out=out, max_new_tokens=budget,
    )  # fmt: skip
    if sampled is not None:
        many = summarise(len(rows), sampled)
        report.sampled_accuracy, report.sampled_reward = many.accuracy, many.reward_mean
        report.pass_at = pass_at_ks(sampled.correct, opts.samples)
    report.seconds = time.perf_counter() - start
    return report


def pass_at_ks(verdicts: list[bool | None], samples: int) -> dict[int, float]:
    """Mean unbiased pass@k over the rows, for k in ``k_values(samples)``; a row with fewer
    judged samples than k (some verdicts None) is left out of that k."""
    counts = correct_counts(verdicts, samples)
    out = {}
    for k in k_values(samples):
        usable = [(n, c) for n, c in counts if n >= k]
        if usable:
            out[k] = mean_pass_at_k(usable, k)
    return out


def _suite_rows_and_scheme(
    opts: EvaluateOptions, settings: Mapping[str, Any], plugins: Any
) -> tuple[list[dict], Any]:
    from rewards import SuiteError, get_plugins
    from rewards.scheme import RewardScheme

    manager = plugins or get_plugins()
    suite = manager.suite(settings["suite"], **settings["suite_options"])
    rows = suite.rows("test", seed=settings["seed"], limit=opts.rows)
    if not rows:
        raise SuiteError(f"suite {settings['suite']!r} has no test rows to evaluate on")
    if opts.scheme:
        return rows, RewardScheme.from_file(opts.scheme, plugins=manager)
    return rows, RewardScheme.from_config(suite.default_scheme(), plugins=manager)


def _load(model_dir: Path, settings: Mapping[str, Any], log: Callable[[str], None]) -> Any:
    from grpo_core.training.config import build_config
    from grpo_core.training.policy import load_policy

    cfg = build_config({"model": str(model_dir), "suite": settings["suite"],
                        "dtype": settings["dtype"]})  # fmt: skip
    model, tokenizer, info = load_policy(cfg, log)
    log(f"model {model_dir}: {info['parameters']:,} parameters")
    return model, tokenizer


def _generate(
    model: Any,
    tokenizer: Any,
    rows: list[dict],
    scheme: Any,
    settings: Mapping[str, Any],
    budget: int,
    opts: EvaluateOptions,
) -> tuple[Any, Any]:
    """The greedy ``ScoredCompletions`` and, with ``samples`` > 1, the sampled ones (seeded)."""
    import torch

    from grpo_core.training.evaluation import generate_and_score
    from grpo_core.training.sampling import SamplingParams, prompt_budget

    common = {
        "batch_size": opts.batch_size,
        "chat_template": settings["chat_template"],
        "budget": prompt_budget(model, budget, settings["max_prompt_length"]),
        "truncation": settings["prompt_truncation"],
    }
    greedy_params = SamplingParams(budget, greedy=True)
    greedy = generate_and_score(model, tokenizer, rows, scheme, greedy_params, **common)
    if opts.samples < 2:
        return greedy, None
    torch.manual_seed(settings["seed"])
    params = SamplingParams(budget, settings["temperature"], settings["top_p"], settings["top_k"])
    sampled = generate_and_score(
        model, tokenizer, rows, scheme, params, repeat=opts.samples, **common
    )
    return greedy, sampled


def completion_records(rows: list[dict], result: Any, greedy: bool) -> list[dict[str, Any]]:
    """One JSON-ready record per completion of a ``ScoredCompletions``."""
    out = []
    for i, text in enumerate(result.completions):
        row = rows[i // result.repeat]
        components = {n: t[i].result.to_dict() for n, t in result.scored.components.items()}
        out.append({
            "row_id": row.get("id", i // result.repeat),
            "prompt": row["prompt"],
            "answer": row.get("answer"),
            "completion": text,
            "sample": i % result.repeat,
            "greedy": greedy,
            "reward": result.scored.totals[i],
            "components": components,
            "correct": result.correct[i],
            "truncated": result.truncated[i],
        })  # fmt: skip
    return out


def write_completions(out: Path, rows: list[dict], greedy: Any, sampled: Any) -> None:
    """Greedy records first, then the sampled ones (row by row, sample by sample)."""
    records = completion_records(rows, greedy, True)
    if sampled is not None:
        records += completion_records(rows, sampled, False)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, default=str) + "\n")


def format_report(report: EvaluateReport) -> list[str]:
    """The lines ``grpo evaluate`` prints after the setup lines."""

    def pct(value: float | None) -> str:
        return "n/a (no correctness verifier)" if value is None else f"{value:.1%}"

    lines = [
        f"held-out greedy accuracy: {pct(report.greedy_accuracy)} on {report.rows} rows "
        f"(mean reward {report.greedy_reward:.3f})"
    ]
    if report.samples > 1:
        lines.append(
            f"sampled: {report.samples} per row, accuracy {pct(report.sampled_accuracy)} "
            f"(mean reward {report.sampled_reward:.3f})"
        )
        if report.pass_at:
            lines.append("  ".join(f"pass@{k}: {v:.1%}" for k, v in report.pass_at.items()))
        else:
            lines.append("pass@k: n/a (no correctness verdicts)")
    total = report.rows * (1 + (report.samples if report.samples > 1 else 0))
    lines.append(f"wrote {total} scored completions to {report.out} ({report.seconds:.1f}s)")
    return lines
