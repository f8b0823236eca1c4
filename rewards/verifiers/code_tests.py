"""The ``code`` verifier: run the completion's code against the task's tests in a sandbox.

The code is the last fenced ```python block of the completion (else the whole completion).
Task field ``tests`` is one of:

- ``{"kind": "assert", "asserts": ["assert f(1) == 2", ...]}``                      (MBPP style)
- ``{"kind": "assert", "code": "def check(candidate): ...", "entry_point": "f"}``   (HumanEval;
  optional ``"setup"``: trusted code such as the prompt's helper functions)
- ``{"kind": "io", "cases": [{"stdin": "1 2\\n", "stdout": "3\\n"}, ...]}``  (whitespace-normalised)
- ``{"kind": "call", "fn_name": "add", "cases": [{"args": [1, 2], "expected": 3}, ...]}``

score = passed cases / cases (option ``all_or_nothing``). Expected outputs never enter the
sandbox: ``io`` outputs come back as digests of the normalised text, ``call`` results as plain
data (or a digest when large) and are compared here, with exact types (``1``, ``1.0`` and
``True`` differ; a tuple is not a list; a generator is not a list). The tests run inside the
sandbox in a tester that never executes candidate code and that no candidate process can reach
(``code_harness``); each case's candidate runs in a fresh guest process (``code_runner``).
A verdict counts only when its line carries this run's random token.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewards.verifier import Verifier, VerifyResult
from rewards.verifiers.code_codec import (
    canonical_digest,
    decode,
    encode,
    normalise_output,
    output_digest,
)
from sandboxes import Limits, get_sandbox

__all__ = ["CodeVerifier", "extract_code", "normalise_output", "same_output", "same_value"]


def _bundle(*names: str) -> str:
    """One standalone program from modules of this package (the codec first)."""
    parts = ["from __future__ import annotations\n"]
    for name in names:
        text = (Path(__file__).parent / name).read_text()
        parts.append(text.replace("from __future__ import annotations\n", "", 1))
    return "\n".join(parts)


HARNESS_SOURCE = _bundle("code_codec.py", "code_harness.py")
RUNNER_SOURCE = _bundle("code_codec.py", "code_runner.py")
VERDICT_BYTES = (256 << 10) + (4 << 10)  # the largest verdict line of one case
FENCE = re.compile(r"```[ \t]*(python3?|py)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
KINDS = ("assert", "io", "call")
BUDGET_MARGIN_SECONDS = 15.0  # sandbox start (a cold container, a busy host) and harness set-up


@dataclass(frozen=True)
class CodeOptions:
    """``backend``: sandbox (``local`` or ``docker``); ``case_timeout`` seconds per test case;
    ``memory_mb`` per process; ``all_or_nothing``: 1 only if every case passes;
    ``float_rel_tol``: relative tolerance for float results of ``call`` cases (0 = exact);
    ``max_cases``: at most this many cases run (more is a bad-task error)."""

    backend: str = "local"
    case_timeout: float = 5.0
    memory_mb: int = 512
    all_or_nothing: bool = False
    float_rel_tol: float = 0.0
    max_cases: int = 200

    def __post_init__(self) -> None:
        if self.backend not in ("local", "docker"):
            raise ValueError(f"option 'backend' must be 'local' or 'docker', got {self.backend!r}")
        if not self.case_timeout > 0 or self.memory_mb < 16 or self.max_cases < 1:
            raise ValueError("need case_timeout > 0, memory_mb >= 16 and max_cases >= 1")


_SANDBOXES: dict[str, Any] = {}


def sandbox_for(backend: str) -> Any:
    """One sandbox per backend per process (a scoring worker), with a single slot."""
    if backend not in _SANDBOXES:
        _SANDBOXES[backend] = get_sandbox(backend, pool_size=1)
    return _SANDBOXES[backend]


def close_sandboxes() -> None:
    """Close this process's sandboxes (they are also closed at interpreter exit)."""
    while _SANDBOXES:
        _SANDBOXES.popitem()[1].close()


def extract_code(completion: str) -> str:
    """The last fenced python block (or last unlabelled block), else the whole completion."""
    blocks = FENCE.findall(completion)
    return blocks[-1][1] if blocks else completion


class CodeVerifier(Verifier):
    name = "code"
    kind = "correct"
    description = "runs the code against the task's tests (assert, io, call) in a sandbox"
    Options = CodeOptions
    required_fields = ("tests",)

    def time_budget(self, row: Mapping[str, Any]) -> float | None:
        """Seconds one row may need: every case at its limit, plus sandbox start-up margin.

        The scorer's per-item limit is at least this, so a candidate that loops forever ends
        as this verifier's own ``timeout`` verdict, never as a killed scoring item."""
        try:
            spec, _ = split_tests(row.get("tests"), self.options)
        except ValueError:
            return None
        return len(spec["cases"]) * (self.options.case_timeout + 0.5) + BUDGET_MARGIN_SECONDS

    def verify(self, completion: str, row: Mapping[str, Any]) -> VerifyResult:
        try:
            spec, expected = split_tests(row["tests"], self.options)
        except ValueError as exc:
            return VerifyResult.failure(f"bad task field 'tests': {exc}")
        token = secrets.token_hex(16)
        cases = len(spec["cases"])
        limits = Limits(
            wall_seconds=cases * (self.options.case_timeout + 0.5) + 5,
            cpu_seconds=math.ceil(cases * self.options.case_timeout) + 5,
            memory_mb=self.options.memory_mb,
            max_output_bytes=(1 << 20) + cases * VERDICT_BYTES,
        )
        payload = {"token": token, "spec": spec, "runner": RUNNER_SOURCE}
        payload["source"] = extract_code(completion)
        run = sandbox_for(self.options.backend).run(
            HARNESS_SOURCE, stdin=json.dumps(payload), limits=limits, guests=True
        )
        verdicts = parse_verdicts(run.stdout, token)
        io = spec["kind"] == "io"
        reasons = [self._judge(verdicts.get(i), expected[i], io) for i in range(cases)]
        if run.out_of_memory:  # a kill by the memory limit (cgroup OOM) arrives as SIGKILL
            reasons = [
                r and r.replace("error: killed by signal 9", "memory: killed by signal 9")
                for r in reasons
            ]
        return self._result(reasons, run)

    def _judge(self, verdict: dict | None, expected: Any, io: bool) -> str | None:
        """None when the case passed, else why it failed."""
        if verdict is None:
            return "no verdict (the sandbox stopped before this case)"
        if verdict["status"] == "pass":
            return None
        if verdict["status"] == "fail":
            return verdict["reason"]
        if "error" in verdict and verdict["error"]:
            return verdict["error"]
        if "digest" in verdict:
            return self._judge_digest(verdict, expected, io)
        try:
            value = decode(verdict["value"])
        except (ValueError, TypeError, KeyError) as exc:
            return f"error: undecodable result ({exc})"
        if same_value(value, expected, self.options.float_rel_tol):
            return None
        return f"wrong answer: returned {_preview(_safe_repr(value))}"

    def _judge_digest(self, verdict: dict, expected: Any, io: bool) -> str | None:
        """io output, or a result too large to send whole: compare digests."""
        if io:
            if verdict["digest"] == output_digest(expected):
                return None
            return f"wrong answer: printed {_preview(verdict.get('preview', ''))}"
        try:
            if verdict["digest"] == canonical_digest(encode(expected)):
                return None
        except (TypeError, ValueError):
            pass
        return f"wrong answer: returned {_preview(verdict.get('preview', ''))}"

    def _result(self, reasons: list[str | None], run: Any) -> VerifyResult:
        passed = sum(r is None for r in reasons)
        total = len(reasons)
        score = passed / total
        if self.options.all_or_nothing:
            score = float(passed == total)
        failures = [f"case {i}: {r}" for i, r in enumerate(reasons) if r is not None]
        reason = f"{passed}/{total} cases passed" + (f"; {failures[0]}" if failures else "")
        if len(failures) > 1:
            reason += f" (+{len(failures) - 1} more: {'; '.join(failures[1:4])})"
        error = None
        if (
            passed < total
            and run.timed_out
            and all(r and r.startswith("no verdict") for r in reasons if r)
        ):
            error = "timeout: the sandbox hit its wall-clock limit"
        return VerifyResult(score, reason, error)


def split_tests(tests: Any, options: CodeOptions) -> tuple[dict[str, Any], list[Any]]:
    """(spec sent into the sandbox, expected outputs kept outside), or ValueError."""
    if isinstance(tests, str):
        try:
            tests = json.loads(tests)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not JSON: {exc.msg}") from None
    if not isinstance(tests, Mapping) or tests.get("kind") not in KINDS:
        raise ValueError(f"expected a mapping with 'kind' in {KINDS}")
    kind = tests["kind"]
    spec: dict[str, Any] = {"kind": kind, "case_timeout": options.case_timeout}
    if kind == "assert":
        cases, expected = _assert_cases(tests, spec)
    elif kind == "io":
        cases = [{"stdin": _text(c, "stdin")} for c in _case_list(tests)]
        expected = [_text(c, "stdout") for c in _case_list(tests)]
    else:
        spec["fn_name"] = _text(tests, "fn_name")
        cases = [_call_case(c) for c in _case_list(tests)]
        expected = [
            c["expected"] if "expected" in c else _missing("expected") for c in _case_list(tests)
        ]
    if not cases:
        raise ValueError("no test cases")
    if len(cases) > options.max_cases:
        raise ValueError(f"{len(cases)} cases is over max_cases={options.max_cases}")
    spec["cases"] = cases
    return spec, expected


def _assert_cases(tests: Mapping[str, Any], spec: dict[str, Any]) -> tuple[list, list]:
    if "asserts" in tests:
        asserts = tests["asserts"]
        if not isinstance(asserts, list) or not all(isinstance(a, str) for a in asserts):
            raise ValueError("'asserts' must be a list of strings")
        setup = tests.get("setup", "")
        cases = [{"code": a} for a in asserts]
    else:
        cases = [{"check": _text(tests, "code"), "entry_point": _text(tests, "entry_point")}]
        setup = tests.get("setup", "")
    if not isinstance(setup, str):
        raise ValueError("'setup' must be a string")
    spec["setup"] = setup
    return cases, [None] * len(cases)


def _case_list(tests: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    cases = tests.get("cases")
    if not isinstance(cases, list) or not all(isinstance(c, Mapping) for c in cases):
        raise ValueError("'cases' must be a list of objects")
    return cases


def _call_case(case: Mapping[str, Any]) -> dict[str, Any]:
    args, kwargs = case.get("args", []), case.get("kwargs", {})
    if not isinstance(args, list) or not isinstance(kwargs, Mapping):
        raise ValueError("call case 'args' must be a list and 'kwargs' an object")
    return {"args": encode(args), "kwargs": encode(dict(kwargs))}


def _text(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        _missing(key)
    return value


def _missing(key: str) -> Any:
    raise ValueError(f"missing or non-string field {key!r}")


def parse_verdicts(stdout: str, token: str) -> dict[int, dict[str, Any]]:
    """Verdict lines carrying this run's token; everything else on stdout is ignored."""
    verdicts: dict[int, dict[str, Any]] = {}
    prefix = token + " "
    for line in stdout.splitlines():
        if not line.startswith(prefix):
            continue
        try:
            obj = json.loads(line[len(prefix) :])
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("case"), int):
            verdicts.setdefault(obj["case"], obj)
    return verdicts


def same_output(printed: str, expected: str) -> bool:
    return normalise_output(printed) == normalise_output(expected)


def same_value(got: Any, want: Any, rel_tol: float = 0.0) -> bool:
    """Equality with exact types: bool, int, float, str, list, tuple, dict... must match."""
    if type(got) is not type(want):
        return False
    if isinstance(want, float):
        if math.isnan(want):
            return math.isnan(got)
        return got == want or (rel_tol > 0 and math.isclose(got, want, rel_tol=rel_tol))
    if isinstance(want, list | tuple):
        return len(got) == len(want) and all(
            same_value(g, w, rel_tol) for g, w in zip(got, want, strict=True)
        )
    if isinstance(want, dict):
        return got.keys() == want.keys() and all(same_value(got[k], want[k], rel_tol) for k in want)
    return got == want


def _safe_repr(value: Any) -> str:
    if isinstance(value, Iterator):
        return f"an iterator over {_safe_repr(list(value))}"
    try:
        return repr(value)
    except ValueError:  # an int past Python's int-to-str limit
        return f"<int of {value.bit_length()} bits>" if isinstance(value, int) else "<value>"


def _preview(text: str, limit: int = 80) -> str:
    text = text if len(text) <= limit else text[:limit] + "..."
    return repr(text)
