"""The ``grpo`` commands grpo_core contributes: their click definitions (``cli``), ``grpo train``
(``train_cli``), ``grpo evaluate`` (``evaluate_cli``), ``grpo plot`` (``plot``) and ``grpo demo``
(``demo``). They import the trainer (grpo_core.training) only when they run."""
