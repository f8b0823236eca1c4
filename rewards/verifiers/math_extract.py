"""Final-answer extraction for the ``math`` verifier: find the answer in a completion or a gold.

Where the answer is, in the order of the ``extract`` option:

* ``answer_tag``: the content of the last ``<answer>...</answer>``; inside it a ``\\boxed{}`` or
  an "answer is" sentence is preferred to the whole content. It wins when listed first.
* ``boxed``: the last ``\\boxed{...}`` / ``\\fbox{...}`` with balanced braces, together with the
  boxes just before it that only a short connector separates ("\\boxed{1}, \\boxed{2}",
  "\\boxed{3} or \\boxed{4}", "\\boxed{(2, 2)} \\quad\\text{and}\\quad \\boxed{(6, 2)}"): that group
  is the answer, and its items are kept as candidates so that one box per candidate can be
  judged as a hedge. A box followed by working and a later box is an intermediate result: after
  a self-correction the last box counts, as in math-verify and the common evaluation harnesses.
* ``answer_is``: the last "the answer is ..." / "final answer: ..." / "答案是 ..." sentence.
* ``hash``: the rest of the line after the last ``####`` (GSM8K's ``#### 72``).
* the last number of the text, only with ``fallback_last_number``.

``boxed``, ``answer_is`` and ``hash`` compete by position: the marker nearest the end of the
text wins, so "\\boxed{255} ... Final Answer: The final answer is $10,455$" answers 10,455.

An answer written as a sentence ("The largest $n$ is 34") is reduced to its value by
``math_prose``. Plain string work only: no sympy, no math_verify (imported at start-up).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rewards.verifiers.math_clean import (  # noqa: F401  (re-exported for callers and tests)
    clean,
    decimal_comma,
    expand_pm,
    matching_braces,
    split_top_level,
)

METHODS: tuple[str, ...] = ("answer_tag", "boxed", "answer_is", "hash")

#: at most this many boxes are read (the last ones)
MAX_BOXES = 16
#: a connector between two boxes of one answer has at most this many words
MAX_CONNECTOR_WORDS = 4


@dataclass(frozen=True)
class Extracted:
    """The final answer found in a text.

    text: the cleaned answer (the items of a group of boxes joined with ", ");
    source: the method that found it; candidates: the distinct items of a group of boxes when
    there are several (empty otherwise); raw: the answer as written, before cleaning (empty for
    a group), so that a sentence can be reduced to its value; at: where its marker starts.
    """

    text: str
    source: str
    candidates: tuple[str, ...] = ()
    raw: str = ""
    at: int = 0


_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*\{")
_ANSWER_IS_RE = re.compile(
    r"(?i)(?:final\s+answer|the\s+answer|answer)\**\s*"
    r"(?:\bis\b|\bwas\b|\bwould\s+be\b|[:=])\**\s*:?\s*\**\s*"
    r"|答案\s*(?:是|为|為|:|：)\s*"
)
_SENTENCE_END_RE = re.compile(r"\n|\.(?=\s|$)|。")
_NUMBER_RE = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_INLINE_METHODS = ("boxed", "answer_is", "hash")


def extract_final_answer(
    completion: str,
    methods: tuple[str, ...] = METHODS,
    fallback_last_number: bool = False,
) -> Extracted | None:
    """The final answer of ``completion`` (see the module docstring), or None."""
    inline: list[Extracted] = []
    for method in methods:
        found = _EXTRACTORS[method](completion)
        if found is None or not found.text:
            continue
        if method not in _INLINE_METHODS:
            if not inline:
                return found
            continue
        inline.append(found)
    if inline:
        return max(inline, key=lambda f: f.at)
    if fallback_last_number:
        numbers = _NUMBER_RE.findall(completion)
        if numbers:
            return Extracted(numbers[-1].rstrip(","), "last_number")
    return None


def extract_gold(text: str) -> str:
    """The answer a gold field states: its (group of) boxes, else its "answer is" sentence, else
    the whole text; an unclosed ``\\boxed{`` is read to the end. Cleaned."""
    found = _from_boxed(text) or _from_answer_is(text)
    if found is not None and found.text:
        return found.text
    unclosed = _BOX_RE.search(text)
    if unclosed is not None:
        return clean(text[unclosed.end() :])
    return clean(text)


def _from_answer_tag(text: str) -> Extracted | None:
    end = text.rfind("</answer>")
    start = text.rfind("<answer>", 0, end) if end >= 0 else -1
    if start < 0:
        return None
    inner = text[start + len("<answer>") : end]
    found = extract_final_answer(inner, ("boxed", "answer_is"))
    if found is not None:
        return Extracted(found.text, "answer_tag", found.candidates, found.raw, start)
    return Extracted(clean(inner), "answer_tag", raw=inner, at=start)


def _from_boxed(text: str) -> Extracted | None:
    boxes = box_spans(text)
    if not boxes:
        return None
    group = [boxes[-1]]
    for box in reversed(boxes[:-1]):
        if not is_connector(text[box[2] + 1 : group[0][0]]):
            break
        group.insert(0, box)
    items = [clean(text[brace + 1 : close]) for _, brace, close in group]
    distinct = tuple(dict.fromkeys(i for i in items if i))
    if len(distinct) <= 1:
        _, brace, close = group[-1]
        raw = text[brace + 1 : close]
        return Extracted(distinct[0] if distinct else "", "boxed", raw=raw, at=group[0][0])
    return Extracted(", ".join(distinct), "boxed", distinct, at=group[0][0])


def _from_answer_is(text: str) -> Extracted | None:
    matches = list(_ANSWER_IS_RE.finditer(text))
    if not matches:
        return None
    last = matches[-1]
    rest = text[last.end() :]
    stop = _SENTENCE_END_RE.search(_mask_math(rest))
    raw = rest[: stop.start()] if stop else rest
    return Extracted(clean(raw), "answer_is", raw=raw, at=last.start())


def _from_hash(text: str) -> Extracted | None:
    at = text.rfind("####")
    if at < 0:
        return None
    line = text[at + 4 :].split("\n", 1)[0]
    return Extracted(clean(line), "hash", raw=line, at=at)


_EXTRACTORS = {
    "answer_tag": _from_answer_tag,
    "boxed": _from_boxed,
    "answer_is": _from_answer_is,
    "hash": _from_hash,
}


def _mask_math(text: str) -> str:
    """``text`` with the inside of ``$...$`` blanked, so a period in math ends no sentence."""
    return re.sub(r"\$[^$]*\$", lambda m: "$" + " " * (len(m.group()) - 2) + "$", text)


def box_spans(text: str) -> list[tuple[int, int, int]]:
    """(start, opening brace, closing brace) of the last ``MAX_BOXES`` balanced boxes
    (outermost only; an unbalanced one, as in a truncated completion, is skipped)."""
    starts = [(m.start(), m.end() - 1) for m in _BOX_RE.finditer(text)]
    if not starts:
        return []
    pairs = matching_braces(text)
    out: list[tuple[int, int, int]] = []
    covered_until = -1
    for start, brace in starts:
        close = pairs.get(brace)
        if close is None or brace < covered_until:
            continue
        out.append((start, brace, close))
        covered_until = close
    return out[-MAX_BOXES:]


def boxed_contents(text: str) -> list[str]:
    """Contents of the last ``MAX_BOXES`` balanced ``\\boxed{}`` / ``\\fbox{}`` (outermost)."""
    return [text[brace + 1 : close] for _, brace, close in box_spans(text)]


_CONNECTOR_MARKUP_RE = re.compile(
    r"\$|\\[()\[\]]|\\(?:quad|qquad|[,;:! ])|\\(?:text|textbf|mathrm|mbox)\s*\{([^{}]*)\}"
)
_BREAK_RE = re.compile(r"\.\s+\S|\n\s*\n")
_RETHINK_WORDS = frozenset(
    [
        "answer",
        "wait",
        "actually",
        "correct",
        "correction",
        "sorry",
        "mistake",
        "instead",
        "no",
        "not",
        "but",
        "hmm",
        "oops",
        "check",
        "recheck",
        "however",
        "final",
        "therefore",
        "so",
    ]
)


def is_connector(between: str) -> bool:
    """Whether the text between two boxes joins them into one answer: punctuation, spacing and
    at most a few words ("and", "or", "for part (a) and"), no sentence break, no rethinking."""
    plain = _CONNECTOR_MARKUP_RE.sub(lambda m: f" {m.group(1) or ''} ", between)
    if _BREAK_RE.search(plain):
        return False
    words = re.findall(r"[^\W\d_]+", plain)
    if len(words) > MAX_CONNECTOR_WORDS:
        return False
    return not any(w.casefold() in _RETHINK_WORDS for w in words)
