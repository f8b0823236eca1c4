"""Supervised warm start of the embedded default policy, stopped on a calibration target.

Cross-entropy on the suite's reference ``solution`` (plus EOS) given the prompt, on train-split
rows. Every ``check_every`` steps the greedy accuracy on a separate calibration set (train-split
rows drawn with another seed, removed from the warm-start data) is measured, and training stops
as soon as it reaches ``target``. The check needs no generation: greedy decoding reproduces the
reference exactly if and only if, teacher-forced on the reference, the argmax at every answer
position (EOS included) is the reference token, so one forward pass gives the exact-match
accuracy of greedy decoding.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from grpo_core.training.tiny_model import DefaultPolicySpec, check_alphabet

IGNORE = -100
#: the calibration rows are drawn from the train split with seed + CALIBRATION_SEED_OFFSET
CALIBRATION_SEED_OFFSET = 7919
#: a progress line every this many warm-start steps
PROGRESS_EVERY = 100


def encode_supervised(tokenizer: Any, rows: Sequence[dict]) -> tuple[Tensor, Tensor]:
    """Right-padded ``[N, L]`` ids of prompt + solution + EOS, and labels (IGNORE on prompts)."""
    prompts = tokenizer([r["prompt"] for r in rows], add_special_tokens=False)["input_ids"]
    answers = tokenizer([r["solution"] for r in rows], add_special_tokens=False)["input_ids"]
    width = max(len(p) + len(a) + 1 for p, a in zip(prompts, answers, strict=True))
    ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    for i, (p, a) in enumerate(zip(prompts, answers, strict=True)):
        seq = p + a + [tokenizer.eos_token_id]
        ids[i, : len(seq)] = torch.tensor(seq)
        labels[i, len(p) : len(seq)] = torch.tensor(a + [tokenizer.eos_token_id])
    return ids, labels


def supervised_loss(model: Any, ids: Tensor, labels: Tensor) -> Tensor:
    """Mean next-token cross-entropy over the labelled (answer) positions."""
    logits = model(input_ids=ids).logits[:, :-1]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1))


@torch.no_grad()
def greedy_exact_match(model: Any, ids: Tensor, labels: Tensor, batch_size: int = 1024) -> float:
    """Share of rows whose greedy continuation is exactly the reference (module docstring)."""
    was_training = model.training
    model.eval()
    hits = 0
    for start in range(0, ids.shape[0], batch_size):
        x, y = ids[start : start + batch_size], labels[start : start + batch_size, 1:]
        pred = model(input_ids=x).logits[:, :-1].argmax(-1)
        ok = (pred == y) | (y == IGNORE)
        hits += int(ok.all(dim=1).sum())
    model.train(was_training)
    return hits / max(ids.shape[0], 1)


def _rows(spec: DefaultPolicySpec) -> tuple[list[dict], list[dict]]:
    """(warm-start rows, calibration rows), disjoint, both from the train split."""
    from rewards import get_plugins

    ws = spec.warm_start
    suite = get_plugins().suite(spec.suite, **dict(spec.suite_options))
    calibration = suite.rows(
        "train", seed=spec.seed + CALIBRATION_SEED_OFFSET, limit=ws.calibration_rows
    )
    held = {r["prompt"] for r in calibration}
    train = [r for r in suite.rows("train", seed=spec.seed) if r["prompt"] not in held]
    if len(train) < ws.batch_size:
        raise ValueError(
            f"suite {spec.suite!r} has {len(train)} train rows for the warm start, "
            f"fewer than its batch size {ws.batch_size}"
        )
    for i, row in enumerate(train[:1000] + calibration):
        check_alphabet({"prompt": row["prompt"], "solution": row["solution"]}, f"row {i}")
    return train, calibration


def warm_start(
    model: Any, tokenizer: Any, spec: DefaultPolicySpec, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Train ``model`` in place until the calibration target; return what happened."""
    ws = spec.warm_start
    start = time.perf_counter()
    train, calibration = _rows(spec)
    ids, labels = encode_supervised(tokenizer, train)
    cal_ids, cal_labels = encode_supervised(tokenizer, calibration)
    gen = torch.Generator().manual_seed(spec.seed)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=ws.lr, betas=(0.9, 0.99), weight_decay=ws.weight_decay
    )
    model.train()
    order, cursor = torch.randperm(len(train), generator=gen), 0
    history: list[tuple[int, float]] = []
    accuracy, step = greedy_exact_match(model, cal_ids, cal_labels), 0
    while accuracy < ws.target and step < ws.max_steps:
        if cursor + ws.batch_size > len(order):
            order, cursor = torch.randperm(len(train), generator=gen), 0
        batch = order[cursor : cursor + ws.batch_size]
        cursor += ws.batch_size
        loss = supervised_loss(model, ids[batch], labels[batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        if step % ws.check_every == 0:
            accuracy = greedy_exact_match(model, cal_ids, cal_labels)
            history.append((step, round(accuracy, 4)))
        if step % PROGRESS_EVERY == 0:
            log(
                f"warm start: step {step}, loss {float(loss):.3f}, calibration accuracy "
                f"{accuracy:.1%} (stops at {ws.target:.0%})"
            )
    seconds = time.perf_counter() - start
    reached = accuracy >= ws.target
    log(
        f"warm start: calibration accuracy {accuracy:.1%} after {step} steps "
        f"({seconds:.1f}s){'' if reached else f'; target {ws.target:.0%} not reached'}"
    )
    model.eval()
    return {
        "warm_start_steps": step,
        "calibration_accuracy": accuracy,
        "target_reached": reached,
        "warm_start_seconds": round(seconds, 3),
        "history": history,
    }
