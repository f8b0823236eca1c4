"""Sandboxes for running untrusted code: a Linux process sandbox and a Docker backend.

No torch here, and nothing from ``rewards`` or ``grpo_core``: imports flow one way.
"""

from sandboxes.base import Limits, RunResult, Sandbox, SandboxUnavailable
from sandboxes.registry import get_sandbox

__all__ = ["Limits", "RunResult", "Sandbox", "SandboxUnavailable", "get_sandbox"]
