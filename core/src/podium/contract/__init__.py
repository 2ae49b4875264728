"""Contract: the hook specifications and the plugin manager that loads implementations."""
