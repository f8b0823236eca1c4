"""Format rewards for the DeepSeek-R1 template ``<think>...</think><answer>...</answer>``.

Two ``r_format`` terms of the reward sum ``r = r_correct + r_format + r_aux`` (textbook eq. 6.1):

* ``format`` -- all or nothing::

      r_format = 1  if the completion is exactly  ws <think> T </think> ws <answer> A </answer> ws
                 0  otherwise

  (``ws`` is optional whitespace; by default ``T`` and ``A`` must not be blank). With the default
  template a failed check says what is wrong (a missing block, nested tags, text after
  ``</answer>``...); a custom ``pattern`` is matched whole (``re.fullmatch``, DOTALL).

* ``tag_count`` -- partial credit, one quarter per tag::

      r_tags = max(0, |S| / 4 - p * [non-blank text after the last </answer>])

  where ``S`` is the largest set of the four tags ``<think>``, ``</think>``, ``<answer>``,
  ``</answer>`` that each occur exactly once and appear in that relative order, and ``p`` is
  ``trailing_penalty``. With ``strict_newlines`` the tags are open-r1's newline-delimited
  markers ``<think>\\n``, ``\\n</think>\\n``, ``\\n<answer>\\n``, ``\\n</answer>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from rewards.verifier import Verifier, VerifyResult

_TAG_NAME = re.compile(r"[A-Za-z][\w-]*")


def _check_tag_name(option: str, value: object) -> None:
    if not isinstance(value, str) or not _TAG_NAME.fullmatch(value):
        raise ValueError(f"option {option!r} must be a tag name such as 'think', got {value!r}")


@dataclass(frozen=True)
class _Block:
    name: str
    start: int  # offset of the opening tag
    body: str
    end: int  # offset just past the closing tag


def _scan_blocks(text: str, names: tuple[str, str]) -> tuple[list[_Block], list[str]]:
    """Top-level ``<name>...</name>`` blocks of ``text`` and the tag-structure problems found."""
    tag = re.compile(r"<(/?)(" + "|".join(map(re.escape, names)) + r")>")
    problems: list[str] = []
    stack: list[tuple[str, int, int]] = []  # (name, tag start, body start)
    blocks: list[_Block] = []
    for m in tag.finditer(text):
        closing, name = m.group(1) == "/", m.group(2)
        if not closing:
            if stack:
                problems.append(f"nested tags: <{name}> inside <{stack[-1][0]}> block")
            stack.append((name, m.start(), m.end()))
        elif stack and stack[-1][0] == name:
            _, start, body_start = stack.pop()
            if not stack:
                blocks.append(_Block(name, start, text[body_start : m.start()], m.end()))
        elif any(open_name == name for open_name, _, _ in stack):
            problems.append(f"nested tags: </{name}> closes <{name}> before </{stack[-1][0]}>")
            while stack[-1][0] != name:
                stack.pop()
            stack.pop()
        else:
            problems.append(f"</{name}> without <{name}>")
    problems += [f"unclosed <{name}> (no </{name}>)" for name, _, _ in stack]
    return blocks, problems


def template_problems(text: str, think: str, answer: str, allow_empty: bool) -> list[str]:
    """Everything that keeps ``text`` from being ``<think>T</think><answer>A</answer>``."""
    blocks, problems = _scan_blocks(text, (think, answer))
    if problems:
        return problems
    names = [b.name for b in blocks]
    for name in (think, answer):
        if names.count(name) == 0:
            problems.append(f"no <{name}> block")
        elif names.count(name) > 1:
            problems.append(f"{names.count(name)} <{name}> blocks (expected 1)")
    if problems:
        return problems
    first, second = blocks
    if first.name != think:
        return [f"<{answer}> block before <{think}> block"]
    if text[: first.start].strip():
        problems.append(f"text before <{think}>")
    if text[first.end : second.start].strip():
        problems.append(f"text between </{think}> and <{answer}>")
    if text[second.end :].strip():
        problems.append(f"text after </{answer}>")
    if not allow_empty:
        problems += [f"empty <{b.name}> block" for b in blocks if not b.body.strip()]
    return problems


@dataclass(frozen=True)
class FormatOptions:
    """``pattern``: a regex the whole completion must match (DOTALL) instead of the template;
    ``think_tag``/``answer_tag``: the tag names; ``allow_empty``: accept blank blocks."""

    pattern: str | None = None
    think_tag: str = "think"
    answer_tag: str = "answer"
    allow_empty: bool = False

    def __post_init__(self) -> None:
        _check_tag_name("think_tag", self.think_tag)
        _check_tag_name("answer_tag", self.answer_tag)
        if self.think_tag == self.answer_tag:
            raise ValueError("options 'think_tag' and 'answer_tag' must differ")
        if self.pattern is not None:
            if not isinstance(self.pattern, str):
                raise ValueError(f"option 'pattern' must be a string, got {self.pattern!r}")
            try:
                re.compile(self.pattern, re.DOTALL)
            except re.error as exc:
                raise ValueError(f"option 'pattern' is not a valid regex: {exc}") from exc


class FormatVerifier(Verifier):
    """1.0 when the completion follows the ``<think>...</think><answer>...</answer>`` template."""

    name = "format"
    kind = "format"
    description = "1 if the completion is <think>...</think><answer>...</answer> (or a regex)"
    Options = FormatOptions

    def verify(self, completion: str, row: Mapping[str, Any]) -> VerifyResult:
        opts: FormatOptions = self.options
        if opts.pattern is not None:
            if re.fullmatch(opts.pattern, completion, re.DOTALL):
                return VerifyResult(1.0, "matches the format pattern")
            return VerifyResult(0.0, f"does not match the format pattern {opts.pattern!r}")
        problems = template_problems(completion, opts.think_tag, opts.answer_tag, opts.allow_empty)
        if problems:
            return VerifyResult(0.0, "; ".join(problems))
        return VerifyResult(1.0, f"well-formed <{opts.think_tag}> and <{opts.answer_tag}> blocks")


@dataclass(frozen=True)
class TagCountOptions:
    """``strict_newlines``: use open-r1's newline-delimited markers; ``trailing_penalty``:
    subtracted once when non-blank text follows the last closing answer tag."""

    think_tag: str = "think"
    answer_tag: str = "answer"
    strict_newlines: bool = False
    trailing_penalty: float = 0.0

    def __post_init__(self) -> None:
        _check_tag_name("think_tag", self.think_tag)
        _check_tag_name("answer_tag", self.answer_tag)
        if self.think_tag == self.answer_tag:
            raise ValueError("options 'think_tag' and 'answer_tag' must differ")
        penalty = self.trailing_penalty
        if isinstance(penalty, bool) or not isinstance(penalty, (int, float)):
            raise ValueError(f"option 'trailing_penalty' must be a number, got {penalty!r}")
        if not 0.0 <= penalty <= 1.0:
            raise ValueError(f"option 'trailing_penalty' must be in [0, 1], got {penalty}")

    def markers(self) -> tuple[str, str, str, str]:
        t, a = self.think_tag, self.answer_tag
        if self.strict_newlines:
            return (f"<{t}>\n", f"\n</{t}>\n", f"\n<{a}>\n", f"\n</{a}>")
        return (f"<{t}>", f"</{t}>", f"<{a}>", f"</{a}>")


def ordered_unique_markers(text: str, markers: tuple[str, ...]) -> tuple[int, ...]:
    """Indices of the largest set of markers that each occur once, in their listed order."""
    positions = {i: text.find(m) for i, m in enumerate(markers) if text.count(m) == 1}
    for size in range(len(positions), 0, -1):
        for subset in combinations(sorted(positions), size):
            offsets = [positions[i] for i in subset]
            if offsets == sorted(offsets):
                return subset
    return ()


class TagCountVerifier(Verifier):
    """Partial format credit: 0.25 per think/answer tag used exactly once and in order."""

    name = "tag_count"
    kind = "format"
    description = "0.25 per <think>, </think>, <answer>, </answer> tag used once and in order"
    Options = TagCountOptions

    def verify(self, completion: str, row: Mapping[str, Any]) -> VerifyResult:
        opts: TagCountOptions = self.options
        markers = opts.markers()
        good = ordered_unique_markers(completion, markers)
        score = len(good) / len(markers)
        missing = [markers[i].strip() for i in range(len(markers)) if i not in good]
        reason = f"{len(good)}/{len(markers)} tags used once and in order"
        if missing:
            reason += f" (not: {', '.join(missing)})"
        closing = f"</{opts.answer_tag}>"
        tail = completion.rpartition(closing)[2] if closing in completion else ""
        if opts.trailing_penalty and tail.strip():
            score = max(0.0, score - opts.trailing_penalty)
            reason += f"; text after {closing}: -{opts.trailing_penalty:g}"
        return VerifyResult(score, reason)
