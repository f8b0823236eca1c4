"""The ``math`` verifier: is the completion's final answer equal to the row's ``answer``?

An ``r_correct`` term of the reward sum (textbook eq. 6.1): 1 when the final answer is
equivalent to the gold answer, else 0. How the answer is found: ``math_extract``; what counts as
equivalent (exact symbolic comparison first, tolerance only for a gold written with decimals):
``math_equiv`` and ``math_sympy``.

Rows: ``answer`` is required: a string (LaTeX or plain), a number, or a list of accepted
answers (any of them may match). A gold may be a worked solution: its boxes (several boxes
joined only by "and" or commas are one answer, ``\\boxed{1} and \\boxed{2}`` is 1, 2), else its
"the answer is ..." sentence, else the whole text is the answer. A gold that does not parse is
an error result ("the gold answer does not parse: ..."), never a silent 0.

Verdicts (``VerifyResult.reason``): "equivalent: 1/2 == 0.5", "not equivalent: ...",
"no final answer found", "answer too long: ...", "hedged: several candidates (3, 4)" when an
answer offers several different values for a single-valued gold ("3 or 4", "x = 3, 4",
"\\boxed{3} or \\boxed{4}", "it is either 3 or 4"); a box corrected later in the text is no
candidate (the last box counts). An answer written as a sentence ("The largest $n$ is 34",
"答案是 12") is read as the value it states (``math_prose``). A refusal to evaluate an
explosive expression (``math_guard``) is a "not equivalent" with the cause. A time limit hit is
an error result ("math time limit ...").

Robustness: only the last ``max_chars`` characters are read, an answer longer than
``max_answer_chars`` is not parsed, explosive expressions are refused before sympy sees them,
and in the main thread the whole comparison runs under a CPU-time limit (``SIGPROF``; in other
threads the batch scorer's per-item kill is the backstop). This module imports neither sympy
nor math_verify: they are imported on the first comparison that needs them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from rewards.verifier import Verifier, VerifyResult
from rewards.verifiers.math_clean import clean, decimal_comma, expand_pm, split_top_level
from rewards.verifiers.math_equiv import (
    GoldUnreadable,
    Rules,
    Verdict,
    compare,
    is_text,
    parse_number,
    parse_structure,
)
from rewards.verifiers.math_extract import METHODS, Extracted, extract_final_answer, extract_gold
from rewards.verifiers.math_guard import TimeLimitExceeded, time_limit
from rewards.verifiers.math_prose import final_value

#: a gold field may be a worked solution this long; the answer it states at most MAX_GOLD_CHARS
MAX_GOLD_FIELD_CHARS = 20_000
MAX_GOLD_CHARS = 2_000
MAX_CANDIDATES = 8


@dataclass(frozen=True)
class MathOptions:
    """Options of the ``math`` verifier.

    extract: where to look for the final answer, in order (a sequence or a comma-separated
        string): ``answer_tag`` (last ``<answer>...</answer>``), ``boxed`` (last ``\\boxed{}``
        or ``\\fbox{}``), ``answer_is`` (last "the answer is ..." / "final answer: ...").
    fallback_last_number: when nothing is found, take the last number in the completion.
    max_chars: only the last ``max_chars`` characters of a completion are read.
    max_answer_chars: a longer extracted answer scores 0 ("answer too long") unparsed.
    decimal_gold: ``rounded`` reads a gold written with decimals (3.14) as rounded to its last
        digit and accepts answers within half a unit of it (3.14159, \\pi); ``exact`` does not.
    float_rounding: with ``rounded``, compare to this many decimals instead of the gold's own.
    time_limit: CPU seconds for one comparison (SIGPROF, main thread only; 0 turns it off).
    """

    extract: tuple[str, ...] = METHODS
    fallback_last_number: bool = False
    max_chars: int = 20_000
    max_answer_chars: int = 300
    decimal_gold: Literal["rounded", "exact"] = "rounded"
    float_rounding: int | None = None
    time_limit: float = 2.0

    def __post_init__(self) -> None:
        raw = self.extract
        extract = tuple(m.strip() for m in raw.split(",")) if isinstance(raw, str) else tuple(raw)
        unknown = [m for m in extract if m not in METHODS]
        if unknown or not extract:
            raise ValueError(f"option 'extract' takes {', '.join(METHODS)}; got {self.extract!r}")
        object.__setattr__(self, "extract", extract)
        for option in ("max_chars", "max_answer_chars"):
            value = getattr(self, option)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"option {option!r} must be an integer >= 1, got {value!r}")
        if self.decimal_gold not in ("rounded", "exact"):
            raise ValueError(
                f"option 'decimal_gold' is rounded or exact, got {self.decimal_gold!r}"
            )
        fr = self.float_rounding
        if fr is not None and (
            isinstance(fr, bool) or not isinstance(fr, int) or not 0 <= fr <= 30
        ):
            raise ValueError(f"option 'float_rounding' must be None or 0..30, got {fr!r}")
        if isinstance(self.time_limit, bool) or not isinstance(self.time_limit, (int, float)):
            raise ValueError(f"option 'time_limit' must be a number, got {self.time_limit!r}")
        if self.time_limit < 0:
            raise ValueError(f"option 'time_limit' must be >= 0, got {self.time_limit}")
        if not isinstance(self.fallback_last_number, bool):
            raise ValueError("option 'fallback_last_number' must be true or false")


def gold_answers(value: Any) -> list[str]:
    """The accepted answers of a row's ``answer`` field, cleaned; ValueError says what is wrong."""
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if not values:
        raise ValueError("bad task field 'answer': empty list")
    golds = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            raise ValueError(f"bad task field 'answer': expected text or a number, got {v!r}")
        text = str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
        if len(text) > MAX_GOLD_FIELD_CHARS:
            raise ValueError(f"bad task field 'answer': {len(text)} chars > {MAX_GOLD_FIELD_CHARS}")
        text = extract_gold(text)
        if len(text) > MAX_GOLD_CHARS:
            raise ValueError(f"bad task field 'answer': {len(text)} chars > {MAX_GOLD_CHARS}")
        if not text:
            raise ValueError("bad task field 'answer': empty")
        golds.append(text)
    return golds


class MathVerifier(Verifier):
    """1 if the final answer equals the row's ``answer`` (math-aware), else 0."""

    name = "math"
    kind = "correct"
    description = (
        "final answer (<answer>, \\boxed, 'the answer is') equals the row's answer: exact "
        "symbolic comparison with sympy/math-verify, sets, intervals, tuples, matrices, text"
    )
    Options = MathOptions
    required_fields = ("answer",)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickling happens when the verifier is shipped to a scoring worker: load and warm up
        sympy and math_verify there and then, so that no item pays for the import."""
        self.__dict__.update(state)
        with contextlib.suppress(Exception):  # verify() reports it on an item needing sympy
            import rewards.verifiers.math_sympy  # noqa: F401

    def verify(self, completion: str, row: Mapping[str, Any]) -> VerifyResult:
        opts: MathOptions = self.options
        try:
            golds = gold_answers(row["answer"])
        except ValueError as exc:
            return VerifyResult.failure(str(exc))
        if not isinstance(completion, str):
            return VerifyResult.failure(f"completion must be text, got {type(completion).__name__}")
        found = extract_final_answer(
            completion[-opts.max_chars :], opts.extract, opts.fallback_last_number
        )
        if found is None:
            return VerifyResult(0.0, "no final answer found")
        rules = Rules(opts.decimal_gold == "rounded", opts.float_rounding, opts.max_answer_chars)
        try:
            with time_limit(opts.time_limit):
                verdict = judge(golds, found, rules)
        except TimeLimitExceeded:
            return VerifyResult.failure(f"math time limit of {opts.time_limit:g}s exceeded")
        except GoldUnreadable as exc:
            return VerifyResult.failure(str(exc))
        return VerifyResult(1.0 if verdict.equal else 0.0, verdict.reason, verdict.error)


def judge(golds: list[str], found: Extracted, rules: Rules) -> Verdict:
    """The verdict against the first gold that matches, else against the first gold. A gold
    that does not parse raises ``GoldUnreadable`` unless another gold matches."""
    verdicts: list[Verdict] = []
    unreadable: GoldUnreadable | None = None
    for gold in golds:
        try:
            verdict = judge_one(gold, found, rules)
        except GoldUnreadable as exc:
            unreadable = unreadable or exc
            continue
        if verdict.equal:
            return verdict
        verdicts.append(verdict)
    if unreadable is not None:
        raise unreadable
    return verdicts[0]


def stated_answer(found: Extracted, gold: str) -> Extracted | None:
    """The answer with a sentence reduced to the value it states (``math_prose``), unless the
    gold is itself text; None when the sentence's value is unusable."""
    if found.candidates or not found.raw or is_text(gold):
        return found
    value = final_value(found.raw)
    if value is None:
        return found
    text = clean(value)
    return Extracted(text, found.source, at=found.at) if text else None


def judge_one(gold: str, found: Extracted, rules: Rules) -> Verdict:
    """Compare one gold with the extracted answer, deciding first whether the answer hedges."""
    stated = stated_answer(found, gold)
    if stated is None:
        return Verdict(False, "no final answer found: the sentence states no usable value")
    found = stated
    longest = max(len(a) for a in (found.text, *found.candidates))
    if longest > rules.max_answer_chars:
        return Verdict(False, f"answer too long: {longest} chars > max_answer_chars")
    multi = r"\pm" in gold or r"\mp" in gold
    single = not multi and parse_structure(gold) is None
    if found.candidates:  # several different boxes
        if single:
            return _hedge_or_equal(gold, list(found.candidates), rules)
        answer = ", ".join(found.candidates)
    else:
        answer = found.text
    if single and decimal_comma(answer) is not None and parse_number(gold) is not None:
        return compare(gold, answer, rules)  # "1000,99" for 1000.99: a decimal comma
    if single:
        items = [v for item in split_top_level(answer) for v in expand_pm(item)]
        if len(items) > 1:
            return _hedge_or_equal(gold, items, rules)
    elif multi:
        gold = ", ".join(expand_pm(gold))
        answer = ", ".join(v for item in split_top_level(answer) for v in expand_pm(item))
    return compare(gold, answer, rules)


def _hedge_or_equal(gold: str, candidates: list[str], rules: Rules) -> Verdict:
    """Several candidates for one value: fine only if every one of them equals the gold."""
    shown = ", ".join(c if len(c) <= 30 else c[:27] + "..." for c in candidates[:MAX_CANDIDATES])
    hedged = Verdict(False, f"hedged: several candidates ({shown})")
    if len(candidates) > MAX_CANDIDATES:
        return hedged
    for candidate in candidates:
        if not compare(gold, candidate, rules).equal:
            return hedged
    return Verdict(True, f"equivalent: all {len(candidates)} candidates equal {gold}")
