"""An answer written as a sentence, reduced to the value it states.

Final answers are often sentences: "Final Answer: The largest $n$ is 34.", "Therefore $x \\geq 5$
is the solution", "<answer>答案是 12</answer>", "the number is not 10 which is 1,000.99€". For a
gold that is not itself text, ``final_value`` reads such a sentence as its last value: the last
math span (``$...$``, ``\\(...\\)``, ``\\[...\\]``, ``$$...$$``) or bare number, whichever comes
last. Values joined only by "or" / "and" / commas ("it is either 3 or 4") come back together as
a list, so that a single-valued gold still calls them a hedge; values with a negation between
them ("3, not 4") come back together too: which one is meant is not for a verifier to guess.
An inline span broken over lines (``$ \\n 9 \\n $``) is not math: a sentence ending in one has
no value.

What counts as a sentence: two words (3+ letters, outside math, not a function name such as
``sin`` or ``log``), an introducing word of 4+ letters ("Answer $9$", "Total: 12"), or any
letter of a non-Latin script (CJK, Cyrillic, Arabic ...). "5 cm", "x = 3" and "3 or 4" are not
sentences and are left alone. Plain string work: no sympy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPAN_RE = re.compile(
    r"(?<!\\)\$\$(?P<d1>.+?)(?<!\\)\$\$"
    r"|\\\[(?P<d2>.+?)\\\]"
    r"|(?<!\\)\$(?P<i1>(?:[^$\\]|\\.)+?)(?<!\\)\$"
    r"|\\\((?P<i2>.+?)\\\)",
    re.DOTALL,
)
_BARE_RE = re.compile(
    r"(?<![\w.^_{\\])(?:[-+]?\\[dtc]?frac\{[^{}]*\}\{[^{}]*\}|\\sqrt\{[^{}]*\}"
    r"|[-+]?\d+(?:,\d{3})*(?:[.,]\d+)?(?:\s*[\^/]\s*(?:\{[^{}]*\}|\d+))*)"
    r"(?:\s*(?:\\?%|percent\b))?"
)
_COMMAND_RE = re.compile(r"\\(?:begin|end)\s*\{[^{}]*\}|\\[a-zA-Z]+")
_WORD_RE = re.compile(r"(?<![a-zA-Z])[a-zA-Z]{3,}(?![a-zA-Z])")
_OTHER_SCRIPT_RE = re.compile(
    "[\u0400-\u04ff\u0600-\u06ff\u0900-\u097f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]"
)
MATH_WORDS = frozenset(
    [
        "sin",
        "cos",
        "tan",
        "cot",
        "sec",
        "csc",
        "sinh",
        "cosh",
        "tanh",
        "arcsin",
        "arccos",
        "arctan",
        "log",
        "exp",
        "min",
        "max",
        "gcd",
        "lcm",
        "det",
        "mod",
        "lim",
        "sup",
        "inf",
        "deg",
        "arg",
        "dim",
        "ker",
        "sqrt",
        "frac",
    ]
)
JOINING_WORDS = frozenset(["or", "and", "either", "maybe", "possibly", "perhaps", "also"])
NEGATIONS = frozenset(["not", "no", "isn't", "isnt", "never"])
INTRO_MIN_LETTERS = 4


@dataclass(frozen=True)
class Token:
    """A value stated in a sentence: its text, where it is, and whether it is usable math."""

    text: str
    start: int
    end: int
    valid: bool = True


def is_prose(raw: str) -> bool:
    """Whether ``raw`` is a sentence around its value (see the module docstring)."""
    outside = _COMMAND_RE.sub(" ", _SPAN_RE.sub(" ", raw))
    if _OTHER_SCRIPT_RE.search(outside):
        return True
    words = [w for w in _WORD_RE.findall(outside) if w.casefold() not in MATH_WORDS]
    if len(words) >= 2:
        return True
    first = outside.lstrip(" *_:").split(maxsplit=1)[:1]
    return bool(words) and first == [words[0]] and len(words[0]) >= INTRO_MIN_LETTERS


def tokens(raw: str) -> list[Token]:
    """The math spans and bare numbers of ``raw``, in order."""
    found: list[Token] = []
    last = 0
    for m in _SPAN_RE.finditer(raw):
        found += _bare(raw, last, m.start())
        inline = m.group("i1") is not None or m.group("i2") is not None
        text = next(g for g in m.groups() if g is not None)
        found.append(Token(text.strip(), m.start(), m.end(), not (inline and "\n" in text)))
        last = m.end()
    return found + _bare(raw, last, len(raw))


_BRACED_NUMBER_RE = re.compile(r"(?<![\\\w^_}])\{\s*([-+]?\d[\d.,]*)\s*\}")


def _bare(raw: str, start: int, end: int) -> list[Token]:
    """Bare numbers of ``raw[start:end]``; "{-42}" reads as -42."""
    unbraced = _BRACED_NUMBER_RE.sub(lambda m: m.group(1).center(len(m.group())), raw)
    return [
        Token(m.group().strip(), m.start(), m.end())
        for m in _BARE_RE.finditer(unbraced, start, end)
    ]


def _joins(between: str) -> bool:
    """Whether the text between two values lists them rather than moving on from one to the
    next: only commas, slashes, "or"/"and"/"either", or a negation ("3, not 4")."""
    plain = re.sub(r"\\text\s*\{([^{}]*)\}|\\[a-zA-Z]+|[{}]", r" \1 ", between)
    words = {w.casefold() for w in re.findall(r"[A-Za-z']+", plain)}
    if words & NEGATIONS:
        return True
    if words - JOINING_WORDS:
        return False
    return not re.sub(r"[A-Za-z']+|[\s,;/&~]", "", plain)


def final_value(raw: str) -> str | None:
    """The value a sentence states (items joined with ", " when it lists several), "" when its
    last value is unusable, None when ``raw`` is no sentence or states no value."""
    if not is_prose(raw):
        return None
    found = tokens(raw)
    if not found:
        return None
    if not found[-1].valid:
        return ""
    run = [found[-1]]
    for token in reversed(found[:-1]):
        if not token.valid or not _joins(raw[token.end : run[0].start]):
            break
        run.insert(0, token)
    return ", ".join(t.text for t in run)
