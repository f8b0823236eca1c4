"""The GRPO clipped token loss (textbook eq. 3.1) with its DAPO and Dr. GRPO variants.

Per token, with ratio r_{i,t} = pi_theta(o_{i,t}) / pi_old(o_{i,t})            (eq. 3.2)

    J_{i,t} = min(r A, clip(r, 1 - eps, 1 + eps_high) A) - beta * KL_{i,t}      (eq. 2.17, 3.1)

and the loss to minimise is -J aggregated over tokens:

- ``"sequence"``: (1/G) sum_i (1/|o_i|) sum_t J_{i,t}   (eq. 3.1, DeepSeekMath)
- ``"token"``:    sum_{i,t} J_{i,t} / sum_i |o_i|       (DAPO token-level loss)
- ``"constant"``: sum_{i,t} J_{i,t} / (B * max_length)  (Dr. GRPO, no length bias)
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from grpo_core.kl import KLKind, kl_penalty

Aggregation = Literal["sequence", "token", "constant"]


def grpo_loss(
    logprobs: Tensor,
    old_logprobs: Tensor,
    advantages: Tensor,
    mask: Tensor,
    *,
    epsilon: float = 0.2,
    epsilon_high: float | None = None,
    beta: float = 0.0,
    ref_logprobs: Tensor | None = None,
    kl: KLKind = "k3",
    aggregation: Aggregation = "sequence",
    max_length: int | None = None,
    clip_ratio_c: float | None = None,
    num_items: float | None = None,
) -> tuple[Tensor, dict[str, float]]:
    """Return ``(loss, stats)``: the scalar to minimise (minus eq. 3.1's objective) and floats.

    Shapes: ``logprobs``, ``old_logprobs``, ``ref_logprobs``, ``mask``: ``[B, T]``;
    ``advantages``: ``[B]`` (outcome, eq. 3.5) or ``[B, T]`` (process, eq. 3.7).

    - ``epsilon_high`` (default ``epsilon``) is the upper clip bound; larger = DAPO clip-higher.
    - ``clip_ratio_c`` (> 1) enables dual-clip: where A < 0 the per-token objective is floored at
      ``clip_ratio_c * A`` so a huge ratio on a bad token cannot blow up the loss.
    - ``num_items`` is the *global* normaliser (unmasked tokens for ``"token"``, sequences for
      ``"sequence"`` / ``"constant"``). Pass it when a batch is split into micro-batches or across
      processes: the micro-batch losses then add up exactly to the full-batch loss.
    - ``max_length`` is the ``"constant"`` denominator's length (default: ``T``).

    Masked tokens contribute nothing to the value or the gradient, whatever they hold (even
    NaN or inf). ``old_logprobs`` and ``ref_logprobs`` are treated as constants.
    """
    mask, adv = _check_inputs(logprobs, old_logprobs, advantages, mask, ref_logprobs, beta)
    eps_high = epsilon if epsilon_high is None else epsilon_high
    if clip_ratio_c is not None and clip_ratio_c <= 1.0:
        raise ValueError(f"clip_ratio_c must be > 1, got {clip_ratio_c}")
    zero = torch.zeros((), dtype=logprobs.dtype, device=logprobs.device)
    logp = torch.where(mask, logprobs, zero)  # masked entries can hold anything, even NaN
    old = torch.where(mask, old_logprobs.detach(), zero)
    adv = torch.where(mask, adv.detach(), zero)

    ratio = torch.exp(logp - old)  # r_{i,t}(theta), eq. 3.2
    surrogate = torch.minimum(ratio * adv, ratio.clamp(1 - epsilon, 1 + eps_high) * adv)
    if clip_ratio_c is not None:
        surrogate = torch.where(adv < 0, torch.maximum(surrogate, clip_ratio_c * adv), surrogate)
    objective = surrogate
    kl_tokens = None
    if ref_logprobs is not None:
        ref = torch.where(mask, ref_logprobs.detach(), zero)
        kl_tokens = kl_penalty(logp, ref, kl)  # eq. 1.9 for k3
        if beta:
            objective = objective - beta * kl_tokens  # eq. 3.1
    token_loss = torch.where(mask, -objective, zero)
    loss = _aggregate(token_loss, mask, aggregation, max_length, num_items)
    stats = _stats(ratio, adv, mask, kl_tokens, epsilon, eps_high, clip_ratio_c)
    return loss, stats


def _check_inputs(
    logprobs: Tensor,
    old_logprobs: Tensor,
    advantages: Tensor,
    mask: Tensor,
    ref_logprobs: Tensor | None,
    beta: float,
) -> tuple[Tensor, Tensor]:
    """Validate shapes; return the boolean mask and advantages broadcast to ``[B, T]``."""
    if logprobs.dim() != 2:
        raise ValueError(f"logprobs must be [B, T], got {tuple(logprobs.shape)}")
    named = {"old_logprobs": old_logprobs, "mask": mask}
    if ref_logprobs is not None:
        named["ref_logprobs"] = ref_logprobs
    for name, t in named.items():
        if t.shape != logprobs.shape:
            raise ValueError(f"{name} {tuple(t.shape)} != logprobs {tuple(logprobs.shape)}")
    if beta and ref_logprobs is None:
        raise ValueError("beta != 0 needs ref_logprobs for the KL term")
    if advantages.dim() == 1 and advantages.shape[0] == logprobs.shape[0]:
        advantages = advantages[:, None].expand_as(logprobs)
    elif advantages.shape != logprobs.shape:
        raise ValueError(
            f"advantages must be [B] or [B, T] = {tuple(logprobs.shape)}, "
            f"got {tuple(advantages.shape)}"
        )
    return mask.bool(), advantages.to(logprobs.dtype)


def _aggregate(
    token_loss: Tensor,
    mask: Tensor,
    aggregation: Aggregation,
    max_length: int | None,
    num_items: float | None,
) -> Tensor:
    """Reduce ``[B, T]`` per-token losses to a scalar (the three aggregations of the module doc)."""
    batch, width = token_loss.shape
    if aggregation == "sequence":
        lengths = mask.sum(dim=1).clamp(min=1)  # |o_i|
        per_sequence = token_loss.sum(dim=1) / lengths
        return per_sequence.sum() / (batch if num_items is None else num_items)
    if aggregation == "token":
        tokens = mask.sum().clamp(min=1) if num_items is None else num_items
        return token_loss.sum() / tokens
    if aggregation == "constant":
        length = width if max_length is None else max_length
        sequences = batch if num_items is None else num_items
        return token_loss.sum() / (sequences * length)
    raise ValueError(f"aggregation must be 'sequence', 'token' or 'constant', got {aggregation!r}")


@torch.no_grad()
def _stats(
    ratio: Tensor,
    adv: Tensor,
    mask: Tensor,
    kl_tokens: Tensor | None,
    eps_low: float,
    eps_high: float,
    clip_ratio_c: float | None,
) -> dict[str, float]:
    """Monitoring figures over the unmasked tokens (fractions of tokens, means)."""
    tokens = int(mask.sum())
    n = max(tokens, 1)

    def frac(cond: Tensor) -> float:
        return float((cond & mask).sum()) / n

    stats = {
        "tokens": float(tokens),
        "clip_frac_low": frac((ratio < 1 - eps_low) & (adv < 0)),
        "clip_frac_high": frac((ratio > 1 + eps_high) & (adv > 0)),
        "ratio_mean": float(torch.where(mask, ratio, 0).sum()) / n,
        "kl_mean": 0.0 if kl_tokens is None else float(torch.where(mask, kl_tokens, 0).sum()) / n,
    }
    if clip_ratio_c is not None:
        stats["dual_clip_frac"] = frac((adv < 0) & (ratio * adv < clip_ratio_c * adv))
    return stats
