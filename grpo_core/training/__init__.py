"""The GRPO trainer (Algorithm 1) and its machinery: configuration, policy loading and the
embedded default, sampling, rollouts and rewards, optimisation, the reference policy, several
processes, checkpoints and resume, metrics, evaluation, LoRA and scoring overlap. It uses the
maths at grpo_core's top level and nothing from grpo_core.commands. Import the modules
themselves (``grpo_core.training.trainer``): this package imports nothing, so no torch."""
