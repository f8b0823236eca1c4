"""Is a final answer equivalent to the gold answer? String, number and structure rules.

The order of the checks (the first that decides wins):

1. identical after cleaning (``math_extract.clean``);
2. **assignments** (not for text golds): "x = 3" is compared as "3" unless both sides are
   assignments, then the variables must match too; "x \\in [0, 1]" likewise;
3. **structures** written out on both sides (sets ``\\{..\\}``, tuples and intervals ``(..]``,
   bare lists "1, 2", unions ``\\cup``): the brackets must match, ordered items pairwise, sets
   and lists in any order, each item compared by these same rules;
4. **text** gold ("yes", "Tuesday", "no solution"): normalised text must match (case,
   ``\\text{}``, punctuation ignored); a single capital letter gold ("B") is a multiple-choice
   letter and accepts "(B)", "B)", "B. 12". Text never goes to sympy, where "yes" == "sey" (a
   product of symbols, commutative). Two letters ("xy") are math, not a word;
5. **plain numbers** (integers, decimals, ``a/b``, ``\\frac{a}{b}``, ``1.5e3``,
   ``1.5\\times10^{3}``, thousands separators, percentages, units stripped) compared with exact
   fractions, no sympy;
6. everything else through sympy (``math_sympy``), after ``math_guard.explosive`` has refused
   what could blow up: math_verify's LaTeX parser, then our exact comparison, falling back to
   ``math_verify.verify`` for relations, sets and mixed forms.

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
from fractions import Fraction

from rewards.verifiers.math_extract import split_top_level
from rewards.verifiers.math_guard import explosive, paused

MAX_ITEMS = 32


@dataclass(frozen=True)
class Rules:
    """How numbers are compared (see the module docstring)."""

    approximate_decimals: bool = True
    float_rounding: int | None = None


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
        gold, answer, mismatch = _unwrap_assignments(gold, answer)
        if mismatch:
            return Verdict(False, f"not equivalent: {mismatch}")
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
    for what, value in (("gold", gold), ("answer", answer)):
        why = explosive(value)
        if why:
            return _unequal(gold, answer, f" (refused to evaluate the {what}: {why})")
    with paused():  # sympy and math_verify load on first use, never under the time limit
        from rewards.verifiers.math_sympy import sympy_compare

    ok, how = sympy_compare(strip_units(gold), strip_units(answer), rules)
    return _equal(gold, answer, how) if ok else _unequal(gold, answer, how)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _equal(gold: str, answer: str, how: str = "") -> Verdict:
    return Verdict(True, f"equivalent: {_short(gold)} == {_short(answer)}{how}")


def _unequal(gold: str, answer: str, how: str = "") -> Verdict:
    return Verdict(False, f"not equivalent: {_short(answer)} vs gold {_short(gold)}{how}")


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


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


# -- assignments ----------------------------------------------------------------------------

_ASSIGN_RE = re.compile(r"^([a-zA-Z](?:_\{?[a-zA-Z0-9]+\}?)?|\\[a-zA-Z]+)\s*(=|\\in\b)\s*(.+)$")
_RELATION_RE = re.compile(r"=|<|>|\\(?:le|ge|ne|lt|gt|in)(?![a-zA-Z])")


def _assignment(text: str) -> tuple[str, str] | None:
    """("x", "3") for "x = 3" (the last part of a chain "x = 1 + 2 = 3"), else None."""
    m = _ASSIGN_RE.match(text.strip())
    if m is None:
        return None
    rhs = m.group(3).split("=")[-1].strip() if m.group(2) == "=" else m.group(3).strip()
    return (m.group(1), rhs) if rhs else None


def _unwrap_assignments(gold: str, answer: str) -> tuple[str, str, str | None]:
    """Drop "x =" where the other side is no relation; both assignments: variables must match."""
    ga, pa = _assignment(gold), _assignment(answer)
    if ga and pa:
        if ga[0] != pa[0]:
            return gold, answer, f"variable {pa[0]} vs {ga[0]}"
        return ga[1], pa[1], None
    if pa and not _RELATION_RE.search(gold):
        return gold, pa[1], None
    if ga and not _RELATION_RE.search(answer):
        return ga[1], answer, None
    return gold, answer, None


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
        if len(items) >= 2 and "," in text:
            return Structure("ordered", tuple(items[:MAX_ITEMS]), text[0] + text[-1])
        return None
    items = split_top_level(text)
    return Structure("list", tuple(items[:MAX_ITEMS])) if len(items) >= 2 else None


def _compare_structures(
    gold: str, answer: str, gs: Structure, ps: Structure, rules: Rules
) -> Verdict:
    if _items_match(gs, ps, lambda g, a: compare(g, a, rules).equal):
        return _equal(gold, answer, f" (items of the {gs.kind} match)")
    if len(gs.items) != len(ps.items):
        return _unequal(gold, answer, f" ({len(ps.items)} items, gold has {len(gs.items)})")
    return _unequal(gold, answer)


def _items_match(gold: Structure, answer: Structure, equal: Callable[[str, str], bool]) -> bool:
    if len(gold.items) != len(answer.items):
        return False
    if gold.kind == "ordered":
        if answer.kind == "ordered" and answer.brackets != gold.brackets:
            return False
        if answer.kind not in ("ordered", "list"):
            return False
        return all(equal(g, a) for g, a in zip(gold.items, answer.items, strict=True))
    unordered = {"set", "list"}
    if not (
        (gold.kind in unordered and answer.kind in unordered)
        or (gold.kind == answer.kind == "union")
        or (gold.kind == "list" and answer.kind == "ordered" and answer.brackets == "()")
    ):
        return False
    unused = list(answer.items)
    for g in gold.items:
        hit = next((i for i, a in enumerate(unused) if equal(g, a)), None)
        if hit is None:
            return False
        unused.pop(hit)
    return True


# -- plain numbers --------------------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    """An exact value; ``quantum`` is the unit of its last stated digit (None: exact)."""

    value: Fraction
    quantum: Fraction | None
    percent: bool


_NUMBER_RE = re.compile(
    r"""^(?P<sign>[-+])?\s*(?:
      \\frac\{\s*(?P<fn>\d+)\s*\}\{\s*(?P<fd>\d+)\s*\}
    | (?P<rn>\d+)\s*/\s*(?P<rd>\d+)
    | (?P<int>\d{1,3}(?:,\d{3})+|\d+)?(?:\.(?P<frac>\d+))?
      (?:\s*[eE](?P<e1>[-+]?\d{1,3})
       |\s*(?:\\times|\\cdot)\s*10\s*\^\s*\{?\s*(?P<e2>[-+]?\d{1,3})\s*\}?)?
    )\s*(?P<pct>\\?%|percent)?$""",
    re.VERBOSE,
)


def parse_number(text: str) -> Number | None:
    """A plain number written in ``text``, or None (an expression, a symbol, a structure)."""
    m = _NUMBER_RE.match(text.strip())
    if m is None:
        return None
    sign = -1 if m.group("sign") == "-" else 1
    quantum = None
    if m.group("fn") is not None or m.group("rn") is not None:
        num, den = (
            (m.group("fn"), m.group("fd")) if m.group("fn") else (m.group("rn"), m.group("rd"))
        )
        if int(den) == 0:
            return None
        value = Fraction(int(num), int(den))
    elif m.group("int") or m.group("frac"):
        digits = (m.group("int") or "0").replace(",", "")
        frac = m.group("frac") or ""
        exponent = int(m.group("e1") or m.group("e2") or 0)
        value = Fraction(int(digits + frac), 10 ** len(frac)) * Fraction(10) ** exponent
        if "." in m.group(0):
            quantum = Fraction(10) ** (exponent - len(frac))
    else:
        return None
    return Number(sign * value, quantum, m.group("pct") is not None)


def numbers_equal(gold: Number, answer: Number, rules: Rules) -> tuple[bool, str]:
    """Exact for an exact gold, within half the gold's last digit for a decimal gold."""
    quantum = gold.quantum if rules.approximate_decimals else None
    if quantum is not None and rules.float_rounding is not None:
        quantum = Fraction(1, 10**rules.float_rounding)
    golds = [(gold.value, quantum)]
    answers = [answer.value]
    if gold.percent and not answer.percent:
        golds.append((gold.value / 100, quantum / 100 if quantum else None))
    if answer.percent and not gold.percent:
        answers.append(answer.value / 100)
    for g, q in golds:
        for a in answers:
            if a == g:
                return True, ""
            if q is not None and abs(a - g) <= q / 2:
                return True, f" (within the gold's precision ±{float(q / 2):g})"
    return False, ""


# -- units ----------------------------------------------------------------------------------

_UNIT_RES = tuple(
    re.compile(p)
    for p in (
        r"\s*\\(?:text|mbox|mathrm|textrm)\s*\{[^{}]*\}(?:\s*\^\s*\{?\d\}?)?$",
        r"(?<=[\d}).])\s+(?:[a-zA-Z]{2,}|[mgshlLKVWAJN])(?:\s+[a-zA-Z]+)*\.?(?:\s*\^\s*\{?\d\}?)?$",
        r"\s*\^\s*\{?\s*\\circ\s*\}?$|\s*\\(?:circ|degree)$",
    )
)


def strip_units(text: str) -> str:
    """``text`` without trailing units ("5 cm", "5\\text{ m}^2", "30^\\circ"); unchanged if
    nothing would be left."""
    for _ in range(3):
        before = text
        for pattern in _UNIT_RES:
            stripped = pattern.sub("", text).strip()
            text = stripped or text
        if text == before:
            break
    return text
