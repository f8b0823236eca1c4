"""Plain numbers and units for the ``math`` verifier: exact fractions, no sympy.

``parse_number`` reads integers, decimals, ``a/b``, ``\\frac{a}{b}``, ``1.5e3``,
``1.5\\times10^{3}``, thousands separators and percentages into an exact ``Fraction`` plus the
unit of the last stated digit; ``numbers_equal`` applies the precision rule (``math_equiv``'s
docstring); ``strip_units`` drops trailing units ("5 cm", "5\\text{ m}^2", "30^\\circ").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class Rules:
    """How answers are compared: the precision rule (``math_equiv``) and the longest answer
    that is parsed at all."""

    approximate_decimals: bool = True
    float_rounding: int | None = None
    max_answer_chars: int = 300


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
    | (?P<int>[1-9]\d{0,2}(?:,\d{3})+|\d+)?(?:\.(?P<frac>\d+))?
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
