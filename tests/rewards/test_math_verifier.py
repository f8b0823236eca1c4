"""The ``math`` verifier's verdicts: a broad table of equivalent / non-equivalent answers, hedges,
missing answers, the options that change a verdict, and the extraction helpers. Bad rows and
options, hostile input, threads and time limits: ``test_math_verifier_robustness.py``.

Rows marked "math-verify: ..." are cases where plain ``verify(parse("$gold$"), parse(completion))``
(math-verify 0.9) gives the other verdict; the comment says what it returns.
"""

from __future__ import annotations

import pytest

from rewards.verifiers.math_answer import MathVerifier
from rewards.verifiers.math_extract import clean, extract_final_answer, split_top_level

B = r"\boxed{%s}"


def boxed(answer: str) -> str:
    return "We work it out step by step.\nSo the final answer is $" + B % answer + "$."


EQUIVALENT = [
    # integers, decimals, thousands separators, signs
    ("42", boxed("42")),
    ("42", boxed("42.0")),
    ("42", boxed("042")),
    ("-7", boxed("-7")),
    ("1000", boxed("1,000")),
    ("1000000", boxed("1{,}000{,}000")),
    ("1500", boxed(r"1.5 \times 10^{3}")),
    ("2.5", boxed("2.50")),
    ("0.5", boxed(r"\frac{1}{2}")),
    ("0.75", "The answer is 3/4."),
    # fractions and LaTeX
    (r"\frac{1}{2}", boxed("0.5")),
    (r"\frac{1}{2}", boxed(r"\dfrac{2}{4}")),
    (r"\frac{3}{4}", boxed("3/4")),
    (r"-\frac{1}{3}", boxed(r"\frac{-1}{3}")),
    (r"\frac{\sqrt{3}}{2}", boxed(r"\frac{1}{2}\sqrt{3}")),
    (r"2\sqrt{3}", boxed(r"\sqrt{12}")),
    (r"\frac{\sqrt{2}}{2}", boxed(r"\frac{1}{\sqrt{2}}")),
    (r"3\pi", boxed(r"\pi \cdot 3")),
    (r"\frac{\pi}{4}", boxed(r"0.25\pi")),
    (r"\log_2 8", boxed("3")),
    ("3+4i", boxed("4i+3")),
    (r"e^{i\pi}", boxed("-1")),  # math-verify: False (reads i as a real symbol)
    # exact gold, exactly equal decimal
    (r"\frac{1}{8}", boxed("0.125")),
    ("2", boxed(r"\sqrt{4}")),
    # symbolic
    ("x^2+2x+1", boxed("(x+1)^2")),
    (r"\frac{x^2-1}{x-1}", boxed("x+1")),
    (r"\sin^2 x + \cos^2 x", boxed("1")),
    ("2x", boxed("x \\cdot 2")),
    ("xy", boxed("yx")),  # two letters are a product, not a word
    # approximate gold (written with decimals): within half a unit of its last digit
    ("3.14", boxed("3.14159")),  # math-verify: False (compares at 6 decimals)
    ("3.14", boxed(r"\pi")),  # math-verify: False
    ("1.414", boxed(r"\sqrt{2}")),  # math-verify: False
    ("0.3333", boxed(r"\frac{1}{3}")),  # math-verify: False
    ("0.33", "The answer is 0.333."),  # math-verify: False
    # percentages
    (r"50\%", boxed("0.5")),
    (r"50\%", boxed("50")),
    ("0.5", boxed(r"50\%")),
    ("25", "The answer is 25 percent."),
    # sets, intervals, tuples, unions, matrices
    (r"\{1, 2, 3\}", boxed(r"\{3, 1, 2\}")),
    (r"\{1, 2\}", boxed("2, 1")),
    ("1, 2", boxed(r"\{2,1\}")),
    ("[0, 1)", boxed(r"\left[0,1\right)")),
    (r"(-\infty, 3]", boxed(r"(-∞, 3]")),  # math-verify: False
    (r"(-\infty, 0) \cup (1, \infty)", boxed(r"(1,\infty)\cup(-\infty,0)")),
    ("(1, 2)", boxed(r"\left( 1, 2 \right)")),
    ("(3, -1)", boxed("(3,-1)")),
    (
        r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}",
        boxed(r"\begin{bmatrix}1&2\\3&4\end{bmatrix}"),
    ),
    (r"\varnothing", boxed(r"\emptyset")),  # math-verify: False
    (r"\emptyset", boxed(r"\{\}")),
    # equations and assignments
    ("3", boxed("x = 3")),
    ("x = 3", boxed("3")),
    ("x=3", boxed("x = 3")),
    ("y = 2x + 1", boxed("y = 1 + 2x")),
    ("x > 3", boxed("3 < x")),
    ("2x+4y-3=0", boxed(r"y = -\frac{1}{2}x + \frac{3}{4}")),
    ("x = 2", boxed("2x = 4")),
    (r"y \le 2x", boxed(r"-2y \ge -4x")),
    ("5", boxed(r"x = 2 + 3 = 5")),
    (r"[2, \infty)", boxed(r"x \in [2, \infty)")),
    (r"\pm 2", boxed("2, -2")),
    # units and currency
    ("5", boxed(r"5 \text{ cm}")),
    ("12", "The answer is 12 dollars."),
    ("30", boxed(r"30^\circ")),
    ("20", boxed(r"\$20")),
    ("7", boxed(r"7\text{ m}^2")),
    # text and multiple choice
    ("yes", boxed(r"\text{Yes}")),
    ("Tuesday", "The answer is tuesday."),  # math-verify: False
    ("no", "<answer>No</answer>"),  # math-verify: False
    ("B", boxed("(B)")),
    (r"\text{(C)}", "The answer is C."),
    ("C", "The answer is C) 12."),  # math-verify: False
    ("Alice and Bob", boxed(r"\text{Bob and Alice}")),  # math-verify: False
    # tiny exact values
    (r"\frac{1}{2^{99}}", boxed(r"2^{-99}")),
    (r"10^{-20}", boxed(r"\frac{1}{10^{20}}")),
    # extraction forms
    ("7", "<think>3 + 4</think>\n<answer>7</answer>"),  # math-verify: False
    ("7", "<answer>The answer is $7$.</answer>"),
    ("7", "<answer>$\\boxed{7}$</answer>"),
    ("7", r"Final Answer: \fbox{7}"),  # math-verify: False
    ("7", "**Final Answer:** $7$"),
    ("7", "Final answer: 7"),
    (r"\frac{1}{2}", "Thus the answer is $\\frac{1}{2}$. I hope it is correct."),
    ("12", boxed("{12}")),
    # several boxes that all say the same value are no hedge
    ("0.5", r"\boxed{\frac{1}{2}} which is \boxed{0.5}"),
    # a list of accepted answers
    (["4", "four"], boxed(r"\text{four}")),
]

NOT_EQUIVALENT = [
    # exact gold: approximations are wrong
    (r"\frac{1}{3}", boxed("0.333")),
    (r"\frac{1}{3}", boxed("0.333333")),  # math-verify: True (6-decimal rounding)
    (r"\frac{2}{3}", boxed("0.6666667")),  # math-verify: True
    (r"\sqrt{2}", boxed("1.414214")),  # math-verify: True
    ("2", boxed("1.9999999")),
    ("2", boxed("2.0000001")),
    (r"\frac{1}{2^{99}}", boxed(r"\frac{1}{2^{98}}")),  # math-verify: True (15 digits, chop)
    (r"\frac{1}{2004!}", boxed(r"\frac{1}{2006!}")),  # math-verify: True
    (r"10^{-20}", boxed(r"10^{-21}")),  # math-verify: True
    (r"\frac{2^{2005}+1}{3 \cdot 2^{2006}}", boxed(r"\frac{1}{3 \cdot 2^{2006}}")),  # mv: True
    # approximate gold: less precise or off by more than half a unit
    ("3.14", boxed("3.1")),
    ("3.14", boxed("3.15")),
    ("3.14159", boxed("3.14")),
    # plain wrong values
    ("42", boxed("24")),
    (r"\frac{3}{4}", boxed(r"\frac{4}{3}")),
    ("x^2+2x+1", boxed("(x+1)^3")),
    ("x + 1", boxed("y + 1")),
    (r"2\sqrt{3}", boxed(r"3\sqrt{2}")),
    (r"50\%", boxed("5")),
    (r"0.5\%", boxed(r"50\%")),
    # structures
    ("(1, 2)", boxed("(2, 1)")),
    ("[0, 1)", boxed("[0, 1]")),
    ("[0, 1)", boxed("(0, 1)")),
    (r"\{1, 2, 3\}", boxed(r"\{1, 2\}")),
    (r"\{1, 2\}", boxed("(1, 2)")),  # math-verify: True
    ("(1, 2)", boxed(r"\{1, 2\}")),  # math-verify: True
    (
        r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}",
        boxed(r"\begin{pmatrix}1&3\\2&4\end{pmatrix}"),
    ),
    (r"\emptyset", boxed(r"\{0\}")),
    ("3", boxed(r"\{3, 4\}")),
    # equations
    ("x = 2", boxed("y = 2")),
    ("y = 2x + 1", boxed("y = 2x - 1")),
    ("y > x", boxed("x > y")),
    (r"y \le 2x", boxed(r"-2y \le -4x")),
    ("x + y = 1", boxed("x + y = 2")),
    ("x = 2", boxed("x^{999} = 2^{999}")),  # math-verify's solve() takes seconds here
    # text: words are not products of symbols
    ("yes", boxed("sey")),  # math-verify: True (y*e*s == s*e*y)
    ("no", boxed("on")),  # math-verify: True
    ("Tuesday", boxed("Wednesday")),
    ("even", boxed("neve")),  # math-verify: True
    ("B", boxed("C")),
    ("(A)", boxed("B")),
    (r"\infty", boxed(r"-\infty")),
    ("yes", boxed("no")),
    # an intermediate box does not count once a final box disagrees
    ("5", "<answer>6</answer> although earlier I wrote \\boxed{5}"),  # math-verify: True
]

HEDGED = [
    ("3", "The answer is 3 or 4."),  # math-verify: True (takes the first number)
    ("3", boxed(r"3 \text{ or } 4")),
    ("3", r"\boxed{3} or \boxed{4}"),  # one box per candidate
    ("3", r"The roots are \boxed{3}, \boxed{4}."),
    ("3", "<answer>It is either 3 or 4</answer>"),  # a sentence listing candidates
    ("3", boxed("3, not 4")),
    ("3", boxed("x = 3, 4")),
    ("2", boxed(r"\pm 2")),
    ("yes", "The answer is yes or no."),
    ("3", "The answer is 4 or 5."),
]


def score(gold, completion, **options):
    return MathVerifier(**options)(completion, {"answer": gold})


@pytest.mark.parametrize(("gold", "completion"), EQUIVALENT)
def test_equivalent_answers_score_one(gold, completion):
    result = score(gold, completion)
    assert result.score == 1.0, result.reason
    assert result.reason.startswith("equivalent"), result.reason
    assert result.error is None


@pytest.mark.parametrize(("gold", "completion"), NOT_EQUIVALENT)
def test_wrong_answers_score_zero(gold, completion):
    result = score(gold, completion)
    assert result.score == 0.0, result.reason
    assert result.reason.startswith("not equivalent"), result.reason
    assert result.error is None


@pytest.mark.parametrize(("gold", "completion"), HEDGED)
def test_hedged_answers_score_zero(gold, completion):
    result = score(gold, completion)
    assert result.score == 0.0
    assert result.reason.startswith("hedged: several candidates"), result.reason


def test_table_is_broad():
    assert len(EQUIVALENT) + len(NOT_EQUIVALENT) + len(HEDGED) >= 80


def test_reason_names_both_sides():
    result = score(r"\frac{1}{2}", boxed("0.5"))
    assert result.reason == r"equivalent: \frac{1}{2} == 0.5"
    wrong = score("3", boxed("4"))
    assert wrong.reason == "not equivalent: 4 vs gold 3"


def test_approximate_gold_reason_states_tolerance():
    assert "±0.005" in score("3.14", boxed("3.14159")).reason


@pytest.mark.parametrize(
    "completion",
    [
        "",
        "I think it is about five.",
        "<answer></answer>",
        r"\boxed{",
        "<answer>unterminated",
        # a number mentioned on the way is no final answer (math-verify: True for gold 5)
        "We get 5 in one case but I could not finish.",
    ],
)
def test_no_final_answer(completion):
    result = score("5", completion)
    assert (result.score, result.reason, result.error) == (0.0, "no final answer found", None)


def test_fallback_last_number_is_opt_in():
    text = "Adding up, we get 12 apples and 5 pears, so 17 in total"
    assert score("17", text).reason == "no final answer found"
    assert score("17", text, fallback_last_number=True).score == 1.0


def test_gsm8k_hash_line_is_an_answer_and_the_last_one_counts():
    assert score("1234", "48 + 1186 = 1234\n#### 1,234").score == 1.0
    assert score("72", "#### 71 (first try)\nno wait\n#### 72").score == 1.0
    assert score("72", "#### 71\nthen 72 more steps").score == 0.0  # the line, not a number
    assert score("72", "#### 72", extract="boxed").reason == "no final answer found"


def test_extract_order_is_configurable():
    text = r"<answer>4</answer> and \boxed{5}"
    assert score("4", text).score == 1.0
    assert score("5", text, extract=["boxed"]).score == 1.0
    assert score("5", text, extract=("answer_is",)).reason == "no final answer found"
    assert score("5", text, extract="answer_is, boxed").score == 1.0


def test_decimal_gold_exact_option_turns_tolerance_off():
    assert score("3.14", boxed("3.14159"), decimal_gold="exact").score == 0.0
    assert score("3.14", boxed("3.140"), decimal_gold="exact").score == 1.0


def test_float_rounding_option_sets_compared_decimals():
    assert score("3.14", boxed("3.1"), float_rounding=1).score == 1.0
    assert score("3.1", boxed("3.14"), float_rounding=2).score == 0.0


# -- extraction helpers ---------------------------------------------------------------------


def test_extraction_prefers_answer_tag_then_last_box():
    found = extract_final_answer(r"\boxed{1} <answer>\boxed{\frac{1}{2}}</answer> \boxed{3}")
    assert (found.text, found.source) == (r"\frac{1}{2}", "answer_tag")
    found = extract_final_answer(r"\boxed{\{1,2\}} then \boxed{x^{2}}")  # one answer, two boxes
    assert found.text == r"\{1,2\}, x^{2}" and found.candidates == (r"\{1,2\}", "x^{2}")
    found = extract_final_answer(r"So \boxed{3}. Wait, I dropped a sign: \boxed{4}")
    assert (found.text, found.candidates) == ("4", ())  # a corrected box is no candidate


def test_clean_and_split():
    assert clean(r"$\left( 1, \dfrac{1}{2} \right)$.") == r"( 1, \frac{1}{2} )"
    assert clean("**\\varnothing**") == r"\emptyset"
    assert split_top_level("1,000") == ["1,000"]
    assert split_top_level("x=3, 4") == ["x=3", "4"]
    assert split_top_level("[0, 1) or 5") == ["[0, 1)", "5"]
