"""Peers' reward-function test cases, run against grpokit's ``format``, ``tag_count``,
``repetition``, ``length`` and ``math`` verifiers where the definitions are the same.

Cases (inputs and expected values only, no code) from:

* open-r1 (huggingface/open-r1, ``tests/test_rewards.py`` at commit
  1416fa0cf21595d2083b399a2a0bbddd7f6e9563): ``format_reward``, ``tag_count_reward``,
  ``get_repetition_penalty_reward``, ``get_soft_overlong_punishment``, ``accuracy_reward``;
* TRL (huggingface/trl, ``tests/test_rewards.py`` at commit
  f2cd57710ae345ea6428ae95363267fcf38a3dc8): ``think_format_reward``,
  ``get_soft_overlong_punishment``, ``get_repetition_penalty_reward``, ``accuracy_reward``.

Token ids become whitespace-separated words ("1 2 3 4"): grpokit's ``repetition`` and
``length`` (``unit="words"``) count words where the peers count token ids. Definitions that
differ on purpose (open-r1's ``len_reward`` and ``cosine_scaled_reward``, Chinese word
segmentation, TRL's ``None`` for an unparsable gold, the trailing-text leniency of open-r1's
``format_reward``) are documented in ``benchmarks/results/reward_conformance.md``; where a test
below pins one of them, it says so.
"""

from __future__ import annotations

import pickle

import pytest

from rewards.verifiers.format_tags import FormatVerifier, TagCountVerifier
from rewards.verifiers.length import LengthVerifier
from rewards.verifiers.math_answer import MathVerifier
from rewards.verifiers.repetition import RepetitionVerifier

ROW = {"answer": "unused"}
R1_ANSWER = "<think>\nSome reasoning\n</think>\n<answer>\nThe answer\n</answer>"

# -- format ---------------------------------------------------------------------------------

#: open-r1 test_format_reward_correct / _incorrect / _specific_multiline
OPEN_R1_FORMAT = [
    (R1_ANSWER, 1.0),
    ("<think>Only thinking</think>", 0.0),
    ("<answer>Only answer</answer>", 0.0),
    ("No tags at all", 0.0),
    ("<think>Missing closing</think><answer>Missing closing", 0.0),
    ("<think>Wrong order</answer><answer>Wrong order</think>", 0.0),
    (
        "<think>\nI will count each distinct object in the image:\n1. Purple scooter\n"
        "2. Red bicycle\n3. Green motorcycle\n4. Gray sedan\n5. Yellow school bus\n"
        "6. Small green double-decker bus\n7. Small red car\n8. Small purple car\n"
        "9. Small gray dirt bike\n\nThere are 9 distinct objects in total.\n</think>\n"
        "<answer>\n9\n</answer>",
        1.0,
    ),
]

#: TRL TestThinkFormatReward (valid, invalid; test_mixed_format repeats four of them)
TRL_THINK_FORMAT = [
    ("<think>This is my reasoning.</think>This is my answer.", 1.0),
    ("<think>\nThis is my reasoning.\n</think>\nThis is my answer.", 1.0),
    ("<think>\nThis is\nmy reasoning.\n</think>\nThis is my answer.", 1.0),
    ("<think>\nThis is <some tag> my reasoning.</think>\nThis is my answer.", 1.0),
    ("<think></think>\nThis is my answer.", 1.0),
    ("<think>\nThis is my reasoning.\nThis is my answer.", 0.0),
    ("<think>This is my reasoning.\nThis is my answer.", 0.0),
    ("This is my reasoning. This is my answer.", 0.0),
    ("This is my reasoning.\nThis is my answer.", 0.0),
    ("This is my reasoning.</think>\nThis is my answer.", 0.0),
    ("This is my reasoning.</think>This is my answer.", 0.0),
    ("This<think>is my reasoning.</think>\nThis is my answer.", 0.0),
    ("<think>This is<think>my reasoning.</think></think>This is my answer.", 0.0),
    ("<think>This is</think>\nmy\n<think>reasoning.</think>\nThis is my answer.", 0.0),
]
#: TRL's think-only definition, written as a ``format`` pattern (matched whole, DOTALL)
THINK_ONLY_PATTERN = r"<think>(?!.*<think>).*?</think>.*"


@pytest.mark.parametrize(("completion", "expected"), OPEN_R1_FORMAT)
def test_open_r1_format_reward_cases(completion, expected):
    assert FormatVerifier()(completion, ROW).score == expected


@pytest.mark.parametrize(("completion", "expected"), TRL_THINK_FORMAT)
def test_trl_think_format_reward_cases_as_a_format_pattern(completion, expected):
    assert FormatVerifier(pattern=THINK_ONLY_PATTERN)(completion, ROW).score == expected


def test_open_r1_format_accepts_text_after_the_answer_block_and_grpokit_does_not():
    """A documented difference: open-r1's regex ends in ``$`` under MULTILINE, so any line
    may follow ``</answer>``; grpokit's ``format`` rejects text after ``</answer>``."""
    trailing = R1_ANSWER + "\nP.S. extra text"
    result = FormatVerifier()(trailing, ROW)
    assert result.score == 0.0 and "text after </answer>" in result.reason


# -- tag_count ------------------------------------------------------------------------------

#: open-r1 test_tag_count_rewards_*
OPEN_R1_TAG_COUNT = [
    (R1_ANSWER, 1.0),
    ("Some reasoning\n</think>\n<answer>\nThe answer\n</answer>", 0.75),
    ("<think>\nSome reasoning\n<answer>\nThe answer\n</answer>", 0.75),
    ("<think>\nSome reasoning\n</think>\nThe answer\n</answer>", 0.75),
    ("<think>\nSome reasoning\n</think>\n<answer>\nThe answer", 0.75),
    ("Some reasoning\nThe answer", 0.0),
]


@pytest.mark.parametrize("strict_newlines", [True, False])
@pytest.mark.parametrize(("completion", "expected"), OPEN_R1_TAG_COUNT)
def test_open_r1_tag_count_reward_cases(completion, expected, strict_newlines):
    verifier = TagCountVerifier(strict_newlines=strict_newlines)
    assert verifier(completion, ROW).score == expected


def test_tag_count_requires_order_where_open_r1_counts_each_tag_alone():
    """A documented difference: open-r1 gives 1.0 to the four markers in any order; grpokit
    counts the largest set used once *and in order*, so swapped blocks earn less."""
    swapped = "<answer>\nThe answer\n</answer>\n<think>\nSome reasoning\n</think>\n"
    assert TagCountVerifier(strict_newlines=True)(swapped, ROW).score == 0.5


# -- repetition -----------------------------------------------------------------------------

#: (ngram, max_penalty, completion, expected): open-r1 TestRepetitionPenaltyReward
OPEN_R1_REPETITION = [
    (2, -1.0, "this is a test sentence", 0.0),
    (2, -1.0, "this this this this this", -0.75),
    (2, -1.0, "this is a this is a test", -1 / 3),
    (3, -0.5, "this is a test", 0.0),
    (3, -0.5, "test test test test", -0.25),
    (2, -1.0, "", 0.0),
    (3, -2.0, "this is a this is a test", -0.4),
    (3, -1.0, "word", 0.0),
    (3, -1.0, "two words", 0.0),
    (3, -1.0, "three different words", 0.0),
    (3, -1.0, "word word word word", -0.5),
    (3, -1.0, "one two one two", 0.0),
    (3, -0.5, "A B C A B", 0.0),
    (3, -1.0, "A B C A B C", -0.25),
    (3, -1.0, "A B C A B C E F G A B C A B C", -0.3846),
    (3, -1.0, "A B C D E F G H I J K L", 0.0),
    (2, -1.0, "that that that that that", -0.75),
]

#: (ngram, max_penalty, token ids, expected): TRL TestRepetitionPenaltyReward
TRL_REPETITION = [
    (2, -1.0, [1, 2, 3, 4], 0.0),
    (2, -1.0, [5, 5, 5, 5, 5], -0.75),
    (2, -1.0, [1, 2, 1, 2, 1, 2], -0.6),
    (3, -1.0, [1, 2], 0.0),
    (3, -1.0, [1, 2, 3], 0.0),
    (3, -1.0, [], 0.0),
    (2, -0.5, [5, 5, 5, 5, 5], -0.375),
    (2, -1.0, [1, 2, 3, 1, 2, 3], -0.4),
    (3, -1.0, [1, 2, 3, 1, 2, 3], -0.25),
    (2, -1.0, [9], 0.0),
]


def words(ids: list[int]) -> str:
    return " ".join(map(str, ids))


@pytest.mark.parametrize(("ngram", "max_penalty", "completion", "expected"), OPEN_R1_REPETITION)
def test_open_r1_repetition_penalty_cases(ngram, max_penalty, completion, expected):
    result = RepetitionVerifier(ngram=ngram, max_penalty=max_penalty)(completion, ROW)
    assert result.score == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize(("ngram", "max_penalty", "ids", "expected"), TRL_REPETITION)
def test_trl_repetition_penalty_cases_on_words(ngram, max_penalty, ids, expected):
    result = RepetitionVerifier(ngram=ngram, max_penalty=max_penalty)(words(ids), ROW)
    assert result.score == pytest.approx(expected)


def test_repetition_is_case_insensitive_like_open_r1():
    verifier = RepetitionVerifier(ngram=2)
    assert verifier("This is A Test", ROW).score == verifier("this IS a test", ROW).score


@pytest.mark.parametrize("max_penalty", [1.0, 1.5, 0.5])
def test_a_positive_max_penalty_is_refused_like_both_peers(max_penalty):
    with pytest.raises(ValueError, match="max_penalty"):
        RepetitionVerifier(ngram=2, max_penalty=max_penalty)


def test_repetition_verifier_pickles_like_trls_reward():
    verifier = pickle.loads(pickle.dumps(RepetitionVerifier(ngram=2, max_penalty=-1.0)))
    assert verifier(words([5, 5, 5, 5, 5]), ROW).score == pytest.approx(-0.75)


def test_chinese_text_is_not_segmented_unlike_open_r1_with_jieba():
    """A documented difference: open-r1 splits Chinese with jieba (-0.75 here); grpokit splits
    on whitespace, so an unspaced Chinese text is one word and has no 2-gram."""
    assert RepetitionVerifier(ngram=2)("这个这个这个这个这个", ROW).score == 0.0
    assert RepetitionVerifier(ngram=2)("这个 这个 这个 这个 这个", ROW).score == -0.75


# -- length (DAPO soft overlong punishment) -------------------------------------------------

#: (length, expected) with max_completion_len=100, soft_punish_cache=20: open-r1 and TRL
SOFT_OVERLONG = [(50, 0.0), (110, -1.0), (90, -0.5)]


@pytest.mark.parametrize(("length", "expected"), SOFT_OVERLONG)
def test_soft_overlong_punishment_cases(length, expected):
    verifier = LengthVerifier(max_length=100, buffer=20, unit="words")
    assert verifier(words([1] * length), ROW).score == pytest.approx(expected, abs=1e-4)


# -- math (accuracy_reward) -----------------------------------------------------------------

#: (completion, gold, expected): open-r1 and TRL accuracy_reward tests
ACCURACY = [
    (r"\boxed{\frac{63}{400}}", r"\frac{63}{400}", 1.0),
    (r"\boxed{\frac{63}{400}}", "63/400", 1.0),
    (r"\boxed{\frac{64}{400}}", r"\frac{63}{400}", 0.0),
    (r"\boxed{3}", "6", 0.0),
    (r"\boxed{\frac{1}{3}}", r"\frac{1}{3}", 1.0),
]


@pytest.mark.parametrize(("completion", "gold", "expected"), ACCURACY)
def test_accuracy_reward_cases(completion, gold, expected):
    assert MathVerifier()(completion, {"answer": gold}).score == expected


def test_a_text_gold_is_compared_as_text_where_trl_returns_none():
    """A documented difference: TRL's accuracy_reward returns None for a gold math-verify
    cannot parse ("Answer is forty two."); grpokit reads the gold's stated answer as text."""
    verifier = MathVerifier()
    assert verifier("Answer is forty two.", {"answer": "Answer is forty two."}).score == 1.0
    assert (
        verifier(r"Some other content. \boxed{43}.", {"answer": "Answer is forty three."}).score
        == 0.0
    )
