"""Command implementations, one module per namespace, imported only when run."""
