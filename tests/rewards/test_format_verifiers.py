"""The ``format`` and ``tag_count`` verifiers on well-formed, broken and odd completions."""

import pytest

from rewards.verifiers.format_tags import FormatVerifier, TagCountVerifier, ordered_unique_markers

GOOD = "<think>\nAdd 2 and 3.\nThat is 5.\n</think>\n<answer>\n5\n</answer>"


@pytest.mark.parametrize(
    "completion",
    [
        GOOD,
        "<think>x</think><answer>5</answer>",
        "  \n<think>multi\nline\nreasoning</think>\n\n<answer>\\boxed{5}</answer>\n\n",
        "<think>先算 2+3。</think><answer>五</answer>",
        "<think>a < b and b > c</think><answer>a</answer>",
    ],
)
def test_format_accepts_the_template(completion):
    result = FormatVerifier()(completion, {})
    assert result.score == 1.0, result.reason
    assert result.error is None


@pytest.mark.parametrize(
    ("completion", "reason"),
    [
        ("", "no <think> block; no <answer> block"),
        ("The answer is 5.", "no <think> block; no <answer> block"),
        ("<think>x</think>", "no <answer> block"),
        ("<answer>5</answer>", "no <think> block"),
        ("<think>x</think><answer>5</answer> Hope this helps!", "text after </answer>"),
        ("Sure! <think>x</think><answer>5</answer>", "text before <think>"),
        ("<think>x</think> so <answer>5</answer>", "text between </think> and <answer>"),
        ("<think>x <answer>5</answer></think>", "nested tags: <answer> inside <think> block"),
        ("<think>a<think>b</think></think><answer>5</answer>", "nested tags: <think> inside"),
        ("<think>x<answer>5</think></answer>", "nested tags: </think> closes <think> before"),
        ("<think>x<answer>5</answer>", "unclosed <think> (no </think>)"),
        ("<think>x</think><answer>5", "unclosed <answer> (no </answer>)"),
        ("x</think><answer>5</answer>", "</think> without <think>"),
        ("<think>a</think><think>b</think><answer>5</answer>", "2 <think> blocks (expected 1)"),
        ("<answer>5</answer><think>x</think>", "<answer> block before <think> block"),
        ("<think> \n </think><answer>5</answer>", "empty <think> block"),
        ("<think>x</think><answer></answer>", "empty <answer> block"),
    ],
)
def test_format_rejects_and_says_why(completion, reason):
    result = FormatVerifier()(completion, {})
    assert result.score == 0.0
    assert reason in result.reason
    assert result.error is None  # a badly formatted completion is a verdict, not an error


def test_format_reports_every_problem_of_a_well_nested_completion():
    result = FormatVerifier()("hi <think>x</think>, <answer>5</answer> bye", {})
    assert result.reason == (
        "text before <think>; text between </think> and <answer>; text after </answer>"
    )


def test_format_allow_empty_accepts_blank_blocks():
    assert FormatVerifier(allow_empty=True)("<think></think><answer>5</answer>", {}).score == 1.0


def test_format_custom_tag_names():
    verifier = FormatVerifier(think_tag="reasoning", answer_tag="final")
    assert verifier("<reasoning>r</reasoning><final>5</final>", {}).score == 1.0
    assert "no <final> block" in verifier(GOOD, {}).reason


def test_format_custom_pattern_is_matched_whole_with_dotall():
    verifier = FormatVerifier(pattern=r"\s*<reasoning>.+</reasoning>\s*\\boxed\{\d+\}\s*")
    assert verifier("<reasoning>line 1\nline 2</reasoning>\n\\boxed{12}\n", {}).score == 1.0
    result = verifier("<reasoning>r</reasoning> \\boxed{12} trailing", {})
    assert result.score == 0.0
    assert "does not match the format pattern" in result.reason


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"pattern": "(unclosed"}, "pattern"),
        ({"pattern": 3}, "pattern"),
        ({"think_tag": "two words"}, "think_tag"),
        ({"answer_tag": ""}, "answer_tag"),
        ({"think_tag": "x", "answer_tag": "x"}, "think_tag"),
        ({"patern": ".*"}, "patern"),
    ],
)
def test_format_bad_options_name_the_option(options, named):
    with pytest.raises(ValueError, match=named):
        FormatVerifier(**options)


# -- tag_count ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("completion", "score"),
    [
        (GOOD, 1.0),
        ("<think>x</think><answer>5</answer>", 1.0),
        ("<think>x</think><answer>5", 0.75),
        ("<think>x</think>", 0.5),
        ("5", 0.0),
        ("", 0.0),
        ("<think>a<think>b</think><answer>5</answer>", 0.75),  # <think> twice
        ("</think>x<think><answer>5</answer>", 0.75),  # </think> out of order
        ("<answer>5</answer><think>x</think>", 0.5),  # two in order either way
        ("<think>数学</think><answer>五</answer>", 1.0),
    ],
)
def test_tag_count_partial_credit(completion, score):
    result = TagCountVerifier()(completion, {})
    assert result.score == pytest.approx(score)
    assert result.error is None


def test_tag_count_reason_names_the_missing_tags():
    result = TagCountVerifier()("<think>x</think><answer>5", {})
    assert result.reason == "3/4 tags used once and in order (not: </answer>)"


def test_tag_count_strict_newlines_follows_open_r1_markers():
    verifier = TagCountVerifier(strict_newlines=True)
    assert verifier(GOOD, {}).score == 1.0
    assert verifier("<think>x</think><answer>5</answer>", {}).score == 0.0
    assert verifier("<think>\nx</think>\n<answer>\n5\n</answer>", {}).score == 0.75


def test_tag_count_trailing_penalty_only_for_non_blank_text_after_answer():
    verifier = TagCountVerifier(trailing_penalty=0.5)
    assert verifier(GOOD + "\n \n", {}).score == 1.0
    result = verifier(GOOD + "\nAnything else?", {})
    assert result.score == 0.5
    assert "text after </answer>: -0.5" in result.reason
    assert verifier("</answer> x", {}).score == 0.0  # clamped at 0
    assert TagCountVerifier()(GOOD + " more", {}).score == 1.0  # no penalty by default


def test_ordered_unique_markers_finds_the_longest_ordered_set():
    assert ordered_unique_markers("b a c d", ("a", "b", "c", "d")) == (0, 2, 3)
    assert ordered_unique_markers("d c b a", ("a", "b", "c", "d")) == (0,)
    assert ordered_unique_markers("", ("a", "b")) == ()


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"trailing_penalty": -0.1}, "trailing_penalty"),
        ({"trailing_penalty": 2}, "trailing_penalty"),
        ({"trailing_penalty": "0.1"}, "trailing_penalty"),
        ({"think_tag": "<think>"}, "think_tag"),
        ({"weight": 0.5}, "weight"),
    ],
)
def test_tag_count_bad_options_name_the_option(options, named):
    with pytest.raises(ValueError, match=named):
        TagCountVerifier(**options)
