"""The arithmetic suites and their verifiers: valid, deterministic, disjoint rows; scoring."""

from __future__ import annotations

import pytest

from rewards import SuiteError, get_plugins
from rewards.scheme import RewardScheme
from rewards.suites.arithmetic import ArithmeticSuite, split_of
from rewards.verifiers.arithmetic import digit_credit, line_spans, read_answer


def _problem_key(row):
    return (tuple(row["operands"]), tuple(row["operators"]))


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"digits": 2, "operators": "+-", "terms": 3, "steps": True},
        {"operators": "*", "pad": False},
    ],
)
def test_rows_are_valid_and_match_their_answers(options):
    suite = get_plugins().suite("arithmetic", train_rows=300, test_rows=100, **options)
    for split in ("train", "test"):
        rows = suite.rows(split, seed=3)
        assert len(rows) == (300 if split == "train" else 100)
        for row in rows:
            value = row["operands"][0]
            running = []
            for op, x in zip(row["operators"], row["operands"][1:], strict=True):
                value = value + x if op == "+" else value - x if op == "-" else value * x
                running.append(value)
            assert int(row["answer"]) == value
            assert [int(v) for v in row["intermediate"]] == running
            assert [int(v) for v in row["solution"].split("\n")][-1] == value
            assert row["prompt"].endswith("=")
            assert split_of_row(row) == split


def split_of_row(row):
    from rewards.suites.arithmetic import Problem

    return split_of(Problem(tuple(row["operands"]), tuple(row["operators"])))


def test_compact_rows_are_zero_padded_to_fixed_columns():
    rows = get_plugins().suite("arithmetic", train_rows=200).rows("train", seed=0)
    assert {len(r["prompt"]) for r in rows} == {8}  # 042+317=
    assert {len(r["solution"]) for r in rows} == {4}  # 0359
    assert all(r["solution"].lstrip("0") == r["answer"].lstrip("0") for r in rows)


def test_same_seed_same_rows_other_seed_other_rows():
    suite = get_plugins().suite("arithmetic", train_rows=200, test_rows=50)
    assert suite.rows("train", seed=1) == suite.rows("train", seed=1)
    assert suite.rows("train", seed=1) != suite.rows("train", seed=2)
    assert suite.rows("test", seed=1) == get_plugins().suite("arithmetic").rows(
        "test", seed=1, limit=50
    )


def test_train_and_test_never_overlap_whatever_the_seeds():
    suite = get_plugins().suite("arithmetic", digits=2, train_rows=2000, test_rows=500)
    test = {_problem_key(r) for seed in (0, 1, 2) for r in suite.rows("test", seed=seed)}
    train = {_problem_key(r) for seed in (0, 5) for r in suite.rows("train", seed=seed)}
    assert test and train and not test & train


def test_rows_within_a_split_are_distinct_when_the_space_allows():
    rows = get_plugins().suite("arithmetic", test_rows=1000).rows("test", seed=0)
    assert len({_problem_key(r) for r in rows}) == 1000


def test_tiny_problem_space_terminates_with_repeats():
    rows = get_plugins().suite("arithmetic", digits=1, test_rows=100).rows("test", seed=0)
    assert len(rows) == 100 and len({_problem_key(r) for r in rows}) < 100


def test_question_style_and_steps_suite():
    plugins = get_plugins()
    row = plugins.suite("arithmetic", style="question", pad=False).rows("test", limit=1)[0]
    assert row["prompt"].startswith("What is ") and " + " in row["prompt"]
    steps = plugins.suite("arithmetic-steps").rows("train", limit=5)
    assert all(len(r["intermediate"]) == 3 and r["solution"].count("\n") == 2 for r in steps)
    assert all(len(r["prompt"]) == 8 and len(r["solution"]) == 8 for r in steps)  # 2+2+2+5=


@pytest.mark.parametrize(
    "options, message",
    [
        ({"digits": 0}, "digits"),
        ({"operators": "/"}, "operators"),
        ({"operators": "*", "terms": 3}, "'\\*' is only allowed"),
        ({"style": "prose"}, "style"),
        ({"colour": 1}, "has no option 'colour'"),
    ],
)
def test_bad_options_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        get_plugins().suite("arithmetic", **options)


def test_row_missing_a_required_field_names_suite_row_and_field():
    class Broken(ArithmeticSuite):
        name = "broken-arithmetic"

        def load(self, split, seed):
            for i, row in enumerate(super().load(split, seed)):
                if i == 2:
                    row = {k: v for k, v in row.items() if k != "answer"}
                yield row

    with pytest.raises(
        SuiteError, match=r"'broken-arithmetic', train row 2: missing field 'answer'"
    ):
        Broken(train_rows=5).rows("train")


def test_default_scheme_exact_plus_partial_credit():
    scheme = RewardScheme.from_config(get_plugins().suite("arithmetic").default_scheme())
    rows = [{"answer": "359"}] * 6
    batch = scheme.score(["359", "0359", "358", "1359", "", "-359"], rows)
    assert batch.totals == pytest.approx([1.5, 1.5, 1 / 3, 0.375, 0.0, 0.0])
    assert batch.errors() == {"arithmetic": 0, "arithmetic_digits": 0}


def test_answer_extraction_modes():
    assert read_answer("12\n359\n", "last_line") == "359"
    assert read_answer("the answer is 359.", "last_line") is None
    assert read_answer("the answer is 359.", "last_number") == "359"
    assert read_answer("", "last_number") is None
    verifier = get_plugins().verifier("arithmetic", extract="last_number")
    assert verifier("So 42+317 = 359.", {"answer": 359}).score == 1.0
    with pytest.raises(ValueError, match="extract"):
        get_plugins().verifier("arithmetic", extract="first")


def test_digit_credit_aligns_from_the_units():
    assert digit_credit(359, 359) == 1.0
    assert digit_credit(349, 359) == pytest.approx(2 / 3)
    assert digit_credit(59, 359) == pytest.approx(2 / 3)
    assert digit_credit(-359, 359) == 0.0


def test_bad_answer_field_is_an_error_result():
    result = get_plugins().verifier("arithmetic")("359", {"answer": "three"})
    assert result.score == 0.0 and "not an integer" in result.error
    assert get_plugins().verifier("arithmetic")("359", {}).error == "missing task field 'answer'"


def test_steps_verifier_rewards_each_line_at_its_end_offset():
    verifier = get_plugins().verifier("arithmetic_steps")
    row = {"intermediate": ["46", "102"]}
    good = verifier("46\n102", row)
    assert good.score == 1.0 and good.steps == ((2, 1.0), (6, 1.0))
    half = verifier("46\n103\n7", row)
    assert half.score == 0.0 and half.steps == ((2, 1.0), (6, 0.0), (8, 0.0))
    short = verifier("47", row)
    assert short.steps == ((2, 0.0), (2, 0.0))
    assert verifier("", row).steps == ((0, 0.0), (0, 0.0))
    assert verifier("1", {"intermediate": []}).error


def test_line_spans_skip_blank_lines():
    assert line_spans("a\n\n bc \n") == [("a", 1), ("bc", 7)]
