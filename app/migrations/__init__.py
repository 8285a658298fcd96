"""Alembic migrations of the app store."""
