"""grpo_loss and kl_penalty: textbook oracles, gradients vs a naive loop, properties."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grpo_core import AdaptiveKLController, grpo_loss, kl_penalty

A2 = 1.3416  # advantage of answer 2 in example 5.1


def test_textbook_example_5_2_three_clipped_tokens():
    # ratios 1.3, 1.05, 0.7 at A = 1.3416, eps = 0.2 -> 1.6099, 1.4087, 0.9391, mean 1.3192
    ratios = torch.tensor([[1.3, 1.05, 0.7]], dtype=torch.float64)
    per_token = []
    for t in range(3):
        loss, _ = grpo_loss(
            ratios[:, t : t + 1].log(),
            torch.zeros(1, 1, dtype=torch.float64),
            torch.tensor([A2], dtype=torch.float64),
            torch.ones(1, 1, dtype=torch.bool),
        )
        per_token.append(-loss.item())
    assert per_token == pytest.approx([1.6099, 1.4087, 0.9391], abs=1e-4)
    loss, stats = grpo_loss(
        ratios.log(),
        torch.zeros_like(ratios),
        torch.tensor([A2], dtype=torch.float64),
        torch.ones_like(ratios, dtype=torch.bool),
    )
    assert -loss.item() == pytest.approx(1.3192, abs=1e-4)
    assert stats["clip_frac_high"] == pytest.approx(1 / 3)  # token 1 is clipped at 1.2
    assert stats["clip_frac_low"] == 0.0  # token 3 (0.7) is not clipped: A > 0 keeps r A
    assert stats["ratio_mean"] == pytest.approx((1.3 + 1.05 + 0.7) / 3)


def test_textbook_example_5_3_kl():
    # pi_theta = 0.30, pi_ref = 0.24: x = 0.8, KL = 0.8 - log 0.8 - 1 = 0.0231
    logp = torch.tensor([[math.log(0.30)]], dtype=torch.float64)
    ref = torch.tensor([[math.log(0.24)]], dtype=torch.float64)
    assert kl_penalty(logp, ref, "k3").item() == pytest.approx(0.0231, abs=1e-4)
    # beta = 0.04 -> penalty 0.000924; with A = 0 and ratio 1 it is the whole loss
    loss, stats = grpo_loss(
        logp,
        logp.clone(),
        torch.zeros(1, dtype=torch.float64),
        torch.ones(1, 1, dtype=bool),
        beta=0.04,
        ref_logprobs=ref,
    )
    assert loss.item() == pytest.approx(0.000924, abs=2e-6)
    assert stats["kl_mean"] == pytest.approx(0.0231, abs=1e-4)


def test_kl_kinds():
    logp, ref = torch.tensor([-1.0]), torch.tensor([-1.5])
    assert kl_penalty(logp, ref, "k1").item() == pytest.approx(0.5)
    assert kl_penalty(logp, ref, "k2").item() == pytest.approx(0.125)
    assert kl_penalty(logp, ref, "k3").item() == pytest.approx(math.exp(-0.5) + 0.5 - 1)
    with pytest.raises(ValueError, match="k4"):
        kl_penalty(logp, ref, "k4")


@settings(max_examples=100, deadline=None)
@given(st.floats(-20, 20), st.floats(-20, 20), st.sampled_from(["k2", "k3"]))
def test_kl_is_nonnegative(a, b, kind):
    assert (
        kl_penalty(
            torch.tensor([a], dtype=torch.float64), torch.tensor([b], dtype=torch.float64), kind
        ).item()
        >= 0.0
    )


def naive_loss(logp, old, adv, mask, eps_lo, eps_hi, beta, ref, agg, max_len, c=None):
    """Straight transcription of eq. 3.1 (and variants) with Python loops over sequences."""
    total, tokens, per_seq = 0.0, 0, []
    for i in range(logp.shape[0]):
        s = 0.0
        n = int(mask[i].sum())
        for t in range(logp.shape[1]):
            if not mask[i, t]:
                continue
            a = adv[i] if adv.dim() == 1 else adv[i, t]
            r = torch.exp(logp[i, t] - old[i, t])
            j = torch.minimum(r * a, torch.clamp(r, 1 - eps_lo, 1 + eps_hi) * a)
            if c is not None and a < 0:
                j = torch.maximum(j, c * a)
            if beta:
                x = torch.exp(ref[i, t] - logp[i, t])
                j = j - beta * (x - torch.log(x) - 1)
            s = s - j
        total = total + s
        tokens += n
        per_seq.append(s / max(n, 1))
    if agg == "sequence":
        return sum(per_seq) / logp.shape[0]
    if agg == "token":
        return total / tokens
    return total / (logp.shape[0] * max_len)


def random_batch(seed, b=5, t=7, process=False):
    g = torch.Generator().manual_seed(seed)
    logp = (-torch.rand(b, t, generator=g, dtype=torch.float64) * 3).requires_grad_()
    old = logp.detach() + 0.4 * torch.randn(b, t, generator=g, dtype=torch.float64)
    ref = logp.detach() + 0.3 * torch.randn(b, t, generator=g, dtype=torch.float64)
    adv = torch.randn((b, t) if process else (b,), generator=g, dtype=torch.float64)
    lengths = torch.randint(1, t + 1, (b,), generator=g)
    mask = torch.arange(t)[None, :] < lengths[:, None]
    return logp, old, adv, mask, ref


@pytest.mark.parametrize("agg", ["sequence", "token", "constant"])
@pytest.mark.parametrize("process", [False, True])
@pytest.mark.parametrize("dual_clip", [None, 3.0])
def test_value_and_gradient_match_naive_float64(agg, process, dual_clip):
    logp, old, adv, mask, ref = random_batch(0, process=process)
    kw = dict(
        epsilon=0.2,
        epsilon_high=0.28,
        beta=0.05,
        ref_logprobs=ref,
        aggregation=agg,
        max_length=9,
        clip_ratio_c=dual_clip,
    )
    loss, _ = grpo_loss(logp, old, adv, mask, **kw)
    (grad,) = torch.autograd.grad(loss, logp)
    want = naive_loss(logp, old, adv, mask, 0.2, 0.28, 0.05, ref, agg, 9, dual_clip)
    (want_grad,) = torch.autograd.grad(want, logp)
    torch.testing.assert_close(loss, want, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grad, want_grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("agg", ["sequence", "token", "constant"])
def test_micro_batches_sum_to_full_batch(agg):
    logp, old, adv, mask, ref = random_batch(1, b=10, t=6)
    kw = dict(beta=0.04, ref_logprobs=ref, aggregation=agg, max_length=6)
    full, _ = grpo_loss(logp, old, adv, mask, **kw)
    (full_grad,) = torch.autograd.grad(full, logp)
    num_items = int(mask.sum()) if agg == "token" else logp.shape[0]
    grad = torch.zeros_like(logp)
    total = 0.0
    for part in (slice(0, 2), slice(2, 7), slice(7, 10)):  # 3 uneven micro-batches
        sub_kw = dict(kw, ref_logprobs=ref[part], num_items=num_items)
        loss, _ = grpo_loss(logp[part], old[part], adv[part], mask[part], **sub_kw)
        loss.backward()
        total += loss.item()
    grad = logp.grad
    torch.testing.assert_close(torch.tensor(total, dtype=torch.float64), full.detach())
    torch.testing.assert_close(grad, full_grad, rtol=1e-12, atol=1e-14)


@settings(max_examples=50, deadline=None)
@given(
    st.integers(0, 10_000), st.sampled_from(["sequence", "token", "constant"]), st.integers(1, 5)
)
def test_padding_never_changes_the_loss(seed, agg, pad):
    logp, old, adv, mask, ref = random_batch(seed, b=3, t=4)
    kw = dict(beta=0.1, ref_logprobs=ref, aggregation=agg, max_length=4)
    loss, _ = grpo_loss(logp, old, adv, mask, **kw)
    garbage = torch.tensor(
        [float("nan"), float("inf"), -float("inf"), 1e30, -7.0], dtype=torch.float64
    )[:pad].expand(3, pad)
    plogp = torch.cat([logp, garbage], dim=1)
    pmask = torch.cat([mask, torch.zeros(3, pad, dtype=torch.bool)], dim=1)
    padded, _ = grpo_loss(
        plogp,
        torch.cat([old, garbage], 1),
        adv,
        pmask,
        **dict(kw, ref_logprobs=torch.cat([ref, garbage], 1)),
    )
    torch.testing.assert_close(padded, loss)
    (grad,) = torch.autograd.grad(padded, logp)
    assert torch.isfinite(grad).all()


@settings(max_examples=100, deadline=None)
@given(st.floats(-3, 3), st.floats(-3, 3), st.floats(0.01, 0.5), st.floats(0.01, 0.5))
def test_clipping_only_ever_lowers_the_objective(logratio, a, eps_lo, eps_hi):
    one = dict(mask=torch.ones(1, 1, dtype=torch.bool))
    lp = torch.tensor([[logratio]], dtype=torch.float64)
    adv = torch.tensor([a], dtype=torch.float64)
    clipped, _ = grpo_loss(
        lp, torch.zeros_like(lp), adv, epsilon=eps_lo, epsilon_high=eps_hi, **one
    )
    unclipped = math.exp(logratio) * a  # objective without clipping
    assert -clipped.item() <= unclipped + 1e-12


def test_dual_clip_floors_negative_advantage_objective():
    lp = torch.tensor([[math.log(10.0)]])  # ratio 10 on a bad token
    loss, stats = grpo_loss(
        lp,
        torch.zeros_like(lp),
        torch.tensor([-1.0]),
        torch.ones(1, 1, dtype=bool),
        clip_ratio_c=3.0,
    )
    assert loss.item() == pytest.approx(3.0)  # -J = -max(-10, -3) = 3, not 10
    assert stats["dual_clip_frac"] == 1.0
    with pytest.raises(ValueError, match="clip_ratio_c must be > 1"):
        grpo_loss(lp, lp, torch.tensor([1.0]), torch.ones(1, 1, dtype=bool), clip_ratio_c=1.0)


def test_bad_shapes_and_missing_reference():
    lp = torch.zeros(2, 3)
    m = torch.ones(2, 3, dtype=torch.bool)
    with pytest.raises(ValueError, match="old_logprobs"):
        grpo_loss(lp, torch.zeros(2, 4), torch.zeros(2), m)
    with pytest.raises(ValueError, match="advantages"):
        grpo_loss(lp, lp, torch.zeros(3), m)
    with pytest.raises(ValueError, match="ref_logprobs"):
        grpo_loss(lp, lp, torch.zeros(2), m, beta=0.1)
    with pytest.raises(ValueError, match="aggregation"):
        grpo_loss(lp, lp, torch.zeros(2), m, aggregation="mean")


def test_adaptive_kl_moves_beta_towards_target():
    ctl = AdaptiveKLController(beta=0.1, target=0.05, horizon=100)
    assert ctl.update(0.5, n_steps=10) == pytest.approx(0.1 * (1 + 0.2 * 10 / 100))
    before = ctl.beta
    assert ctl.update(0.0, n_steps=10) < before
    state = ctl.state_dict()
    other = AdaptiveKLController(beta=1.0, target=1.0)
    other.load_state_dict(state)
    assert other.beta == ctl.beta and other.horizon == 100
