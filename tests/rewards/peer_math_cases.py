"""Math-Verify's own test cases, scored by grpokit's ``math`` verifier and by math-verify.

The cases are the (gold, prediction, expected) triples of the parametrised tests of the public
repository huggingface/Math-Verify, ported as data by ``benchmarks/port_math_verify_cases.py``
into ``data/math_verify_cases.json`` (repository, paths and commit recorded there).

Protocol, the same for both verifiers: the gold is the peer's gold string as written; the
completion is the peer's prediction, put in ``\\boxed{}`` when it has no final-answer marker
(``\\boxed``, ``\\fbox``, ``<answer>``, "answer is", "answer:", ``####``); the label is the
peer's expected value. math-verify is called as a user calls it:
``verify(parse(gold), parse(completion))`` with its default configuration (its own timeouts
off: they use ``SIGALRM``, which pytest-timeout holds). For reference, ``own_harness`` runs
math-verify the way its test suite does (raw prediction, each test's options).

Used by ``test_math_conformance.py`` and ``benchmarks/math_conformance.py``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewards.verifiers.math_answer import MathVerifier

DATA = Path(__file__).parent / "data" / "math_verify_cases.json"
_MARKER_RE = re.compile(r"\\boxed|\\fbox|<answer>|(?i:answer\s*(?:is\b|:))|####")
_DELIMITED_RE = re.compile(r"\$\$(.*)\$\$|\$(.*)\$|\\\((.*)\\\)|\\\[(.*)\\\]", re.DOTALL)

#: cases where grpokit's verdict differs from the peer's expected value on purpose, and why
KNOWN_DIFFERENCES: dict[str, str] = {
    "test_all.py::test_complex_math_expressions[0]": (
        "exact gold 1/12 vs the decimal 0.0833333333333333: an exact gold accepts only an "
        "exactly equal answer (by design; math-verify rounds to 6 decimals)"
    ),
    "test_all.py::test_complex_math_expressions[7]": (
        "the peer's test passes precision=2 for an exact gold (1/3 vs 0.33): grpokit's "
        "tolerance follows the gold's own decimals and an exact gold has none (by design; "
        "math-verify's default precision says 0 too)"
    ),
    "test_all.py::test_complex_math_expressions[13]": (
        "the peer's test passes precision=2 for an exact gold (8/3 vs 2.6667): as above"
    ),
    "test_all.py::test_set_rel_assymetry[2]": (
        "the peer's test passes allow_set_relation_comp=True; grpokit keeps math-verify's "
        "default (a set gold is not matched by a relation answer), so the same input under the "
        "default ([3], expected 0) agrees"
    ),
    "test_numina_cases.py::test_numina_cases[24]": (
        "the prediction runs its two answers together ('W(x)=1orW(x)=-1': no space around "
        "'or', so no separator) and names W(x) where the gold has W(n); grpokit reads one "
        "assignment of W(x) and requires the gold's labels"
    ),
    "test_strict.py::test_strict_variable_comparison[1]": (
        "the peer's test passes strict=False (f(x) equals f(y)); grpokit is always strict "
        "about variables, as math-verify's default ([0] agrees)"
    ),
    "test_yujianll.py::test_string_extraction[9]": (
        "1 - 1/e and 1 + 1/e differ (0.632 vs 1.368); the peer's expected 1 records "
        "math-verify's parser dropping \\frac{1}{\\mathrm{e}} and reading both as 1"
    ),
}


@dataclass(frozen=True)
class Case:
    """One ported case: ``options`` are the peer test's own options (see the data file)."""

    id: str
    gold: str
    prediction: str
    expected: int
    options: dict[str, Any]

    @property
    def completion(self) -> str:
        return as_completion(self.prediction)


@dataclass(frozen=True)
class Outcome:
    """A verifier's verdict on a case: ``passed`` (score >= 0.5), the error or crash, why."""

    passed: bool
    error: str | None = None
    crashed: bool = False
    reason: str = ""
    seconds: float = 0.0


def load_source() -> dict[str, Any]:
    return json.loads(DATA.read_text(encoding="utf-8"))


def load_cases() -> list[Case]:
    return [Case(**c) for c in load_source()["cases"]]


def as_completion(prediction: str) -> str:
    """The prediction as it is scored: boxed when it has no final-answer marker (math
    delimiters around the whole prediction are dropped first)."""
    if _MARKER_RE.search(prediction):
        return prediction
    text = prediction.strip()
    whole = _DELIMITED_RE.fullmatch(text)
    if whole is not None:
        text = next(g for g in whole.groups() if g is not None)
    return "\\boxed{" + text + "}"


def grpokit_outcome(case: Case, verifier: MathVerifier | None = None) -> Outcome:
    """grpokit's ``math`` verifier on the case (a crash is caught and reported as one)."""
    verifier = verifier or MathVerifier()
    start = time.process_time()
    result = verifier(case.completion, {"answer": case.gold})  # a crash is a "crash: " error
    seconds = time.process_time() - start
    crashed = bool(result.error and result.error.startswith("crash"))
    return Outcome(result.score >= 0.5, result.error, crashed, result.reason, seconds)


def math_verify_outcome(case: Case) -> Outcome:
    """math-verify as a user calls it, on the same completion and gold."""
    import math_verify

    try:
        gold = math_verify.parse(case.gold, parsing_timeout=None)
        answer = math_verify.parse(case.completion, parsing_timeout=None)
        return Outcome(bool(math_verify.verify(gold, answer, timeout_seconds=None)))
    except Exception as exc:
        return Outcome(False, f"crash: {type(exc).__name__}: {exc}", True)


def own_harness_outcome(case: Case) -> Outcome:
    """math-verify the way its own tests call it: the raw prediction and the test's options."""
    import math_verify
    from math_verify import ExprExtractionConfig, LatexExtractionConfig

    opts = case.options
    configs: list[Any] = []
    if "latex" in opts["match_types"] and not opts.get("plain_parse"):
        configs.append(LatexExtractionConfig(boxed_match_priority=0))
    elif "latex" in opts["match_types"]:
        configs.append(LatexExtractionConfig())
    if "expr" in opts["match_types"]:
        configs.append(ExprExtractionConfig())
    try:
        gold = math_verify.parse(case.gold, configs, parsing_timeout=None)
        pred = math_verify.parse(case.prediction, configs, parsing_timeout=None)
        ok = math_verify.verify(
            gold,
            pred,
            float_rounding=opts["precision"],
            strict=opts["strict"],
            allow_set_relation_comp=opts["allow_set_relation_comp"],
            timeout_seconds=None,
        )
        return Outcome(bool(ok))
    except Exception as exc:
        return Outcome(False, f"crash: {type(exc).__name__}: {exc}", True)


def summarise(cases: Iterable[Case], outcomes: Iterable[Outcome]) -> dict[str, Any]:
    """Agreement with the peer's labels: agree %, crashes, errors, false positives (passed on a
    negative case) and false negatives."""
    pairs = list(zip(cases, outcomes, strict=True))
    agree = sum(o.passed == bool(c.expected) for c, o in pairs)
    return {
        "cases": len(pairs),
        "agree": agree,
        "agree_pct": round(100 * agree / len(pairs), 1),
        "crashes": sum(o.crashed for _, o in pairs),
        "errors": sum(o.error is not None and not o.crashed for _, o in pairs),
        "false_positives": sum(o.passed and not c.expected for c, o in pairs),
        "false_negatives": sum(not o.passed and bool(c.expected) for c, o in pairs),
    }


def run_all(cases: list[Case], score: Callable[[Case], Outcome]) -> list[Outcome]:
    return [score(c) for c in cases]
