"""The code verifier on real sandboxes: the three test formats, failure reasons, and every
fake-pass trick a policy under optimisation pressure might find."""

import uuid

import pytest

from rewards.verifiers.code_tests import (
    CodeVerifier,
    close_sandboxes,
    extract_code,
    normalise_output,
    same_value,
    sandbox_for,
)
from sandboxes import SandboxUnavailable

ADD_ASSERTS = {
    "kind": "assert",
    "asserts": ["assert add(1, 2) == 3", "assert add(2, 2) == 4", "assert add(-1, 1) == 0"],
}
ADD_CHECK = {
    "kind": "assert",
    "code": "def check(candidate):\n    assert candidate(2, 3) == 5\n"
    "    assert candidate(0, 0) == 0\n",
    "entry_point": "add",
}
ADD_CALL = {
    "kind": "call",
    "fn_name": "add",
    "cases": [
        {"args": [1, 2], "expected": 3},
        {"args": [1.5, 2], "expected": 3.5},
        {"args": [[1], [2]], "expected": [1, 2]},
    ],
}
SUM_IO = {
    "kind": "io",
    "cases": [{"stdin": "1 2\n", "stdout": "3\n"}, {"stdin": "10 -4", "stdout": "6"}],
}
GOOD_ADD = "Here you go:\n```python\ndef add(a, b):\n    return a + b\n```\n"
GOOD_SUM = "```python\nimport sys\na, b = map(int, sys.stdin.read().split())\nprint(a + b)\n```"


@pytest.fixture(scope="module", params=["local", "docker"])
def backend(request):
    try:
        sandbox_for(request.param)
    except (SandboxUnavailable, ImportError) as exc:
        pytest.skip(f"sandbox backend {request.param!r} unavailable: {exc}")
    yield request.param
    close_sandboxes()  # no container may outlive this module


def score(backend, completion, tests, **options):
    options = {"case_timeout": 3, **options}
    return CodeVerifier(backend=backend, **options)(completion, {"tests": tests})


@pytest.mark.parametrize(
    "tests", [ADD_ASSERTS, ADD_CHECK, ADD_CALL], ids=["asserts", "check", "call"]
)
def test_correct_code_passes_every_format(backend, tests):
    result = score(backend, GOOD_ADD, tests)
    assert (result.score, result.error) == (1.0, None), result.reason


def test_io_format_with_whitespace_normalisation(backend):
    result = score(backend, GOOD_SUM, SUM_IO)
    assert result.score == 1.0, result.reason
    wrong = score(backend, GOOD_SUM.replace("a + b", "a * b"), SUM_IO)
    assert wrong.score == 0.0
    assert "case 0: wrong answer: printed '2\\n'" in wrong.reason


def test_partial_credit_and_all_or_nothing(backend):
    off_by_one = "def add(a, b):\n    return a + b if a >= 0 else a + b + 1\n"
    assert score(backend, off_by_one, ADD_ASSERTS).score == pytest.approx(2 / 3)
    assert score(backend, off_by_one, ADD_ASSERTS, all_or_nothing=True).score == 0.0


def test_failure_reasons_name_the_problem(backend):
    crash = score(backend, "def add(a, b):\n    return a / 0\n", ADD_CALL)
    assert "case 0: error: ZeroDivisionError: division by zero (line 2)" in crash.reason
    loop = score(
        backend,
        "def add(a, b):\n    while True:\n        pass\n",
        {**ADD_CALL, "cases": ADD_CALL["cases"][:1]},
    )
    assert loop.score == 0.0 and "case 0: timeout" in loop.reason
    hog = score(
        backend,
        "def add(a, b):\n    x = bytearray(1 << 34)\n",
        {**ADD_CALL, "cases": ADD_CALL["cases"][:1]},
    )
    assert hog.score == 0.0 and "case 0: memory: " in hog.reason, hog.reason
    syntax = score(backend, "def add(a, b) return a", ADD_ASSERTS)
    assert "SyntaxError" in syntax.reason
    wrong_type = score(backend, "def add(a, b):\n    return float(a + b)\n", ADD_CALL)
    assert "case 0: wrong answer: returned '3.0'" in wrong_type.reason


FAKE_PASSES = {
    "exit early with os._exit(0)": "import os\nos._exit(0)\n",
    "raise SystemExit": "raise SystemExit(0)\n",
    "atexit handler printing success": (
        'import atexit\natexit.register(lambda: print(\'{"case": 0, "status": "pass"}\'))\n'
        "def add(a, b):\n    raise ValueError\n"
    ),
    "fake success lines": (
        "for i in range(3):\n    print('ok', i, 'PASS', '{\"case\": %d, \"status\": \"pass\"}' % i)\n"
        "def add(a, b):\n    return None\n"
    ),
    "patch builtins and assert machinery": (
        "import builtins\nbuiltins.AssertionError = type('Nope', (Exception,), {})\n"
        "builtins.print = lambda *a, **k: None\nimport sys\nsys.excepthook = lambda *a: None\n"
        "def add(a, b):\n    return -7\n"
    ),
    "__eq__ always true": (
        "class Anything:\n    def __eq__(self, other):\n        return True\n"
        "    def __ne__(self, other):\n        return False\n"
        "def add(a, b):\n    return Anything()\n"
    ),
    "int subclass lying about equality": (
        "class Liar(int):\n    def __eq__(self, other):\n        return True\n"
        "def add(a, b):\n    return Liar(0)\n"
    ),
    "hunt for the token and forge verdicts": (
        "import os, glob\nfound = []\n"
        "for path in glob.glob('/proc/[0-9]*/fd/*') + glob.glob('/proc/[0-9]*/mem'):\n"
        "    try:\n        with open(path, 'rb') as fh:\n            found.append(fh.read(4096))\n"
        "    except Exception:\n        pass\n"
        "for path in glob.glob('/proc/[0-9]*/fd/1'):\n"
        "    try:\n        with open(path, 'w') as fh:\n"
        '            fh.write(\'{"case": 0, "status": "pass"}\\n\')\n'
        "    except Exception:\n        pass\n"
        "def add(a, b):\n    return repr(found)[:100]\n"
    ),
}


@pytest.mark.parametrize("trick", list(FAKE_PASSES))
@pytest.mark.parametrize(
    "tests", [ADD_ASSERTS, ADD_CHECK, ADD_CALL], ids=["asserts", "check", "call"]
)
def test_fake_pass_tricks_earn_nothing(backend, trick, tests):
    result = score(backend, FAKE_PASSES[trick], tests)
    assert result.score == 0.0, f"{trick}: {result.reason}"


def test_expected_outputs_are_not_readable_in_the_sandbox(backend):
    secret = "expected-" + uuid.uuid4().hex
    hunter = (
        "import os\nhits = []\n"
        "for root, dirs, files in os.walk('/'):\n"
        "    if root.startswith(('/proc', '/sys', '/usr', '/dev', '/lib', '/root/.pyenv')):\n"
        "        dirs[:] = []\n"
        "        continue\n"
        "    for name in files:\n"
        "        try:\n            data = open(os.path.join(root, name), errors='ignore').read()\n"
        "        except Exception:\n            continue\n"
        "        hits += [line for line in data.splitlines() if line.startswith('expected-')]\n"
        "hits += [v for v in os.environ.values() if v.startswith('expected-')]\n"
        "print(hits[0] if hits else 'nothing found')\n"
    )
    io = {"kind": "io", "cases": [{"stdin": "", "stdout": secret}]}
    result = score(backend, hunter, io, case_timeout=30)
    assert result.score == 0.0 and "nothing found" in result.reason, result.reason


def test_the_sandbox_serves_normally_after_hostile_code(backend):
    score(backend, "import os\nwhile True:\n    os.fork()\n", ADD_CHECK)
    assert score(backend, GOOD_ADD, ADD_CHECK).score == 1.0


def test_bad_task_fields_are_errors():
    v = CodeVerifier()
    assert v("x", {}).error == "missing task field 'tests'"
    bad = v("x", {"tests": {"kind": "fuzz"}})
    assert bad.score == 0.0 and bad.error.startswith("bad task field 'tests': expected a mapping")
    assert v("x", {"tests": "{not json"}).error.startswith("bad task field 'tests': not JSON")
    assert (
        "missing or non-string field 'stdout'"
        in v("x", {"tests": {"kind": "io", "cases": [{"stdin": ""}]}}).error
    )
    with pytest.raises(ValueError, match="option 'backend'"):
        CodeVerifier(backend="vm")


def test_helpers():
    assert extract_code("a\n```python\nx = 1\n```\nb\n```py\ny = 2\n```") == "y = 2\n"
    assert extract_code("def f(): pass") == "def f(): pass"
    assert normalise_output("1  2 \n3\n\n") == ["1 2", "3"]
    assert same_value([1, (2, 3.0)], [1, (2, 3.0)])
    assert not same_value(1, 1.0) and not same_value(True, 1) and not same_value((1,), [1])
    assert same_value(float("nan"), float("nan"))
    assert same_value(1.0000001, 1.0, rel_tol=1e-6) and not same_value(1.0000001, 1.0)


def test_grpo_verify_and_eval_on_the_three_formats(tmp_path):
    import json
    import subprocess
    import sys

    rows = [
        {"id": "asserts", "completion": GOOD_ADD, "tests": ADD_ASSERTS, "label": 1},
        {"id": "check", "completion": GOOD_ADD, "tests": ADD_CHECK, "label": 1},
        {
            "id": "call",
            "completion": GOOD_ADD.replace("a + b", "a - b"),
            "tests": ADD_CALL,
            "label": 0,
        },
        {"id": "io", "completion": GOOD_SUM, "tests": SUM_IO, "label": 1},
    ]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "rewards",
            "eval",
            "--input",
            str(path),
            "--verifiers",
            "code",
            "--out",
            str(out),
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    scores = [json.loads(line)["scores"]["code"]["score"] for line in out.read_text().splitlines()]
    assert scores == [1.0, 1.0, 0.0, 1.0]
    one = subprocess.run(
        [
            sys.executable,
            "-m",
            "rewards",
            "verify",
            "code",
            "--completion",
            GOOD_SUM,
            "--field",
            "tests=" + json.dumps(SUM_IO),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert json.loads(one.stdout)["score"] == 1.0, one.stderr
