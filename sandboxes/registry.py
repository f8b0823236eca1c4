"""Look up a sandbox backend by name. Backends are imported only when asked for."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from sandboxes.base import Sandbox

BACKENDS: dict[str, str] = {
    "local": "sandboxes.local:LocalSandbox",
    "docker": "sandboxes.docker_sandbox:DockerSandbox",
}


def get_sandbox(name: str = "local", **options: Any) -> Sandbox:
    """Create the sandbox backend ``name`` (``local`` or ``docker``) with ``options``."""
    try:
        target = BACKENDS[name]
    except KeyError:
        raise ValueError(
            f"unknown sandbox backend {name!r}; available: {', '.join(sorted(BACKENDS))}"
        ) from None
    module, _, attr = target.partition(":")
    return getattr(import_module(module), attr)(**options)
