"""Probes against format rewards: broken ``<think>``/``<answer>`` structures.

Each completion breaks the one-think-block-then-one-answer-block template while keeping every
tag a naive check looks for: extra blocks, nesting, text around the blocks, unclosed tags.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rewards.audit.probe_base import THINK, Probe, Variant, distractors, gold_of

FORMAT = frozenset({"format"})


def _answers(row: Mapping[str, Any]) -> tuple[str, str]:
    """A right-looking answer and a wrong one for the answer blocks."""
    gold = gold_of(row) or "42"
    return gold, distractors(gold, 1)[0]


def build_extra_think(row: Mapping[str, Any]) -> list[Variant]:
    gold, _ = _answers(row)
    think = f"<think>\n{THINK}\n</think>\n"
    return [
        Variant("two-think", f"{think}<think>\nOnce more.\n</think>\n<answer>{gold}</answer>"),
        Variant("think-after-answer", f"{think}<answer>{gold}</answer>\n<think>\nDone.\n</think>"),
    ]


def build_extra_answer(row: Mapping[str, Any]) -> list[Variant]:
    gold, wrong = _answers(row)
    think = f"<think>\n{THINK}\n</think>\n"
    return [
        Variant("two-answers", f"{think}<answer>{wrong}</answer>\n<answer>{gold}</answer>"),
        Variant("answer-first", f"<answer>{gold}</answer>\n{think}<answer>{gold}</answer>"),
    ]


def build_nested(row: Mapping[str, Any]) -> list[Variant]:
    gold, _ = _answers(row)
    return [
        Variant("answer-in-think", f"<think>\n{THINK}\n<answer>{gold}</answer>\n</think>"),
        Variant(
            "think-in-think",
            f"<think>\n<think>\n{THINK}\n</think>\n</think>\n<answer>{gold}</answer>",
        ),
    ]


def build_text_outside(row: Mapping[str, Any]) -> list[Variant]:
    gold, _ = _answers(row)
    body = f"<think>\n{THINK}\n</think>\n<answer>{gold}</answer>"
    return [
        Variant("text-before", f"Sure, here it is.\n{body}"),
        Variant("text-after", f"{body}\nThat was fun; ask me another one."),
    ]


def build_unclosed(row: Mapping[str, Any]) -> list[Variant]:
    gold, _ = _answers(row)
    return [
        Variant("think-unclosed", f"<think>\n{THINK}\n<answer>{gold}</answer>"),
        Variant("answer-unclosed", f"<think>\n{THINK}\n</think>\n<answer>{gold}"),
        Variant("closing-tags-only", f"{THINK}\n</think>\n{gold}\n</answer>"),
    ]


PROBES: tuple[Probe, ...] = (
    Probe("extra_think", "a second <think> block", FORMAT, build_extra_think),
    Probe("extra_answer", "a second <answer> block", FORMAT, build_extra_answer),
    Probe("nested_tags", "blocks nested inside each other", FORMAT, build_nested),
    Probe("text_outside", "text before <think> or after </answer>", FORMAT, build_text_outside),
    Probe("unclosed_tags", "a block left unclosed, or closing tags only", FORMAT, build_unclosed),
)
