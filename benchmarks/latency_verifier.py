"""A latency-bound verifier for bench_vs_trl.py's overlap case (registered in a private plugin
manager there, imported by the scoring workers).

It stands in for scoring that waits rather than computes (a reward model or judge behind an API,
a remote sandbox): each call waits ``seconds`` and then scores the share of digit characters
(a reward with variance for a random policy, so steps make real updates). Labelled as such in
the report; the CPU-bound cases there use the real ``math`` and sandboxed ``code`` verifiers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rewards import Verifier, VerifyResult, hookimpl


@dataclass(frozen=True)
class WaitOptions:
    seconds: float = 0.05  #: wait per call


class WaitingDigitShare(Verifier):
    name = "bench_waiting_digits"
    kind = "correct"
    description = "waits like a remote judge, then scores the share of digit characters"
    Options = WaitOptions

    def verify(self, completion, row):
        time.sleep(self.options.seconds)
        return VerifyResult(sum(c.isdigit() for c in completion) / max(len(completion), 1))


@hookimpl
def register_verifiers(register):
    register(WaitingDigitShare)


def plugins():
    """Built-in plugins plus this module."""
    import sys

    from rewards.plugins import Plugins

    manager = Plugins(entry_points=False)
    manager.register(sys.modules[__name__], name="bench-latency")
    return manager
