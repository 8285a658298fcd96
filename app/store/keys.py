"""API keys: issued once in clear, kept as a hash, verified in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal, get_args

from sqlalchemy import func, select, update

from app.store.database import Sessions
from app.store.models import ApiKey, utcnow

Role = Literal["widget", "reviewer", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
PREFIX = "sr"
# Compared against when the key id is unknown, so a miss costs what a hit costs.
_DUMMY_HASH = hashlib.sha256(b"no such key").hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, role and name."""

    key_id: str
    role: Role
    name: str


@dataclass(frozen=True)
class IssuedKey:
    """A newly created key; `secret` is shown once and never stored."""

    principal: Principal
    secret: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_key(presented: str) -> tuple[str, str] | None:
    """Split `sr_<id>_<secret>` into id and secret; None when it is not shaped like a key."""
    parts = presented.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


class KeyStore:
    """Issue, verify, list and revoke API keys."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions
        # Revoked by this process, possibly while a verification was reading the row as it was before.
        self._revoked: set[str] = set()

    async def create(self, role: Role, name: str) -> IssuedKey:
        """A new key of `role`; the clear key is in the result only."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(24)
        async with self._sessions.begin() as session:
            session.add(ApiKey(id=key_id, secret_hash=_hash(secret), role=role, name=name))
        return IssuedKey(Principal(key_id, role, name), f"{PREFIX}_{key_id}_{secret}")

    async def verify(self, presented: str) -> Principal | None:
        """The principal of a valid, unrevoked key; None otherwise.

        Every request reads the key's row (one primary-key lookup): a key revoked by another worker or
        by the command line is refused by the very next request, which no per-process cache allows.
        """
        principal = await self._verify_in_store(presented)
        if principal is not None and principal.key_id in self._revoked:
            return None
        return principal

    async def _verify_in_store(self, presented: str) -> Principal | None:
        parsed = parse_key(presented)
        key_id, secret = parsed if parsed else ("", "")
        async with self._sessions() as session:
            row = await session.get(ApiKey, key_id) if key_id else None
        expected = row.secret_hash if row is not None else _DUMMY_HASH
        matches = hmac.compare_digest(_hash(secret), expected)
        if row is None or not matches or row.revoked_at is not None or row.role not in ROLES:
            return None
        return Principal(row.id, row.role, row.name)

    async def count(self) -> int:
        """How many keys exist, revoked or not."""
        async with self._sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(ApiKey)) or 0)

    async def list(self) -> list[ApiKey]:
        """Every key, newest first (hashes included; callers choose what to show)."""
        async with self._sessions() as session:
            return list(await session.scalars(select(ApiKey).order_by(ApiKey.created_at.desc())))

    async def revoke(self, key_id: str) -> bool:
        """Revoke a key; False when there is no such active key."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(ApiKey)
                .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
        self._revoked.add(key_id)
        return bool(result.rowcount)  # type: ignore[attr-defined]
