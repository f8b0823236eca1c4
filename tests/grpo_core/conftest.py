"""Fixtures shared by the grpo_core tests: the tiny Llama on disk (``model_path``) and a private
plugin manager holding the test verifiers (``plugins``), both defined in trainer_fixtures.py. A
module that defines its own fixture of the same name uses its own."""

from trainer_fixtures import model_path, plugins

__all__ = ["model_path", "plugins"]
