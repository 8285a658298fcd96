"""The app store: escalations waiting for a reviewer, in SQL (SQLite under the data dir by default)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, String, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

STORE_FILE = "app.sqlite"


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of the app tables."""


class Review(Base):
    """One escalated turn: pending until a reviewer's decision resumes it."""

    __tablename__ = "reviews"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """The interrupt id, so a decision names exactly the pause it answers."""
    conversation_id: Mapped[str] = mapped_column(String(64), index=True)
    customer_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    turn: Mapped[int]
    reason: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    waiting_messages: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    decision: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AppStore:
    """Reviews, read and written through one async engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def add_review(self, review: Review) -> None:
        """Record a new escalation; recording the same interrupt twice keeps the first."""
        async with self._sessions.begin() as session:
            if await session.get(Review, review.id) is None:
                session.add(review)

    async def get_review(self, review_id: str) -> Review | None:
        """One review by id."""
        async with self._sessions() as session:
            return await session.get(Review, review_id)

    async def pending_for(self, conversation_id: str) -> Review | None:
        """The review a conversation is waiting on, if any."""
        async with self._sessions() as session:
            query = select(Review).where(
                Review.conversation_id == conversation_id, Review.status.in_(("pending", "resolving"))
            )
            return (await session.scalars(query)).first()

    async def list_reviews(self, status: str = "pending") -> list[Review]:
        """Reviews in one status, oldest first."""
        async with self._sessions() as session:
            query = select(Review).where(Review.status == status).order_by(Review.created_at)
            return list(await session.scalars(query))

    async def add_waiting_message(self, review_id: str, text: str) -> None:
        """Keep a message the customer sent while a person had the conversation."""
        async with self._sessions.begin() as session:
            review = await session.get(Review, review_id, with_for_update=True)
            if review is not None:
                review.waiting_messages = [*review.waiting_messages, text]

    async def start_resolving(self, review_id: str) -> bool:
        """Take the review for resolution; False when someone else already did."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(Review)
                .where(Review.id == review_id, Review.status == "pending")
                .values(status="resolving")
            )
            return result.rowcount == 1  # type: ignore[attr-defined]

    async def finish_resolving(self, review_id: str, decision: dict[str, Any] | None) -> None:
        """Mark resolved with the decision, or hand back to pending when `decision` is None."""
        values: dict[str, Any] = (
            {"status": "resolved", "decision": decision, "resolved_at": _now()}
            if decision is not None
            else {"status": "pending"}
        )
        async with self._sessions.begin() as session:
            await session.execute(update(Review).where(Review.id == review_id).values(**values))


@asynccontextmanager
async def open_store(data_dir: Path) -> AsyncIterator[AppStore]:
    """The app store for the service's lifetime, tables created on first use."""
    data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(f"sqlite+aiosqlite:///{data_dir / STORE_FILE}")
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    try:
        yield AppStore(engine)
    finally:
        await engine.dispose()
