"""Final-answer extraction for the ``math`` verifier: find the answer, clean it, split candidates.

Where the answer is, in the order of the ``extract`` option (the first method that finds
something wins):

* ``answer_tag``: the content of the last ``<answer>...</answer>``; inside it a ``\\boxed{}`` or
  an "answer is" sentence is preferred to the whole content.
* ``boxed``: the last ``\\boxed{...}`` / ``\\fbox{...}`` with balanced braces. Every box is kept
  as a candidate, so "\\boxed{3} ... \\boxed{4}" can be judged as a hedge.
* ``answer_is``: the last "the answer is ..." / "final answer: ..." sentence.
* ``hash``: the rest of the line after the last ``####`` (GSM8K's ``#### 72``).
* the last number of the text, only with ``fallback_last_number``.

Plain string work only: no sympy, no math_verify (this module is imported at start-up).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

METHODS: tuple[str, ...] = ("answer_tag", "boxed", "answer_is", "hash")

#: at most this many boxes are kept as candidates (the last ones)
MAX_BOXES = 16


@dataclass(frozen=True)
class Extracted:
    """The final answer found in a completion: its text, how it was found, and every boxed
    candidate when several boxes disagree (``candidates`` is empty otherwise)."""

    text: str
    source: str
    candidates: tuple[str, ...] = ()


_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*\{")
_ANSWER_IS_RE = re.compile(
    r"(?i)(?:final\s+answer|the\s+answer|answer)\s*(?:\bis\b|\bwas\b|\bwould\s+be\b|[:=])\s*:?\s*"
)
_SENTENCE_END_RE = re.compile(r"\n|\.(?=\s|$)|。")
_NUMBER_RE = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def extract_final_answer(
    completion: str,
    methods: tuple[str, ...] = METHODS,
    fallback_last_number: bool = False,
) -> Extracted | None:
    """The final answer of ``completion`` by the first of ``methods`` that finds one, or None."""
    for method in methods:
        found = _EXTRACTORS[method](completion)
        if found is not None and found.text:
            return found
    if fallback_last_number:
        numbers = _NUMBER_RE.findall(completion)
        if numbers:
            return Extracted(numbers[-1].rstrip(","), "last_number")
    return None


def _from_answer_tag(text: str) -> Extracted | None:
    end = text.rfind("</answer>")
    start = text.rfind("<answer>", 0, end) if end >= 0 else -1
    if start < 0:
        return None
    inner = text[start + len("<answer>") : end]
    for extractor in (_from_boxed, _from_answer_is):
        found = extractor(inner)
        if found is not None and found.text:
            return Extracted(found.text, "answer_tag", found.candidates)
    return Extracted(clean(inner), "answer_tag")


def _from_boxed(text: str) -> Extracted | None:
    boxes = boxed_contents(text)
    if not boxes:
        return None
    cleaned = [clean(b) for b in boxes]
    distinct = tuple(dict.fromkeys(c for c in cleaned if c))
    return Extracted(cleaned[-1], "boxed", distinct if len(distinct) > 1 else ())


def _from_answer_is(text: str) -> Extracted | None:
    flat = text.replace("**", "")
    matches = list(_ANSWER_IS_RE.finditer(flat))
    if not matches:
        return None
    rest = flat[matches[-1].end() :]
    stop = _SENTENCE_END_RE.search(_mask_math(rest))
    return Extracted(clean(rest[: stop.start()] if stop else rest), "answer_is")


def _from_hash(text: str) -> Extracted | None:
    at = text.rfind("####")
    if at < 0:
        return None
    line = text[at + 4 :].split("\n", 1)[0]
    return Extracted(clean(line), "hash")


_EXTRACTORS = {
    "answer_tag": _from_answer_tag,
    "boxed": _from_boxed,
    "answer_is": _from_answer_is,
    "hash": _from_hash,
}


def _mask_math(text: str) -> str:
    """``text`` with the inside of ``$...$`` blanked, so a period in math ends no sentence."""
    return re.sub(r"\$[^$]*\$", lambda m: "$" + " " * (len(m.group()) - 2) + "$", text)


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


def boxed_contents(text: str) -> list[str]:
    """Contents of the last ``MAX_BOXES`` balanced ``\\boxed{}`` / ``\\fbox{}`` (outermost only)."""
    starts = [m.end() - 1 for m in _BOX_RE.finditer(text)]
    if not starts:
        return []
    pairs = matching_braces(text)
    out: list[str] = []
    covered_until = -1
    for brace in starts:
        close = pairs.get(brace)
        if close is None or brace < covered_until:
            continue  # unbalanced (truncated completion) or nested inside a previous box
        out.append(text[brace + 1 : close])
        covered_until = close
    return out[-MAX_BOXES:]


# -- cleaning -------------------------------------------------------------------------------

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
_SUBS: tuple[tuple[str, str], ...] = (
    (r"\\\$", ""),  # a currency sign \$ (math delimiters $ are dropped later)
    (r"\\(?:left|right|big|Big|bigg|Bigg)(?=[()\[\]|.]|\\[{}|])\.?", ""),
    (r"\\(?:displaystyle|textstyle|!)", ""),
    (r"\\[dt]frac", r"\\frac"),
    (r"\\(?:varnothing|O)(?![a-zA-Z])|\\\{\s*\\\}", r"\\emptyset"),
    (r"\\(?:leq|leqslant)(?![a-zA-Z])", r"\\le"),
    (r"\\(?:geq|geqslant)(?![a-zA-Z])", r"\\ge"),
    (r"\\(?:neq)(?![a-zA-Z])", r"\\ne"),
    (r"\{,\}", ","),
    (r"\\[,;:]|\\quad|\\qquad|~", " "),
    (r"\*\*", "^"),
    (r"(?<![\\a-zA-Z])pi(?![a-zA-Z])", r"\\pi"),
    (r"\s+", " "),
)
_SUBS_RE = tuple((re.compile(p), r) for p, r in _SUBS)
_TEXT_RE = re.compile(r"\\(?:text|textbf|textrm|mathrm|mbox|operatorname)\{([^{}]*)\}")
_WRAPPERS = (("$$", "$$"), ("$", "$"), (r"\(", r"\)"), (r"\[", r"\]"))


def clean(text: str) -> str:
    """Normalise an answer string: strip math delimiters, markdown and trailing punctuation,
    unify unicode and LaTeX spellings (``\\dfrac``, ``\\varnothing``, ``\\left(`` ...)."""
    text = text.strip().strip("*").strip()  # markdown bold around the whole answer
    for old, new in _UNICODE.items():
        text = text.replace(old, new)
    for pattern, repl in _SUBS_RE:
        text = pattern.sub(repl, text)
    text = text.strip()
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
    text = text.replace("$", "").strip()
    whole = _TEXT_RE.fullmatch(text)
    return whole.group(1).strip() if whole else text


# -- candidates -----------------------------------------------------------------------------

_OPEN, _CLOSE = "([{", ")]}"
_SEPARATOR_RE = re.compile(
    r"\s*(?:,|;|\\text\{\s*(?:or|and)\s*\}|\b(?:or|and)\b|\\(?:lor|vee)\b)\s*(?:\b(?:or|and)\b\s*)?"
)
_THOUSANDS_RE = re.compile(r"^[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")


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


def expand_pm(text: str) -> list[str]:
    """``a \\pm b`` as its two values ``a + b`` and ``a - b`` (one ``\\pm`` or ``\\mp`` only)."""
    if text.count(r"\pm") + text.count(r"\mp") != 1:
        return [text]
    sign = r"\pm" if r"\pm" in text else r"\mp"
    head, tail = text.split(sign)
    first, second = ("+", "-") if sign == r"\pm" else ("-", "+")
    return [f"{head}{first}{tail}".strip(), f"{head}{second}{tail}".strip()]
