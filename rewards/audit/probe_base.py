"""The probe type and the row helpers probes are built from.

A probe turns one task row into a few completions (``Variant``) that try to earn a reward they do
not deserve, or returns ``Skip`` saying why it does not apply to that row. Probes read only the
row's generic fields -- ``answer`` (or ``target``/``ground_truth``), ``prompt``, ``tests`` -- so
they work on any plugin's verifier whose rows carry them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

#: row fields holding the gold answer, in order of preference
GOLD_FIELDS: tuple[str, ...] = ("answer", "target", "ground_truth")
#: filler text with no number and no answer marker
FILLER = (
    "Let us think about the problem carefully and check each step before writing anything "
    "down, because a careful reader always reviews the reasoning twice. "
)
THINK = "Let me work it out step by step."
_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?\d+\.\d+")


@dataclass(frozen=True)
class Variant:
    """One completion a probe tries; ``name`` says which form it takes."""

    name: str
    completion: str


@dataclass(frozen=True)
class Skip:
    """The probe does not apply to this row; ``reason`` says why."""

    reason: str


Build = Callable[[Mapping[str, Any]], "list[Variant] | Skip"]


@dataclass(frozen=True)
class Probe:
    """A generic exploit probe.

    ``targets``: the verifier kinds it attacks (``correct``, ``format``, ``aux``); another kind
    skips it. ``expect``: ``no_credit`` (earning credit is a hole) or ``info`` (the score is
    shown, never judged: a right answer in unusual characters, say).
    """

    name: str
    description: str
    targets: frozenset[str]
    build: Build
    expect: Literal["no_credit", "info"] = "no_credit"

    def variants(self, row: Mapping[str, Any], kind: str) -> list[Variant] | Skip:
        """The completions for ``row`` against a verifier of ``kind``, or why none apply."""
        if kind not in self.targets:
            attacks = "/".join(sorted(self.targets))
            article = "an" if kind[:1] in "aeiou" else "a"
            return Skip(f"attacks {attacks} rewards; this is {article} {kind} verifier")
        try:
            built = self.build(row)
        except (TypeError, ValueError, KeyError) as exc:
            return Skip(f"cannot be built from this row ({type(exc).__name__}: {exc})")
        if isinstance(built, Skip):
            return built
        return built or Skip("no variant for this row")


# -- row fields ------------------------------------------------------------------------------


def gold_of(row: Mapping[str, Any]) -> str | None:
    """The row's gold answer as text (the first of a list), or None."""
    for name in GOLD_FIELDS:
        value = row.get(name)
        if isinstance(value, list | tuple):
            value = value[0] if value else None
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float | str) and str(value).strip():
            return str(value).strip()
    return None


def need_gold(row: Mapping[str, Any]) -> str | Skip:
    gold = gold_of(row)
    if gold is None:
        return Skip(f"the row has no gold answer (no {', '.join(GOLD_FIELDS)} field)")
    return gold


def prompt_of(row: Mapping[str, Any]) -> str | None:
    """The row's prompt as text (a chat prompt's message contents joined), or None."""
    prompt = row.get("prompt")
    if isinstance(prompt, list):
        parts = [m.get("content") for m in prompt if isinstance(m, Mapping)]
        prompt = "\n".join(p for p in parts if isinstance(p, str))
    return prompt if isinstance(prompt, str) and prompt.strip() else None


def integer_of(gold: str) -> int | None:
    """The gold as an integer when it is one (``1,234`` included), else None."""
    text = gold.replace(",", "")
    return int(text) if _INTEGER.fullmatch(text) else None


def distractors(gold: str, count: int = 4) -> list[str]:
    """``count`` wrong answers near the gold: its integer or decimal neighbours, else small
    integers."""
    number = integer_of(gold)
    if number is not None:
        steps = [-2, -1, 1, 2, -3, 3, -4, 4]
        return [str(number + s) for s in steps[:count]]
    if _DECIMAL.fullmatch(gold):
        value = float(gold)
        return [f"{value + s:g}" for s in (-2, -1, 1, 2, -3, 3)[:count]]
    return [str(n) for n in range(count + 1) if str(n) != gold][:count]


def with_gold(gold: str) -> list[str]:
    """Every candidate listed: two distractors, the gold, two more. The gold is never first or
    last, so a verifier that reads one candidate (the first or the last, as a self-correction
    rule does) gives nothing; only one that credits any candidate is fooled."""
    near = distractors(gold)
    return [near[0], near[1], gold, near[2], near[3]]


# -- presentation ----------------------------------------------------------------------------


def dressed(name: str, payload: str) -> list[Variant]:
    """``payload`` in every place a final answer is commonly read from: alone, in answer tags,
    boxed, in an "answer is" sentence, after ``####``."""
    return [
        Variant(f"{name}/plain", payload),
        Variant(f"{name}/tag", f"<think>\n{THINK}\n</think>\n<answer>{payload}</answer>"),
        Variant(f"{name}/boxed", f"{THINK}\n\\boxed{{{payload}}}"),
        Variant(f"{name}/sentence", f"{THINK}\nThe answer is {payload}."),
        Variant(f"{name}/hash", f"{THINK}\n#### {payload}"),
    ]


def fenced(code: str) -> str:
    """``code`` as a completion: one fenced python block."""
    return f"Here is the solution.\n\n```python\n{code.strip()}\n```\n"


def padding(chars: int) -> str:
    """About ``chars`` characters of filler sentences (no digits, no answer marker)."""
    return FILLER * max(1, chars // len(FILLER))
