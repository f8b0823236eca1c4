"""Outcome and process advantages against the textbook's hand-worked examples (ch. 1, 5)."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grpo_core import outcome_advantages, process_advantages


def test_textbook_example_5_1_group_standardisation():
    # 5.1: r = 0.2, 0.8, 0.5, -0.1 -> mean 0.35, population std 0.3354
    adv = outcome_advantages(torch.tensor([0.2, 0.8, 0.5, -0.1]), 4)
    assert adv.tolist() == pytest.approx([-0.4472, 1.3416, 0.4472, -1.3416], abs=1e-4)


def test_textbook_g_equals_two_is_plus_minus_one():
    # 5.5: G = 2, rewards 1 and 0 -> mean 0.5, std 0.5 -> A = +1, -1
    adv = outcome_advantages(torch.tensor([1.0, 0.0]), 2)
    assert adv.tolist() == pytest.approx([1.0, -1.0], abs=1e-6)


def test_course_four_of_eight_correct_with_sample_std():
    # GRPO course: 8 answers, 4 correct: mean 0.5, sample std 0.53, A = +-0.94
    rewards = torch.tensor([1.0, 0, 0, 1, 0, 1, 1, 0])
    adv = outcome_advantages(rewards, 8, std="sample")
    sample_std = math.sqrt(8 * 0.25 / 7)
    assert sample_std == pytest.approx(0.53, abs=5e-3)
    assert adv[rewards == 1].tolist() == pytest.approx([0.94] * 4, abs=5e-3)
    assert adv[rewards == 0].tolist() == pytest.approx([-0.94] * 4, abs=5e-3)


def test_population_vs_sample_differ_by_bessel_factor():
    r = torch.tensor([0.0, 1.0, 3.0, 4.0], dtype=torch.float64)
    pop = outcome_advantages(r, 4, std="population", eps=0)
    sample = outcome_advantages(r, 4, std="sample", eps=0)
    torch.testing.assert_close(pop * math.sqrt(3 / 4), sample)


def test_scales_none_and_batch():
    r = torch.tensor([1.0, 3.0, 10.0, 30.0], dtype=torch.float64)
    none = outcome_advantages(r, 2, scale="none")
    assert none.tolist() == [-1.0, 1.0, -10.0, 10.0]
    batch = outcome_advantages(r, 2, scale="batch", eps=0)
    torch.testing.assert_close(batch, none / r.std(correction=0))


@pytest.mark.parametrize("scale", ["group", "batch", "none"])
@pytest.mark.parametrize("std", ["population", "sample"])
def test_all_equal_group_is_exactly_zero(scale, std):
    r = torch.tensor([0.1, 0.1, 0.1, 0.7, 0.1, 0.4])
    adv = outcome_advantages(r, 3, scale=scale, std=std)
    assert adv[:3].tolist() == [0.0, 0.0, 0.0]
    assert torch.isfinite(adv).all()


def test_group_of_one_is_zero_not_nan():
    assert outcome_advantages(torch.tensor([1.0, 2.0]), 1, std="sample").tolist() == [0.0, 0.0]


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="multiple of group_size=4"):
        outcome_advantages(torch.zeros(6), 4)
    with pytest.raises(ValueError, match="NaN"):
        outcome_advantages(torch.tensor([1.0, float("nan")]), 2)
    with pytest.raises(ValueError, match="scale"):
        outcome_advantages(torch.zeros(2), 2, scale="bogus")


rewards_strategy = st.integers(1, 4).flatmap(
    lambda groups: st.integers(2, 6).flatmap(
        lambda g: st.tuples(
            st.just(g),
            st.lists(
                st.floats(-100, 100, allow_nan=False), min_size=groups * g, max_size=groups * g
            ),
        )
    )
)


@settings(max_examples=60, deadline=None)
@given(rewards_strategy, st.sampled_from(["group", "batch", "none"]))
def test_advantages_sum_to_zero_per_group(case, scale):
    g, values = case
    adv = outcome_advantages(torch.tensor(values, dtype=torch.float64), g, scale=scale)
    sums = adv.view(-1, g).sum(dim=1)
    assert torch.allclose(sums, torch.zeros_like(sums), atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(rewards_strategy, st.floats(-50, 50), st.sampled_from(["group", "none"]))
def test_adding_a_constant_to_a_group_changes_nothing(case, shift, scale):
    g, values = case
    r = torch.tensor(values, dtype=torch.float64)
    shifted = r.clone()
    shifted[:g] += shift
    torch.testing.assert_close(
        outcome_advantages(r, g, scale=scale),
        outcome_advantages(shifted, g, scale=scale),
        atol=1e-6,
        rtol=1e-6,
    )


def test_textbook_example_5_4_process_supervision():
    # 5.4: all step rewards of the group R = [0.2, 0.9, -0.1, 0.4]; o_1 has steps ending at
    # tokens 5 and 11 with rewards 0.2 and 0.9 (normalised -0.4121 and 1.5110).
    adv = process_advantages([[0.2, 0.9], [-0.1, 0.4]], [[5, 11], [2, 8]], 2, 16)
    assert adv.shape == (2, 16)
    assert adv[0, 3].item() == pytest.approx(1.0989, abs=2e-4)
    assert adv[0, 7].item() == pytest.approx(1.5110, abs=2e-4)
    assert adv[0, 12].item() == 0.0
    assert adv[0, 5].item() == pytest.approx(1.0989, abs=2e-4)  # a step's own end token counts
    assert adv[1, 0].item() == pytest.approx(-1.2362 + 0.1374, abs=2e-4)


def test_process_advantages_edge_cases():
    # empty step lists, a step past the window, and a flat group
    adv = process_advantages([[], [1.0], [0.5], [0.5, 0.5]], [[], [30], [1], [0, 3]], 2, 4)
    assert adv[0].tolist() == [0.0] * 4
    assert adv[1].tolist() == [0.0] * 4  # a single step reward in a group: no spread
    assert adv[2:].abs().sum().item() == 0.0  # all equal
    adv = process_advantages([[0.0], [1.0]], [[10], [10]], 2, 4)
    assert adv[1].tolist() == pytest.approx([1.0] * 4)  # step beyond seq_len covers all tokens


def test_process_bad_inputs():
    with pytest.raises(ValueError, match="completion 0"):
        process_advantages([[1.0]], [[1, 2]], 1, 4)
    with pytest.raises(ValueError, match=">= 0"):
        process_advantages([[1.0], [0.0]], [[-1], [0]], 2, 4)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.integers(-8, 8).map(lambda k: k / 4), st.integers(0, 9)), max_size=4),
        min_size=4,
        max_size=4,
    )
)
def test_process_matches_naive_definition(steps):
    rewards = [[r for r, _ in s] for s in steps]
    ends = [[e for _, e in s] for s in steps]
    adv = process_advantages(rewards, ends, 2, 8, eps=0.0)
    for group in (0, 1):
        members = range(2 * group, 2 * group + 2)
        pool = torch.tensor([r for i in members for r in rewards[i]], dtype=torch.float64)
        flat = pool.numel() < 2 or bool((pool == pool[0]).all())
        mu, sigma = (pool.mean(), pool.std(correction=0)) if pool.numel() else (0.0, 1.0)
        for i in members:
            for t in range(8):
                want = (
                    0.0
                    if flat
                    else sum(
                        float((r - mu) / sigma)
                        for r, e in zip(rewards[i], ends[i], strict=True)
                        if e >= t
                    )
                )
                assert adv[i, t].item() == pytest.approx(want, abs=1e-4)
