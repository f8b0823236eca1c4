"""Assignments in answers: "x = 3", "x = 1, y = 2, z = 3", "(p, q) = (3, 2)", "a = 4, -8, -10".

An assignment names a quantity on its left and states its value on the right. The left side is
a *label* when it names rather than computes: letters with subscripts, primes, arguments and
bars (``x``, ``a_{37}``, ``f(x)``, ``|AB|``, ``(p, q)``, ``V_1 : V_2``, ``\\frac{NO}{BO}``). A
left side without letters (``\\frac{1}{2} = \\frac{10}{9}``, "3 + 4 = 7") is a computation whose
value is its right side when that has no letters either; anything else ("2x + 4y - 3 = 0",
"7 = 11a + c") is an equation, left to sympy.

* A chain "x = 5 + 5 + 1 = 7 = 11" states its last part; with ``\\approx`` the part before it
  ("x = 1/3 \\approx 0.33" states 1/3). Only an ``=`` outside braces splits:
  ``F_n = \\sum_{k=0}^{n-1} F_k`` keeps its sum whole.
* A list "x = 1, y = 2, z = 3" states the tuple (1, 2, 3) (in the order written); a value with
  no label continues the previous label ("a = 4, -8, -10": a takes three values, in any order);
  a label that comes again starts a new solution ("p = 5, q = 2; p = 7, q = 2" states the
  solutions (5, 2) and (7, 2)).
* Both sides assignments: the same labels must be given the same values, in any order
  ("a_3 = 2, a_{37} = 19" equals "a_{37} = 19, a_3 = 2"); ``unwrap_assignments`` rewrites both
  sides in the gold's order of labels so that the structure rules compare them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rewards.verifiers.math_clean import split_top_level

_RELATION_RE = re.compile(r"=|<|>|\\(?:le|ge|ne|lt|gt|in|approx)(?![a-zA-Z])")
_LABEL_NOISE_RE = re.compile(
    r"\\(?:text|mathrm|mathbf|operatorname|overline|vec|angle|triangle|left|right|bar|hat)"
    r"(?![a-zA-Z])|_\{[^{}]*\}|_[A-Za-z0-9]|'"
)
_FRAC_RE = re.compile(r"\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")


@dataclass(frozen=True)
class Assignment:
    """``label`` (None for a computation) and the value stated for it."""

    label: str | None
    value: str


def is_label(lhs: str) -> bool:
    """Whether ``lhs`` names a quantity (see the module docstring)."""
    text = _FRAC_RE.sub(r"\1 \2", _LABEL_NOISE_RE.sub("", lhs.strip()))
    if not re.search(r"[A-Za-z]", text):
        return False
    return bool(re.fullmatch(r"(?:\\[a-zA-Z]+|[A-Za-z\s(),;|:{}\[\]])+", text))


def _is_computation(lhs: str) -> bool:
    return bool(lhs.strip()) and not re.search(r"[A-Za-z]", re.sub(r"\\[a-zA-Z]+", "", lhs))


def split_relation(text: str) -> list[tuple[str, str]]:
    """``text`` cut at its ``=``, ``\\approx`` and ``\\in`` outside brackets: [(separator,
    part)], the first separator empty."""
    parts: list[tuple[str, str]] = []
    depth, last, sep = 0, 0, ""
    for m in re.finditer(r"\\approx(?![a-zA-Z])|\\in(?![a-zA-Z])|\\[{}]|[=<>]|[(\[{]|[)\]}]", text):
        tok = m.group()
        if tok in ("(", "[", "{", "\\{"):
            depth += 1
        elif tok in (")", "]", "}", "\\}"):
            depth -= 1
        elif depth == 0 and tok in ("=", "\\approx", "\\in"):
            prev = text[m.start() - 1 : m.start()]
            if tok == "=" and prev in ("<", ">", "!"):
                return []  # <=, >=, != : an inequation
            parts.append((sep, text[last : m.start()].strip()))
            last, sep = m.end(), tok
        elif depth == 0 and tok in ("<", ">"):
            return []
    parts.append((sep, text[last:].strip()))
    return parts


def assignment(text: str) -> Assignment | None:
    """The assignment ``text`` states, or None (an equation, a relation, a bare value)."""
    parts = split_relation(text)
    if len(parts) < 2 or any(not p for _, p in parts) or re.search(r"\\(?:le|ge|ne)\b", text):
        return None
    label = parts[0][1]
    if is_label(label):
        rest = parts[1:]
    elif _is_computation(label) and _is_computation(parts[-1][1]):
        if any(s != "=" for s, _ in parts[1:]):
            return None
        return Assignment(None, parts[-1][1])
    else:
        return None
    if any(s == "\\in" for s, _ in rest[1:]):
        return None
    approx = [i for i, (s, _) in enumerate(rest) if s == "\\approx" and i > 0]
    value = rest[approx[0] - 1][1] if approx else rest[-1][1]
    return Assignment(_label_key(label), value)


def _label_key(label: str) -> str:
    return re.sub(r"[\s{}]", "", label)


def assignment_list(text: str) -> list[Assignment] | None:
    """Every assignment of a list "x = 1, y = 2" (bare values continue the label before them),
    or None when ``text`` does not start with an assignment."""
    items = split_top_level(text)
    out: list[Assignment] = []
    for item in items:
        found = assignment(item)
        if found is None:
            if not out or out[-1].label is None or _RELATION_RE.search(item):
                return None
            found = Assignment(out[-1].label, item)
        out.append(found)
    if not out or (len(out) > 1 and any(a.label is None for a in out)):
        return None
    return out


def _solutions(pairs: list[Assignment]) -> list[dict[str, list[str]]]:
    """Group assignments into solutions: a label seen again (not right after itself) starts
    a new one; a label right after itself adds a value."""
    solutions: list[dict[str, list[str]]] = [{}]
    previous = None
    for a in pairs:
        label = a.label or ""
        current = solutions[-1]
        if label in current and label != previous:
            solutions.append({})
            current = solutions[-1]
        current.setdefault(label, []).append(a.value)
        previous = label
    return solutions


def stated_value(pairs: list[Assignment], order: list[str] | None = None) -> str:
    """What a list of assignments states, as text the structure rules read: one value; a list
    of values ("1, 2"); a tuple "(1, 2)"; or a list of tuples "(5, 2), (7, 2)"."""
    solutions = _solutions(pairs)
    labels = order or list(dict.fromkeys(a.label or "" for a in pairs))
    if len(labels) == 1:
        values = [v for s in solutions for v in s.get(labels[0], [])]
        return values[0] if len(values) == 1 else ", ".join(values)
    tuples = []
    for s in solutions:
        if any(len(s.get(label, [])) != 1 for label in labels):
            return ", ".join(a.value for a in pairs)  # an irregular list: values in order
        tuples.append("(" + ", ".join(s[label][0] for label in labels) + ")")
    return tuples[0] if len(tuples) == 1 else ", ".join(tuples)


def unwrap_assignments(gold: str, answer: str) -> tuple[str, str, str | None]:
    """Replace assignments by the values they state where the other side allows it; both sides
    assignments: labels must match. Returns (gold, answer, mismatch reason or None)."""
    ga, pa = assignment_list(gold), assignment_list(answer)
    if ga and pa:
        g_labels = list(dict.fromkeys(a.label or "" for a in ga))
        p_labels = list(dict.fromkeys(a.label or "" for a in pa))
        if None in (ga[0].label, pa[0].label):
            return stated_value(ga), stated_value(pa), None
        if set(g_labels) != set(p_labels):
            return gold, answer, f"variable {', '.join(p_labels)} vs {', '.join(g_labels)}"
        return stated_value(ga, g_labels), stated_value(pa, g_labels), None
    if pa and not _RELATION_RE.search(gold):
        return gold, stated_value(pa), None
    if ga and not _RELATION_RE.search(answer):
        return stated_value(ga), answer, None
    return gold, answer, None
