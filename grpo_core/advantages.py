"""Group-relative advantages: outcome supervision (eq. 3.3-3.5) and process supervision (eq. 3.6-3.7).

Equation numbers are those of the GRPO textbook (README, References).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor

Scale = Literal["group", "batch", "none"]
Std = Literal["population", "sample"]


def _correction(std: Std) -> int:
    """Bessel correction for ``torch.std``: population divides by G (eq. 1.2/3.3), sample by G-1."""
    if std not in ("population", "sample"):
        raise ValueError(f"std must be 'population' or 'sample', got {std!r}")
    return 0 if std == "population" else 1


def outcome_advantages(
    rewards: Tensor | Sequence[float],
    group_size: int,
    *,
    scale: Scale = "group",
    std: Std = "population",
    eps: float = 1e-8,
) -> Tensor:
    """Outcome-supervision advantages, one per completion; every token of o_i shares A_i (eq. 3.5).

    ``rewards`` has shape ``[B]`` with the G completions of each prompt contiguous
    (``B = num_prompts * group_size``).

    - ``scale="group"``: A_i = (r_i - mean_g) / (std_g + eps)        (eq. 3.3, 3.4)
    - ``scale="batch"``: A_i = (r_i - mean_g) / (std_batch + eps)    (group mean, batch std)
    - ``scale="none"``:  A_i = r_i - mean_g                          (Dr. GRPO, no std division)

    ``std="population"`` divides the variance by G as in eq. 3.3; ``"sample"`` by G-1.
    A group whose rewards are all equal carries no signal (textbook 8.1) and gets exactly 0.
    """
    r = torch.as_tensor(rewards)
    if not r.is_floating_point():
        r = r.to(torch.get_default_dtype())
    if r.dim() != 1:
        raise ValueError(f"rewards must have shape [B], got {tuple(r.shape)}")
    if group_size < 1 or r.numel() % group_size:
        raise ValueError(
            f"rewards has {r.numel()} entries, not a multiple of group_size={group_size}"
        )
    if not torch.isfinite(r).all():
        raise ValueError("rewards contain NaN or infinity; refusing to compute advantages")
    correction = _correction(std)
    groups = r.view(-1, group_size)
    flat = (groups == groups[:, :1]).all(dim=1, keepdim=True)
    if group_size <= correction:  # a lone sample has no spread: every group is flat
        return torch.zeros_like(r)
    centered = groups - groups.mean(dim=1, keepdim=True)  # r_i - mu_g (eq. 4.3)
    if scale == "none":
        adv = centered
    elif scale == "group":
        sigma = groups.std(dim=1, correction=correction, keepdim=True)  # sigma_g (eq. 3.3)
        adv = centered / (sigma + eps)  # eq. 3.4
    elif scale == "batch":
        adv = centered / (r.std(correction=correction) + eps)
    else:
        raise ValueError(f"scale must be 'group', 'batch' or 'none', got {scale!r}")
    return adv.masked_fill(flat, 0.0).reshape(-1)


def process_advantages(
    step_rewards: Sequence[Sequence[float]],
    step_ends: Sequence[Sequence[int]],
    group_size: int,
    seq_len: int,
    *,
    std: Std = "population",
    eps: float = 1e-8,
) -> Tensor:
    """Process-supervision advantages ``[B, seq_len]`` (eq. 3.6, 3.7).

    ``step_rewards[i]`` and ``step_ends[i]`` are the rewards and 0-based end-token indices of
    completion i's reasoning steps (possibly empty). All step rewards of a group form the set R:

        r~_i^(j) = (r_i^(j) - mean(R)) / (std(R) + eps)                  (eq. 3.6)
        A[i, t]  = sum over steps j of o_i with index(j) >= t of r~_i^(j)   (eq. 3.7)

    A step ending at or beyond ``seq_len`` counts for every position. A group whose step rewards
    are all equal (or that has fewer than two) gets 0. Vectorised: one scatter and one reverse
    cumulative sum, no loop over tokens.
    """
    batch = len(step_rewards)
    if len(step_ends) != batch:
        raise ValueError(f"step_rewards has {batch} rows but step_ends has {len(step_ends)}")
    if group_size < 1 or batch % group_size:
        raise ValueError(f"{batch} completions is not a multiple of group_size={group_size}")
    counts = [len(r) for r in step_rewards]
    for i, (r, e) in enumerate(zip(step_rewards, step_ends, strict=True)):
        if len(r) != len(e):
            raise ValueError(f"completion {i}: {len(r)} step rewards but {len(e)} step ends")
    dtype = torch.get_default_dtype()
    values = torch.tensor([v for r in step_rewards for v in r], dtype=dtype)
    ends = torch.tensor([int(t) for e in step_ends for t in e], dtype=torch.long)
    rows = torch.repeat_interleave(torch.arange(batch), torch.tensor(counts, dtype=torch.long))
    if not torch.isfinite(values).all():
        raise ValueError("step rewards contain NaN or infinity")
    if (ends < 0).any():
        raise ValueError("step end indices must be >= 0")
    normed = _normalise_per_group(values, rows // group_size, batch // group_size, std, eps)
    per_end = torch.zeros(batch, seq_len, dtype=dtype)
    per_end.index_put_((rows, ends.clamp(max=seq_len - 1)), normed, accumulate=True)
    return per_end.flip(1).cumsum(1).flip(1)  # sum over index(j) >= t (eq. 3.7)


def _normalise_per_group(
    values: Tensor, group: Tensor, num_groups: int, std: Std, eps: float
) -> Tensor:
    """(v - mean(R_g)) / (std(R_g) + eps) with R_g the values of v's group; 0 for flat groups."""
    correction = _correction(std)
    n = torch.zeros(num_groups, dtype=values.dtype).index_add_(0, group, torch.ones_like(values))
    total = torch.zeros(num_groups, dtype=values.dtype).index_add_(0, group, values)
    mean = total / n.clamp(min=1)
    centered = values - mean[group]
    sq = torch.zeros(num_groups, dtype=values.dtype).index_add_(0, group, centered**2)
    sigma = (sq / (n - correction).clamp(min=1)).sqrt()
    lo = torch.full((num_groups,), float("inf"), dtype=values.dtype).scatter_reduce(
        0, group, values, reduce="amin"
    )
    hi = torch.full((num_groups,), float("-inf"), dtype=values.dtype).scatter_reduce(
        0, group, values, reduce="amax"
    )
    flat = (lo == hi) | (n <= correction)
    out = centered / (sigma[group] + eps)
    return out.masked_fill(flat[group], 0.0)
