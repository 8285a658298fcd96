"""Which failures mean a dependency is down (database, checkpoints, Chroma server) rather than a bug.

An outage is answered with 503 and Retry-After instead of a 500, and a turn it cut short is finished
once the dependency is back (RouterService.recover). The rule for telling the two stores apart: the
app store talks through SQLAlchemy (asyncpg or SQLite), the checkpointer through psycopg or aiosqlite
directly, so an unwrapped driver error is the checkpointer's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import asyncpg
import psycopg
from sqlalchemy import exc as sqlalchemy_errors

from knowledge.store import KnowledgeUnavailable

Dependency = Literal["store", "checkpointer", "knowledge_index"]
RETRY_AFTER_SECONDS = 5
"""What a 503 asks the caller to wait: long enough for a database restart, short enough for a person."""

# SQLite's messages for a write it could not make now but can later (SQLITE_FULL, SQLITE_IOERR,
# SQLITE_BUSY, SQLITE_CANTOPEN, SQLITE_READONLY); anything else (no such table, syntax) is a bug.
_SQLITE_OUTAGES = {
    "database or disk is full": "disk full",
    "disk i/o error": "disk I/O error",
    "database is locked": "database locked",
    "unable to open database file": "database file cannot be opened",
    "attempt to write a readonly database": "database is read-only",
}
_POSTGRES_DOWN = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up, terminated by admin
    asyncpg.InterfaceError,
    ConnectionError,  # refused or reset before the driver wrapped it
)
DESCRIPTION: dict[Dependency, str] = {
    "store": "the database",
    "checkpointer": "the conversation state store",
    "knowledge_index": "the knowledge index (Chroma server)",
}


@dataclass(frozen=True)
class Outage:
    """A dependency that could not be used, and why, in a few words."""

    dependency: Dependency
    reason: str

    def describe(self) -> str:
        """For the error body: what is unavailable and why."""
        return f"{DESCRIPTION[self.dependency]} is unavailable ({self.reason})"


class MessageDeferred(Exception):
    """A customer message was accepted (stored) but its turn could not run: it will be answered once
    the dependency is back, and a retry with the same Idempotency-Key then gets that answer."""

    def __init__(self, outage: Outage, conversation_id: str, message_id: int) -> None:
        super().__init__(outage.describe())
        self.outage = outage
        self.conversation_id = conversation_id
        self.message_id = message_id


def outage_of(error: BaseException) -> Outage | None:
    """The outage behind `error` (looking through wrapped and chained causes), or None for a bug."""
    through_store = False
    for cause in _causes(error):
        if isinstance(cause, MessageDeferred):
            return cause.outage
        if isinstance(cause, KnowledgeUnavailable):
            return Outage("knowledge_index", "unreachable")
        through_store = through_store or isinstance(cause, sqlalchemy_errors.SQLAlchemyError)
        found = _database_outage(cause, through_store)
        if found is not None:
            return found
    return None


def _database_outage(cause: BaseException, through_store: bool) -> Outage | None:
    if isinstance(cause, sqlalchemy_errors.TimeoutError):
        return Outage("store", "no connection free in time")
    if isinstance(cause, sqlalchemy_errors.DBAPIError) and cause.connection_invalidated:
        return Outage("store", "connection lost")
    if isinstance(cause, sqlite3.OperationalError):
        message = str(cause).lower()
        reason = next((why for text, why in _SQLITE_OUTAGES.items() if text in message), None)
        return Outage("store" if through_store else "checkpointer", reason) if reason else None
    if isinstance(cause, psycopg.OperationalError | psycopg.InterfaceError):
        return Outage("checkpointer", "database unreachable")
    if isinstance(cause, _POSTGRES_DOWN):
        return Outage("store", "database unreachable")
    return None


def _causes(error: BaseException, limit: int = 12) -> Iterator[BaseException]:
    """The error, the driver error SQLAlchemy wraps (`orig`), then its causes and contexts."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending and len(seen) < limit:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for linked in (getattr(current, "orig", None), current.__cause__, current.__context__):
            if isinstance(linked, BaseException):
                pending.append(linked)
