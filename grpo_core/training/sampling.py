"""Prompt encoding and completion sampling with transformers ``generate`` (Algorithm 1, line 7).

Prompts are wrapped in the tokenizer's chat template when it has one (a single user turn plus
the generation prompt), else used as they are. They are left-padded so that every completion
starts at the same column. A prompt longer than the budget (``max_prompt_length``, by default the
context length minus ``max_new_tokens``) is cut from the left, keeping its end, and counted; with
``truncation="error"`` it raises ``PromptTooLongError`` naming the row instead.

Sampling is fully determined by ``SamplingParams``: the model's own ``generation_config``
defaults (a Hub model may ship e.g. a repetition penalty) are not applied, since the policy
gradient needs completions drawn from the policy itself. A completion ends at its first EOS, which
belongs to it (the policy learns when to stop); one that reaches ``max_new_tokens`` without an
EOS is "truncated". An "empty" completion is a lone EOS: its text is "" and it is trained like
any other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor


class PromptTooLongError(ValueError):
    """A prompt exceeds the budget and truncation is "error"; names the row and the lengths."""


@dataclass(frozen=True)
class SamplingParams:
    """How completions are drawn: sampled (temperature, top-p, top-k) or greedy."""

    max_new_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0  #: 0 = off
    greedy: bool = False


@dataclass
class Prompts:
    """Left-padded prompt ids ``[N, P]`` and their attention mask, plus how many were cut."""

    ids: Tensor
    mask: Tensor
    truncated: int = 0


@dataclass
class Completions:
    """Sampled completions ``[B, C]``: ids (pad after the end), mask (up to and incl. EOS)."""

    ids: Tensor
    mask: Tensor
    texts: list[str]
    truncated: Tensor  #: [B] bool, no EOS within max_new_tokens

    @property
    def lengths(self) -> Tensor:
        return self.mask.sum(dim=1)


def prompt_texts(
    tokenizer: Any, rows: Sequence[Mapping[str, Any]], chat_template: bool
) -> list[str]:
    """The text fed to the model for each row (chat-templated when possible)."""
    if chat_template and getattr(tokenizer, "chat_template", None):
        return [
            tokenizer.apply_chat_template(
                [{"role": "user", "content": str(r["prompt"])}],
                tokenize=False,
                add_generation_prompt=True,
            )
            for r in rows
        ]
    return [str(r["prompt"]) for r in rows]


def prompt_budget(model: Any, max_new_tokens: int, max_prompt_length: int | None) -> int | None:
    """Longest prompt allowed: ``max_prompt_length`` or the context minus ``max_new_tokens``."""
    if max_prompt_length is not None:
        return max_prompt_length
    context = getattr(model.config, "max_position_embeddings", None)
    if context is None:
        return None
    budget = context - max_new_tokens
    if budget < 1:
        raise ValueError(
            f"max_new_tokens={max_new_tokens} leaves no room in the context ({context})"
        )
    return budget


def encode_prompts(
    tokenizer: Any,
    rows: Sequence[Mapping[str, Any]],
    *,
    chat_template: bool = True,
    budget: int | None = None,
    truncation: Literal["left", "error"] = "left",
) -> Prompts:
    """Tokenise, cut to ``budget`` (module docstring) and left-pad the prompts of ``rows``."""
    templated = chat_template and bool(getattr(tokenizer, "chat_template", None))
    texts = prompt_texts(tokenizer, rows, chat_template)
    encoded = tokenizer(texts, add_special_tokens=not templated)["input_ids"]
    cut = 0
    for i, ids in enumerate(encoded):
        if not ids:
            raise ValueError(f"row {_row_name(rows[i], i)}: the prompt encodes to no tokens")
        if budget is not None and len(ids) > budget:
            if truncation == "error":
                raise PromptTooLongError(
                    f"row {_row_name(rows[i], i)}: prompt has {len(ids)} tokens, more than the "
                    f"{budget} allowed (max_prompt_length, or context minus max_new_tokens); "
                    f"set prompt_truncation=left to keep its end"
                )
            encoded[i], cut = ids[-budget:], cut + 1
    return Prompts(*left_pad(encoded, _pad_id(tokenizer)), truncated=cut)


def left_pad(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[Tensor, Tensor]:
    """``[N, max_len]`` ids padded on the left with ``pad_id``, and the 0/1 mask."""
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for i, seq in enumerate(sequences):
        if seq:
            ids[i, width - len(seq) :] = torch.as_tensor(seq, dtype=torch.long)
            mask[i, width - len(seq) :] = 1
    return ids, mask


def eos_ids(model: Any, tokenizer: Any) -> list[int]:
    """Every id that ends a completion: the tokenizer's EOS and the model's generation EOS."""
    ids = set()
    for value in (tokenizer.eos_token_id, getattr(model.generation_config, "eos_token_id", None)):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list | tuple):
            ids.update(int(v) for v in value)
    if not ids:
        raise ValueError("the tokenizer has no EOS token: completions could never end")
    return sorted(ids)


def isolate_generation_config(model: Any, tokenizer: Any) -> Any:
    """Replace ``model.generation_config`` by one holding only the special-token ids, so that no
    shipped sampling default leaks into ``generate``; return the original (restore it before
    saving)."""
    from transformers import GenerationConfig

    original = model.generation_config
    model.generation_config = GenerationConfig(
        eos_token_id=eos_ids(model, tokenizer),
        pad_token_id=_pad_id(tokenizer),
        bos_token_id=getattr(original, "bos_token_id", None),
    )
    return original


@torch.no_grad()
def generate(
    model: Any, tokenizer: Any, prompts: Prompts, params: SamplingParams, repeat: int = 1
) -> Completions:
    """Sample ``repeat`` completions per prompt (contiguous: rows i*repeat ... are prompt i's)."""
    from transformers import GenerationConfig

    repeated = repeat_prompts(prompts, repeat)
    ids, mask = repeated.ids, repeated.mask
    device = next(model.parameters()).device
    stops = eos_ids(model, tokenizer)
    config = GenerationConfig(
        max_new_tokens=params.max_new_tokens,
        do_sample=not params.greedy,
        temperature=None if params.greedy else params.temperature,
        top_p=None if params.greedy else params.top_p,
        top_k=None if params.greedy else params.top_k,
        repetition_penalty=1.0,
        num_beams=1,
        eos_token_id=stops,
        pad_token_id=_pad_id(tokenizer),
        use_cache=True,
    )
    was_training = model.training
    model.eval()
    out = model.generate(
        input_ids=ids.to(device), attention_mask=mask.to(device), generation_config=config
    )
    model.train(was_training)
    return split_completions(out[:, ids.shape[1] :].cpu(), stops, _pad_id(tokenizer), tokenizer)


def repeat_prompts(prompts: Prompts, times: int) -> Prompts:
    """Each prompt repeated ``times`` times in a row (the order of a rollout's groups)."""
    if times == 1:
        return prompts
    return Prompts(
        prompts.ids.repeat_interleave(times, dim=0),
        prompts.mask.repeat_interleave(times, dim=0),
        prompts.truncated,
    )


def split_completions(
    raw: Tensor, stops: Sequence[int], pad_id: int, tokenizer: Any
) -> Completions:
    """Cut each generated row after its first EOS; mask, texts and the truncated flags."""
    is_stop = torch.isin(raw, torch.as_tensor(list(stops), dtype=raw.dtype))
    seen_before = is_stop.long().cumsum(dim=1) - is_stop.long()  # stops strictly before t
    mask = seen_before == 0  # up to and including the first stop
    truncated = ~(is_stop & mask).any(dim=1)
    ids = raw.masked_fill(~mask, pad_id)
    body = mask & ~is_stop
    texts = tokenizer.batch_decode(
        [row[keep].tolist() for row, keep in zip(ids, body, strict=True)],
        skip_special_tokens=True,
    )
    return Completions(ids=ids, mask=mask, texts=texts, truncated=truncated)


def _pad_id(tokenizer: Any) -> int:
    if tokenizer.pad_token_id is not None:
        return int(tokenizer.pad_token_id)
    if tokenizer.eos_token_id is not None:
        return int(tokenizer.eos_token_id)
    raise ValueError("the tokenizer has neither a pad nor an EOS token")


def _row_name(row: Mapping[str, Any], index: int) -> str:
    return f"{index} (id {row['id']!r})" if "id" in row else str(index)
