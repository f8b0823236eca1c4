"""Built-in task suites, one per module, registered by ``rewards.builtin`` through the plugin hooks."""
