"""Domain logic: plain Python over the store, knowing nothing of HTTP."""
