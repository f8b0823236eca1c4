"""String normalisation for the ``math`` verifier: clean an answer, split it into candidates.

* ``clean``: strip math delimiters, markdown and trailing punctuation, unify unicode and LaTeX
  spellings (``\\dfrac``, ``\\varnothing``, ``\\left(``, ``\\leq``), thousands written
  ``12,\\!000`` or ``1{,}000``, and a doubled backslash before a relation (``-2 \\\\le x``,
  a common escaping slip: a line break means nothing inside one answer).
* ``split_top_level``: split at commas, semicolons and "or"/"and" outside brackets; thousands
  separators ("1,000", "12,000,023") stay whole.
* ``decimal_comma``: "1,22" and "0,111" read as the decimals 1.22 and 0.111 (a comma followed by
  other than three digits, or after a lone 0, groups no thousands).
* ``expand_pm``: ``a \\pm b`` as its two values.

Plain string work only: no sympy, no math_verify (this module is imported at start-up).
"""

from __future__ import annotations

import re

_UNICODE = {
    "−": "-",
    "–": "-",
    "×": r"\times ",
    "·": r"\cdot ",
    "÷": r"\div ",
    "π": r"\pi ",
    "∞": r"\infty ",
    "√": r"\sqrt",
    "≤": r"\le ",
    "≥": r"\ge ",
    "≠": r"\ne ",
    "∅": r"\emptyset ",
    "°": r"^\circ",
    "∪": r"\cup ",
    "±": r"\pm ",
}
_RELATION_CMDS = r"(?:le|ge|leq|geq|lt|gt|ne|neq|in|frac|dfrac|sqrt|cdot|times|pi|infty|text)"
_SUBS: tuple[tuple[str, str], ...] = (
    (r"\\\$", ""),  # a currency sign \$ (math delimiters $ are dropped later)
    (r"(\d),\\!\s*(?=\d{3}(?!\d))", r"\1,"),  # 32,\! 349: a thousands separator, not a list
    (r"\\(?:left|right|big|Big|bigg|Bigg)(?=[()\[\]|.]|\\[{}|])\.?", ""),
    (r"\\(?:displaystyle|textstyle|!)", ""),
    (r"\\[dtc]frac", r"\\frac"),
    (r"\\(?:mathrm|text|rm)\s*\{\s*e\s*\}", "e"),  # Euler's number written upright
    (r"\\(?:varnothing|O)(?![a-zA-Z])|\\\{\s*\\\}", r"\\emptyset"),
    (r"\\(?:leq|leqslant)(?![a-zA-Z])", r"\\le"),
    (r"\\(?:geq|geqslant)(?![a-zA-Z])", r"\\ge"),
    (r"\\(?:neq)(?![a-zA-Z])", r"\\ne"),
    (r"\{,\}", ","),
    (r"\\[,;:]|(?<!\\)\\ |\\quad|\\qquad|~", " "),
    (r"\*\*", "^"),
    (r"(?<![\\a-zA-Z])pi(?![a-zA-Z])", r"\\pi"),
    (r"\s+", " "),
)
_SUBS_RE = tuple((re.compile(p), r) for p, r in _SUBS)
_DOUBLED_RE = re.compile(rf"\\\\(?={_RELATION_CMDS}(?![a-zA-Z]))")
_TEXT_RE = re.compile(r"\\(?:text|textbf|textrm|mathrm|mbox|operatorname)\{([^{}]*)\}")
_WRAPPERS = (
    ("$$", "$$"),
    ("$", "$"),
    (r"\(", r"\)"),
    (r"\[", r"\]"),
    ('\\"', '\\"'),
    ('"', '"'),
    ("“", "”"),
)


def clean(text: str) -> str:
    """Normalise an answer string: strip math delimiters, markdown and trailing punctuation,
    unify unicode and LaTeX spellings (``\\dfrac``, ``\\varnothing``, ``\\left(`` ...)."""
    text = text.strip().strip("*").strip()  # markdown bold around the whole answer
    for old, new in _UNICODE.items():
        text = text.replace(old, new)
    if r"\begin" not in text:  # in a matrix or array, \\ ends a row
        text = _DOUBLED_RE.sub(r"\\", text)
    for pattern, repl in _SUBS_RE:
        text = pattern.sub(repl, text)
    text = _strip_wrappers(text.strip())
    text = text.replace("$", "").strip()
    whole = _TEXT_RE.fullmatch(text)
    return whole.group(1).strip() if whole else text


def _strip_wrappers(text: str) -> str:
    """``text`` without enclosing ``$``, ``\\(``, ``\\[``, braces and trailing punctuation."""
    changed = True
    while changed and text:
        changed = False
        for left, right in _WRAPPERS:
            if (
                len(text) >= len(left) + len(right)
                and text.startswith(left)
                and text.endswith(right)
            ):
                text, changed = text[len(left) : -len(right)].strip(), True
        if (
            text.startswith("{")
            and text.endswith("}")
            and matching_braces(text).get(0) == len(text) - 1
        ):
            text, changed = text[1:-1].strip(), True
        if text[-1:] in ".,;:" or text.endswith("。"):
            text, changed = text[:-1].rstrip(), True
    return text


def matching_braces(text: str) -> dict[int, int]:
    """Map each unescaped ``{`` to its matching ``}`` (one pass; unmatched ones are left out)."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    for m in re.finditer(r"\\.|[{}]", text, flags=re.DOTALL):
        tok = m.group()
        if tok == "{":
            stack.append(m.start())
        elif tok == "}" and stack:
            pairs[stack.pop()] = m.start()
    return pairs


# -- candidates -----------------------------------------------------------------------------

_OPEN, _CLOSE = "([{", ")]}"
_SEPARATOR_RE = re.compile(
    r"\s*(?:,|;|\\text\{\s*(?:or|and)\s*\}|\b(?:or|and)\b|\\(?:lor|vee)\b)\s*(?:\b(?:or|and)\b\s*)?"
)
#: thousands groups: the first group has no leading zero ("0,111" is a decimal comma)
_THOUSANDS_RE = re.compile(r"^[-+]?(?:[1-9]\d{0,2})(?:,\d{3})+(?:\.\d+)?$")
_DECIMAL_COMMA_RE = re.compile(r"^([-+]?\d+),(\d+)$")


def split_top_level(text: str) -> list[str]:
    """Split ``text`` at commas, semicolons and "or"/"and" outside any brackets.

    "1,000" (thousands separators) and "[0, 1)" stay whole; "x=3, 4" and "3 or 4" split.
    """
    if _THOUSANDS_RE.match(text.strip()):
        return [text.strip()]
    parts: list[str] = []
    depth, last, i = 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and text[i + 1 : i + 2] in ("{", "}"):
            depth += 1 if text[i + 1] == "{" else -1
            i += 2
            continue
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth -= 1
        elif depth == 0:
            m = _SEPARATOR_RE.match(text, i)
            if m:
                parts.append(text[last:i])
                last = i = m.end()
                continue
        i += 1
    parts.append(text[last:])
    return [p.strip() for p in parts if p.strip()]


def decimal_comma(text: str) -> str | None:
    """ "1.22" for "1,22" (a comma that groups no thousands, no space after it), else None."""
    m = _DECIMAL_COMMA_RE.match(text.strip())
    if m is None or _THOUSANDS_RE.match(text.strip()):
        return None
    return f"{m.group(1)}.{m.group(2)}"


def expand_pm(text: str) -> list[str]:
    """``a \\pm b`` as its two values ``a + b`` and ``a - b`` (one ``\\pm`` or ``\\mp`` only)."""
    if text.count(r"\pm") + text.count(r"\mp") != 1:
        return [text]
    sign = r"\pm" if r"\pm" in text else r"\mp"
    head, tail = text.split(sign)
    first, second = ("+", "-") if sign == r"\pm" else ("-", "+")
    return [f"{head}{first}{tail}".strip(), f"{head}{second}{tail}".strip()]
