"""The optimisation passes of one step (Algorithm 1, lines 10-11).

For mu passes: one optimiser step on the GRPO objective (eq. 3.1, ``grpo_loss``) over the whole
rollout, split into micro-batches whose gradients accumulate exactly: every micro-batch loss is
normalised by the *global* ``num_items`` (the rollout's sequence count, or its completion-token
count for the token aggregation), so the accumulated gradient is the full-batch gradient.

- Old-policy log-probs (eq. 3.2's denominator): with mu == 1 the policy has not moved when the
  loss is taken, so pi_old == pi_theta and the detached current log-probs are used (no extra
  forward, as TRL does); with mu > 1 they are computed once, before the first pass.
- Sequences whose advantage is 0 at every token (zero-variance groups) contribute exactly 0 to
  the clipped surrogate and its gradient; when there is no KL term they are left out of the
  forward and backward (``num_items`` still counts them, so nothing changes but the cost).
- A non-finite gradient norm skips the optimiser step (reported, never applied).
- Log-probs use logits divided by the sampling temperature (the policy that generated the
  completions), through the memory-lean ``token_logprobs``.
- Several processes (``accelerate launch``, grpo_core.training.distributed): ``num_items`` and the
  number of trainable sequences are summed over the processes; each micro-batch but the last
  runs under ``accelerator.no_sync`` so gradients are synchronised once per pass; the loss is
  back-propagated times P because the synchronisation averages, so the result is the gradient
  of the whole batch as one process would compute it. A process whose share has nothing to
  train joins the synchronisation with one zero-weighted micro-batch. The figures (loss, token
  means, entropy) are sums over the processes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from grpo_core.logprobs import token_entropy, token_logprobs
from grpo_core.loss import grpo_loss
from grpo_core.training.distributed import sum_dicts, sum_over_processes
from grpo_core.training.rollout import Rollout


@dataclass(frozen=True)
class PassSettings:
    """What the passes need from the configuration."""

    mu: int
    micro_batch_size: int
    temperature: float
    epsilon: float
    epsilon_high: float | None
    clip_ratio_c: float | None
    kl: str
    aggregation: str
    max_length: int
    max_grad_norm: float | None


def forward_logprobs(
    model: Any, rollout: Rollout, index: Tensor, temperature: float, entropy: bool = False
) -> tuple[Tensor, Tensor, Tensor | None]:
    """``(logprobs [b, w], mask [b, w], entropy [b, w] | None)`` of the completions ``index``;
    w is the micro-batch's trimmed completion width. Only the last w + 1 positions' logits are
    computed (``logits_to_keep``)."""
    device = next(model.parameters()).device
    ids, attn, positions, completion = (t.to(device) for t in rollout.sequences(index))
    width = completion.shape[1]
    logits = model(
        input_ids=ids,
        attention_mask=attn,
        position_ids=positions,
        logits_to_keep=width + 1,
        use_cache=False,
    ).logits[:, :-1]
    if temperature != 1.0:
        logits = logits / temperature
    logp = token_logprobs(logits, completion)
    ent = token_entropy(logits) if entropy else None
    mask = rollout.completions.mask[index, :width].to(device)
    return logp, mask, ent


@torch.no_grad()
def rollout_logprobs(
    model: Any, rollout: Rollout, chunks: Sequence[Tensor], temperature: float
) -> Tensor:
    """``[B, C]`` log-probs of the completions in ``chunks`` under ``model`` (no gradient); rows
    not in any chunk stay 0."""
    out = torch.zeros(rollout.completions.ids.shape, dtype=torch.float32)
    for index in chunks:
        logp, _, _ = forward_logprobs(model, rollout, index, temperature)
        out[index, : logp.shape[1]] = logp.float().cpu()
    return out


def normaliser(rollout: Rollout, aggregation: str) -> float:
    """grpo_loss's ``num_items`` of ``rollout``: completion tokens (token aggregation) or
    sequences. ``optimise`` sums it over the processes (an all-reduce) for the global one."""
    if aggregation == "token":
        return float(rollout.completions.mask.sum())
    return float(rollout.size)


def trainable_rows(advantages: Tensor, needs_all: bool) -> Tensor:
    """Indices of the sequences the passes must run on (all of them when a KL term is on)."""
    if needs_all:
        return torch.arange(advantages.shape[0])
    nonzero = advantages != 0  # NaN counts as non-zero: it must reach the loss and be caught
    per_row = nonzero if advantages.dim() == 1 else nonzero.any(dim=1)
    return per_row.nonzero().flatten()


def micro_batches(rows: Tensor, size: int) -> list[Tensor]:
    return list(rows.split(size))


class _Mean:
    """Token-weighted running means of grpo_loss's stats."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.weight = 0.0

    def add(self, stats: dict[str, float]) -> None:
        w = stats.get("tokens", 0.0)
        self.weight += w
        for k, v in stats.items():
            if k != "tokens":
                self.sums[k] = self.sums.get(k, 0.0) + v * w

    def totals(self) -> dict[str, float]:
        """Weighted sums and the weight, summable over processes (``from_totals``)."""
        return {"stat_weight": self.weight, **{f"stat_sum/{k}": v for k, v in self.sums.items()}}

    @staticmethod
    def from_totals(totals: dict[str, float]) -> dict[str, float]:
        """The means from (summed) ``totals``."""
        weight = totals.get("stat_weight", 0.0)
        if not weight:
            return {}
        prefix = "stat_sum/"
        return {k[len(prefix) :]: v / weight for k, v in totals.items() if k.startswith(prefix)}


def optimise(
    model: Any,
    optimizer: Any,
    accelerator: Any,
    rollout: Rollout,
    advantages: Tensor,
    settings: PassSettings,
    *,
    beta: float = 0.0,
    ref_logprobs: Tensor | None = None,
) -> dict[str, Any]:
    """Run the mu passes; return the step's optimisation figures (``skipped`` when no update).

    Under several processes ``rollout`` is this process's share: ``num_items`` and the figures
    are summed over the processes and the gradient is the whole batch's (module docstring)."""
    rows = trainable_rows(advantages, needs_all=ref_logprobs is not None)
    trained, num_items = sum_over_processes(
        accelerator, [float(rows.numel()), normaliser(rollout, settings.aggregation)]
    )
    if trained == 0:
        return {"skipped": True, "skip_reason": "every group has zero reward variance"}
    idle = rows.numel() == 0  # other processes train: join their gradient sync with 0 x loss
    chunks = micro_batches(torch.arange(1) if idle else rows, settings.micro_batch_size)
    old = None
    if settings.mu > 1:  # pi_old differs from pi_theta after the first pass
        old = rollout_logprobs(model, rollout, chunks, settings.temperature)
    stats, entropy, losses, norms = _Mean(), [0.0, 0.0], [], []
    updates = 0
    model.train()
    for pass_index in range(settings.mu):
        optimizer.zero_grad(set_to_none=True)
        total = 0.0
        for k, index in enumerate(chunks):
            last = k == len(chunks) - 1  # gradients are synchronised once, on the last one
            with contextlib.nullcontext() if last else accelerator.no_sync(model):
                loss, st, ent = _micro_step(
                    model,
                    rollout,
                    index,
                    advantages,
                    old,
                    ref_logprobs,
                    settings,
                    beta,
                    num_items,
                    pass_index == 0,
                )
                accelerator.backward(_process_scaled(accelerator, loss, idle))
            if idle:
                continue
            total += float(loss.detach())
            stats.add(st)
            if ent is not None:
                entropy[0] += ent[0]
                entropy[1] += ent[1]
        norm = _clip(accelerator, model, settings.max_grad_norm)
        losses.append(total)
        norms.append(norm)
        if not torch.isfinite(torch.tensor(norm)):
            optimizer.zero_grad(set_to_none=True)
            break
        optimizer.step()
        updates += 1
    optimizer.zero_grad(set_to_none=True)
    sums = sum_dicts(
        accelerator,
        {"loss": losses[0], "entropy": entropy[0], "entropy_tokens": entropy[1], **stats.totals()},
    )
    out = {
        "skipped": updates == 0,
        "skip_reason": None if updates else "non-finite gradient norm",
        "updates": updates,
        "loss": sums.pop("loss"),
        "grad_norm": norms[0],
        "trained_sequences": int(trained),
        "entropy": _ratio(sums.pop("entropy"), sums.pop("entropy_tokens")),
        **_Mean.from_totals(sums),
    }
    if updates < settings.mu and updates:
        out["skip_reason"] = f"non-finite gradient norm after {updates} of {settings.mu} passes"
    return out


def _process_scaled(accelerator: Any, loss: Tensor, idle: bool) -> Tensor:
    """The loss to back-propagate: 0 x loss on an idle process; P x loss under P processes,
    since the gradient sync averages over processes while the losses add up to the batch's."""
    if idle:
        return loss * 0.0
    processes = accelerator.num_processes
    return loss * processes if processes > 1 else loss


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def _micro_step(
    model: Any,
    rollout: Rollout,
    index: Tensor,
    advantages: Tensor,
    old: Tensor | None,
    ref: Tensor | None,
    s: PassSettings,
    beta: float,
    num_items: float,
    with_entropy: bool,
) -> tuple[Tensor, dict[str, float], tuple[float, float] | None]:
    logp, mask, ent = forward_logprobs(model, rollout, index, s.temperature, with_entropy)
    width, device = logp.shape[1], logp.device
    adv = advantages[index] if advantages.dim() == 1 else advantages[index, :width]
    loss, stats = grpo_loss(
        logp,
        logp.detach() if old is None else old[index, :width].to(device),
        adv.to(device),
        mask,
        epsilon=s.epsilon,
        epsilon_high=s.epsilon_high,
        beta=beta,
        ref_logprobs=None if ref is None else ref[index, :width].to(device),
        kl=s.kl,
        aggregation=s.aggregation,
        max_length=s.max_length,
        clip_ratio_c=s.clip_ratio_c,
        num_items=num_items,
    )
    ent_sum = None
    if ent is not None:
        ent_sum = (float(torch.where(mask, ent, 0).sum()), float(mask.sum()))
    return loss, stats, ent_sum


def _clip(accelerator: Any, model: Any, max_norm: float | None) -> float:
    """Clip the gradient norm to ``max_norm`` (when set); return the norm before clipping.
    All parameters are passed (accelerate recognises a sharded FSDP model by its full list;
    parameters without a gradient are ignored)."""
    if not any(p.grad is not None for p in model.parameters()):
        return 0.0
    norm = accelerator.clip_grad_norm_(list(model.parameters()), max_norm or float("inf"))
    return float(norm)
