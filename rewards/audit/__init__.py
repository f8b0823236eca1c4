"""``grpo audit``: probe a verifier for reward hacks and run the fixtures plugins ship for it.

Importing this package loads only the fixture type (``Fixture``), so a plugin's
``register_fixtures`` hook costs nothing; the probes, the runner and the command are imported
when ``grpo audit`` runs.
"""

from rewards.audit.fixtures import FIXTURE_KINDS, Fixture, FixtureKind

__all__ = ["FIXTURE_KINDS", "Fixture", "FixtureKind"]
