"""Is a final answer equivalent to the gold answer? String, number and structure rules.

The order of the checks (the first that decides wins):

1. identical after cleaning (``math_clean.clean``);
2. **assignments** (not for text golds, ``math_assign``): "x = 3" is compared as "3" unless
   both sides are assignments, then the labels must match too; "x = 1, y = 2" states the tuple
   (1, 2), "a = 4, -8" the values 4 and -8, and two lists of assignments match when they give
   the same labels the same values in any order; "x \\in [0, 1]" likewise. A decimal comma
   against a plain number ("1,22" for 1.22) is read as a decimal;
3. **structures** written out on both sides (sets ``\\{..\\}``, tuples and intervals ``(..]``
   with ``,`` or ``;``, bare lists "1, 2", unions ``\\cup``, ratios and times "3:4", "12:00"):
   the brackets must match, ordered items and ratio terms pairwise, sets and lists in any order
   and with repeats ignored (as sets), each item compared by these same rules. A ratio is never
   a division: "12:00" is not "1:00" (both 12/0 and 1/0 are infinite to sympy);
4. **text** gold ("yes", "Tuesday", "no solution"): normalised text must match (case,
   ``\\text{}``, punctuation ignored); a single capital letter gold ("B") is a multiple-choice
   letter and accepts "(B)", "B)", "B. 12". Text never goes to sympy, where "yes" == "sey" (a
   product of symbols, commutative). Two letters ("xy") are math, not a word;
5. **plain numbers** (``math_numbers``: integers, decimals, ``a/b``, ``\\frac{a}{b}``, ``1.5e3``,
   ``1.5\\times10^{3}``, thousands separators, percentages, units stripped) compared with exact
   fractions, no sympy; several items against one number are unequal without sympy;
6. everything else through sympy (``math_sympy``), after ``math_guard.explosive`` has refused
   what could blow up: math_verify's LaTeX parser, then our exact comparison, falling back to
   ``math_verify.verify`` for relations, sets and mixed forms. A gold that does not parse
   raises ``GoldUnreadable``: the verifier reports an error for the row, never a silent 0.

**Precision rule.** A gold without a decimal point is exact: the answer must equal it exactly,
so 1/3 rejects 0.333 and 0.333333 (math_verify accepts 0.333333), 2 rejects 1.9999999, while
0.5 == 1/2 and 2.0 == 2 are accepted (they are exactly equal). A gold written with a decimal
point is taken as rounded to its last stated digit: it accepts an answer within half a unit of
that digit, inclusive, so gold 3.14 accepts 3.14159, 3.1416 and \\pi but not 3.1 or 3.15 and
gold 0.3333 accepts 1/3. An answer less precise than the gold is rejected. The flip side: gold
0.5 accepts 0.54, since nothing tells a rounded gold from an exact one; where golds' decimals
are exact values, ``decimal_gold="exact"`` turns the tolerance off. ``float_rounding``
overrides the number of decimals compared.
**Percentages**: when exactly one side has a percent sign, "50%" matches both 50 and 0.5.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rewards.verifiers.math_assign import unwrap_assignments
from rewards.verifiers.math_clean import decimal_comma, split_top_level
from rewards.verifiers.math_guard import explosive, paused
from rewards.verifiers.math_numbers import (  # noqa: F401  (Rules is re-exported)
    Number,
    Rules,
    numbers_equal,
    parse_number,
    strip_units,
)

MAX_ITEMS = 32


class GoldUnreadable(Exception):
    """The gold answer does not parse: the row is wrong, not the completion."""

    def __init__(self, gold: str) -> None:
        super().__init__(f"the gold answer does not parse: {_short(gold, 120)!r}")


@dataclass(frozen=True)
class Verdict:
    """``equal`` and why; ``error`` when the comparison itself failed (e.g. a time limit)."""

    equal: bool
    reason: str
    error: str | None = None


def compare(gold: str, answer: str, rules: Rules) -> Verdict:
    """Compare a cleaned ``answer`` with a cleaned ``gold`` (both from ``math_extract.clean``)."""
    if _squash(gold) == _squash(answer):
        return _equal(gold, answer)
    text = is_text(gold)
    if not text:
        gold, answer, mismatch = unwrap_assignments(gold, answer)
        if mismatch:
            return Verdict(False, f"not equivalent: {mismatch}")
        gold, answer = _read_decimal_commas(gold, answer)
        if _squash(gold) == _squash(answer):
            return _equal(gold, answer)
    gs, ps = parse_structure(gold), parse_structure(answer)
    if gs is not None and ps is not None:
        return _compare_structures(gold, answer, gs, ps, rules)
    if text:
        return _compare_text(gold, answer)
    if gs is None and ps is None:
        gn, pn = parse_number(strip_units(gold)), parse_number(strip_units(answer))
        if gn is not None and pn is not None:
            ok, how = numbers_equal(gn, pn, rules)
            return _equal(gold, answer, how) if ok else _unequal(gold, answer)
    mismatch = _structure_vs_value(gs, ps, gold, answer)
    if mismatch:
        return _unequal(gold, answer, mismatch)
    for what, value in (("gold", gold), ("answer", answer)):
        why = explosive(value)
        if why:
            return _unequal(gold, answer, f" (refused to evaluate the {what}: {why})")
    with paused():  # sympy and math_verify load on first use, never under the time limit
        from rewards.verifiers.math_sympy import sympy_compare

    ok, how = sympy_compare(strip_units(gold), strip_units(answer), rules)
    return _equal(gold, answer, how) if ok else _unequal(gold, answer, how)


def _read_decimal_commas(gold: str, answer: str) -> tuple[str, str]:
    """ "1,22" against a plain number is the decimal 1.22 (on either side)."""
    g, a = decimal_comma(gold), decimal_comma(answer)
    if g is not None and parse_number(answer) is not None:
        gold = g
    if a is not None and parse_number(gold) is not None:
        answer = a
    return gold, answer


def _structure_vs_value(
    gs: Structure | None, ps: Structure | None, gold: str, answer: str
) -> str | None:
    """Why a written-out collection cannot equal a single value without sympy, or None: several
    items against one number, or a ratio with a zero term (12:00 is no division by zero)."""
    for s, other in ((gs, answer), (ps, gold)):
        if s is None:
            continue
        if s.kind == "ratio" and any(_is_zero(t) for t in s.items):
            return " (a ratio or time is not a single value)"
        if s.kind in ("list", "set") and len(s.items) >= 2 and parse_number(other) is not None:
            return f" ({len(s.items)} values against one)"
    return None


def _is_zero(text: str) -> bool:
    number = parse_number(text)
    return number is not None and number.value == 0


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _equal(gold: str, answer: str, how: str = "") -> Verdict:
    return Verdict(True, f"equivalent: {_short(gold)} == {_short(answer)}{how}")


def _unequal(gold: str, answer: str, how: str = "") -> Verdict:
    return Verdict(False, f"not equivalent: {_short(answer)} vs gold {_short(gold)}{how}")


_SPACED_THOUSANDS = re.compile(r"(?<![\d.])\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?![\d.])")
_BETWEEN_DIGITS = re.compile(r"(?<=[\d.])\s+(?=[\d.])")


def _squash(text: str) -> str:
    """``text`` without white space, except that digits a space keeps apart stay apart
    (``4 2`` is not ``42``, ``0 . 5`` not ``0.5``); thousands groups (``1 000``) are joined."""
    text = _SPACED_THOUSANDS.sub(lambda m: re.sub(r"\s", "", m.group()), text)
    return re.sub(r"\s+", "", _BETWEEN_DIGITS.sub("\x00", text))


# -- text -----------------------------------------------------------------------------------

_TEXT_CMD_RE = re.compile(
    r"\\(?:text|textbf|textit|textrm|mathrm|mbox|operatorname)\s*\{([^{}]*)\}"
)
_CHOICE_RE = re.compile(r"^(?:option|choice|answer)?\s*\(?([a-z])\)?(?:[.:)]|\s|$)")


def text_form(text: str) -> str:
    """Lower-case words only: ``\\text{}`` unwrapped, punctuation and extra spaces dropped."""
    text = _TEXT_CMD_RE.sub(r"\1", text).casefold()
    text = re.sub(r"[\"'`.,;:!?]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def is_text(gold: str) -> bool:
    """A text gold: words only, with a word of 3+ letters, ``\\text{}`` around it, "no", or a
    single capital letter (a multiple-choice answer). "xy" or "e" are math."""
    words = _TEXT_CMD_RE.sub(r"\1", gold).strip()
    if re.fullmatch(r"\(?[A-Z]\)?", words) or words.casefold() == "no":
        return True
    if not re.fullmatch(r"[A-Za-z][A-Za-z' .-]*", words):
        return False
    return bool(_TEXT_CMD_RE.search(gold)) or any(len(w) >= 3 for w in re.split(r"[ .'-]", words))


def _compare_text(gold: str, answer: str) -> Verdict:
    g, a = text_form(gold), text_form(answer)
    choice = re.fullmatch(r"\(?([a-z])\)?", g)
    if choice:
        g = choice.group(1)
        m = _CHOICE_RE.match(a)
        a = m.group(1) if m else a
    if g == a:
        return _equal(gold, answer, " (as text)")
    return Verdict(False, f"not equivalent: text {_short(answer)!r} vs gold {_short(gold)!r}")


# -- structures -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Structure:
    """A written-out collection: ``kind`` is set, ordered (tuple or interval), list or union."""

    kind: str
    items: tuple[str, ...]
    brackets: str = ""


def _closes_at_end(text: str, open_len: int) -> bool:
    """Whether the bracket opening ``text`` is closed by its last character(s)."""
    depth = 0
    i = 0
    while i < len(text):
        step = 2 if text[i] == "\\" and text[i + 1 : i + 2] in ("{", "}") else 1
        tok = text[i : i + step]
        if tok in ("(", "[", "{", "\\{"):
            depth += 1
        elif tok in (")", "]", "}", "\\}"):
            depth -= 1
            if depth == 0:
                return i + step == len(text)
        i += step
    return False


def _split_cup(text: str) -> list[str]:
    parts, depth, last = [], 0, 0
    for m in re.finditer(r"\\cup(?![a-zA-Z])|[(\[{]|[)\]}]", text):
        tok = m.group()
        if tok in "([{":
            depth += 1
        elif tok in ")]}":
            depth -= 1
        elif depth == 0:
            parts.append(text[last : m.start()].strip())
            last = m.end()
    return [*parts, text[last:].strip()] if parts else [text]


def parse_structure(text: str) -> Structure | None:
    """The collection ``text`` writes out, or None for a single value (matrices included)."""
    text = text.strip()
    if text == r"\emptyset":
        return Structure("set", ())
    union = _split_cup(text)
    if len(union) > 1:
        return Structure("union", tuple(union[:MAX_ITEMS]))
    if text.startswith(r"\{") and text.endswith(r"\}") and _closes_at_end(text, 2):
        return Structure("set", tuple(split_top_level(text[2:-2])[:MAX_ITEMS]))
    if text[:1] in "([" and text[-1:] in ")]" and _closes_at_end(text, 1):
        items = split_top_level(text[1:-1])
        if len(items) >= 2 and ("," in text or ";" in text):
            return Structure("ordered", tuple(items[:MAX_ITEMS]), text[0] + text[-1])
        return None
    items = split_top_level(text)
    if len(items) >= 2:
        return Structure("list", tuple(items[:MAX_ITEMS]))
    terms = _split_ratio(text)
    return Structure("ratio", tuple(terms[:MAX_ITEMS])) if len(terms) >= 2 else None


def _split_ratio(text: str) -> list[str]:
    """The terms of a ratio or time "3:4", "12:00" (a ``:`` outside brackets), else [text]."""
    parts, depth, last = [], 0, 0
    for m in re.finditer(r"\\.|[(\[{]|[)\]}]|:", text):
        tok = m.group()
        if tok in "([{":
            depth += 1
        elif tok in ")]}":
            depth -= 1
        elif tok == ":" and depth == 0:
            parts.append(text[last : m.start()].strip())
            last = m.end()
    parts.append(text[last:].strip())
    return parts if len(parts) > 1 and all(parts) else [text]


def _compare_structures(
    gold: str, answer: str, gs: Structure, ps: Structure, rules: Rules
) -> Verdict:
    if _items_match(gs, ps, lambda g, a: compare(g, a, rules).equal):
        return _equal(gold, answer, f" (items of the {gs.kind} match)")
    g_items, p_items = _distinct(gs), _distinct(ps)
    if len(g_items) != len(p_items):
        return _unequal(gold, answer, f" ({len(p_items)} items, gold has {len(g_items)})")
    return _unequal(gold, answer)


def _distinct(s: Structure) -> tuple[str, ...]:
    """The items of an unordered collection with repeats dropped (a set: {1, 1, 2} = {1, 2})."""
    if s.kind in ("ordered", "ratio"):
        return s.items
    return tuple({_squash(i): i for i in s.items}.values())


def _items_match(gold: Structure, answer: Structure, equal: Callable[[str, str], bool]) -> bool:
    if gold.kind in ("ordered", "ratio"):
        if len(gold.items) != len(answer.items):
            return False
        if gold.kind == "ratio" and answer.kind != "ratio":
            return False
        if answer.kind == "ordered" and answer.brackets != gold.brackets:
            return False
        if gold.kind == "ordered" and answer.kind not in ("ordered", "list"):
            return False
        return all(equal(g, a) for g, a in zip(gold.items, answer.items, strict=True))
    unordered = {"set", "list"}
    if not (
        (gold.kind in unordered and answer.kind in unordered)
        or (gold.kind == answer.kind == "union")
        or (gold.kind == "list" and answer.kind == "ordered" and answer.brackets == "()")
    ):
        return False
    unused = list(_distinct(answer) if answer.kind != "ordered" else answer.items)
    gold_items = _distinct(gold)
    if len(gold_items) != len(unused):
        return False
    for g in gold_items:
        hit = next((i for i, a in enumerate(unused) if equal(g, a)), None)
        if hit is None:
            return False
        unused.pop(hit)
    return True
