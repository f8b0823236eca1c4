"""A one-minute GRPO demo on synthetic tensors: a bandit "language model" learns to answer.

Each of ``prompts`` questions has one correct answer among ``vocab`` single-token answers.
The policy is a table of logits. Every step follows Algorithm 1 (textbook ch. 6): freeze the
old policy, sample G answers per prompt, reward 1 for the right one, group-relative
advantages (eq. 3.3-3.5), then ``mu`` passes of the clipped loss (eq. 3.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from grpo_core.advantages import outcome_advantages
from grpo_core.logprobs import token_logprobs
from grpo_core.loss import grpo_loss


@dataclass
class DemoConfig:
    prompts: int = 16
    vocab: int = 32
    group_size: int = 8
    steps: int = 60
    mu: int = 2
    lr: float = 0.5
    seed: int = 0


def run_demo(cfg: DemoConfig, log=print) -> list[float]:
    """Train the bandit policy; return the greedy accuracy after each step."""
    gen = torch.Generator().manual_seed(cfg.seed)
    correct = torch.randint(cfg.vocab, (cfg.prompts,), generator=gen)
    logits = torch.zeros(cfg.prompts, cfg.vocab, requires_grad=True)
    opt = torch.optim.Adam([logits], lr=cfg.lr)
    history = []
    for step in range(1, cfg.steps + 1):
        with torch.no_grad():  # sample G answers per prompt from pi_old
            probs = logits.softmax(-1).repeat_interleave(cfg.group_size, 0)
            answers = torch.multinomial(probs, 1, generator=gen)  # [B, 1]
            prompt_of = torch.arange(cfg.prompts).repeat_interleave(cfg.group_size)
            rewards = (answers[:, 0] == correct[prompt_of]).float()
            old = token_logprobs(logits[prompt_of, None, :], answers)
        adv = outcome_advantages(rewards, cfg.group_size)
        for _ in range(cfg.mu):
            logp = token_logprobs(logits[prompt_of, None, :], answers)
            loss, stats = grpo_loss(logp, old, adv, torch.ones_like(logp, dtype=torch.bool))
            opt.zero_grad()
            loss.backward()
            opt.step()
        accuracy = float((logits.argmax(-1) == correct).float().mean())
        history.append(accuracy)
        if step == 1 or step % 10 == 0:
            log(
                f"step {step:3d}  reward {rewards.mean():.3f}  greedy accuracy {accuracy:.3f}  "
                f"clip_high {stats['clip_frac_high']:.3f}  ratio {stats['ratio_mean']:.3f}"
            )
    return history
