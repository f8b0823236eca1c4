"""The grpokit-countdown plugin: its safe expression verifier, its procedural suite, and its
discovery through the ``grpokit`` entry point (needs ``pip install -e plugins/grpokit-countdown``,
which ``make venv`` does for every plugins/*/)."""

from __future__ import annotations

import importlib.metadata
import itertools
import pickle
import sys
from fractions import Fraction
from importlib import import_module
from pathlib import Path

import pytest
from grpokit_countdown.expression import ExpressionError, evaluate, parse
from grpokit_countdown.suite import CountdownSuite
from grpokit_countdown.verifier import CountdownVerifier
from hypothesis import given, settings
from hypothesis import strategies as st

import rewards

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

PLUGIN_DIR = Path(__file__).resolve().parents[2] / "plugins" / "grpokit-countdown"


def answer(expression: str) -> str:
    return f"<think>let me try</think><answer>{expression}</answer>"


# -- verifier ----------------------------------------------------------------------------------

CASES = [
    # (completion, numbers, target, score, reason fragment)
    (answer("(3 + 5) * 3"), [3, 5, 3], 24, 1.0, "(3 + 5) * 3 = 24"),
    (answer("6 / (1 - 3 / 4)"), [1, 3, 4, 6], 24, 1.0, "= 24"),  # exact fractions
    (answer("8 × (2 + 1) ÷ 1"), [8, 2, 1, 1], 24, 1.0, "= 24"),
    (answer("1 + 2"), [1, 2, 3, 4], 3, 1.0, "= 3"),  # each number at most once
    (answer("(3 + 5) * 3 = 24"), [3, 5, 3], 24, 1.0, "= 24"),  # restated result dropped
    (answer("3 * 5") + answer("(3 + 5) * 3"), [3, 5, 3], 24, 1.0, "= 24"),  # last answer
    (answer("(3 + 5) * 3") + answer("3 * 5"), [3, 5, 3], 24, 0.0, "evaluates to 15, target 24"),
    ("So the answer is\n(3 + 5) * 3\nDone.", [3, 5, 3], 24, 1.0, "= 24"),  # last arithmetic line
    ("(3 + 5) * 3 = 24", [3, 5, 3], 24, 0.0, "no expression found"),  # a line with '='
    ("I cannot solve this.", [3, 5, 3], 24, 0.0, "no expression found"),
    (answer(""), [3, 5], 8, 0.0, "empty expression"),
    (answer("7 + 1"), [3, 5, 1], 8, 0.0, "uses 7 which is not available"),
    (answer("5 + 5 - 2"), [5, 3, 2], 8, 0.0, "uses 5 twice but it is given once"),
    (answer("(3 + 5) * 2"), [3, 5, 2], 24, 0.0, "evaluates to 16, target 24"),
    (answer("8 / 3"), [8, 3], 3, 0.0, "evaluates to 8/3, target 3"),
    (answer("5 / (2 - 2)"), [2, 2, 5], 5, 0.0, "division by zero"),
    (answer("-3 + 5"), [3, 5], 2, 0.0, "unary '-' at position 0 is not allowed"),
    (answer("3.0 * 8"), [3, 8], 24, 0.0, "decimal number '3.0'"),
    (answer("[3, 8]"), [3, 8], 24, 0.0, "unexpected character '['"),
    (answer("a + 3"), [3], 3, 0.0, "names are not allowed ('a' at position 0)"),
    (answer("__import__('os').system('true')"), [1], 1, 0.0, "names are not allowed"),
    (answer("(lambda: 24)()"), [24], 24, 0.0, "names are not allowed ('lambda'"),
    (answer("2 ** 3"), [2, 3], 8, 0.0, "power '**' at position 2 is not allowed"),
    (answer("9**9**9**9**9"), [9], 9, 0.0, "power '**'"),  # never evaluated
    (answer("9 ^ 99999999"), [9], 9, 0.0, "power '^'"),
    (answer("7 // 2"), [7, 2], 3, 0.0, "floor division '//'"),
    (answer("(3 + 5"), [3, 5], 8, 0.0, "expected ')' to close '(' at position 0"),
    (answer("3 5"), [3, 5], 8, 0.0, "unexpected '5' at position 2"),
    (answer("(" * 60 + "1" + ")" * 60), [1], 1, 0.0, "brackets nested deeper than 50"),
    (answer("1+" * 5000 + "1"), [1], 2, 0.0, "expression is 10001 characters long, limit 200"),
]


@pytest.mark.parametrize(("completion", "numbers", "target", "score", "reason"), CASES)
def test_verifier_scores_and_explains(completion, numbers, target, score, reason):
    result = CountdownVerifier()(completion, {"numbers": numbers, "target": target})
    assert result.error is None
    assert result.score == score
    assert reason in result.reason


def test_injected_code_is_never_run(tmp_path):
    marker = tmp_path / "pwned"
    attack = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    for completion in (answer(attack), attack, answer(f"1 + {attack}")):
        result = CountdownVerifier()(completion, {"numbers": [1], "target": 1})
        assert result.score == 0.0
    assert not marker.exists()


def test_huge_completions_are_read_in_linear_time():
    verify = CountdownVerifier()
    row = {"numbers": [1, 2], "target": 3}
    unclosed = "<answer>" * 200_000 + "\n" + "x" * 1_000_000
    assert verify(unclosed, row).reason == "no expression found"
    long_line = "1+" * 500_000 + "2"
    assert "limit 200" in verify(long_line, row).reason
    assert verify("<answer>" * 100_000 + answer("1 + 2"), row).score == 1.0


def test_require_all_demands_every_number():
    row = {"numbers": [3, 5, 3, 2], "target": 24}
    assert CountdownVerifier()(answer("(3 + 5) * 3"), row).score == 1.0
    strict = CountdownVerifier(require_all=True)(answer("(3 + 5) * 3"), row)
    assert (strict.score, strict.reason) == (0.0, "does not use 2")
    assert CountdownVerifier(require_all=True)(answer("(3 + 5) * 3 / 2 * 2"), row).score == 0.0
    assert CountdownVerifier(require_all=True)(answer("(3 + 5) * 3 * (2 / 2)"), row).score == 0.0


def test_partial_credit_only_for_well_formed_expressions_over_given_numbers():
    verify = CountdownVerifier(partial_credit=0.1)
    row = {"numbers": [3, 5, 2], "target": 24}
    assert verify(answer("(3 + 5) * 2"), row).score == 0.1
    assert verify(answer("(3 + 5) * 7"), row).score == 0.0
    assert verify(answer("5 / (2 - 2)"), {"numbers": [2, 2, 5], "target": 24}).score == 0.0
    assert verify(answer("3 ** 2"), row).score == 0.0
    assert CountdownVerifier()(answer("(3 + 5) * 2"), row).score == 0.0


def test_verifier_survives_pickling_for_worker_processes():
    verify = pickle.loads(pickle.dumps(CountdownVerifier(partial_credit=0.25)))
    assert verify.options.partial_credit == 0.25
    assert verify(answer("3 + 5"), {"numbers": [3, 5], "target": 9}).score == 0.25


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"partial_credit": 1.5}, "partial_credit must be in [0, 1)"),
        ({"max_length": 5000}, "max_length must be an integer in [1, 1000]"),
        ({"require_all": "yes"}, "require_all must be true or false"),
        ({"partial": 0.1}, "has no option 'partial'"),
    ],
)
def test_bad_options_are_named(options, message):
    with pytest.raises(ValueError, match="verifier 'countdown'") as info:
        CountdownVerifier(**options)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("row", "error"),
    [
        ({"numbers": [3, 5], "target": "8"}, "task field 'target' must be an integer, not '8'"),
        ({"numbers": "3 5", "target": 8}, "task field 'numbers' must be a list of integers"),
        ({"numbers": [3, True], "target": 8}, "task field 'numbers' must be a list of integers"),
        ({"target": 8}, "missing task field 'numbers'"),
    ],
)
def test_bad_rows_give_error_results(row, error):
    result = CountdownVerifier()(answer("3 + 5"), row)
    assert result.score == 0.0
    assert result.error is not None and error in result.error


# -- expression parser: properties ---------------------------------------------------------------

trees = st.recursive(
    st.integers(0, 50),
    lambda sub: st.tuples(st.sampled_from("+-*/"), sub, sub),
    max_leaves=8,
)


def render(tree) -> str:
    if isinstance(tree, int):
        return str(tree)
    op, left, right = tree
    return f"({render(left)} {op} {render(right)})"


def value_and_leaves(tree) -> tuple[Fraction | None, list[int]]:
    """Independent reference: the exact value (None on division by zero) and the leaves."""
    if isinstance(tree, int):
        return Fraction(tree), [tree]
    op, left, right = tree
    (a, left_leaves), (b, right_leaves) = value_and_leaves(left), value_and_leaves(right)
    leaves = left_leaves + right_leaves
    if a is None or b is None or (op == "/" and b == 0):
        return None, leaves
    if op == "+":
        return a + b, leaves
    if op == "-":
        return a - b, leaves
    return (a * b if op == "*" else a / b), leaves


@settings(max_examples=200, deadline=None)
@given(trees)
def test_parser_agrees_with_a_reference_evaluation(tree):
    expected, leaves = value_and_leaves(tree)
    parsed = parse(render(tree), max_length=1000)
    assert list(parsed.numbers) == leaves
    if expected is None:
        with pytest.raises(ZeroDivisionError):
            evaluate(parsed.tree)
    else:
        assert evaluate(parsed.tree) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789+-*/() ^._ax×\n")) | st.characters()))
def test_parser_accepts_or_explains_any_text(text):
    try:
        parse(text)
    except ExpressionError as exc:
        assert str(exc)


# -- suite ----------------------------------------------------------------------------------------


def problem_key(row) -> tuple:
    return tuple(sorted(row["numbers"])), row["target"]


def test_same_seed_same_rows_and_other_seeds_differ():
    suite = CountdownSuite(train_rows=200, test_rows=50)
    assert suite.rows("train", seed=7) == CountdownSuite(train_rows=200).rows("train", seed=7)
    assert suite.rows("test", seed=7) == suite.rows("test", seed=7)
    assert suite.rows("train", seed=7) != suite.rows("train", seed=8)


def test_train_and_test_never_share_a_problem():
    suite = CountdownSuite(train_rows=2000, test_rows=500, low=1, high=10, max_numbers=3)
    train = {problem_key(r) for seed in (0, 1) for r in suite.rows("train", seed=seed)}
    test = {problem_key(r) for seed in (0, 1) for r in suite.rows("test", seed=seed)}
    assert len(train) > 500 and len(test) > 200  # a small space, so overlap would show
    assert not train & test


def test_rows_respect_the_options_and_carry_the_r1_prompt():
    suite = CountdownSuite(min_numbers=3, max_numbers=6, low=2, high=20, max_target=50)
    rows = suite.rows("train", seed=3, limit=300)
    assert len(rows) == 300 and len({r["id"] for r in rows}) == 300
    assert {len(r["numbers"]) for r in rows} == {3, 4, 5, 6}
    for row in rows:
        assert set(row) == {"id", "prompt", "numbers", "target"}
        assert all(2 <= n <= 20 for n in row["numbers"])
        assert 1 <= row["target"] <= 50 and row["target"] not in row["numbers"]
        assert str(row["numbers"]) in row["prompt"] and str(row["target"]) in row["prompt"]
        assert "<think>" in row["prompt"] and "<answer>" in row["prompt"]
    assert len(CountdownSuite(test_rows=30).rows("test", seed=0)) == 30


def test_bad_suite_options_are_named():
    with pytest.raises(ValueError, match="task suite 'countdown'.*min_numbers <= max_numbers"):
        CountdownSuite(min_numbers=5, max_numbers=3)
    with pytest.raises(ValueError, match="low \\(9\\) must not exceed high \\(2\\)"):
        CountdownSuite(low=9, high=2)
    with pytest.raises(ValueError, match="high must be a positive integer"):
        CountdownSuite(high=0)


def solve(values: list[tuple[Fraction, str]], target: int) -> str | None:
    """Brute force: an expression using every value exactly once that equals ``target``."""
    if len(values) == 1:
        return values[0][1] if values[0][0] == target else None
    for i, j in itertools.combinations(range(len(values)), 2):
        (a, x), (b, y) = values[i], values[j]
        rest = [v for k, v in enumerate(values) if k not in (i, j)]
        options = [(a + b, f"({x} + {y})"), (a * b, f"({x} * {y})")]
        options += [(a - b, f"({x} - {y})"), (b - a, f"({y} - {x})")]
        options += [(a / b, f"({x} / {y})")] if b else []
        options += [(b / a, f"({y} / {x})")] if a else []
        for option in options:
            found = solve([*rest, option], target)
            if found:
                return found
    return None


@pytest.mark.parametrize("split", ["train", "test"])
def test_every_generated_problem_is_solvable(split):
    suite = CountdownSuite(min_numbers=3, max_numbers=4)
    verify = CountdownVerifier(require_all=True)
    for row in suite.rows(split, seed=11, limit=60):
        solution = solve([(Fraction(n), str(n)) for n in row["numbers"]], row["target"])
        assert solution is not None, row
        assert verify(answer(solution), row).score == 1.0, (row, solution)


def test_default_scheme():
    assert CountdownSuite().default_scheme() == {
        "verifiers": {"countdown": {"weight": 1.0}, "format": {"weight": 0.1}}
    }


def test_default_scheme_names_only_registered_verifiers():
    registered = rewards.Plugins().verifiers()
    assert set(CountdownSuite().default_scheme()["verifiers"]) <= set(registered)


# -- packaging and discovery ------------------------------------------------------------------


def test_pyproject_declares_the_entry_point_and_it_registers_both():
    project = tomllib.loads((PLUGIN_DIR / "pyproject.toml").read_text())["project"]
    assert "grpokit" in project["dependencies"]
    target = project["entry-points"]["grpokit"]["countdown"]
    assert target == "grpokit_countdown.plugin"
    plugins = rewards.Plugins(builtins=False, entry_points=False)
    plugins.register(import_module(target), name="from-pyproject")
    assert plugins.verifiers()["countdown"].cls is CountdownVerifier
    assert plugins.suites()["countdown"].plugin == "from-pyproject"


def test_installed_distribution_is_discovered_through_its_entry_point():
    found = {ep.name: ep for ep in importlib.metadata.entry_points(group="grpokit")}
    assert "countdown" in found, "run: .venv/bin/pip install -e plugins/grpokit-countdown"
    assert found["countdown"].value == "grpokit_countdown.plugin"
    assert found["countdown"].dist is not None
    assert found["countdown"].dist.name == "grpokit-countdown"
    plugins = rewards.Plugins()
    assert plugins.verifiers()["countdown"].plugin == "countdown"
    assert plugins.suites()["countdown"].plugin == "countdown"
    assert not [f for f in plugins.failures if f.plugin == "countdown"]
    assert "countdown" not in rewards.Plugins(entry_points=False).verifiers()
