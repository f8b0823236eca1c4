"""The plugin manager: built-ins and ``grpokit`` entry points, registered through one set of hooks.

``get_plugins()`` returns the process-wide manager. A plugin that fails to import (or whose hook
raises) is recorded in ``failures`` with its name and error; the others still load. Two plugins
registering the same verifier or suite name, or the same fixture (``verifier/name``), is a
``PluginError`` naming both.
"""

from __future__ import annotations

import importlib.metadata
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import import_module
from types import ModuleType
from typing import Any

import pluggy

from rewards import hookspecs
from rewards.verifier import KINDS, Verifier

ENTRY_POINT_GROUP = hookspecs.PROJECT
BUILTIN_PLUGINS = ("rewards.builtin",)


class PluginError(RuntimeError):
    """A plugin conflict or an unknown name; the message says which plugins or names."""


@dataclass(frozen=True)
class Registration:
    """A registered class and the plugin that contributed it."""

    cls: type
    plugin: str


@dataclass(frozen=True)
class FixtureRegistration:
    """A registered fixture (``rewards.audit.Fixture``) and the plugin that contributed it."""

    fixture: Any
    plugin: str


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded or whose hook raised."""

    plugin: str
    error: str
    distribution: str | None = None


class Plugins:
    """Collects verifiers, task suites and CLI commands from every plugin."""

    def __init__(self, *, builtins: bool = True, entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.failures: list[PluginFailure] = []
        self._cache: dict[str, dict[str, Registration]] = {}
        self._fixtures: dict[str, FixtureRegistration] | None = None
        self.distributions: dict[str, str] = {}  # plugin name -> the distribution that ships it
        if builtins:
            for name in BUILTIN_PLUGINS:
                self.register(import_module(name), name="builtin")
            self.distributions["builtin"] = "grpokit"
        if entry_points:
            self.load_entry_points()

    def register(self, plugin: ModuleType | object, name: str | None = None) -> None:
        """Register an in-process plugin (a module or object with ``@hookimpl`` functions)."""
        self.pm.register(plugin, name=name)
        self._cache.clear()
        self._fixtures = None

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Load every installed distribution's ``grpokit`` entry point, recording failures.

        Two distributions declaring the same entry-point name is a ``PluginError`` naming both
        (pluggy would keep one and silently drop the other); the same distribution seen twice
        on the path is loaded once."""
        for ep in importlib.metadata.entry_points(group=group):
            dist = ep.dist.name if ep.dist is not None else None
            if ep.name in self.distributions or self.pm.has_plugin(ep.name):
                first = self.distributions.get(ep.name)
                if first is not None and dist is not None and first != dist:
                    raise PluginError(
                        f"entry point {ep.name!r} (group {group!r}) is declared by two "
                        f"distributions: {first!r} and {dist!r}; uninstall one or rename its "
                        "entry point"
                    )
                continue
            if dist is not None:
                self.distributions[ep.name] = dist
            try:
                module = ep.load()
                self.register(module, name=ep.name)
            except Exception as exc:
                self.failures.append(PluginFailure(ep.name, _describe(exc), dist))

    def plugin_names(self) -> list[str]:
        return [name for name, _ in self.pm.list_name_plugin()]

    # -- registries -------------------------------------------------------------------------

    def verifiers(self) -> dict[str, Registration]:
        """Every registered verifier by name, with the plugin it came from."""
        return self._collect("register_verifiers", "verifier", _check_verifier)

    def suites(self) -> dict[str, Registration]:
        """Every registered task suite by name, with the plugin it came from."""
        return self._collect("register_suites", "suite", _check_suite)

    def fixtures(self) -> dict[str, FixtureRegistration]:
        """Every registered fixture by ``verifier/name``, with the plugin it came from."""
        if self._fixtures is None:
            self._fixtures = self._collect_fixtures()
        return self._fixtures

    def fixtures_for(self, verifier: str) -> list[FixtureRegistration]:
        """The fixtures registered for verifier ``verifier``, in registration order."""
        return [r for r in self.fixtures().values() if r.fixture.verifier == verifier]

    def verifier(self, name: str, **options: Any) -> Verifier:
        """Instantiate verifier ``name`` with ``options``; unknown names list the available."""
        return self._lookup(self.verifiers(), name, "verifier").cls(**options)

    def suite(self, name: str, **options: Any) -> Any:
        """Instantiate task suite ``name`` with ``options``; unknown names list the available."""
        return self._lookup(self.suites(), name, "task suite").cls(**options)

    def add_commands(self, cli: Any) -> None:
        """Let every plugin add its commands to the ``grpo`` click group."""
        for impl in self.pm.hook.register_commands.get_hookimpls():
            try:
                impl.function(cli=cli)
            except Exception as exc:
                self.failures.append(PluginFailure(impl.plugin_name, _describe(exc)))

    # -- internals --------------------------------------------------------------------------

    def _collect(
        self, hook: str, what: str, check: Callable[[type], str | None]
    ) -> dict[str, Registration]:
        if hook in self._cache:
            return self._cache[hook]
        found: dict[str, Registration] = {}
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            plugin = impl.plugin_name
            for cls in _call_register_hook(impl, plugin, self.failures):
                problem = check(cls)
                if problem:
                    self.failures.append(PluginFailure(plugin, f"{what} {cls!r}: {problem}"))
                    continue
                if cls.name in found and found[cls.name].cls is not cls:
                    first = self._label(found[cls.name].plugin)
                    raise PluginError(_clash(f"{what} name", cls.name, first, self._label(plugin)))
                found[cls.name] = Registration(cls, plugin)
        self._cache[hook] = found
        return found

    def _collect_fixtures(self) -> dict[str, FixtureRegistration]:
        from rewards.audit.fixtures import Fixture

        found: dict[str, FixtureRegistration] = {}
        for impl in self.pm.hook.register_fixtures.get_hookimpls():
            plugin = impl.plugin_name
            for fixture in _call_register_hook(impl, plugin, self.failures):
                if not isinstance(fixture, Fixture):
                    problem = f"fixture {fixture!r}: is not a rewards.audit.Fixture"
                    self.failures.append(PluginFailure(plugin, problem))
                    continue
                if fixture.key in found:
                    first = found[fixture.key].plugin
                    if first == plugin:
                        raise PluginError(
                            f"fixture {fixture.key!r} is registered twice by plugin {plugin!r}"
                        )
                    raise PluginError(
                        _clash("fixture", fixture.key, self._label(first), self._label(plugin))
                    )
                found[fixture.key] = FixtureRegistration(fixture, plugin)
        return found

    def _label(self, plugin: str) -> str:
        """``'name'``, with the distribution that ships it when known."""
        dist = self.distributions.get(plugin)
        return f"{plugin!r} (distribution {dist!r})" if dist else repr(plugin)

    @staticmethod
    def _lookup(registry: dict[str, Registration], name: str, what: str) -> Registration:
        try:
            return registry[name]
        except KeyError:
            available = ", ".join(sorted(registry)) or "none"
            raise PluginError(f"unknown {what} {name!r}; available: {available}") from None


def _clash(what: str, name: str, first: str, second: str) -> str:
    """The error for ``name`` registered by two plugins, naming both."""
    return f"{what} {name!r} is registered by two plugins: {first} and {second}; uninstall or rename one"


def _call_register_hook(
    impl: pluggy.HookImpl, plugin: str, failures: list[PluginFailure]
) -> Iterable[Any]:
    """Call one plugin's ``register_*`` hook and return what it registered."""
    registered: list[Any] = []
    try:
        impl.function(**{arg: registered.append for arg in impl.argnames})
    except Exception as exc:
        failures.append(PluginFailure(plugin, _describe(exc)))
    return registered


def _check_verifier(cls: type) -> str | None:
    if not (isinstance(cls, type) and issubclass(cls, Verifier)):
        return "is not a subclass of rewards.Verifier"
    if not getattr(cls, "name", None):
        return "has no name"
    if getattr(cls, "kind", None) not in KINDS:
        return f"kind must be one of {', '.join(KINDS)}"
    return None


def _check_suite(cls: type) -> str | None:
    from rewards.suite import TaskSuite

    if not (isinstance(cls, type) and issubclass(cls, TaskSuite)):
        return "is not a subclass of rewards.TaskSuite"
    return None if getattr(cls, "name", None) else "has no name"


def _describe(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" ({last[0].filename}:{last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


_PLUGINS: Plugins | None = None


def get_plugins() -> Plugins:
    """The process-wide plugin manager (built-ins plus installed entry points)."""
    global _PLUGINS
    if _PLUGINS is None:
        _PLUGINS = Plugins()
    return _PLUGINS
