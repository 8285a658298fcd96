"""Policy versions (immutable documents) and their deployments (an append-only log)."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.store.audit import AuditEntry, append
from app.store.database import Sessions
from app.store.models import PolicyDeployment, PolicyVersion, utcnow


class PolicyStore:
    """Keep every proposed version as written and every change of what serves traffic."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def propose(
        self, name: str, document: str, digest: str, actor: str, audit: AuditEntry | None = None
    ) -> PolicyVersion:
        """Store a new draft version, numbered after the newest."""
        async with self._sessions.begin() as session:
            newest = await session.scalar(select(func.max(PolicyVersion.version)))
            version = PolicyVersion(
                version=(newest or 0) + 1,
                name=name,
                document=document,
                digest=digest,
                status="draft",
                proposed_by=actor,
            )
            session.add(version)
            await _audit(session, audit)
        return version

    async def install(
        self, name: str, document: str, digest: str, actor: str, audit: AuditEntry
    ) -> PolicyVersion | None:
        """On an empty store only: the first version, approved and active (the embedded default)."""
        async with self._sessions.begin() as session:
            if await session.scalar(select(func.count()).select_from(PolicyVersion)):
                return None
            version = PolicyVersion(
                version=1,
                name=name,
                document=document,
                digest=digest,
                status="approved",
                proposed_by=actor,
                approved_by=actor,
                approved_at=utcnow(),
            )
            session.add(version)
            await session.flush()
            session.add(
                PolicyDeployment(
                    active_version=1, canary_version=None, canary_percent=0.0, action="install", actor=actor
                )
            )
            await _audit(session, audit)
        return version

    async def get(self, version: int) -> PolicyVersion | None:
        """One version."""
        async with self._sessions() as session:
            return await session.get(PolicyVersion, version)

    async def versions(self) -> list[PolicyVersion]:
        """Every version, oldest first."""
        async with self._sessions() as session:
            return list(await session.scalars(select(PolicyVersion).order_by(PolicyVersion.version)))

    async def approve(self, version: int, actor: str, audit: AuditEntry | None = None) -> bool:
        """Approve a draft proposed by someone else; False when it is not such a draft."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(PolicyVersion)
                .where(
                    PolicyVersion.version == version,
                    PolicyVersion.status == "draft",
                    PolicyVersion.proposed_by != actor,
                )
                .values(status="approved", approved_by=actor, approved_at=utcnow())
            )
            approved = bool(result.rowcount)  # type: ignore[attr-defined]
            if approved:
                await _audit(session, audit)
        return approved

    async def deployment(self) -> PolicyDeployment | None:
        """What serves traffic now: the newest deployment."""
        async with self._sessions() as session:
            query = select(PolicyDeployment).order_by(PolicyDeployment.id.desc()).limit(1)
            return (await session.scalars(query)).first()

    async def deployments(self) -> list[PolicyDeployment]:
        """The whole deployment history, newest first."""
        async with self._sessions() as session:
            query = select(PolicyDeployment).order_by(PolicyDeployment.id.desc())
            return list(await session.scalars(query))

    async def deploy(
        self,
        expected_current: int | None,
        active: int,
        canary: int | None,
        percent: float,
        action: str,
        actor: str,
        audit: AuditEntry | None = None,
    ) -> PolicyDeployment | None:
        """Append a deployment unless another one landed since `expected_current` was read."""
        async with self._sessions.begin() as session:
            newest = await session.scalar(select(func.max(PolicyDeployment.id)))
            if newest != expected_current:
                return None
            deployment = PolicyDeployment(
                active_version=active,
                canary_version=canary,
                canary_percent=percent,
                action=action,
                actor=actor,
            )
            session.add(deployment)
            await _audit(session, audit)
        return deployment


async def _audit(session: AsyncSession, entry: AuditEntry | None) -> None:
    """Record the change in the audit log, in the same transaction as the change itself."""
    if entry is not None:
        await append(session, [entry])
