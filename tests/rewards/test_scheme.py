"""RewardScheme: eq. 6.1 totals, abstentions, the format gate, config files, errors."""

import pytest
import sample_plugin

from rewards import PluginError, Plugins
from rewards.scheme import RewardScheme


@pytest.fixture
def plugins():
    p = Plugins(builtins=False, entry_points=False)
    p.register(sample_plugin, name="sample")
    return p


ROWS = [
    {"answer": "42", "domain": "math"},
    {"answer": "42"},
    {"answer": "7", "domain": "math"},
]
COMPLETIONS = ["<think>so</think> 42", "42", "<think>hm</think> 8"]


def test_total_is_the_weighted_sum_of_eq_6_1(plugins):
    config = {"verifiers": {"contains": 1.0, "prefix": 0.5, "only_math": {"weight": 2.0}}}
    with RewardScheme.from_config(config, plugins=plugins, workers=1) as scheme:
        batch = scheme.score(COMPLETIONS, ROWS)
    # r = 1*correct + 0.5*format + 2*aux; only_math abstains on row 1 (left out of the total)
    assert batch.totals == pytest.approx([1 + 0.5 + 1.0, 1 + 0 + 0, 0 + 0.5 + 1.0])
    assert batch.scores("only_math") == [0.5, None, 0.5]
    assert batch.by_kind["format"] == [0.5, 0.0, 0.5]
    assert scheme.describe() == "r = 1*contains[correct] + 0.5*prefix[format] + 2*only_math[aux]"


def test_format_gate_zeroes_correctness_when_format_fails(plugins):
    config = {"verifiers": {"contains": 1.0, "prefix": 0.5}, "format_gate": True}
    with RewardScheme.from_config(config, plugins=plugins, workers=1) as scheme:
        batch = scheme.score(COMPLETIONS, ROWS)
    assert batch.totals == pytest.approx([1.5, 0.0, 0.5])  # row 1: right answer, wrong format


def test_verifier_options_flow_from_the_config(plugins):
    config = {"verifiers": {"prefix": {"weight": 1, "options": {"prefix": "42"}}}}
    with RewardScheme.from_config(config, plugins=plugins, workers=0) as scheme:
        assert scheme.score(COMPLETIONS, ROWS).totals == [0.0, 1.0, 0.0]


def test_non_finite_scores_never_become_rewards(plugins):
    with RewardScheme.from_config(
        {"not_finite": 1, "contains": 1}, plugins=plugins, workers=1
    ) as scheme:
        batch = scheme.score(["42"], [{"answer": "42"}])
    assert batch.totals == [1.0]
    assert batch.errors() == {"not_finite": 1, "contains": 0}


def test_step_rewards_are_weighted_and_exposed(plugins):
    with RewardScheme.from_config({"stepper": 2.0}, plugins=plugins, workers=0) as scheme:
        batch = scheme.score(["ok\nbad\nok"], [{}])
    assert batch.steps(0) == [(2, 2.0), (6, 0.0), (9, 2.0)]


@pytest.mark.parametrize("suffix", [".yaml", ".toml", ".json"])
def test_scheme_files(plugins, tmp_path, suffix):
    text = {
        ".yaml": "verifiers:\n  contains: {weight: 2}\n  prefix: 1\ntimeout: 3\n",
        ".toml": "timeout = 3\n[verifiers.contains]\nweight = 2\n[verifiers]\nprefix = 1\n",
        ".json": '{"verifiers": {"contains": {"weight": 2}, "prefix": 1}, "timeout": 3}',
    }[suffix]
    path = tmp_path / f"scheme{suffix}"
    path.write_text(text)
    with RewardScheme.from_file(path, plugins=plugins, workers=0) as scheme:
        assert [c.weight for c in scheme.components] == [2.0, 1.0]
        assert scheme.scorer.timeout == 3


def test_config_errors_are_clear(plugins, tmp_path):
    with pytest.raises(PluginError, match="unknown verifier 'mathh'; available: boom, contains"):
        RewardScheme.from_config({"mathh": 1}, plugins=plugins)
    with pytest.raises(ValueError, match="unknown reward scheme key 'gate'"):
        RewardScheme.from_config({"verifiers": {"contains": 1}, "gate": 1}, plugins=plugins)
    with pytest.raises(ValueError, match="verifier 'contains' in the scheme: expected a weight"):
        RewardScheme.from_config({"contains": "heavy"}, plugins=plugins)
    with pytest.raises(ValueError, match="format_gate is set but the scheme has no format"):
        RewardScheme.from_config(
            {"verifiers": {"contains": 1}, "format_gate": True}, plugins=plugins
        )
    bad = tmp_path / "bad.yaml"
    bad.write_text("verifiers: [unclosed\n")
    with pytest.raises(ValueError, match="bad.yaml: not valid yaml"):
        RewardScheme.from_file(bad, plugins=plugins)
