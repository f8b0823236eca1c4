"""The plugin manager and every hookspec: verifiers, suites, commands; entry points; failures."""

import os
import subprocess
import sys

import pytest
import sample_plugin
from click.testing import CliRunner
from conftest import FIXTURES, make_distribution

from rewards import PluginError, Plugins, SuiteError, Verifier, VerifyResult, hookimpl


def in_process() -> Plugins:
    plugins = Plugins(builtins=False, entry_points=False)
    plugins.register(sample_plugin, name="sample")
    return plugins


def test_register_verifiers_hook_records_the_plugin():
    reg = in_process().verifiers()
    assert reg["contains"].cls is sample_plugin.Contains
    assert reg["contains"].plugin == "sample"
    assert set(reg) >= {"contains", "prefix", "hang", "stepper"}


def test_register_suites_hook():
    plugins = in_process()
    assert plugins.suites()["tiny"].plugin == "sample"
    rows = plugins.suite("tiny").rows("train", seed=5)
    assert [r["answer"] for r in rows] == ["5", "6", "7"]


def test_register_commands_hook():
    import click

    @click.group()
    def cli():
        pass

    in_process().add_commands(cli)
    result = CliRunner().invoke(cli, ["hello"])
    assert result.output.strip() == "hello from sample_plugin"


def test_verifier_options_are_validated():
    plugins = in_process()
    assert plugins.verifier("prefix", prefix="<a>").options.prefix == "<a>"
    with pytest.raises(ValueError, match="verifier 'prefix' has no option 'suffix'"):
        plugins.verifier("prefix", suffix="x")


def test_unknown_names_list_what_is_available():
    plugins = in_process()
    with pytest.raises(PluginError, match="unknown verifier 'nope'; available: boom, contains"):
        plugins.verifier("nope")
    with pytest.raises(PluginError, match="unknown task suite 'nope'; available: tiny"):
        plugins.suite("nope")


def test_two_plugins_with_the_same_verifier_name_is_an_error_naming_both():
    class Other(Verifier):
        name = "contains"
        kind = "correct"

        def verify(self, completion, row):
            return VerifyResult(0.0)

    class Impostor:
        @hookimpl
        def register_verifiers(self, register):
            register(Other)

    plugins = in_process()
    plugins.register(Impostor(), name="impostor")
    with pytest.raises(
        PluginError, match="'contains' is registered by two plugins: 'sample' and 'impostor'"
    ):
        plugins.verifiers()


def test_a_bad_registration_is_reported_and_the_rest_load():
    class NotAVerifier:
        name = "x"

    class Sloppy:
        @hookimpl
        def register_verifiers(self, register):
            register(NotAVerifier)

        @hookimpl
        def register_suites(self, register):
            raise RuntimeError("suite hook exploded")

    plugins = in_process()
    plugins.register(Sloppy(), name="sloppy")
    assert "contains" in plugins.verifiers()
    assert "tiny" in plugins.suites()
    assert any(
        f.plugin == "sloppy" and "not a subclass of rewards.Verifier" in f.error
        for f in plugins.failures
    )
    assert any(f.plugin == "sloppy" and "suite hook exploded" in f.error for f in plugins.failures)


def test_entry_points_are_discovered_and_a_broken_plugin_is_reported(installed_plugins):
    plugins = Plugins(builtins=False)
    assert plugins.verifiers()["contains"].plugin == "sample"
    broken = [f for f in plugins.failures if f.plugin == "broken"]
    assert len(broken) == 1
    assert "ImportError: this plugin is broken on purpose" in broken[0].error
    assert broken[0].distribution == "broken_plugin_dist"


def test_builtins_use_the_same_hooks():
    plugins = Plugins(entry_points=False)
    assert "builtin" in plugins.plugin_names()
    impls = plugins.pm.hook.register_verifiers.get_hookimpls()
    assert [i.plugin_name for i in impls] == ["builtin"]


def test_suite_rows_missing_a_field_name_suite_row_and_field():
    class Holey(sample_plugin.Tiny):
        name = "holey"

        def load(self, split, seed):
            yield {"prompt": "a", "answer": "1"}
            yield {"prompt": "b"}

    with pytest.raises(SuiteError, match="suite 'holey', test row 1: missing field 'answer'"):
        Holey().rows("test")


def test_two_distributions_with_the_same_entry_point_name_is_an_error_naming_both(
    tmp_path, monkeypatch
):
    site = tmp_path / "site"
    make_distribution(site, "first_dist", {"dupe": "sample_plugin"})
    other = tmp_path / "other"
    make_distribution(other, "second_dist", {"dupe": "sample_plugin"})
    monkeypatch.syspath_prepend(str(other))
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(
        PluginError, match="'dupe'.*two distributions: 'first_dist' and 'second_dist'"
    ):
        Plugins(builtins=False)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(other), str(FIXTURES)])}
    run = subprocess.run(
        [sys.executable, "-m", "rewards", "verifiers"], capture_output=True, text=True, env=env
    )
    assert run.returncode == 2, run.stderr
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("error: entry point 'dupe'")
    assert "'first_dist'" in run.stderr and "'second_dist'" in run.stderr


def test_a_verifier_clash_between_installed_plugins_names_their_distributions(
    installed_plugins, tmp_path, monkeypatch
):
    other = tmp_path / "other"
    make_distribution(other, "copycat_dist", {"copycat": "sample_plugin_copy"})
    (other / "sample_plugin_copy.py").write_text(
        "from rewards import Verifier, VerifyResult, hookimpl\n\n"
        "class Contains(Verifier):\n    name = 'contains'\n    kind = 'correct'\n\n"
        "    def verify(self, completion, row):\n        return VerifyResult(1.0)\n\n"
        "@hookimpl\ndef register_verifiers(register):\n    register(Contains)\n"
    )
    monkeypatch.syspath_prepend(str(other))
    plugins = Plugins(builtins=False)
    with pytest.raises(PluginError) as err:
        plugins.verifiers()
    message = str(err.value)
    assert "(distribution 'sample_plugin_dist')" in message
    assert "(distribution 'copycat_dist')" in message
