"""Issue 11, verifier level: the ``code`` reward cannot be faked, and correct programs score 1.

The attacks are completions a policy under optimisation pressure could write without knowing
the task: read whatever the sandbox lets it read, shadow the names the tests use, plant modules
the tester imports, forge verdict lines, poison the next run. Each one must earn nothing. The
second half holds correct programs the verifier must not score wrong (big ints, large outputs,
expected exceptions, in-place mutation, ``Counter``/generators, background processes), and the
time budgets of ``rewards eval``/``rewards verify``. Only public APIs: ``CodeVerifier`` and the
CLI, so these tests survive a redesign of the harness and sandboxes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

from rewards.verifiers.code_tests import CodeVerifier, close_sandboxes, sandbox_for
from sandboxes import SandboxUnavailable


def broke_before(reason: str) -> pytest.MarkDecorator:
    """Records how the case failed before issue 11's fix (commit 918184a); it must pass now."""
    return pytest.mark.regression(reason=f"issue 11: {reason}")


def on(local: str | None = None, docker: str | None = None) -> list:
    """``backend`` params; a reason records how that backend failed before the fix."""
    return [
        pytest.param(name, marks=broke_before(reason) if reason else (), id=name)
        for name, reason in (("local", local), ("docker", docker))
    ]


@pytest.fixture(scope="module")
def backend(request):
    try:
        sandbox_for(request.param)
    except (SandboxUnavailable, ImportError) as exc:
        pytest.skip(f"sandbox backend {request.param!r} unavailable: {exc}")
    yield request.param
    close_sandboxes()  # no container may outlive this module


@pytest.fixture
def fresh(backend):
    """A new sandbox for this test, thrown away after it (for attacks that poison the slot)."""
    close_sandboxes()
    sandbox_for(backend)
    yield backend
    close_sandboxes()


def score(backend, completion, tests, **options):
    options = {"case_timeout": 3, **options}
    return CodeVerifier(backend=backend, **options)(completion, {"tests": tests})


def humaneval_row(task_id):
    from rewards.suites.humaneval import load_problems, row_for

    return row_for(next(p for p in load_problems() if p["task_id"] == task_id))


# -- 1. nothing derived from the tests is reachable ----------------------------------------------

# Harvest "answer() == <literal>" from every file, /proc entry and memory the candidate can read.
HUNTER = r"""
import ast, gc, os, re, sys

SKIP = ("/proc", "/sys", "/usr", "/lib", "/lib32", "/lib64", "/libx32", "/dev", "/etc", "/bin",
        "/sbin", "/boot", "/root/.pyenv")
PAIR = re.compile(rb"(?:answer|candidate)\(\)\s*==\s*('[^'\n]*'|\"[^\"\n]*\")")


def read(path, limit=1 << 22):
    try:
        with open(path, "rb") as fh:
            return fh.read(limit)
    except OSError:
        return b""


def memory(pid):
    try:
        maps = open("/proc/%s/maps" % pid).read().splitlines()
        mem = open("/proc/%s/mem" % pid, "rb", buffering=0)
    except OSError:
        return
    with mem:
        for line in maps:
            fields = line.split()
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            if "r" not in fields[1] or hi - lo > 1 << 28 or line.endswith(("[vvar]", "[vsyscall]")):
                continue
            try:
                mem.seek(lo)
                yield mem.read(hi - lo)
            except (OSError, ValueError, OverflowError):
                pass


def blobs():
    for root, dirs, files in os.walk("/"):
        if root.startswith(SKIP):
            dirs[:] = []
            continue
        for name in files:
            yield read(os.path.join(root, name))
    for pid in filter(str.isdigit, os.listdir("/proc")):
        for part in ("cmdline", "environ"):
            yield read("/proc/%s/%s" % (pid, part))
        try:
            fds = os.listdir("/proc/%s/fd" % pid)
        except OSError:
            fds = []
        for fd in fds:
            path = "/proc/%s/fd/%s" % (pid, fd)
            try:
                if os.path.isfile(path):
                    yield read(path)
            except OSError:
                pass
        yield from memory(pid)
    for obj in gc.get_objects():
        values = obj.values() if isinstance(obj, dict) else obj if isinstance(obj, list) else ()
        for v in list(values):
            if isinstance(v, str) and "==" in v:
                yield v.encode("utf-8", "ignore")
    frame = sys._getframe()
    while frame is not None:
        for v in list(frame.f_locals.values()):
            yield repr(v).encode("utf-8", "ignore")
        frame = frame.f_back


FOUND = None
for blob in blobs():
    for literal in PAIR.findall(blob):
        try:
            FOUND = ast.literal_eval(literal.decode())
            break
        except Exception:
            pass
    if FOUND is not None:
        break


def answer():
    return FOUND
"""


@pytest.mark.parametrize(
    "backend",
    on(
        local="the asserts are in a readable file and in the candidate's memory",
        docker="the asserts are in a readable file and in the candidate's memory",
    ),
    indirect=True,
)
@pytest.mark.parametrize("style", ["asserts", "check"])
def test_the_tests_are_not_readable_by_the_candidate(backend, style):
    secret = "secret-" + uuid.uuid4().hex
    if style == "asserts":
        tests = {"kind": "assert", "asserts": [f"assert answer() == {secret!r}"]}
    else:
        check = f"def check(candidate):\n    assert candidate() == {secret!r}\n"
        tests = {"kind": "assert", "code": check, "entry_point": "answer"}
    honest = score(backend, f"def answer():\n    return {secret!r}\n", tests)
    assert honest.score == 1.0, honest.reason  # the control: the verifier works
    result = score(backend, HUNTER, tests, case_timeout=20)
    assert result.score == 0.0, f"the candidate read the expected value: {result.reason}"


# -- 2. the tests' own names are not the candidate's ---------------------------------------------

SHADOWS = (
    "def abs(x):\n    return 0\n"
    "def sorted(*a, **k):\n    return [2, 4]\n"
    "def len(x):\n    return 1\n"
    "def set(*a):\n    return {1}\n"
    "def isinstance(*a):\n    return True\n"
    "def round(*a):\n    return 1.5\n"
    "def all(*a):\n    return True\n"
    "def any(*a):\n    return True\n"
    "def sum(*a, **k):\n    return 6\n"
    "def max(*a, **k):\n    return 3\n"
)
WRONG_FUNCTIONS = (
    "def half(x):\n    return 7.0\n"
    "def evens(xs):\n    return 'wrong'\n"
    "def uniq(xs):\n    return 'wrong'\n"
    "def pos(n):\n    return [-1]\n"
)
RIGHT_FUNCTIONS = (
    "def half(x):\n    return x / 2\n"
    "def evens(xs):\n    return [x for x in xs if x % 2 == 0]\n"
    "def uniq(xs):\n    return sorted(set(xs))\n"
    "def pos(n):\n    return list(range(1, n + 1))\n"
)
SHADOW_ASSERTS = {
    "kind": "assert",
    "asserts": [
        "assert abs(half(1) - 0.5) < 1e-6",
        "assert sorted(evens([3, 2, 1, 4])) == [2, 4]",
        "assert len(evens([1, 2])) == 1",
        "assert set(uniq([1, 1])) == {1}",
        "assert round(half(3), 2) == 1.5",
        "assert all([x > 0 for x in pos(3)])",
        "assert any([x == 3 for x in pos(3)])",
        "assert sum(pos(3)) == 6",
        "assert max(pos(3)) == 3",
    ],
}
# what the two HumanEval checks below rely on: abs() in the asserts, sum() in the prompt's poly()
HUMANEVAL_SHADOWS = "def abs(x):\n    return 0\ndef sum(*a, **k):\n    return 0\n"


@pytest.mark.parametrize(
    "backend",
    on(
        local="the asserts resolve builtins in a namespace the candidate fills",
        docker="the asserts resolve builtins in a namespace the candidate fills",
    ),
    indirect=True,
)
def test_shadowed_builtins_do_not_fool_the_asserts(backend):
    assert score(backend, RIGHT_FUNCTIONS, SHADOW_ASSERTS).score == 1.0  # the control
    # the functions under test are wrong: without the shadows they pass nothing
    assert score(backend, WRONG_FUNCTIONS, SHADOW_ASSERTS).score == 0.0
    result = score(backend, WRONG_FUNCTIONS + SHADOWS, SHADOW_ASSERTS)
    assert result.score == 0.0, result.reason


@pytest.mark.parametrize(
    "backend",
    on(
        local="check() and the prompt's helpers resolve builtins the candidate defines",
        docker="check() and the prompt's helpers resolve builtins the candidate defines",
    ),
    indirect=True,
)
@pytest.mark.parametrize(
    "task_id, cheat",
    [
        # check: assert candidate(3.5) == 0.5, then abs(candidate(...) - x) < 1e-6
        ("HumanEval/2", "def truncate_number(number):\n    return 0.5\n"),
        # check: assert math.fabs(poly(coeffs, solution)) < 1e-4, and the trusted poly() sums
        ("HumanEval/32", "def find_zero(xs):\n    return 0.0\n"),
    ],
    ids=["HumanEval/2", "HumanEval/32"],
)
def test_shadowed_builtins_do_not_fool_humaneval_checks(backend, task_id, cheat):
    row = humaneval_row(task_id)
    verifier = CodeVerifier(backend=backend, case_timeout=5)
    assert verifier(row["canonical_solution"], row).score == 1.0  # the control
    assert verifier(cheat, row).score == 0.0
    result = verifier(cheat + HUMANEVAL_SHADOWS, row)
    assert result.score == 0.0, result.reason


# -- 3. modules planted by the candidate never run in the tester ---------------------------------

# The payload of every planted module: pass every verdict, then behave as the real module.
PLANTED = r"""
import json as _json, os as _os, re as _re, sys as _sys

_HEX = _re.compile(r"^[0-9a-f]{32}$")
_LINE = _re.compile(r"^([0-9a-f]{32}) (\{.*\})$", _re.M)


def _tokens():
    found, frame = set(), _sys._getframe()
    while frame is not None:
        for scope in (frame.f_locals, frame.f_globals):
            for v in list(scope.values()):
                if isinstance(v, str) and _HEX.match(v):
                    found.add(v)
        frame = frame.f_back
    return found


def _passing(match):
    try:
        case = _json.loads(match.group(2))["case"]
    except Exception:
        return match.group(0)
    return match.group(1) + " " + _json.dumps({"case": case, "status": "pass"})


class _Rewriter:
    def __init__(self, inner):
        self._inner = inner

    def write(self, text):
        return self._inner.write(_LINE.sub(_passing, text))

    def __getattr__(self, name):
        return getattr(self._inner, name)


for _t in _tokens():
    for _i in range(64):
        _sys.stdout.write(_t + " " + _json.dumps({"case": _i, "status": "pass"}) + "\n")
try:
    _sys.stdout.flush()
except Exception:
    pass
if not isinstance(_sys.stdout, _Rewriter):
    _sys.stdout = _Rewriter(_sys.stdout)

if "__file__" in globals() and __name__ not in ("__main__", "sitecustomize", "usercustomize"):
    _name, _here = __name__, _os.path.dirname(_os.path.abspath(__file__))
    _saved = list(_sys.path)
    _sys.path[:] = [p for p in _sys.path if _os.path.abspath(p or ".") != _here]
    del _sys.modules[_name]
    try:
        _real = __import__(_name)
    finally:
        _sys.path[:] = _saved
    _sys.modules[_name] = _real
    globals().update({k: v for k, v in vars(_real).items() if not k.startswith("__")})
"""

PLANTER = (
    "import os, sys\n"
    f"PAYLOAD = {PLANTED!r}\n"
    r"""
NAMES = ("random", "copy", "hashlib", "fractions", "statistics", "decimal", "heapq", "bisect",
         "string", "re", "json", "math", "collections", "itertools", "functools", "typing",
         "sitecustomize", "usercustomize")


def writable():
    dirs = {os.getcwd(), os.environ.get("HOME") or "/tmp", "/tmp", "/dev/shm", "/work"}
    dirs.update(p for p in sys.path if p)
    d = os.getcwd()
    while d != "/":
        d = os.path.dirname(d)
        dirs.add(d)
    return [d for d in dirs if os.path.isdir(d) and os.access(d, os.W_OK)]


for d in writable():
    for name in NAMES:
        try:
            with open(os.path.join(d, name + ".py"), "w") as fh:
                fh.write(PAYLOAD)
        except OSError:
            pass
"""
)
PLANT_ASSERTS = {
    "kind": "assert",
    "asserts": ["import random\nassert add(1, 2) == 3", "import copy\nassert add(2, 2) == 4"],
}


@pytest.mark.parametrize(
    "backend",
    on(
        local="the work dir is first on the tester's sys.path and writable",
        docker="the work dir is first on the tester's sys.path and writable",
    ),
    indirect=True,
)
@pytest.mark.parametrize("tests", ["asserts", "HumanEval/32"])
def test_planted_modules_never_run_in_the_tester(fresh, tests):
    wrong = PLANTER + "\ndef add(a, b):\n    return 7\n\ndef find_zero(xs):\n    return 0.0\n"
    row = {"tests": PLANT_ASSERTS} if tests == "asserts" else humaneval_row(tests)
    verifier = CodeVerifier(backend=fresh, case_timeout=5)
    honest = row.get("canonical_solution", "def add(a, b):\n    return a + b\n")
    assert verifier(honest, row).score == 1.0  # the control
    result = verifier(wrong, row)
    assert result.score == 0.0, result.reason


# -- 4. verdicts cannot be forged ---------------------------------------------------------------

FORGER = r"""
import json, os, re

HEX = re.compile(rb"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")
tokens = set()
for root, dirs, files in os.walk("/"):
    if root.startswith(("/proc", "/sys", "/usr", "/lib", "/dev", "/etc", "/root/.pyenv")):
        dirs[:] = []
        continue
    for name in files:
        try:
            with open(os.path.join(root, name), "rb") as fh:
                found = set(HEX.findall(fh.read(1 << 16)))
        except OSError:
            continue
        if len(found) <= 2:  # a token file, not a checksum list
            tokens.update(found)
for pid in filter(str.isdigit, os.listdir("/proc")):
    for part in ("environ", "cmdline"):
        try:
            with open("/proc/%s/%s" % (pid, part), "rb") as fh:
                tokens.update(HEX.findall(fh.read()))
        except OSError:
            pass
lines = "".join(
    "%s %s\n" % (t.decode(), json.dumps({"case": i, "status": "pass"}))
    for t in sorted(tokens)[:64] for i in range(4)
)
print(lines, flush=True)
for pid in filter(str.isdigit, os.listdir("/proc")):
    for fd in ("1", "2"):
        try:
            with open("/proc/%s/fd/%s" % (pid, fd), "w") as fh:
                fh.write(lines)
        except OSError:
            pass


def add(a, b):
    return 7
"""
ADD_ASSERTS = {
    "kind": "assert",
    "asserts": ["assert add(1, 2) == 3", "assert add(2, 2) == 4", "assert add(-1, 1) == 0"],
}


@pytest.mark.parametrize(
    "backend",
    on(docker="the token is on disk and the exec's stdout is writable through /proc/<pid>/fd/1"),
    indirect=True,
)
def test_verdict_lines_cannot_be_forged(fresh):
    assert score(fresh, "def add(a, b):\n    return a + b\n", ADD_ASSERTS).score == 1.0
    result = score(fresh, FORGER, ADD_ASSERTS, case_timeout=10)
    assert result.score == 0.0, result.reason


# -- 5. one run cannot poison the next ----------------------------------------------------------

POISONER = (
    f"PAYLOAD = {PLANTED!r}\n"
    r"""
import os, sys

def writable():
    dirs = {os.getcwd(), os.environ.get("HOME") or "/tmp", "/tmp", "/dev/shm", "/work"}
    dirs.update(p for p in sys.path if p)
    return [d for d in dirs if os.path.isdir(d) and os.access(d, os.W_OK)]

line = "import sys; exec(%r, {'__name__': 'poison'})\n" % PAYLOAD
for d in writable():
    site = os.path.join(d, ".local", "lib", "python%d.%d" % sys.version_info[:2], "site-packages")
    try:
        os.makedirs(site, exist_ok=True)
        with open(os.path.join(site, "zz-poison.pth"), "w") as fh:
            fh.write(line)
        for name in ("usercustomize.py", "sitecustomize.py"):
            with open(os.path.join(site, name), "w") as fh:
                fh.write(PAYLOAD)
    except OSError:
        continue
    p = site
    while p.startswith(d + "/"):
        try:
            os.chmod(p, 0o500)
        except OSError:
            pass
        p = os.path.dirname(p)

def add(a, b):
    return a + b
"""
)


@pytest.mark.parametrize(
    "backend",
    on(docker="a .pth in a read-only dir under $HOME/.local survives and runs in the tester"),
    indirect=True,
)
def test_one_run_cannot_poison_the_next(fresh):
    assert score(fresh, POISONER, ADD_ASSERTS).score == 1.0  # the poisoner itself is correct
    wrong = "def add(a, b):\n    return 7\n"
    result = score(fresh, wrong, ADD_ASSERTS)
    assert result.score == 0.0, f"a wrong answer scored after a poisoned run: {result.reason}"
    assert score(fresh, "def add(a, b):\n    return a + b\n", ADD_ASSERTS).score == 1.0


# -- 6. correct programs score 1 ----------------------------------------------------------------

BIG = "def power(b, e):\n    return b ** e\n"
BIG_WRONG = "def power(b, e):\n    return b ** e + 1\n"
BIG_CALL = {
    "kind": "call",
    "fn_name": "power",
    "cases": [{"args": [10, 4999], "expected": 10**4999}, {"args": [2, 10], "expected": 1024}],
}
BIG_ASSERTS = {
    "kind": "assert",
    "asserts": ["assert power(10, 4999) == 10 ** 4999", "assert power(7, 6000) % 10 == 1"],
}


@pytest.mark.parametrize(
    "backend",
    on(
        local="ints over 4300 digits break the result encoding",
        docker="ints over 4300 digits break the result encoding",
    ),
    indirect=True,
)
@pytest.mark.parametrize("tests", [BIG_CALL, BIG_ASSERTS], ids=["call", "asserts"])
def test_big_int_results(backend, tests):
    result = score(backend, BIG, tests)
    assert (result.score, result.error) == (1.0, None), result.reason
    assert score(backend, BIG_WRONG, tests).score == 0.0


ASCII_LINE = "0123456789abcde\n"  # 16 bytes: 2 MiB in 131072 lines
BIG_OUTPUTS = {
    "ascii-2MiB": (f"import sys\nsys.stdout.write({ASCII_LINE!r} * 131072)\n", ASCII_LINE * 131072),
    "non-ascii-300k": ("print('\\u0436' * 300000)\n", "\u0436" * 300000 + "\n"),
}


@pytest.mark.parametrize(
    "backend",
    on(
        local="large output crowds the verdict line out",
        docker="large output crowds the verdict line out",
    ),
    indirect=True,
)
@pytest.mark.parametrize("name", list(BIG_OUTPUTS))
def test_large_correct_output(backend, name):
    program, expected = BIG_OUTPUTS[name]
    tests = {"kind": "io", "cases": [{"stdin": "", "stdout": expected}]}
    result = score(backend, program, tests, case_timeout=10)
    assert (result.score, result.error) == (1.0, None), result.reason
    wrong = program.replace("print(", "print('x' + ").replace(".write(", ".write('x' + ")
    assert score(backend, wrong, tests, case_timeout=10).score == 0.0


RAISES = (
    "def isqrt(n):\n    if n < 0:\n        raise ValueError('negative')\n    return int(n ** 0.5)\n"
)
RETURNS = "def isqrt(n):\n    return int(abs(n) ** 0.5)\n"
EXPECT_RAISE = {
    "check": {
        "kind": "assert",
        "code": "def check(candidate):\n    assert candidate(4) == 2\n    try:\n"
        "        candidate(-1)\n        assert False, 'no ValueError'\n"
        "    except ValueError:\n        pass\n",
        "entry_point": "isqrt",
    },
    "asserts": {
        "kind": "assert",
        "asserts": [
            "assert isqrt(4) == 2",
            "try:\n    isqrt(-1)\n    assert False, 'no ValueError'\nexcept ValueError:\n    pass",
        ],
    },
}


@pytest.mark.parametrize(
    "backend",
    on(
        local="the candidate's ValueError reaches the test as a wrapper exception",
        docker="the candidate's ValueError reaches the test as a wrapper exception",
    ),
    indirect=True,
)
@pytest.mark.parametrize("style", list(EXPECT_RAISE))
def test_expected_exceptions_reach_the_test(backend, style):
    result = score(backend, RAISES, EXPECT_RAISE[style])
    assert (result.score, result.error) == (1.0, None), result.reason


@pytest.mark.parametrize("backend", on(), indirect=True)
@pytest.mark.parametrize("style", list(EXPECT_RAISE))
def test_a_missing_exception_fails(backend, style):
    assert score(backend, RETURNS, EXPECT_RAISE[style]).score < 1.0


TOLERANT = {
    "check": {
        "kind": "assert",
        "code": "def check(candidate):\n    for x in (4, -1):\n        try:\n"
        "            candidate(x)\n        except Exception:\n            pass\n",
        "entry_point": "isqrt",
    },
    "asserts": {
        "kind": "assert",
        "asserts": ["try:\n    isqrt(-1)\nexcept Exception:\n    pass"],
    },
}
MISBEHAVING = {
    "loops": "def isqrt(n):\n    while n < 0:\n        pass\n    return 2\n",
    "exits": "import os\ndef isqrt(n):\n    if n < 0:\n        os._exit(0)\n    return 2\n",
    "killed": "import os, signal\ndef isqrt(n):\n    if n < 0:\n"
    "        os.kill(os.getpid(), signal.SIGKILL)\n    return 2\n",
}


@pytest.mark.parametrize("backend", on(), indirect=True)
@pytest.mark.parametrize("style", list(TOLERANT))
def test_a_test_may_catch_the_candidates_exceptions(backend, style):
    result = score(backend, RAISES, TOLERANT[style])
    assert (result.score, result.error) == (1.0, None), result.reason


@pytest.mark.parametrize(
    "backend",
    on(
        local="a timeout or crash of the candidate is an Exception the test can swallow",
        docker="a timeout or crash of the candidate is an Exception the test can swallow",
    ),
    indirect=True,
)
@pytest.mark.parametrize("style", list(TOLERANT))
@pytest.mark.parametrize("behaviour", list(MISBEHAVING))
def test_a_tests_except_does_not_swallow_timeouts_and_crashes(backend, style, behaviour):
    result = score(backend, MISBEHAVING[behaviour], TOLERANT[style], case_timeout=2)
    assert result.score == 0.0, f"{behaviour} passed: {result.reason}"
    if behaviour == "loops":
        assert "timeout" in result.reason


MUTATE = "def sort_in_place(l):\n    l.sort()\n"
NO_MUTATE = "def sort_in_place(l):\n    sorted(l)\n"
MUTATION = {
    "asserts": {
        "kind": "assert",
        "asserts": [
            "l = [3, 1, 2]\nsort_in_place(l)\nassert l == [1, 2, 3]",
            "l = ['b', 'a']\nassert sort_in_place(l) is None\nassert l == ['a', 'b']",
        ],
    },
    "check": {
        "kind": "assert",
        "code": "def check(candidate):\n    l = [3, 1, 2]\n    assert candidate(l) is None\n"
        "    assert l == [1, 2, 3]\n",
        "entry_point": "sort_in_place",
    },
}


@pytest.mark.parametrize(
    "backend",
    on(
        local="arguments cross by value: in-place mutation is lost",
        docker="arguments cross by value: in-place mutation is lost",
    ),
    indirect=True,
)
@pytest.mark.parametrize("style", list(MUTATION))
def test_in_place_mutation(backend, style):
    result = score(backend, MUTATE, MUTATION[style])
    assert (result.score, result.error) == (1.0, None), result.reason
    assert score(backend, NO_MUTATE, MUTATION[style]).score == 0.0


RICH = (
    "from collections import Counter, deque\n"
    "def gen(n):\n    yield from range(n)\n"
    "def count(s):\n    return Counter(s)\n"
    "def rotate(xs):\n    d = deque(xs)\n    d.rotate(1)\n    return d\n"
    "def pairs(xs):\n    return zip(xs, 'ab')\n"
    "def evens(xs):\n    return filter(lambda x: x % 2 == 0, xs)\n"
    "def squares(xs):\n    return map(lambda x: x * x, xs)\n"
    "def backwards(xs):\n    return reversed(xs)\n"
    "def items(xs):\n    return iter(xs)\n"
)
RICH_ASSERTS = {
    "kind": "assert",
    "setup": "from collections import Counter, deque\n",
    "asserts": [
        "assert list(gen(3)) == [0, 1, 2]",
        "assert count('aab') == Counter(a=2, b=1)",
        "assert count('aab')['a'] == 2",
        "assert rotate([1, 2, 3]) == deque([3, 1, 2])",
        "assert list(pairs([1, 2])) == [(1, 'a'), (2, 'b')]",
        "assert sorted(evens([0, 1, 2, 3, 4, 5])) == [0, 2, 4]",
        "assert sum(squares([1, 2, 3])) == 14",
        "assert list(backwards([1, 2])) == [2, 1]",
        "assert tuple(items((5, 6))) == (5, 6)",
    ],
}


@pytest.mark.parametrize(
    "backend",
    on(
        local="Counter, deque and iterators are 'not plain data'",
        docker="Counter, deque and iterators are 'not plain data'",
    ),
    indirect=True,
)
def test_counters_deques_generators_and_iterators_in_asserts(backend):
    result = score(backend, RICH, RICH_ASSERTS)
    assert (result.score, result.error) == (1.0, None), result.reason


@pytest.mark.parametrize("backend", on(), indirect=True)
@pytest.mark.parametrize(
    "fn, args, expected",
    [("gen", [3], [0, 1, 2]), ("count", ["aab"], {"a": 2, "b": 1}), ("rotate", [[1, 2]], [2, 1])],
)
def test_call_cases_compare_exact_types(backend, fn, args, expected):
    # a generator is not a list, a Counter not a dict, a deque not a list
    tests = {"kind": "call", "fn_name": fn, "cases": [{"args": args, "expected": expected}]}
    assert score(backend, RICH, tests).score == 0.0
    plain = f"{RICH}\ndef {fn}(*a):\n    return {expected!r}\n"
    assert score(backend, plain, tests).score == 1.0


BACKGROUND = r"""
import ctypes, os, sys, time

NAME = b"bg-survivor"
if sys.stdin.read().strip() == "start":
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            ctypes.CDLL(None).prctl(15, NAME, 0, 0, 0)  # PR_SET_NAME
            for fd in range(3):
                os.close(fd)
            time.sleep(4)  # long enough to be seen by case 1, short enough not to hold the run
            os._exit(0)
        os._exit(0)
    os.wait()
    print("started")
else:
    alive = False
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/comm" % pid, "rb") as fh:
                alive = alive or fh.read().strip() == NAME
        except OSError:
            pass
    print("still alive" if alive else "gone")
"""


@pytest.mark.parametrize(
    "backend",
    on(
        local="a process started in case 0 is alive in case 1",
        docker="a process started in case 0 is alive in case 1",
    ),
    indirect=True,
)
def test_no_process_survives_into_the_next_case(backend):
    tests = {
        "kind": "io",
        "cases": [{"stdin": "start", "stdout": "started"}, {"stdin": "look", "stdout": "gone"}],
    }
    result = score(backend, BACKGROUND, tests)
    assert result.score == 1.0, result.reason


# -- 7. time budgets: an infinite loop is the verifier's verdict, not a scorer error ------------

LOOP = "```python\nwhile True:\n    pass\n```\n"
LOOP_TESTS = {
    "io": {"kind": "io", "cases": [{"stdin": str(i), "stdout": str(i)} for i in range(3)]},
    "asserts": {"kind": "assert", "asserts": [f"assert f({i}) == {i}" for i in range(3)]},
}


def cli(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "rewards", *args], capture_output=True, text=True, timeout=timeout
    )


@broke_before("3 cases x 2 s exceed eval's 5 s item limit")
def test_eval_reports_an_infinite_loop_as_a_timeout_verdict(tmp_path):
    rows = tmp_path / "rows.jsonl"
    lines = [{"id": kind, "completion": LOOP, "tests": tests} for kind, tests in LOOP_TESTS.items()]
    rows.write_text("".join(json.dumps(line) + "\n" for line in lines))
    scheme = tmp_path / "scheme.yaml"
    scheme.write_text("verifiers:\n  code:\n    weight: 1.0\n    options: {case_timeout: 2}\n")
    out = tmp_path / "out.jsonl"
    run = cli("eval", "--input", str(rows), "--scheme", str(scheme), "--out", str(out))
    results = [json.loads(line)["scores"]["code"] for line in out.read_text().splitlines()]
    assert len(results) == len(LOOP_TESTS)
    for result in results:
        assert result["score"] == 0.0 and result["error"] is None, result
        assert "timeout" in result["reason"], result
    assert run.returncode == 0, run.stdout + run.stderr


@broke_before("the default case limit (5 s) equals eval's default item limit (5 s)")
def test_eval_with_every_default_reports_an_infinite_loop_as_a_timeout_verdict(tmp_path):
    rows = tmp_path / "rows.jsonl"
    tests = {"kind": "io", "cases": [{"stdin": "", "stdout": "1"}]}
    rows.write_text(json.dumps({"id": "loop", "completion": LOOP, "tests": tests}) + "\n")
    out = tmp_path / "out.jsonl"
    run = cli("eval", "--input", str(rows), "--verifiers", "code", "--out", str(out))
    result = json.loads(out.read_text())["scores"]["code"]
    assert result["score"] == 0.0 and result["error"] is None, result
    assert "timeout" in result["reason"], result
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize(
    "cases",
    [3, pytest.param(6, marks=broke_before("6 cases x 2 s exceed verify's 10 s item limit"))],
)
def test_verify_reports_an_infinite_loop_as_a_timeout_verdict(cases):
    tests = {"kind": "io", "cases": [{"stdin": str(i), "stdout": str(i)} for i in range(cases)]}
    run = cli(
        "verify", "code", "--completion", LOOP, "--field", f"tests={json.dumps(tests)}",
        "--option", "case_timeout=2", "--json",
    )  # fmt: skip
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["score"] == 0.0 and result["error"] is None, result
    assert "timeout" in result["reason"], result
    assert run.returncode == 0, run.stderr
