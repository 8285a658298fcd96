"""Reviews: escalated turns waiting for, claimed by, and resolved by a person."""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import Update, func, or_, select, update

from app.store.database import Sessions
from app.store.leases import Fence, check_fence
from app.store.models import Review, utcnow

ReviewStatus = Literal["pending", "resolving", "resolved"]


class ReviewStore:
    """Record escalations and move them through claim and resolution atomically."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def get(self, review_id: str) -> Review | None:
        """One review by id."""
        async with self._sessions() as session:
            return await session.get(Review, review_id)

    async def open_for(self, conversation_id: str) -> Review | None:
        """The review a conversation is waiting on, if any."""
        async with self._sessions() as session:
            query = select(Review).where(
                Review.conversation_id == conversation_id, Review.status.in_(("pending", "resolving"))
            )
            return (await session.scalars(query)).first()

    async def in_status(self, status: ReviewStatus = "pending") -> list[Review]:
        """Reviews in one status: soonest first-response due first, then the most valuable customer."""
        async with self._sessions() as session:
            query = (
                select(Review)
                .where(Review.status == status)
                .order_by(
                    Review.first_response_due.is_(None),
                    Review.first_response_due,
                    Review.value_score.desc(),
                    Review.created_at,
                    Review.id,
                )
            )
            return list(await session.scalars(query))

    async def count_pending(self) -> int:
        """How many reviews wait for a person."""
        async with self._sessions() as session:
            query = select(func.count()).select_from(Review).where(Review.status == "pending")
            return int(await session.scalar(query) or 0)

    async def claim(self, review_id: str, reviewer: str) -> bool:
        """Assign a pending review; True when it is now (or already was) this reviewer's."""
        return await self._take(review_id, reviewer, claimed_at=utcnow())

    async def start_resolving(self, review_id: str, reviewer: str, decision: dict[str, Any]) -> bool:
        """Take a pending review that is unclaimed or claimed by `reviewer`, keeping the decision that
        resolves it (recovery finishes a resolution a crash cut short with it); False otherwise."""
        return await self._take(review_id, reviewer, status="resolving", decision=decision)

    async def _take(self, review_id: str, reviewer: str, **values: Any) -> bool:
        """Atomically update a pending review nobody else has claimed, and make it `reviewer`'s."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(Review)
                .where(
                    Review.id == review_id,
                    Review.status == "pending",
                    or_(Review.claimed_by.is_(None), Review.claimed_by == reviewer),
                )
                .values(claimed_by=reviewer, **values)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def reopen(self, review_id: str, fence: Fence | None = None) -> None:
        """Hand a review being resolved back to pending, its decision dropped (a resume that failed before
        it got past the pause); with a `fence`, only while the conversation's lease is still that."""
        async with self._sessions.begin() as session:
            if fence is not None:
                await check_fence(session, fence)
            await session.execute(
                update(Review)
                .where(Review.id == review_id, Review.status == "resolving")
                .values(status="pending", decision=None)
            )


def resolution(review_id: str, decision: dict[str, Any]) -> Update:
    """The update that marks a review being resolved as resolved by `decision`."""
    now = utcnow()
    return (
        update(Review)
        .where(Review.id == review_id, Review.status == "resolving")
        .values(
            status="resolved",
            decision=decision,
            resolved_at=now,
            # Every decision writes to the customer (or hands them back to a specialist who does).
            first_responded_at=func.coalesce(Review.first_responded_at, now),
        )
    )
