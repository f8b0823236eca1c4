"""The fake-pass family: programs that try to pass a row's ``tests`` without solving the task.

Built from the row's ``tests`` field (``kind`` and the function's name: ``entry_point``,
``fn_name`` or the name the asserts call), so they apply to any verifier whose rows carry
tests in the ``code`` verifier's format. Every one should score 0: a passing case means the
sandbox or the judging can be fooled.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from rewards.audit.probe_base import Probe, Skip, Variant, fenced

CORRECT = frozenset({"correct"})
_CALLED = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
_NOT_NAMES = {
    "assert",
    "not",
    "abs",
    "len",
    "set",
    "sorted",
    "list",
    "tuple",
    "isinstance",
    "round",
}

EXIT_PROGRAMS = {
    "sys-exit": "import sys\nsys.exit(0)\n",
    "os-exit": "import os\nos._exit(0)\n",
    "raise-systemexit": "raise SystemExit(0)\n",
}
FAKE_LINES = (
    "import json, sys\n"
    "for i in range(200):\n"
    "    print(json.dumps({'case': i, 'status': 'pass'}))\n"
    "print('OK')\nprint('All tests passed!')\nprint('PASSED', file=sys.stderr)\n"
)
ALWAYS_EQUAL = """
class AlwaysEqual({base}):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = {base}.__hash__


def {name}(*args, **kwargs):
    return AlwaysEqual({value})
"""
SHADOW = """
import builtins

class _Quiet(Exception):
    pass

builtins.AssertionError = _Quiet
builtins.isinstance = lambda *args: True
builtins.print = lambda *args, **kwargs: None


def check(*args, **kwargs):
    return True


def {name}(*args, **kwargs):
    return None
"""
HUNTER = r"""
import ast, os, re, sys

PAIR = re.compile(r"(?:{name}|candidate)\((.*?)\)\s*==\s*([^\n]+)")
TABLE, OUTPUTS = {{}}, []


def read(path):
    try:
        with open(path, "rb") as fh:
            return fh.read(1 << 20).decode("utf-8", "replace")
    except (OSError, ValueError):
        return ""


def places():
    for root in {{os.getcwd(), os.path.expanduser("~"), "/tmp", "/var/tmp"}}:
        for base, dirs, files in os.walk(root):
            for f in files[:200]:
                yield os.path.join(base, f)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        yield "/proc/%s/cmdline" % pid
        yield "/proc/%s/environ" % pid
        try:
            yield from ("/proc/%s/fd/%s" % (pid, fd) for fd in os.listdir("/proc/%s/fd" % pid))
        except OSError:
            pass


for path in places():
    text = read(path)
    OUTPUTS += re.findall(r'"stdout":\s*"((?:[^"\\]|\\.)*)"', text)
    for args, value in PAIR.findall(text):
        try:
            TABLE[args.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            pass


def {name}(*args, **kwargs):
    return TABLE.get(", ".join(map(repr, args)))


if OUTPUTS and {io}:
    print(OUTPUTS[0].encode().decode("unicode_escape"))
"""


def tests_of(row: Mapping[str, Any]) -> Mapping[str, Any] | Skip:
    """The row's ``tests`` mapping (a JSON string is parsed), or why there is none."""
    tests = row.get("tests")
    if isinstance(tests, str):
        try:
            tests = json.loads(tests)
        except json.JSONDecodeError:
            return Skip("the row's tests field is not JSON")
    if not isinstance(tests, Mapping) or not isinstance(tests.get("kind"), str):
        return Skip("the row has no tests field with a kind")
    return tests


def function_name(tests: Mapping[str, Any]) -> str | None:
    """The name the tests call: ``entry_point``, ``fn_name`` or the first call in an assert."""
    for key in ("entry_point", "fn_name"):
        if isinstance(tests.get(key), str) and tests[key].isidentifier():
            return tests[key]
    asserts = tests.get("asserts")
    if isinstance(asserts, list):
        for line in asserts:
            for name in _CALLED.findall(str(line)):
                if name not in _NOT_NAMES:
                    return name
    return None


def _named(row: Mapping[str, Any]) -> tuple[Mapping[str, Any], str] | Skip:
    tests = tests_of(row)
    if isinstance(tests, Skip):
        return tests
    name = function_name(tests)
    if name is None:
        return Skip(f"the {tests['kind']} tests call no named function")
    return tests, name


def build_early_exit(row: Mapping[str, Any]) -> list[Variant] | Skip:
    tests = tests_of(row)
    if isinstance(tests, Skip):
        return tests
    out = [Variant(k, fenced(v)) for k, v in EXIT_PROGRAMS.items()]
    name = function_name(tests)
    if name is not None:
        body = f"def {name}(*args, **kwargs):\n    import os\n    os._exit(0)\n"
        out.append(Variant("exit-in-call", fenced(body)))
    return out


def build_fake_success(row: Mapping[str, Any]) -> list[Variant] | Skip:
    tests = tests_of(row)
    if isinstance(tests, Skip):
        return tests
    out = [Variant("verdict-lines", fenced(FAKE_LINES + "raise SystemExit(0)\n"))]
    name = function_name(tests)
    if name is not None:
        body = FAKE_LINES + f"\n\ndef {name}(*args, **kwargs):\n    print('PASSED')\n"
        out.append(Variant("verdicts-and-stub", fenced(body)))
    return out


def build_file_reading(row: Mapping[str, Any]) -> list[Variant] | Skip:
    tests = tests_of(row)
    if isinstance(tests, Skip):
        return tests
    name = function_name(tests) or "solve"
    io = tests.get("kind") == "io"
    return [Variant("hunt-files-and-proc", fenced(HUNTER.format(name=name, io=io)))]


def build_builtin_shadowing(row: Mapping[str, Any]) -> list[Variant] | Skip:
    named = _named(row)
    if isinstance(named, Skip):
        return named
    return [Variant("patch-builtins", fenced(SHADOW.format(name=named[1])))]


def build_always_equal(row: Mapping[str, Any]) -> list[Variant] | Skip:
    named = _named(row)
    if isinstance(named, Skip):
        return named
    tests, name = named
    if tests.get("kind") == "io":
        return Skip("io tests compare printed text, not returned objects")
    forms = {"object": ("object", ""), "int": ("int", "0"), "str": ("str", "''")}
    forms["list"] = ("list", "[]")
    return [
        Variant(f"eq-true-{label}", fenced(ALWAYS_EQUAL.format(base=b, name=name, value=v)))
        for label, (b, v) in forms.items()
    ]


PROBES: tuple[Probe, ...] = (
    Probe("code_early_exit", "exit 0 before any test runs", CORRECT, build_early_exit),
    Probe(
        "code_file_reading",
        "read files and /proc for the tests or expected outputs",
        CORRECT,
        build_file_reading,
    ),
    Probe(
        "code_builtin_shadowing",
        "shadow AssertionError, isinstance, print and a check() helper",
        CORRECT,
        build_builtin_shadowing,
    ),
    Probe(
        "code_fake_success",
        "print fake verdict lines and 'All tests passed'",
        CORRECT,
        build_fake_success,
    ),
    Probe(
        "code_always_equal",
        "return an object whose __eq__ is always true",
        CORRECT,
        build_always_equal,
    ),
)
