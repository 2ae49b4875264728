"""Built-in behaviour written as ordinary plugins (``trylast``, so installed plugins win)."""
