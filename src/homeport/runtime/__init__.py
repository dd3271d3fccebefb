"""The local runtime: app configuration, builds, the sandbox, supervised processes,
the router."""
