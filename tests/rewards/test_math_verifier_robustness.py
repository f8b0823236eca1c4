"""The ``math`` verifier on bad and hostile input: bad rows and options, pickling for worker
processes, pathological answers, calls from threads, time limits and a light import. Verdicts:
``test_math_verifier.py``."""

from __future__ import annotations

import pickle
import signal
import subprocess
import sys
import threading
import time

import pytest

from rewards.verifiers.math_answer import MathOptions, MathVerifier, gold_answers
from rewards.verifiers.math_guard import TimeLimitExceeded, alarm_usable, explosive, time_limit

B = r"\boxed{%s}"


def boxed(answer: str) -> str:
    return "We work it out step by step.\nSo the final answer is $" + B % answer + "$."


def score(gold, completion, **options):
    return MathVerifier(**options)(completion, {"answer": gold})


# -- bad rows and options -------------------------------------------------------------------


def test_missing_answer_field_is_an_error_result():
    result = MathVerifier()(boxed("3"), {"question": "1+2?"})
    assert result.score == 0.0
    assert result.error == "missing task field 'answer'"


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"value": 3}, "bad task field 'answer': expected text or a number"),
        ([], "bad task field 'answer': empty list"),
        ("   ", "bad task field 'answer': empty"),
        (True, "bad task field 'answer': expected text or a number"),
        ("1" * 3000, "bad task field 'answer': 3000 chars"),
    ],
)
def test_bad_answer_field_is_an_error_result(answer, message):
    result = MathVerifier()(boxed("3"), {"answer": answer})
    assert result.score == 0.0
    assert result.error is not None and result.error.startswith(message), result.error


def test_numeric_and_boxed_gold_fields():
    assert gold_answers(3) == ["3"]
    assert gold_answers(3.0) == ["3"]
    assert gold_answers(r"so \boxed{\frac{1}{2}}") == [r"\frac{1}{2}"]
    assert score(0.25, boxed(r"\frac{1}{4}")).score == 1.0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"extract": ("boxed", "last_line")}, "option 'extract' takes"),
        ({"max_chars": 0}, "option 'max_chars' must be an integer >= 1"),
        ({"decimal_gold": "fuzzy"}, "option 'decimal_gold' is rounded or exact"),
        ({"float_rounding": -1}, "option 'float_rounding' must be None or 0..30"),
        ({"time_limit": "2"}, "option 'time_limit' must be a number"),
        ({"tolerance": 0.1}, "has no option 'tolerance'"),
    ],
)
def test_bad_options_fail_loudly(options, message):
    with pytest.raises(ValueError, match=message):
        MathVerifier(**options)


def test_options_are_documented_and_typed():
    opts = MathVerifier(extract=["boxed", "answer_tag"]).options
    assert isinstance(opts, MathOptions) and opts.extract == ("boxed", "answer_tag")
    for field in ("extract", "fallback_last_number", "max_chars", "float_rounding", "time_limit"):
        assert field in MathOptions.__doc__


def test_verifier_pickles_for_worker_processes():
    verifier = pickle.loads(pickle.dumps(MathVerifier(max_answer_chars=50)))
    assert verifier.options.max_answer_chars == 50
    assert verifier(boxed(r"\frac{2}{4}"), {"answer": "0.5"}).score == 1.0


# -- pathological input, threads, time limits ------------------------------------------------

PATHOLOGICAL = [
    boxed("9^9^9^9"),
    boxed("9^{9^{9^{9}}}"),
    boxed(r"10^{10^{10}}"),
    boxed("(10^{10})!"),
    boxed("1000000!"),
    boxed(r"\binom{10^{8}}{5 \cdot 10^{7}}"),
    boxed(r"\prod_{k=1}^{10^{7}} k"),
    boxed("x^{x^{x^{x^{x}}}}"),
    boxed("(" * 200 + "1" + ")" * 200),
    boxed(r"\{" * 100 + "1" + r"\}" * 100),
    "word " * 200_000 + boxed("2"),
    r"\boxed{" * 50_000,
    "<answer>" + "1+" * 300_000 + "1</answer>",
    boxed("9" * 5000),
    r"\boxed{" + "+".join(["x"] * 5000) + r"} or \boxed{2}",  # a long box of the answer
]


@pytest.mark.parametrize("completion", PATHOLOGICAL)
def test_pathological_input_ends_quickly_with_zero(completion):
    start = time.perf_counter()
    result = score("2", completion)
    assert time.perf_counter() - start < 10  # no hang: a generous bound, not a speed target
    expected = 1.0 if completion.startswith("word") else 0.0
    assert result.score == expected, result.reason


def test_pathological_input_in_another_thread_ends_quickly():
    results: list = []
    worker = threading.Thread(target=lambda: results.extend(score("2", c) for c in PATHOLOGICAL))
    start = time.perf_counter()
    worker.start()
    worker.join(60)
    assert not worker.is_alive() and time.perf_counter() - start < 30  # generous: no hang
    assert [r.score for r in results] == [float(c.startswith("word")) for c in PATHOLOGICAL]


def test_a_long_box_in_the_working_is_not_parsed_and_the_last_box_counts():
    result = score("2", boxed("+".join(["x"] * 5000)) + boxed("2"))
    assert (result.score, result.error) == (1.0, None), result.reason


def test_megabyte_completion_reads_only_the_tail():
    result = score("2", "\\boxed{1} " + "word " * 200_000 + boxed("2"))
    assert result.score == 1.0  # the early \boxed{1} lies outside max_chars: no hedge


def test_explosive_expressions_are_named():
    assert explosive("9^9^9^9") and "digits" in explosive("9^9^9^9")
    assert explosive("1000000!") == "huge factorial"
    assert explosive("x^{x^{x}}") is None and explosive("2^{100}") is None


def test_calls_from_other_threads_work():
    cases = [(r"\frac{1}{2}", boxed("0.5"), 1.0), ("3", boxed("9^9^9^9"), 0.0)]
    cases += [("x^2+2x+1", boxed("(x+1)^2"), 1.0), ("3", "The answer is 3 or 4.", 0.0)]
    results: list = []

    def work():
        for gold, completion, _ in cases:
            results.append(score(gold, completion))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 3 * len(cases)
    assert all(r.error is None for r in results), [r.error for r in results]
    assert sorted(r.score for r in results) == sorted([c[2] for c in cases] * 3)


def test_no_alarm_while_another_timer_runs():
    previous = signal.signal(signal.SIGPROF, lambda *_: None)
    signal.setitimer(signal.ITIMER_PROF, 100)
    try:
        assert not alarm_usable()
        with time_limit(1) as armed:
            assert not armed
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def test_time_limit_counts_cpu_time_not_waiting():
    with time_limit(0.2) as armed:
        assert armed
        time.sleep(0.5)  # waiting for a core (or anything else) uses no CPU budget
    with pytest.raises(TimeLimitExceeded), time_limit(0.2):
        while True:
            pass


def test_time_limit_turns_a_slow_comparison_into_an_error_and_recovers():
    assert alarm_usable()
    slow = MathVerifier(time_limit=1e-6)(boxed(r"\frac{x^3-27}{x-3}"), {"answer": "x^2+3x+9"})
    assert slow.score == 0.0
    assert slow.error == "math time limit of 1e-06s exceeded"
    assert score("x^2+3x+9", boxed(r"\frac{x^3-27}{x-3}")).score == 1.0


def test_import_does_not_load_sympy_or_math_verify():
    code = (
        "import sys, rewards.verifiers.math_answer as m; m.MathVerifier()('\\\\boxed{1/2}', "
        "{'answer': '0.5'}); print(sorted(k for k in ('sympy', 'math_verify') if k in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
