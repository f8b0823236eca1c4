"""Port the parametrised (gold, prediction, expected) cases of Math-Verify's tests into data.

Source: the public repository huggingface/Math-Verify (Apache-2.0), its ``tests/`` folder. Only
the literal argument lists of ``@pytest.mark.parametrize`` are read, with ``ast`` (no peer code
is imported or copied); each case keeps the test it came from and the options that test passed
to Math-Verify's own ``compare_strings`` helper (``precision``, ``strict``,
``allow_set_relation_comp``, ``match_types``) so the report can tell a policy difference from a
bug. The result is ``tests/rewards/data/math_verify_cases.json``, with the repository, paths and
commit recorded in it.

    git clone https://github.com/huggingface/Math-Verify /tmp/Math-Verify   # or any mirror
    .venv/bin/python benchmarks/port_math_verify_cases.py --repo /tmp/Math-Verify [--commit C]
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import subprocess
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "tests" / "rewards" / "data" / "math_verify_cases.json"
TEST_FILES = (
    "tests/test_all.py",
    "tests/test_boxed.py",
    "tests/test_numina_cases.py",
    "tests/test_open_thoughts.py",
    "tests/test_strict.py",
    "tests/test_yujianll.py",
)
#: keyword options of the peer's compare_strings helper, with its defaults
DEFAULTS: dict[str, Any] = {"precision": 6, "strict": True, "allow_set_relation_comp": False}
OPTION_NAMES = ("precision", "strict", "allow_set_relation_comp")


def git_show(repo: Path, commit: str, path: str) -> str:
    cmd = ["git", "-C", str(repo), "show", f"{commit}:{path}"]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def resolve_commit(repo: Path, commit: str) -> str:
    cmd = ["git", "-C", str(repo), "rev-parse", f"{commit}^{{commit}}"]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


def literal(node: ast.expr) -> Any:
    """The value of a literal; an f-string over ``math`` (one case) is evaluated with ``math``
    as its only name."""
    try:
        return ast.literal_eval(node)
    except ValueError:
        code = compile(ast.Expression(node), "<case>", "eval")
        return eval(code, {"__builtins__": {}, "math": math})  # noqa: S307


def _parametrize(decorator: ast.expr) -> tuple[list[str], ast.expr] | None:
    """(argument names, the list node) of a ``pytest.mark.parametrize(...)`` decorator."""
    if not (isinstance(decorator, ast.Call) and len(decorator.args) >= 2):
        return None
    if not ast.unparse(decorator.func).endswith("mark.parametrize"):
        return None
    names = literal(decorator.args[0])
    names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
    return names, decorator.args[1]


def _call_options(func: ast.FunctionDef) -> dict[str, Any]:
    """Literal keyword options the test passes to its comparison helper (``match_types`` etc.)."""
    options: dict[str, Any] = {}
    for node in ast.walk(func):
        if isinstance(node, ast.Call) and ast.unparse(node.func) in ("compare_strings", "verify"):
            options["harness"] = ast.unparse(node.func)
            for kw in node.keywords:
                if kw.arg and isinstance(kw.value, ast.Constant | ast.List):
                    options[kw.arg] = literal(kw.value)
    return options


def cases_of_file(source: str, path: str) -> list[dict[str, Any]]:
    """Every parametrised case of the file's gold/prediction/expected tests."""
    cases = []
    for func in ast.parse(source).body:
        if not isinstance(func, ast.FunctionDef):
            continue
        for decorator in func.decorator_list:
            found = _parametrize(decorator)
            if found is None:
                continue
            names, values = found
            if "gold" not in names or "pred" not in names:
                continue  # e.g. test_string_extraction.py: parse() outputs, not verdicts
            fixed = _call_options(func)
            for index, row in enumerate(literal(values)):
                cases.append(
                    _case(path, func.name, index, dict(zip(names, row, strict=True)), fixed)
                )
    return cases


def _case(path: str, test: str, index: int, args: dict[str, Any], fixed: dict[str, Any]) -> dict:
    expected = args.get("expected", args.get("result"))
    options = {**DEFAULTS, **{k: v for k, v in fixed.items() if k != "harness"}}
    options.update({k: args[k] for k in OPTION_NAMES if k in args})
    if fixed.get("harness") == "verify":  # test_yujianll: plain verify(parse(gold), parse(pred))
        options = {"match_types": ["latex", "expr"], **DEFAULTS, "plain_parse": True}
    return {
        "id": f"{Path(path).name}::{test}[{index}]",
        "gold": args["gold"],
        "prediction": args["pred"],
        "expected": int(expected),
        "options": options,
    }


def port(repo: Path, commit: str) -> dict[str, Any]:
    full = resolve_commit(repo, commit)
    cases = [c for path in TEST_FILES for c in cases_of_file(git_show(repo, full, path), path)]
    return {
        "source": {
            "repository": "huggingface/Math-Verify",
            "commit": full,
            "paths": list(TEST_FILES),
            "license": "Apache-2.0",
            "what": "the literal arguments of every @pytest.mark.parametrize with gold and pred",
        },
        "count": len(cases),
        "positives": sum(c["expected"] == 1 for c in cases),
        "negatives": sum(c["expected"] == 0 for c in cases),
        "cases": cases,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, required=True, help="a git checkout or mirror")
    parser.add_argument("--commit", default="HEAD")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    data = port(args.repo, args.commit)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{data['count']} cases ({data['negatives']} negative) from {data['source']['commit']}")


if __name__ == "__main__":
    main()
