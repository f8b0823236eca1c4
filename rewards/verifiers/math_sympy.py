"""The sympy side of the ``math`` verifier: parse with math_verify, compare exactly.

Imported only when a comparison needs it (never at start-up): it imports sympy and math_verify.

* Parsing: ``math_verify.parse`` on ``$answer$`` with its LaTeX extraction (its normalisation
  strips units and ``\\text``, fixes ``\\frac12``, reads percentages), with its own timeout off
  (``parsing_timeout=None``): its ``signal.alarm`` only works in the main thread and would cancel
  the caller's timer; ``math_guard.time_limit`` bounds the whole comparison instead.
* Single values (no free symbols): exact. Decimals in the answer become exact decimals (0.333 is
  333/1000), then the difference must be exactly 0, or below 1e-40 relative to the values when
  it does not simplify to a rational (sqrt, pi...). math_verify instead compares at 15 digits
  with ``chop=True``, so it accepts 1/2^99 == 1/2^98, 1/2004! == 1/2006! and
  (2^2005+1)/(3*2^2006) == 1/(3*2^2006); and it rounds to 6 decimals when one side is a float,
  so it accepts 1/3 == 0.333333.
* Expressions with variables: equal at several rational points, each variable getting its own
  value, so x + 1 != y + 1 (exact rational arithmetic where the expressions are rational
  functions; a symbol named i is the imaginary unit). This replaces sympy's
  ``simplify``, which is slow (often 100 ms+) and the usual cause of math_verify's timeouts.
* Approximate gold (written with decimals, ``Rules.approximate_decimals``): within half a unit
  of the gold's last stated decimal.
* Two equations or inequalities: equivalent when one's lhs - rhs is a constant multiple of the
  other's (positive for inequalities), tested at rational points: no ``solve``, which
  math_verify calls and which can run for seconds.
* Anything else (chained relations, relation vs set, sets and intervals sympy built, mixed
  forms): ``math_verify.verify`` on the parsed values, with decimals made exact when the gold
  is exact.
"""

from __future__ import annotations

import logging
import re
from fractions import Fraction
from functools import lru_cache
from typing import Any

import math_verify
import sympy
from math_verify import LatexExtractionConfig

from rewards.verifiers.math_equiv import GoldUnreadable, Rules

# We pass timeout=None on purpose (see the module docstring); math_verify would log a warning.
for _name in ("math_verify", "math_verify.parser", "math_verify.grader"):
    logging.getLogger(_name).setLevel(logging.ERROR)

_LATEX = (LatexExtractionConfig(),)
# rational points for evaluating expressions with variables (no 0, +-1: too many coincidences)
_POINTS = tuple(
    sympy.Rational(n, d) for n, d in ((7, 5), (-13, 7), (17, 3), (5, 11), (-9, 4), (23, 6))
)
_NEEDED_POINTS = 3
_REL_TOL = sympy.Float("1e-40", 60)
_DECIMAL_RE = re.compile(r"(?<![\d.])\d*\.(\d+)")


@lru_cache(maxsize=4096)
def parse_math(text: str) -> Any:
    """The sympy value of ``text`` (a cleaned answer), or None when it does not parse."""
    parsed = math_verify.parse(
        f"${text}$", extraction_config=_LATEX, fallback_mode="no_fallback", parsing_timeout=None
    )
    return next((p for p in parsed if isinstance(p, (sympy.Basic, sympy.MatrixBase))), None)


def gold_quantum(gold: str, rules: Rules) -> Fraction | None:
    """Half-unit tolerance base for a decimal gold: 10^-d for its least precise decimal."""
    if not rules.approximate_decimals:
        return None
    decimals = [len(m.group(1)) for m in _DECIMAL_RE.finditer(gold)]
    if not decimals:
        return None
    places = rules.float_rounding if rules.float_rounding is not None else min(decimals)
    return Fraction(1, 10**places)


def sympy_compare(gold: str, answer: str, rules: Rules) -> tuple[bool, str]:
    """Compare two cleaned answers with sympy; returns (equal, a note for the reason)."""
    gold, g_pct = _split_percent(gold)
    answer, a_pct = _split_percent(answer)
    g = parse_math(gold)
    if g is None:
        raise GoldUnreadable(gold)
    a = parse_math(answer)
    if a is None:
        return False, " (the answer does not parse)"
    quantum = gold_quantum(gold, rules)
    if quantum is None:
        g, a = _exact_decimals(g), _exact_decimals(a)
    golds = [g, g / 100] if g_pct and not a_pct and _is_value(g) else [g]
    answers = [a, a / 100] if a_pct and not g_pct and _is_value(a) else [a]
    for gv in golds:
        for av in answers:
            if values_equal(gv, av, quantum):
                return (
                    True,
                    f" (within the gold's precision ±{float(quantum / 2):g})" if quantum else "",
                )
    return False, ""


def _split_percent(text: str) -> tuple[str, bool]:
    stripped = re.sub(r"\s*(?:\\?%|\\text\{\s*percent\s*\})$", "", text)
    return stripped, stripped != text


def _is_value(expr: Any) -> bool:
    return isinstance(expr, sympy.Expr) and not isinstance(expr, sympy.MatrixBase)


def _exact_decimals(expr: Any) -> Any:
    """``expr`` with every float replaced by the exact decimal it was written as."""
    if isinstance(expr, sympy.MatrixBase):
        return expr.applyfunc(_exact_decimals)
    if not isinstance(expr, sympy.Basic):
        return expr
    floats = expr.atoms(sympy.Float)
    if not floats:
        return expr
    return expr.xreplace({f: sympy.Rational(str(f)) for f in floats})


def values_equal(gold: Any, answer: Any, quantum: Fraction | None) -> bool:
    """Equality of two parsed values under the precision rule (module docstring)."""
    if _is_value(gold) and _is_value(answer) and not _is_special(gold, answer):
        return _expr_equal(gold, answer, quantum)
    if isinstance(gold, sympy.MatrixBase) and isinstance(answer, sympy.MatrixBase):
        return gold.shape == answer.shape and all(
            _expr_equal(x, y, quantum) for x, y in zip(gold, answer, strict=True)
        )
    if quantum is None:
        same = _relations_equal(gold, answer)
        if same is not None:
            return same
    rounding = 6 if quantum is None else max(0, len(str(quantum.denominator)) - 1)
    return bool(
        math_verify.verify(
            gold, answer, float_rounding=rounding, timeout_seconds=None, raise_on_error=False
        )
    )


def _is_special(*exprs: Any) -> bool:
    """Relations, sets, booleans and tuples are left to math_verify."""
    kinds = (sympy.core.relational.Relational, sympy.Set, sympy.Tuple, sympy.logic.boolalg.Boolean)
    return any(isinstance(e, kinds) for e in exprs)


def _expr_equal(gold: Any, answer: Any, quantum: Fraction | None) -> bool:
    gold, answer = _imaginary(_doit(gold)), _imaginary(_doit(answer))
    if gold == answer:
        return True
    if not (gold.free_symbols or answer.free_symbols):
        return _constant_equal(gold, answer, quantum)
    for checked, (gv, av) in enumerate(_at_points(gold, answer), start=1):
        if not _constant_equal(gv, av, quantum):
            return False
        if checked >= _NEEDED_POINTS:
            return True
    return False


def _at_points(first: Any, second: Any) -> Any:
    """(first, second) evaluated at the rational points where both are finite."""
    symbols = sorted(first.free_symbols | second.free_symbols, key=lambda s: s.name)
    for start in range(len(_POINTS)):
        point = {s: _POINTS[(start + i) % len(_POINTS)] for i, s in enumerate(symbols)}
        try:
            fv, sv = first.subs(point), second.subs(point)
        except Exception:
            continue
        if _finite(fv) and _finite(sv):
            yield fv, sv


def _relation_form(rel: Any) -> tuple[str, Any] | None:
    """("=", lhs - rhs) for an equation, ("<", ...) / ("<=", ...) with > and >= turned around."""
    forms = (
        (sympy.Eq, "=", 1),
        (sympy.Ne, "!=", 1),
        (sympy.StrictLessThan, "<", 1),
        (sympy.LessThan, "<=", 1),
        (sympy.StrictGreaterThan, "<", -1),
        (sympy.GreaterThan, "<=", -1),
    )
    for kind, name, sign in forms:
        if isinstance(rel, kind):
            if not (isinstance(rel.lhs, sympy.Expr) and isinstance(rel.rhs, sympy.Expr)):
                return None  # a tuple, interval or set on one side: (p, q) = (3, 2)
            try:
                return name, _imaginary(sign * (rel.lhs - rel.rhs))
            except TypeError:
                return None
    return None


def _relations_equal(gold: Any, answer: Any) -> bool | None:
    """Two equations (or inequalities) are equivalent when one's ``lhs - rhs`` is a constant
    multiple of the other's (a positive one for inequalities): 2x = 4 and x - 2 = 0, y > x and
    x < y. None when they are not two plain relations. This replaces math_verify's ``solve``
    fallback, which can run for seconds (x^999 = 2^999)."""
    g, a = _relation_form(gold), _relation_form(answer)
    if g is None or a is None:
        return None
    if g[0] != a[0]:
        return False
    ratio, checked = None, 0
    for gv, av in _at_points(g[1], a[1]):
        if av == 0 or gv == 0:
            if av != gv:
                return False
            continue
        if ratio is None:
            ratio = gv / av
            if g[0] != "=" and g[0] != "!=" and not bool(ratio.evalf(30) > 0):
                return False
        elif not _constant_equal(gv / av, ratio, None):
            return False
        checked += 1
        if checked >= _NEEDED_POINTS:
            return True
    return False


def _imaginary(expr: Any) -> Any:
    """A symbol named i is the imaginary unit in a final answer (math_verify keeps a symbol)."""
    return expr.xreplace({s: sympy.I for s in expr.free_symbols if s.name == "i"})


def _doit(expr: Any) -> Any:
    try:
        return expr.doit()
    except Exception:
        return expr


def _finite(value: Any) -> bool:
    try:
        return bool(value.is_finite) and not value.has(sympy.zoo, sympy.nan)
    except Exception:
        return False


def _constant_equal(gold: Any, answer: Any, quantum: Fraction | None) -> bool:
    """Exact (or relative 1e-40) equality of two constants; within quantum/2 if approximate."""
    infinite = (sympy.oo, -sympy.oo, sympy.zoo, sympy.nan)
    if gold.has(*infinite) or answer.has(*infinite):
        return bool(gold == answer)  # oo - (-oo) is oo, and no tolerance applies to infinity
    try:
        diff = gold - answer
        if diff.is_Rational:
            return diff == 0 if quantum is None else abs(diff) <= sympy.Rational(quantum) / 2
        value = abs(diff.evalf(60))
        if not value.is_number or value.has(sympy.nan, sympy.zoo):
            return False
        if quantum is not None:
            return bool(value <= sympy.Rational(quantum) / 2)
        if value == 0:
            return True
        scale = sympy.Max(abs(gold.evalf(60)), abs(answer.evalf(60)))
        return bool(value <= scale * _REL_TOL)
    except (TypeError, ValueError, ArithmeticError, AttributeError):
        return False


def _warm_up() -> None:
    """Run each comparison path once, so that sympy's and math_verify's lazy imports and caches
    load now (at import, outside any time limit) rather than inside a timed comparison."""
    samples = [
        ("\\frac{1}{2}", "0.5"),
        ("x^2+2x+1", "(x+1)^2"),
        ("\\sqrt{2}", "\\pi"),
        ("y = 2x + 1", "y = 1 + 2x"),
        ("x \\ge 2", "[2, \\infty)"),
        ("\\{1, 2\\}", "\\{2, 1\\}"),
        ("\\begin{pmatrix} 1 & 2 \\end{pmatrix}", "\\begin{bmatrix} 1 & 2 \\end{bmatrix}"),
        ("\\log_2 8", "3"),
        ("3.14", "\\pi"),
    ]
    for gold, answer in samples:
        sympy_compare(gold, answer, Rules())


_warm_up()
