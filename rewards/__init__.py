"""grpokit rewards: the Verifier interface, the plugin system, reward schemes and task suites.

Never imports torch. Heavy libraries (math-verify, sympy) are imported inside verifiers.
"""

from rewards.hookspecs import hookimpl
from rewards.plugins import PluginError, Plugins, get_plugins
from rewards.suite import SuiteError, TaskSuite
from rewards.verifier import Verifier, VerifyResult

__all__ = [
    "PluginError",
    "Plugins",
    "SuiteError",
    "TaskSuite",
    "Verifier",
    "VerifyResult",
    "get_plugins",
    "hookimpl",
]
