"""``grpo audit``: the real CLI in a subprocess on every built-in verifier, the countdown plugin,
a deliberately gameable plugin verifier, plugin fixtures, fixture-name clashes and bad input.

These runs are how CI shows that ``grpo audit`` passes for every built-in verifier and the
countdown plugin: a hole a probe finds in them fails this module unless a fixture documents it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import FIXTURES, make_distribution

from rewards import PluginError, Plugins, hookimpl
from rewards.audit import Fixture
from rewards.audit.probes import PROBES, references

ROW = {"id": "six-sevens", "prompt": "What is 6 times 7?", "answer": "42"}


def grpo(*args: str, env: dict | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rewards", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def audit_json(*args: str, env: dict | None = None) -> tuple[int, dict]:
    out = grpo("audit", *args, "--json", env=env)
    assert out.stdout, out.stderr
    return out.returncode, json.loads(out.stdout)


def by_name(report: dict) -> dict[str, dict]:
    return {a["verifier"]: a for a in report["audits"]}


def write_rows(path, rows) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def builtin_verifiers() -> set[str]:
    plugins = Plugins(entry_points=False)
    return {n for n, r in plugins.verifiers().items() if r.plugin == "builtin"}


# -- built-in verifiers and the countdown plugin pass ------------------------------------------


def test_every_builtin_verifier_passes_on_its_fixtures():
    names = sorted(builtin_verifiers() - {"code"})  # code: below, with rows of each test kind
    code, report = audit_json(*names, "--timeout", "3")
    audits = by_name(report)
    assert code == 0, [a["findings"] for a in audits.values()]
    assert set(audits) == set(names) and report["passed"]
    for audit in audits.values():
        assert audit["fixtures"], f"{audit['verifier']} ships no fixtures"
        assert all(f["ok"] for f in audit["fixtures"])
        assert all(f["plugin"] == "builtin" for f in audit["fixtures"])
        assert not [p for p in audit["probes"] if p["status"] == "exploit"]
    assert {f["kind"] for a in audits.values() for f in a["fixtures"]} == {
        "must_pass", "must_fail", "exploit", "malformed",
    }  # fmt: skip
    probes = {p["name"]: p for p in audits["format"]["probes"]}
    assert probes["extra_think"]["status"] == "ok" and probes["extra_think"]["max_score"] == 0
    assert probes["candidates"]["status"] == "skipped"
    assert "attacks correct rewards" in probes["candidates"]["skipped"]
    tag_count = {p["name"]: p for p in audits["tag_count"]["probes"]}
    assert tag_count["extra_think"]["status"] == "documented"
    assert tag_count["extra_think"]["documented_by"] == "tag_count/documented-extra_think"
    math = {p["name"]: p for p in audits["math"]["probes"]}
    assert math["candidates"]["status"] == math["candidate_boxes"]["status"] == "ok"
    assert math["gold_scattered"]["status"] == "ok"  # "4 2" for 42 earned 1.0 before the fix


def test_code_fake_passes_earn_nothing_on_rows_of_each_test_kind(tmp_path):
    add = {"kind": "call", "fn_name": "add", "cases": [{"args": [1, 2], "expected": 3}]}
    rows = [
        {"id": "call", "prompt": "add(a, b)", "tests": add, "canonical_solution": ADD},
        {
            "id": "assert",
            "prompt": "add(a, b)",
            "tests": {"kind": "assert", "asserts": ["assert add(1, 2) == 3"]},
            "canonical_solution": ADD,
        },
        {
            "id": "io",
            "prompt": "print a + b",
            "tests": {"kind": "io", "cases": [{"stdin": "1 2\n", "stdout": "3\n"}]},
            "canonical_solution": "a, b = map(int, input().split())\nprint(a + b)\n",
        },
    ]
    code, report = audit_json("code", "--rows", write_rows(tmp_path / "code.jsonl", rows))
    audit = by_name(report)["code"]
    assert code == 0, audit["findings"]
    assert audit["honest"] == [1.0, 1.0, 1.0]
    probes = {p["name"]: p for p in audit["probes"]}
    family = [n for n in probes if n.startswith("code_")]
    assert len(family) == 5
    for name in family:
        assert probes[name]["status"] == "ok" and probes[name]["max_score"] == 0, probes[name]
    assert probes["code_early_exit"]["rows"] == 3
    assert probes["code_always_equal"]["rows"] == 2  # io rows: skipped, not judged
    assert probes["gold_repeated"]["status"] == "skipped"
    assert "no gold answer" in probes["gold_repeated"]["skipped"]


ADD = "def add(a, b):\n    return a + b\n"


@pytest.mark.parametrize(
    ("suite", "names"),
    [
        ("arithmetic", ["arithmetic", "arithmetic_digits"]),
        ("arithmetic-steps", ["arithmetic_steps"]),
        ("countdown", ["countdown", "format", "tag_count"]),
    ],
)
def test_audit_on_suite_rows(suite, names):
    code, report = audit_json(*names, "--suite", suite, "--limit", "2")
    audits = by_name(report)
    assert code == 0, [a["findings"] for a in audits.values()]
    assert all(
        a["rows"] == 2 and a["rows_from"].startswith(f"suite {suite}") for a in audits.values()
    )
    if suite == "countdown":
        fixtures = audits["countdown"]["fixtures"]
        assert fixtures and {f["plugin"] for f in fixtures} == {"countdown"}
        assert {f["kind"] for f in fixtures} == {"must_pass", "must_fail", "exploit", "malformed"}


def test_math_on_a_rows_file_and_the_plain_table(tmp_path):
    rows = [
        {"id": "gsm", "prompt": "Natalia sold 48 clips, then half as many. Total?", "answer": "72"},
        {"id": "frac", "prompt": "What is 2/4?", "answer": "\\frac{1}{2}"},
    ]
    out = grpo("audit", "math", "--rows", write_rows(tmp_path / "math.jsonl", rows))
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("grpo audit math (correct verifier, plugin builtin): 2 row(s)")
    assert "worst case" in lines[2] and any(len(line) > 100 for line in lines)  # not cut at 80
    assert any(line.split()[:2] == ["candidates", "ok"] for line in lines)
    assert lines[-1].startswith("PASS math: no probe earned credit above 0")


# -- a third party's verifiers: a gameable one fails, fixtures are collected and run -----------


@pytest.fixture
def audit_plugin(tmp_path):
    """The environment of a grpo process with ``audit_plugin`` installed."""
    site = make_distribution(
        tmp_path / "site", "audit_plugin_dist", {"auditsample": "audit_plugin"}
    )
    path = os.pathsep.join([str(site), str(FIXTURES), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path}


def test_a_gameable_verifier_fails_the_audit_and_names_the_probe(audit_plugin, tmp_path):
    rows = write_rows(tmp_path / "rows.jsonl", [ROW])
    code, report = audit_json("substring", "last_line", "--rows", rows, env=audit_plugin)
    assert code == 1
    audits = by_name(report)
    assert not report["passed"] and audits["last_line"]["passed"]
    substring = {p["name"]: p for p in audits["substring"]["probes"]}
    for name in ("gold_repeated", "candidates", "candidate_boxes", "buried", "markdown_bold"):
        assert substring[name]["status"] == "exploit" and substring[name]["max_credit"] == 1.0
    assert substring["empty"]["status"] == "ok"
    assert substring["digit_forms"]["status"] == "info"
    out = grpo("audit", "substring", "--rows", rows, env=audit_plugin)
    assert out.returncode == 1
    assert "EXPLOIT substring: probe candidates (or/plain, six-sevens) scored 1" in out.stdout
    assert out.stdout.splitlines()[-1].startswith("FAIL substring:")


def test_plugin_fixtures_are_collected_and_run(audit_plugin):
    code, report = audit_json("last_line", "fragile", env=audit_plugin)
    audits = by_name(report)
    assert code == 1  # fragile crashes on its malformed fixture
    fixtures = {f["key"]: f for a in audits.values() for f in a["fixtures"]}
    assert set(fixtures) == {
        "last_line/exact", "last_line/wrong", "last_line/no-answer-field",
        "fragile/exact", "fragile/numeric-answer",
    }  # fmt: skip
    assert all(f["plugin"] == "auditsample" for f in fixtures.values())
    assert audits["last_line"]["passed"] and audits["last_line"]["rows_from"] == "its fixtures"
    crash = fixtures["fragile/numeric-answer"]
    assert not crash["ok"] and crash["why"] == "expected an error result, got crash"
    assert fixtures["last_line/no-answer-field"]["ok"]


def test_fixture_name_clash_between_plugins_is_an_error_naming_both(audit_plugin, tmp_path):
    site = make_distribution(
        tmp_path / "clash", "audit_clash_dist", {"auditclash": "audit_clash_plugin"}
    )
    env = {**audit_plugin, "PYTHONPATH": f"{site}{os.pathsep}{audit_plugin['PYTHONPATH']}"}
    out = grpo("audit", "substring", env=env)
    assert out.returncode == 2 and out.stdout == ""
    (line,) = out.stderr.splitlines()
    assert line.startswith("error: fixture 'substring/exact' is registered by two plugins")
    assert "'auditsample'" in line and "'auditclash'" in line


def test_fixture_clash_in_process_names_both_plugins():
    class One:
        @hookimpl
        def register_fixtures(self, register):
            register(Fixture("math", "dup", "must_pass", "\\boxed{1}", {"answer": "1"}))

    class Two(One):
        pass

    plugins = Plugins(builtins=False, entry_points=False)
    plugins.register(One(), name="one")
    plugins.register(Two(), name="two")
    with pytest.raises(
        PluginError, match="'math/dup' is registered by two plugins: 'one' and 'two'"
    ):
        plugins.fixtures()


def test_builtin_fixtures_come_through_the_hook():
    plugins = Plugins(entry_points=False)
    impls = plugins.pm.hook.register_fixtures.get_hookimpls()
    assert [i.plugin_name for i in impls] == ["builtin"]
    covered = {r.fixture.verifier for r in plugins.fixtures().values()}
    assert covered == builtin_verifiers()


def test_a_registered_non_fixture_is_reported_and_the_rest_load():
    class Sloppy:
        @hookimpl
        def register_fixtures(self, register):
            register("not a fixture")
            register(Fixture("math", "fine", "must_pass", "\\boxed{1}", {"answer": "1"}))

    plugins = Plugins(builtins=False, entry_points=False)
    plugins.register(Sloppy(), name="sloppy")
    assert list(plugins.fixtures()) == ["math/fine"]
    assert any("is not a rewards.audit.Fixture" in f.error for f in plugins.failures)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "should_pass"}, "kind must be one of"),
        ({"expected": float("nan")}, "expected must be a finite number"),
        ({"probe": "empty"}, "only an exploit fixture can document a probe"),
        ({"name": ""}, "name must be a non-empty string"),
    ],
)
def test_fixture_validation(kwargs, message):
    fields = {"verifier": "math", "name": "x", "kind": "must_pass", "completion": "1", **kwargs}
    with pytest.raises(ValueError, match=message):
        Fixture(**fields)


# -- probes are generic ------------------------------------------------------------------------


def test_every_probe_builds_or_says_why_not():
    bare = {"prompt": "Say something."}
    for probe in PROBES:
        for row in (ROW, bare, {}):
            for kind in ("correct", "format", "aux"):
                built = probe.variants(row, kind)
                if isinstance(built, list):
                    assert built and all(isinstance(v.completion, str) for v in built)
                else:
                    assert built.reason, (probe.name, row, kind)


def test_no_probe_states_the_gold_as_the_only_answer():
    """An exploit probe never commits to the gold alone: a last-line reader gives it nothing."""
    for probe in PROBES:
        if probe.expect == "info" or not probe.targets & {"correct"}:
            continue
        built = probe.variants(ROW, "correct")
        for variant in built if isinstance(built, list) else []:
            lines = [line.strip() for line in variant.completion.splitlines() if line.strip()]
            assert not lines or lines[-1] != "42", (probe.name, variant.name)


def test_honest_references_state_the_gold():
    completions = [v.completion for v in references(ROW)]
    assert "42" in completions and "<think>" in completions[1]


# -- bad input: one error line, exit 2 ---------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "error: unknown verifier 'nope'; available: arithmetic,"),
        (["math", "--rows", "MISSING"], "error: cannot read rows file"),
        (["math", "--rows", "BAD"], "line 2: not valid JSON"),
        (["math", "--suite", "nope"], "error: unknown task suite 'nope'; available:"),
        (["math", "--option", "nope=1"], "error: verifier 'math' has no option 'nope'"),
        (["math", "--rows", "BAD", "--suite", "arithmetic"], "error: give --rows or --suite"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(tmp_path, args, message):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"answer": "1"}\n{not json\n')
    paths = {"MISSING": str(tmp_path / "missing.jsonl"), "BAD": str(bad)}
    out = grpo("audit", *[paths.get(a, a) for a in args])
    assert out.returncode == 2 and out.stdout == ""
    (line,) = out.stderr.splitlines()
    assert line.startswith("error: ") and message in line
