"""``python -m rewards`` is the ``grpo`` command."""

from rewards.cli import main

main()
