"""grpokit-countdown: a ``countdown`` verifier and task suite, contributed as a grpokit plugin."""

from grpokit_countdown.suite import CountdownSuite
from grpokit_countdown.verifier import CountdownVerifier

__all__ = ["CountdownSuite", "CountdownVerifier"]
