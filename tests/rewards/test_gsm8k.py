"""The ``gsm8k`` suite: GSM8K-format JSONL / JSON / Parquet files read with ``datasets``; valid
rows, seeded disjoint splits, clear errors, scoring with its default scheme, no torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rewards import SuiteError, get_plugins
from rewards.scheme import RewardScheme

ROOT = Path(__file__).resolve().parents[2]

#: hand-written GSM8K-style problems: (question, GSM8K answer text, expected final answer)
PROBLEMS = [
    (
        "Maya buys 3 notebooks at $4 each and a pen for $2. How much does she spend?",
        "The notebooks cost 3*4 = <<3*4=12>>12 dollars.\n"
        "With the pen she spends 12+2 = <<12+2=14>>14 dollars.\n#### 14",
        "14",
    ),
    (
        "A library has 1,150 books and receives 84 more. How many books does it have now?",
        "It has 1,150+84 = <<1150+84=1234>>1,234 books.\n#### 1,234",
        "1234",
    ),
    (
        "It was 5 degrees at noon and the temperature fell 12 degrees by midnight. "
        "What was the temperature at midnight?",
        "5-12 = <<5-12=-7>>-7 degrees.\n#### -7",
        "-7",
    ),
    (
        "A recipe uses 2.5 cups of flour per cake. How many cups are needed for 3 cakes?",
        "3 cakes need 2.5*3 = <<2.5*3=7.5>>7.5 cups.\n#### 7.5",
        "7.5",
    ),
    (
        "Sam reads 15 pages a day. How many pages does he read in 2 weeks?",
        "2 weeks are 2*7 = <<2*7=14>>14 days.\nHe reads 15*14 = <<15*14=210>>210 pages.\n#### 210",
        "210",
    ),
    (
        "A farm has 12 cows and twice as many chickens. How many animals are on the farm?",
        "There are 12*2 = <<12*2=24>>24 chickens.\n12+24 = <<12+24=36>>36 animals.\n#### 36",
        "36",
    ),
]
EXPECTED = {q: a for q, _, a in PROBLEMS}


def records(problems=PROBLEMS):
    return [{"question": q, "answer": a} for q, a, _ in problems]


def many_records(n=40):
    return [
        {
            "question": f"Tom has {i} apples and buys {i + 3} more. How many apples has he?",
            "answer": f"{i}+{i + 3} = <<{i}+{i + 3}={2 * i + 3}>>{2 * i + 3}\n#### {2 * i + 3}",
        }
        for i in range(n)
    ]


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_json(path: Path, rows) -> Path:
    path.write_text(json.dumps(rows, indent=1))
    return path


def write_parquet(path: Path, rows) -> Path:
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


@pytest.fixture
def suite(tmp_path):
    """Build the suite with its ``datasets`` cache inside tmp_path."""

    def build(**options):
        return get_plugins().suite("gsm8k", cache_dir=str(tmp_path / "hf-cache"), **options)

    return build


def both_splits(s, seed=0):
    return s.rows("train", seed=seed) + s.rows("test", seed=seed)


def test_jsonl_rows_are_valid_with_extracted_answers(tmp_path, suite):
    path = write_jsonl(tmp_path / "gsm.jsonl", records())
    rows = both_splits(suite(path=str(path)))
    assert sorted(r["question"] for r in rows) == sorted(EXPECTED)
    for row in rows:
        assert row["answer"] == EXPECTED[row["question"]]
        assert row["prompt"].startswith(row["question"])
        assert "\\boxed{}" in row["prompt"] and "####" in row["prompt"]
        assert row["solution"].endswith(f"\n#### {row['answer']}")
        assert "<<" not in row["solution"]
        assert row["id"].startswith("gsm.jsonl:")
    library = next(r for r in rows if r["question"].startswith("A library"))
    assert library["answer"] == "1234"
    assert library["solution"] == "It has 1,150+84 = 1,234 books.\n#### 1234"


@pytest.mark.parametrize(
    ("final", "answer"),
    [("1,234,567", "1234567"), ("+3", "3"), ("12.", "12"), ("-0.25", "-0.25"), (".5", ".5")],
)
def test_the_final_number_is_normalised(tmp_path, suite, final, answer):
    path = write_jsonl(tmp_path / "one.jsonl", [{"question": "Q?", "answer": f"x\n#### {final}"}])
    (row,) = suite(path=str(path), test_fraction=0).rows("train")
    assert (row["answer"], row["solution"]) == (answer, f"x\n#### {answer}")


def test_json_and_parquet_files_give_the_same_rows(tmp_path, suite):
    def without_id(rows):
        return [{k: v for k, v in r.items() if k != "id"} for r in rows]

    files = [
        write_jsonl(tmp_path / "a.jsonl", records()),
        write_json(tmp_path / "a.json", records()),
        write_parquet(tmp_path / "a.parquet", records()),
    ]
    loaded = [without_id(both_splits(suite(path=str(f)), seed=4)) for f in files]
    assert loaded[0] == loaded[1] == loaded[2]
    assert len(loaded[0]) == len(PROBLEMS)


def test_one_file_is_split_by_seed_disjoint_and_deterministic(tmp_path, suite):
    path = write_jsonl(tmp_path / "many.jsonl", many_records(40))
    s = suite(path=str(path), test_fraction=0.25)
    train, test = s.rows("train", seed=1), s.rows("test", seed=1)
    assert len(test) == 10 and len(train) == 30
    assert not {r["id"] for r in train} & {r["id"] for r in test}
    assert {r["id"] for r in train + test} == {f"many.jsonl:{i}" for i in range(1, 41)}
    again = suite(path=str(path), test_fraction=0.25)
    assert again.rows("train", seed=1) == train and again.rows("test", seed=1) == test
    other_tests = {frozenset(r["id"] for r in s.rows("test", seed=seed)) for seed in range(2, 6)}
    assert frozenset(r["id"] for r in test) not in other_tests


def test_a_directory_with_train_and_test_files_keeps_their_split(tmp_path, suite):
    data = tmp_path / "data"
    data.mkdir()
    write_jsonl(data / "train.jsonl", many_records(12))
    write_parquet(data / "test.parquet", records())
    s = suite(path=str(data))
    for seed in (0, 7):
        assert [r["question"] for r in s.rows("test", seed=seed)] == list(EXPECTED)
        assert len(s.rows("train", seed=seed)) == 12
    assert s.rows("train", seed=0)[0]["id"] == "train.jsonl:1"
    limited = suite(path=str(data), limit=4)
    assert len(limited.rows("train")) == 4 and len(limited.rows("test")) == 4


def test_a_hub_snapshot_layout_and_explicit_files_work(tmp_path, suite):
    snapshot = tmp_path / "gsm8k" / "main"
    snapshot.mkdir(parents=True)
    write_parquet(snapshot / "train-00000-of-00001.parquet", many_records(9))
    write_parquet(snapshot / "test-00000-of-00001.parquet", records())
    s = suite(path=str(tmp_path / "gsm8k"))
    assert len(s.rows("train")) == 9 and len(s.rows("test")) == len(PROBLEMS)
    explicit = suite(
        train_file=str(snapshot / "train-00000-of-00001.parquet"),
        test_file=str(snapshot / "test-00000-of-00001.parquet"),
    )
    assert explicit.rows("test") == s.rows("test")
    only_train = suite(train_file=str(snapshot / "train-00000-of-00001.parquet"))
    assert len(only_train.rows("test", seed=0)) == round(0.2 * 9)


def test_the_prompt_template_can_be_overridden(tmp_path, suite):
    path = write_jsonl(tmp_path / "gsm.jsonl", records()[:1])
    template = "Question: {question}\nAnswer in <answer></answer> tags."
    (row,) = suite(path=str(path), prompt_template=template, test_fraction=0).rows("train")
    assert row["prompt"] == f"Question: {PROBLEMS[0][0]}\nAnswer in <answer></answer> tags."
    with pytest.raises(ValueError, match=r"'prompt_template' must contain \{question\}"):
        suite(path=str(path), prompt_template="no placeholder")


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"question": "How many?"}, "answer"),
        ({"answer": "1+1=2\n#### 2"}, "question"),
        ({"question": "How many?", "answer": ""}, "answer"),
        ({"question": "How many?", "answer": "1+1 = 2, so the answer is 2"}, "answer"),
        ({"question": "How many?", "answer": "It is\n#### two"}, "answer"),
    ],
)
def test_a_bad_row_names_the_suite_file_row_and_field(tmp_path, suite, bad, field):
    rows = records()[:2] + [bad] + records()[2:]
    path = write_jsonl(tmp_path / "bad.jsonl", rows)
    with pytest.raises(SuiteError) as info:
        suite(path=str(path)).rows("train")
    message = str(info.value)
    assert message.startswith(f"suite 'gsm8k': {path} row 3:")
    assert f"field {field!r}" in message


def test_missing_or_unreadable_data_is_a_clear_error(tmp_path, suite):
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(SuiteError, match=f"no such file or directory: {missing}"):
        suite(path=str(missing)).rows("train")
    with pytest.raises(SuiteError, match=r"no such file: .*nope.jsonl \(option 'test_file'\)"):
        suite(
            train_file=str(write_jsonl(tmp_path / "ok.jsonl", records())), test_file=str(missing)
        ).rows("train")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SuiteError, match="no train\\* or test\\* .* file in"):
        suite(path=str(empty)).rows("train")
    csv = tmp_path / "gsm.csv"
    csv.write_text("question,answer\n")
    with pytest.raises(SuiteError, match="unsupported file type '.csv'"):
        suite(path=str(csv)).rows("train")
    broken = tmp_path / "broken.parquet"
    broken.write_text("not parquet")
    with pytest.raises(SuiteError, match=f"cannot read {broken}: .*Parquet"):
        suite(path=str(broken)).rows("train")


def test_bad_options_are_clear_errors(tmp_path, suite):
    with pytest.raises(ValueError, match="option 'path' is required"):
        suite()
    with pytest.raises(ValueError, match="give 'path' or 'train_file'/'test_file', not both"):
        suite(path="a.jsonl", train_file="b.jsonl")
    with pytest.raises(ValueError, match=r"'test_fraction' must be in \[0, 1\)"):
        suite(path="a.jsonl", test_fraction=1.0)
    with pytest.raises(ValueError, match="'limit' must be a positive integer"):
        suite(path="a.jsonl", limit=0)


def test_default_scheme_scores_right_answers_1_and_wrong_ones_0(tmp_path, suite):
    path = write_jsonl(tmp_path / "gsm.jsonl", records())
    s = suite(path=str(path), test_fraction=0)
    rows = s.rows("train")
    by_answer = {r["answer"]: r for r in rows}
    cases = [  # (completion, row, correct?, format?)
        (by_answer["1234"]["solution"], by_answer["1234"], 1.0, 1.0),
        ("1150 + 84 = 1234, so the answer is $\\boxed{1,234}$.", by_answer["1234"], 1.0, 1.0),
        ("It drops to -7 degrees.\n#### -7", by_answer["-7"], 1.0, 1.0),
        ("2.5 * 3 = 7.5 cups", by_answer["7.5"], 0.0, 0.0),  # a bare last number: no credit
        ("2.5 * 3 = 7.5 cups\n#### 7.5", by_answer["7.5"], 1.0, 1.0),
        ("15 * 7 = 105\n#### 105", by_answer["210"], 0.0, 1.0),
        ("The answer is \\boxed{13}.", by_answer["14"], 0.0, 1.0),
    ]
    with RewardScheme.from_config(s.default_scheme(), workers=1) as scheme:
        batch = scheme.score([c[0] for c in cases], [c[1] for c in cases])
    assert batch.scores("math") == [c[2] for c in cases]
    assert batch.scores("format") == [c[3] for c in cases]
    assert batch.totals == pytest.approx([c[2] + 0.1 * c[3] for c in cases])


def grpo(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "rewards", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def test_grpo_verify_scores_a_gsm8k_answer_and_grpo_verifiers_lists_the_suite():
    option = ("--json",)  # the math verifier reads "#### 36" itself (extract method "hash")
    right = grpo(
        "verify", "math", "--completion", "So 36 animals.\n#### 36", "--answer", "36", *option
    )
    wrong = grpo(
        "verify", "math", "--completion", "So 35 animals.\n#### 35", "--answer", "36", *option
    )
    assert right.returncode == wrong.returncode == 0, right.stderr + wrong.stderr
    assert json.loads(right.stdout)["score"] == 1.0
    assert json.loads(wrong.stdout)["score"] == 0.0
    listing = grpo("verifiers", "--json")
    assert "gsm8k" in json.loads(listing.stdout)["suites"]
    table = grpo("verifiers", env={"COLUMNS": "400"})
    assert "gsm8k (builtin)" in table.stdout


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, **env},
    )


def test_loading_jsonl_and_parquet_imports_datasets_but_not_torch(tmp_path):
    jsonl = write_jsonl(tmp_path / "a.jsonl", records())
    parquet = write_parquet(tmp_path / "a.parquet", records())
    code = (
        "import sys\nfrom rewards import get_plugins\n"
        f"for path in ({str(jsonl)!r}, {str(parquet)!r}):\n"
        f"    s = get_plugins().suite('gsm8k', path=path, cache_dir={str(tmp_path)!r})\n"
        "    assert len(s.rows('train') + s.rows('test')) == 6\n"
        "print('datasets' in sys.modules, 'torch' in sys.modules)"
    )
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "False"]


def test_a_hub_name_is_loaded_with_datasets_and_its_failure_is_explained(tmp_path):
    code = (
        "from rewards import SuiteError, get_plugins\n"
        f"s = get_plugins().suite('gsm8k', path='openai/gsm8k', cache_dir={str(tmp_path)!r})\n"
        "try:\n    s.rows('train')\nexcept SuiteError as exc:\n    print(exc)\n"
    )
    out = run_python(code, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")  # never downloads
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(
        "suite 'gsm8k': 'openai/gsm8k' is not a local file or directory, and loading it from "
        "the Hugging Face Hub (config 'main') failed: ConnectionError"
    )


def test_without_datasets_the_error_says_what_to_install(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", records())
    code = (
        "import sys\nsys.modules['datasets'] = None  # as if it were not installed\n"
        "from rewards import SuiteError, get_plugins\n"
        "try:\n"
        f"    get_plugins().suite('gsm8k', path={str(path)!r}).rows('train')\n"
        "except SuiteError as exc:\n    print(exc)\n"
    )
    out = run_python(code)
    assert out.stdout.strip() == (
        "suite 'gsm8k' reads data with the datasets library: "
        "pip install 'grpokit[train]' (or pip install datasets)"
    )
