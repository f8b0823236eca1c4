"""The embedded default policy: a tiny Llama with its own character-level tokenizer.

Nothing is downloaded. ``default_policy`` (grpo_core.training.embedded_default) returns the
directory of a ``save_pretrained`` model and tokenizer (loadable with ``AutoModelForCausalLM`` /
``AutoTokenizer``), building it on the first call: a fresh ``LlamaForCausalLM`` (4 layers, hidden
64, 4 heads, tied embeddings, 264k parameters) gets a short supervised warm start on the suite's
reference solutions (grpo_core.training.warm_start), stopped when a calibration set reaches a
target accuracy, so that GRPO then has signal. The result is cached in ``$GRPOKIT_CACHE``
(default ``~/.cache/grpokit``) under ``default-policy-<hash>``, the hash covering the
architecture, the warm start settings, the suite and its options; later runs load it in well
under a second. This module builds the model and tokenizer and holds the specs.

The tokenizer has one token per character of ``ALPHABET`` plus ``<pad>``, ``<eos>`` and ``<unk>``
(a ``tokenizers`` BPE model with no merges and a fusing decoder, wrapped as
``PreTrainedTokenizerFast``). It has no chat template, so prompts are used as they are.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: characters the embedded tokenizer knows, one token each
ALPHABET = "0123456789+-*= \n"
SPECIALS = ("<pad>", "<eos>", "<unk>")
#: bump when the build procedure changes, so stale caches are not reused
BUILD_VERSION = 1
INFO_FILE = "warm_start.json"


@dataclass(frozen=True)
class TinyModelSpec:
    """The architecture: a real ``LlamaConfig``, just small."""

    layers: int = 4
    hidden: int = 64
    heads: int = 4
    intermediate: int = 256
    max_positions: int = 64


@dataclass(frozen=True)
class WarmStartSpec:
    """Supervised warm start, stopped on a calibration target rather than a step count.

    On 3-digit addition the greedy accuracy sits near 0 for a few hundred steps (300-700 here,
    depending on the seed: the units digit is learnt last), then jumps to ~90 % within about 100
    steps, so a step count would land anywhere on that cliff. Measured choices
    (benchmarks/bench_default_train.py): stopping at 40 % leaves GRPO a policy that gains 20
    points in ~50 steps; at 20 % GRPO is slower and ends lower. Weight decay 0.3 shortens and
    steadies the plateau (mean 470 steps over seeds 0-3, ~650 without). Hidden 64 learns
    in as many steps as hidden 128 at half the cost per step.
    """

    target: float = 0.4  #: stop when greedy calibration accuracy reaches this
    calibration_rows: int = 256  #: train-split rows (own seed) never used for the warm start
    check_every: int = 4  #: SFT steps between calibration checks
    max_steps: int = 5000
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 0.3  #: shortens (and steadies) the plateau before the accuracy jump


@dataclass(frozen=True)
class DefaultPolicySpec:
    """What the cached default policy depends on (its hash names the cache directory)."""

    suite: str = "arithmetic"
    suite_options: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    model: TinyModelSpec = TinyModelSpec()
    warm_start: WarmStartSpec = WarmStartSpec()

    def digest(self) -> str:
        data = {"version": BUILD_VERSION, **asdict(self), "suite_options": dict(self.suite_options)}
        text = json.dumps(data, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def cache_root() -> Path:
    """``$GRPOKIT_CACHE`` or ``~/.cache/grpokit``."""
    env = os.environ.get("GRPOKIT_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "grpokit"


def build_tokenizer() -> Any:
    """The character-level tokenizer, as a ``PreTrainedTokenizerFast``."""
    from tokenizers import Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate([*SPECIALS, *ALPHABET])}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    core.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="<pad>",
        eos_token="<eos>",
        unk_token="<unk>",
        padding_side="left",
        model_max_length=TinyModelSpec().max_positions,
    )


def build_model(spec: TinyModelSpec, tokenizer: Any, seed: int) -> Any:
    """A freshly initialised ``LlamaForCausalLM`` for ``tokenizer``'s vocabulary."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden,
        intermediate_size=spec.intermediate,
        num_hidden_layers=spec.layers,
        num_attention_heads=spec.heads,
        num_key_value_heads=spec.heads,
        max_position_embeddings=spec.max_positions,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id
    )
    return model


def check_alphabet(texts: Mapping[str, str], where: str) -> None:
    """Fail when a text holds a character the embedded tokenizer cannot represent."""
    allowed = set(ALPHABET)
    for name, text in texts.items():
        bad = next((c for c in text if c not in allowed), None)
        if bad is not None:
            raise ValueError(
                f"{where}, field {name!r}: character {bad!r} is not in the embedded default "
                f"policy's alphabet {ALPHABET!r}; use a compact-style arithmetic suite or pass "
                f"--model"
            )
