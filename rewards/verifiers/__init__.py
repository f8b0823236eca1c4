"""Built-in verifiers, one per module, registered by ``rewards.builtin`` through the plugin hooks."""
