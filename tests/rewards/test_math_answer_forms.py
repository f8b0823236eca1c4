"""Answer forms the ``math`` verifier once got wrong on Math-Verify's test cases (issue 12):
relations with a tuple, interval or union side, lists of assignments, ``=`` inside braces,
ratios and times, ``,\\!`` thousands, golds with several boxes, the last box after a
self-correction, answers written as sentences or in another language, and a gold that does not
parse. Conformance over the peer's whole suite: ``test_math_conformance.py``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rewards.verifiers.math_answer import MathVerifier, gold_answers
from rewards.verifiers.math_assign import assignment, assignment_list, is_label
from rewards.verifiers.math_prose import final_value

B = r"\boxed{%s}"


def score(gold, completion, **options):
    return MathVerifier(**options)(completion, {"answer": gold})


@pytest.mark.parametrize(
    ("gold", "completion", "expected"),
    [
        # a relation with a tuple, interval or union on one side (was a TypeError crash)
        ("(p,q)=(3,2)", B % "(3, 2)", 1.0),
        ("(p,q)=(3,2)", B % "(2, 3)", 0.0),
        (r"-2 \le x \le 7", B % r"x \in [-2,7]", 1.0),
        (r"1\leq|z|\leq \frac{3}{2}", B % r"z \in [-\frac{3}{2}, -1] \cup [1, \frac{3}{2}]", 1.0),
        (r"(5, 8), (8, 5)", B % r"(x, y) = (5, 8) \quad \text{and} \quad (8, 5)", 1.0),
        # a set gold is not matched by a relation answer (math-verify's default)
        (r"x \in [-2,7]", B % r"-2 \le x \le 7", 0.0),
    ],
)
def test_relations_with_structured_sides_never_crash(gold, completion, expected):
    result = score(gold, completion)
    assert result.error is None, result.error
    assert result.score == expected, result.reason


@pytest.mark.parametrize(
    ("gold", "completion", "expected"),
    [
        ("x = 1, y = 2, z = 3", B % "1, 2, 3", 1.0),
        ("x = 1, y = 2, z = 3", B % "3", 0.0),  # was 1: the list collapsed to its last value
        ("x = 1, y = 2, z = 3", B % "3, 2, 1", 0.0),  # values in the labels' order
        ("x = 1, y = 2, z = 3", B % "z = 3, x = 1, y = 2", 1.0),
        ("x = 1, y = 2, z = 3", B % "z = 3, x = 2, y = 1", 0.0),
        ("a_3 = 2, a_{37} = 19", B % r"a_{37} = 19, \quad a_3 = 2", 1.0),
        ("p=5,q=2;p=7,q=2", B % "(5,2),(7,2)", 1.0),  # two solutions
        (r"a=4,\,-8,\,-10", B % "-10,-8,4", 1.0),  # one label, three values
        ("AB=4,CD=5", B % "4, 5", 1.0),
        ("x = 2", B % "y = 2", 0.0),
    ],
)
def test_lists_of_assignments_state_every_value(gold, completion, expected):
    result = score(gold, completion)
    assert result.score == expected, result.reason


def test_an_equals_sign_inside_braces_does_not_split_the_gold():
    gold = r"F_n = \sum_{k=0}^{n-1} F_k F_{n-k-1}"
    assert assignment(gold).value == r"\sum_{k=0}^{n-1} F_k F_{n-k-1}"
    assert score(gold, B % r"F_n = \sum_{k=0}^{n-1} F_{n-k-1} F_k").score == 1.0
    assert score(gold, B % r"F_n = \sum_{k=0}^{n-2} F_k F_{n-k-2}").score == 0.0


@pytest.mark.parametrize(
    ("label", "expected"),
    [("x", True), ("a_{37}", True), ("f(x)", True), ("|AB|", True), ("(p, q)", True)]
    + [(r"V_{1}:V_{2}", True), (r"\frac{NO}{BO}", True), ("2x", False), ("a + 3z", False)]
    + [("7", False), ("a^2 + b", False)],
)
def test_a_label_names_a_quantity(label, expected):
    assert is_label(label) is expected


def test_chains_and_computations_state_their_last_value():
    assert assignment("x = 5+5+1 = 7 = 11").value == "11"
    assert assignment(r"x = 1/3 \approx 0.33").value == "1/3"
    assert assignment(r"\frac{1}{2} = \frac{10}{9}").value == r"\frac{10}{9}"
    assert assignment("7 = 11a+c") is None  # an equation, not a computation
    assert assignment_list("4, x = 5") is None


@pytest.mark.parametrize(
    ("gold", "answer", "expected"),
    [("12:00", "1:00", 0.0), ("12:00", "12:00", 1.0), ("3:4", "6:8", 0.0)]
    + [("7:32", "7:32", 1.0), (r"S_{MBCN}:S=7:32", "7:32", 1.0), ("1:00", r"\infty", 0.0)],
)
def test_a_ratio_is_never_a_division(gold, answer, expected):
    assert score(gold, B % answer).score == expected


@pytest.mark.parametrize(
    ("gold", "completion"),
    [("32349", r"is $\boxed{32,\! 349}$"), ("11111111100", r"$\boxed{11,\! 111,\! 111,\! 100}$")]
    + [("1000.99", B % "1000,99"), ("0.111", B % "0,111"), ("1,22", B % "1.22")],
)
def test_thousands_and_decimal_commas_are_numbers_not_lists(gold, completion):
    result = score(gold, completion)
    assert result.score == 1.0, result.reason


def test_a_comma_list_is_still_a_hedge_for_another_value():
    assert score("1", B % "1,22").score == 0.0
    assert score("22", B % "1,22").score == 0.0


@pytest.mark.parametrize(
    ("gold", "expected"),
    [
        (r"\boxed{1}, \boxed{2}", "1, 2"),
        (r"\(\boxed{1}\) and \(\boxed{-2}\).", "1, -2"),
        (r"$\boxed{1}\boxed{2}$", "1, 2"),
        (r"\boxed{1} no no no no no \boxed{2}", "2"),  # a long gap: the last box
        (r"So \boxed{004}. Checking again, \boxed{004}", "004"),
        (r"The answer is $28\%$. I hope it is correct.", r"28\%"),
        (r"\boxed{W(n) = 1", "W(n) = 1"),  # an unclosed box is read to the end
    ],
)
def test_a_gold_with_several_boxes_keeps_them_all(gold, expected):
    assert gold_answers(gold) == [expected]


def test_several_boxes_in_a_gold_are_one_answer():
    assert score(r"\boxed{1} and \boxed{2}", B % "2, 1").score == 1.0
    assert score(r"\boxed{1} and \boxed{2}", B % "2").score == 0.0


@pytest.mark.parametrize(
    ("gold", "completion", "expected"),
    [
        ("4", r"So \boxed{3}. Wait, that is wrong; redoing it: \boxed{4}.", 1.0),
        ("3", r"So \boxed{3}. Wait, that is wrong; redoing it: \boxed{4}.", 0.0),
        ("3", r"\boxed{3} or \boxed{4}", 0.0),  # one box per candidate: a hedge
        ("3", r"\boxed{3 \text{ or } 4}", 0.0),
        ("3", "The answer is 3 or 4.", 0.0),
        ("10455", r"= \boxed{255} ... Final Answer: The final answer is $10,455$.", 1.0),
    ],
)
def test_the_last_box_counts_but_a_hedge_inside_one_answer_scores_zero(gold, completion, expected):
    result = score(gold, completion)
    assert result.score == expected, result.reason
    if "or" in completion:
        assert result.reason.startswith("hedged"), result.reason


@pytest.mark.parametrize(
    ("gold", "completion"),
    [
        ("34", "Final Answer: The largest $n$ is 34."),
        ("9", "The sum is 4 + 5.\nAnswer: $9$"),
        ("12", "<think>先算 5 + 7。</think><answer>答案是 12</answer>"),
        ("12", "<answer>Die Antwort lautet 12</answer>"),
        ("12", "我们把两部分加起来。所以答案是 12。"),
        ("3", "Final Answer: Jane started growing Sphere 3 hours ago."),
        (r"x \ge 5", B % r"Therefore $x \geq 5$ is the solution."),
    ],
)
def test_an_answer_written_as_a_sentence_is_read_as_its_value(gold, completion):
    result = score(gold, completion)
    assert result.score == 1.0, result.reason


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("The largest $n$ is 34", "34"),
        ("The value is either 3 or 4", "3, 4"),  # listed candidates stay together: a hedge
        ("The value is 3, not 4", "3, 4"),  # a negation between values: not for us to guess
        ("the number is not 10 which is 1,000.99€", "1,000.99"),
        ("Answer $ \n 9 \n $", ""),  # inline math broken over lines is no value
        ("x = 3", None),  # no sentence
        ("sin x + 2", None),  # function names are no words
    ],
)
def test_final_value_of_a_sentence(raw, value):
    assert final_value(raw) == value


def test_a_gold_that_does_not_parse_is_an_error_not_a_silent_zero():
    result = score(r"\frac{1}{", B % "3")
    assert result.score == 0.0
    assert result.error == r"the gold answer does not parse: '\\frac{1}{'"
    assert score([r"\frac{1}{", "3"], B % "3").score == 1.0  # another accepted gold matches


def test_grpo_eval_names_the_row_whose_gold_does_not_parse(tmp_path):
    rows = tmp_path / "rows.jsonl"
    lines = [{"id": "ok-1", "completion": B % "3", "answer": "3"}]
    lines.append({"id": "broken-gold-7", "completion": B % "3", "answer": r"\frac{1}{"})
    rows.write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "rewards", "eval", "--input", str(rows), "--verifiers", "math"]
    proc = subprocess.run([*cmd, "--workers", "1", "--out", str(out)], capture_output=True)
    assert proc.returncode == 1, proc.stderr  # a row with an error fails the run
    results = {
        r["id"]: r["scores"]["math"] for r in map(json.loads, out.read_text().split("\n")[:2])
    }
    assert results["ok-1"]["error"] is None
    assert "gold answer does not parse" in results["broken-gold-7"]["error"]
