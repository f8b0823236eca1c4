"""``grpo evaluate`` on a model saved by a real (1-step) ``grpo train`` run: greedy held-out
accuracy, pass@k from K samples per row, the scored JSONL, settings taken from the run, and bad
input.

The policy is the tiny randomly initialised Llama of the trainer tests, on one-digit addition:
its answers are right by chance often enough (a completion is judged on its last number) that
pass@k is not trivially 0, which is what the checks below need."""

from __future__ import annotations

import json

import pytest

SUITE_OPTIONS = {"digits": 1, "train_rows": 64, "test_rows": 16}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A grpo train OUT directory (config.yaml, summary.json, final/) from one step on a tiny
    random Llama, evaluated on 16 held-out rows."""
    from grpo_core.training.config import build_config
    from grpo_core.training.tiny_model import TinyModelSpec, build_model, build_tokenizer
    from grpo_core.training.trainer import Trainer

    base = tmp_path_factory.mktemp("policy")
    tokenizer = build_tokenizer()
    spec = TinyModelSpec(layers=2, hidden=32, heads=2, intermediate=64)
    build_model(spec, tokenizer, 0).save_pretrained(base)
    tokenizer.save_pretrained(base)
    out = tmp_path_factory.mktemp("run")
    values = {
        "model": str(base), "out": str(out), "suite": "arithmetic",
        "suite_options": SUITE_OPTIONS, "steps": 1, "prompts_per_step": 4, "group_size": 4,
        "eval_every": 1, "eval_rows": 16, "samples_every": 0, "progress": False, "report_to": "none",
        "save_final": True, "temperature": 1.0,
    }  # fmt: skip
    Trainer(build_config(values), log=lambda m: None).run()
    return out


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def pass_at(output: str) -> dict[int, float]:
    line = next(x for x in output.splitlines() if x.startswith("pass@1:"))
    pairs = [p.split(": ") for p in line.split("  ")]
    return {int(k[len("pass@") :]): float(v.rstrip("%")) / 100 for k, v in pairs}


def test_greedy_accuracy_pass_at_k_and_scored_completions(run_dir, grpo):
    final = run_dir / "final"
    result = grpo("evaluate", "--model", final, "--suite", "arithmetic", "--samples", 4,
                  "--rows", 16)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"taken from {run_dir / 'config.yaml'}" in result.output  # suite options of the run
    assert "held-out greedy accuracy:" in result.output
    records = read_jsonl(final / "eval-arithmetic.jsonl")
    assert len(records) == 16 * (1 + 4)
    fields = {"row_id", "prompt", "completion", "sample", "greedy", "reward", "components",
              "correct"}  # fmt: skip
    assert all(fields <= set(r) for r in records)
    greedy = [r for r in records if r["greedy"]]
    sampled = [r for r in records if not r["greedy"]]
    assert len(greedy) == 16 and {r["sample"] for r in sampled} == {0, 1, 2, 3}
    assert len({r["row_id"] for r in greedy}) == 16  # the 16 held-out rows, once each
    assert all(r["prompt"].endswith("=") and len(r["prompt"]) <= 4 for r in greedy)  # 1 digit
    assert all(set(r["components"]) == {"arithmetic", "arithmetic_digits"} for r in records)
    for r in records:  # the default scheme: r = 1 * arithmetic + 0.5 * arithmetic_digits
        c = r["components"]
        total = c["arithmetic"]["score"] + 0.5 * c["arithmetic_digits"]["score"]
        assert r["reward"] == pytest.approx(total)
        assert r["correct"] == (c["arithmetic"]["score"] == 1.0)

    greedy_acc = sum(r["correct"] for r in greedy) / 16
    assert f"held-out greedy accuracy: {greedy_acc:.1%} on 16 rows" in result.output
    # the same rows, budget and greedy decoding as the run's own final evaluation
    summary = json.loads((run_dir / "summary.json").read_text())
    assert greedy_acc == summary["final_heldout_accuracy"]
    passes = pass_at(result.output)
    assert sorted(passes) == [1, 2, 4]
    sampled_acc = sum(r["correct"] for r in sampled) / len(sampled)
    assert passes[1] == pytest.approx(sampled_acc, abs=0.0006)  # printed to 0.1 %
    assert 0 < passes[1] <= passes[2] <= passes[4] <= 1
    per_row = {}
    for r in sampled:
        per_row.setdefault(r["row_id"], []).append(r["correct"])
    any_correct = sum(any(v) for v in per_row.values()) / len(per_row)
    assert passes[4] == pytest.approx(any_correct, abs=0.0006)  # k = n: some sample is right


def test_greedy_only_and_explicit_settings(run_dir, grpo, tmp_path):
    out = tmp_path / "greedy.jsonl"
    result = grpo("evaluate", "--model", run_dir / "final", "--rows", 5, "--out", out,
                  "--max-new-tokens", 3, "--suite-options", '{"digits": 1, "test_rows": 5}')  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "max_new_tokens 3 (given)" in result.output
    assert "pass@" not in result.output
    records = read_jsonl(out)
    assert len(records) == 5 and all(r["greedy"] and r["sample"] == 0 for r in records)
    assert all(len(r["completion"]) <= 3 for r in records)  # one character per token


def test_automatic_completion_budget_follows_the_solutions(run_dir, grpo, tmp_path):
    result = grpo("evaluate", "--model", run_dir / "final", "--rows", 4, "--out",
                  tmp_path / "e.jsonl", "--suite-options", "{digits: 3, test_rows: 4}")  # fmt: skip
    assert result.exit_code == 0, result.output
    # 3-digit sums padded to 4 characters: 4 + EOS + 1 spare
    assert "max_new_tokens 6 (longest solution 4 characters + EOS + 1 spare)" in result.output


def test_sampling_is_seeded(run_dir, grpo, tmp_path):
    texts = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.jsonl"
        args = ("--samples", 3, "--rows", 6, "--seed", 7, "--out", out)
        assert grpo("evaluate", "--model", run_dir / "final", *args).exit_code == 0
        texts.append([r["completion"] for r in read_jsonl(out)])
    assert texts[0] == texts[1]


def test_bad_input_is_named(run_dir, grpo, tmp_path):
    missing = grpo("evaluate", "--model", tmp_path / "nope", "--suite", "arithmetic")
    assert missing.exit_code == 2 and "model directory" in missing.output
    assert "does not exist" in missing.output

    no_tok = tmp_path / "no_tokenizer"
    no_tok.mkdir()
    (no_tok / "config.json").write_text((run_dir / "final" / "config.json").read_text())
    result = grpo("evaluate", "--model", no_tok, "--suite", "arithmetic")
    assert result.exit_code == 2 and "has no tokenizer" in result.output

    bad = grpo("evaluate", "--model", run_dir / "final", "--suite-options", "[1, 2]")
    assert bad.exit_code == 2 and "--suite-options: expected a mapping" in bad.output
    unknown = grpo("evaluate", "--model", run_dir / "final", "--suite", "no-such-suite")
    assert unknown.exit_code == 2 and "no-such-suite" in unknown.output
    zero = grpo("evaluate", "--model", run_dir / "final", "--samples", 0)
    assert zero.exit_code == 2 and "--samples must be >= 1" in zero.output


def test_scheme_file_without_a_correctness_verifier(run_dir, grpo, tmp_path):
    scheme = tmp_path / "scheme.yaml"
    scheme.write_text("verifiers:\n  arithmetic_digits: 1.0\nworkers: 0\n")
    out = tmp_path / "aux.jsonl"
    result = grpo("evaluate", "--model", run_dir / "final", "--scheme", scheme, "--samples", 2,
                  "--rows", 4, "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "held-out greedy accuracy: n/a (no correctness verifier)" in result.output
    assert "pass@k: n/a (no correctness verdicts)" in result.output
    records = read_jsonl(out)
    assert len(records) == 4 * 3 and all(r["correct"] is None for r in records)
    assert all(r["reward"] == r["components"]["arithmetic_digits"]["score"] for r in records)


def test_several_completions_per_row_need_sampling(run_dir):
    from grpo_core.training.evaluation import generate_and_score
    from grpo_core.training.sampling import SamplingParams

    with pytest.raises(ValueError, match="repeat=4: more than one completion per row needs"):
        generate_and_score(None, None, [{"prompt": "1+2="}], None,
                           SamplingParams(3, greedy=True), repeat=4)  # fmt: skip
