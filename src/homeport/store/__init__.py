"""Persistence: SQLAlchemy models, sessions, migrations and the blob store."""
