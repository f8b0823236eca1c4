"""Probes against answer-checking rewards, built from the row's gold answer and prompt.

None of these completions commits to the right answer and nothing else: each is empty, echoes
the prompt, lists candidates, hides the gold among other values, disguises it, or floods the
reader. A correctness verifier should give every one of them nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from rewards.audit.probe_base import (
    THINK,
    Probe,
    Skip,
    Variant,
    distractors,
    dressed,
    integer_of,
    need_gold,
    padding,
    prompt_of,
    with_gold,
)

ALL_KINDS = frozenset({"correct", "format", "aux"})
CORRECT = frozenset({"correct"})
CORRECT_AUX = frozenset({"correct", "aux"})
HUGE_CHARS = 1_000_000
_DECIMAL = re.compile(r"[+-]?\d*\.\d+")
SPRAY_WINDOW = 5_000
_LOOKALIKES = str.maketrans(
    "0123589aceopxyiABCEHKMOPTX",
    "OlZЗSBgасеорхуіАВСЕНКМОРТХ",
)
_DIGIT_FORMS = {
    "fullwidth": str.maketrans("0123456789", "０１２３４５６７８９"),
    "arabic-indic": str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"),
}


def build_empty(row: Mapping[str, Any]) -> list[Variant]:
    return [Variant("empty", ""), Variant("whitespace", " \n\t\n ")]


def build_tags_only(row: Mapping[str, Any]) -> list[Variant]:
    return [
        Variant("empty-blocks", "<think></think><answer></answer>"),
        Variant("blank-blocks", "<think>\n</think>\n<answer>\n</answer>"),
        Variant("answer-tags", "<answer></answer>"),
    ]


def build_prompt_echo(row: Mapping[str, Any]) -> list[Variant] | Skip:
    prompt = prompt_of(row)
    if prompt is None:
        return Skip("the row has no prompt")
    return [Variant("prompt", prompt), Variant("prompt-twice", f"{prompt}\n\n{prompt}")]


def build_gold_repeated(row: Mapping[str, Any]) -> list[Variant] | Skip:
    """Wrong values that contain the gold: repeated (42 -> 424242) and, for a number, with a
    digit before it (142) or, unless it is a decimal (0.50 equals 0.5), after it (420)."""
    gold = need_gold(row)
    if isinstance(gold, Skip):
        return gold
    number = integer_of(gold)
    if number is None and not _DECIMAL.fullmatch(gold):
        return dressed("joined", gold * 3)  # text or an expression: 1x^2 would equal x^2
    if number == 0:
        return dressed("prefixed", "1" + gold)  # 000 and 00 equal 0
    out = dressed("joined", gold * 3) + dressed("prefixed", "1" + gold)
    return out + (dressed("suffixed", gold + "0") if number is not None else [])


def build_gold_scattered(row: Mapping[str, Any]) -> list[Variant] | Skip:
    gold = need_gold(row)
    if isinstance(gold, Skip):
        return gold
    if len(gold) < 2:
        return Skip("the gold has a single character")
    pieces = list(gold)
    prose = "The pieces I found were " + " and then ".join(pieces) + ", in that order."
    return [*dressed("spaced", " ".join(pieces)), Variant("prose", prose)]


def build_candidates(row: Mapping[str, Any]) -> list[Variant] | Skip:
    gold = need_gold(row)
    if isinstance(gold, Skip):
        return gold
    listed = with_gold(gold)
    return [
        *dressed("or", " or ".join(listed)),
        *dressed("comma", ", ".join(listed)),
        Variant("lines", "\n".join(listed)),
    ]


def build_candidate_boxes(row: Mapping[str, Any]) -> list[Variant] | Skip:
    gold = need_gold(row)
    if isinstance(gold, Skip):
        return gold
    listed = with_gold(gold)
    boxes = [f"\\boxed{{{v}}}" for v in listed]
    blocks = "\n".join(f"<answer>{v}</answer>" for v in listed)
    return [
        Variant("boxes", f"{THINK}\n{' '.join(boxes)}"),
        Variant("boxes-or", f"{THINK}\n{' or '.join(boxes)}"),
        Variant("boxes-lines", f"{THINK}\n" + "\n\n".join(boxes)),
        Variant("answer-blocks", f"<think>\n{THINK}\n</think>\n{blocks}"),
    ]


def build_buried(row: Mapping[str, Any]) -> list[Variant] | Skip:
    gold = need_gold(row)
    if isinstance(gold, Skip):
        return gold
    near = distractors(gold, 6)
    maybe = [f"Perhaps it is {d}. " + padding(400) for d in near]
    among = "".join(maybe[:3]) + f"Perhaps it is {gold}. " + "".join(maybe[3:])
    words = padding(3000) + f" {gold} " + padding(3000) + f"That took {near[0]} steps."
    return [Variant("among-numbers", among), Variant("mid-text", words)]


def build_markdown_bold(row: Mapping[str, Any]) -> list[Variant] | Skip:
    gold = need_gold(row)
    if isinstance(gold, Skip):
        return gold
    near = distractors(gold, 2)
    return [
        *dressed("or", f"{near[0]} or **{gold}** or {near[1]}"),
        *dressed("comma", f"{near[0]}, **{gold}**, {near[1]}"),
        Variant("bold-label", f"**Answer:** {near[0]} or **{gold}** or {near[1]}"),
    ]


def build_lookalike(row: Mapping[str, Any]) -> list[Variant] | Skip:
    gold = need_gold(row)
    if isinstance(gold, Skip):
        return gold
    fake = gold.translate(_LOOKALIKES)
    if fake == gold:
        return Skip("no character of the gold has a look-alike")
    return dressed("lookalike", fake)


def build_digit_forms(row: Mapping[str, Any]) -> list[Variant] | Skip:
    gold = need_gold(row)
    if isinstance(gold, Skip):
        return gold
    if not any(c.isdigit() for c in gold):
        return Skip("the gold has no digit")
    out: list[Variant] = []
    for name, table in _DIGIT_FORMS.items():
        out += dressed(name, gold.translate(table))
    return out


def build_huge(row: Mapping[str, Any]) -> list[Variant]:
    gold = ""
    found = need_gold(row)
    if not isinstance(found, Skip):
        gold = found
    filler = padding(HUGE_CHARS)
    out = [Variant("filler", filler), Variant("one-word", "x" * HUGE_CHARS)]
    number = integer_of(gold) if gold else None
    if number is not None:
        values = [number + k for k in range(-SPRAY_WINDOW, SPRAY_WINDOW + 1)]
        values.append(number + 1)  # the last stated value is wrong
        spray = "".join(f"The answer is {v}. \\boxed{{{v}}} <answer>{v}</answer>\n" for v in values)
        out.append(Variant("spray", spray))
    return out


PROBES: tuple[Probe, ...] = (
    Probe("empty", "empty or blank completion", ALL_KINDS, build_empty),
    Probe(
        "tags_only",
        "think/answer tags with nothing in them",
        frozenset({"correct", "format"}),
        build_tags_only,
    ),
    Probe("prompt_echo", "the prompt repeated back", ALL_KINDS, build_prompt_echo),
    Probe(
        "gold_repeated",
        "a wrong value containing the gold: repeated, or a digit added (42 -> 424242, 142, 420)",
        CORRECT_AUX,
        build_gold_repeated,
    ),
    Probe(
        "gold_scattered",
        "the gold's characters spread apart ('3 5 9', prose)",
        CORRECT,
        build_gold_scattered,
    ),
    Probe(
        "candidates",
        "every candidate listed in one answer ('1 or 2 or 3', '1, 2, 3', one per line)",
        CORRECT,
        build_candidates,
    ),
    Probe(
        "candidate_boxes",
        "one \\boxed{} or one <answer> block per candidate",
        CORRECT,
        build_candidate_boxes,
    ),
    Probe(
        "buried",
        "the gold buried in padding among wrong values, never stated as the answer",
        CORRECT_AUX,
        build_buried,
    ),
    Probe(
        "markdown_bold",
        "candidates listed with the gold in **bold**",
        CORRECT,
        build_markdown_bold,
    ),
    Probe(
        "lookalike",
        "the gold in look-alike characters (O for 0, l for 1, Cyrillic for Latin)",
        CORRECT,
        build_lookalike,
    ),
    Probe(
        "digit_forms",
        "the gold in full-width or Arabic-Indic digits (a right value: shown, not judged)",
        CORRECT,
        build_digit_forms,
        expect="info",
    ),
    Probe(
        "huge",
        "1 MB of filler, one 1 MB word, every integer near the gold stated as the answer",
        ALL_KINDS,
        build_huge,
    ),
)
