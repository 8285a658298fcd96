"""API keys, for admins: issue, list, revoke."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field

from app.auth import Admin
from app.deps import ServiceDep
from app.errors import ERROR_RESPONSES
from app.refusals import NotFoundError
from app.storable import NO_NUL
from app.store.keys import Role

router = APIRouter(prefix="/v1/keys", tags=["keys"], responses=ERROR_RESPONSES)


class KeyIn(BaseModel):
    """A key to issue."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    name: str = Field(min_length=1, max_length=200, pattern=NO_NUL, description="Who or what will use it.")


class KeyOut(BaseModel):
    """A key, without its secret."""

    id: str
    role: str
    name: str
    created_at: datetime
    revoked_at: datetime | None


class IssuedKeyOut(BaseModel):
    """A new key; `key` is shown this once."""

    id: str
    role: str
    name: str
    key: str


@router.post("", status_code=status.HTTP_201_CREATED, response_model=IssuedKeyOut)
async def create_key(body: KeyIn, principal: Admin, service: ServiceDep) -> IssuedKeyOut:
    """Issue a key."""
    issued = await service.store.keys.create(body.role, body.name)
    p = issued.principal
    return IssuedKeyOut(id=p.key_id, role=p.role, name=p.name, key=issued.secret)


@router.get("", response_model=list[KeyOut])
async def list_keys(principal: Admin, service: ServiceDep) -> list[KeyOut]:
    """Every key, newest first."""
    return [
        KeyOut(id=k.id, role=k.role, name=k.name, created_at=k.created_at, revoked_at=k.revoked_at)
        for k in await service.store.keys.list()
    ]


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def revoke_key(key_id: str, principal: Admin, service: ServiceDep) -> Response:
    """Revoke a key; it stops working at once."""
    if not await service.store.keys.revoke(key_id):
        raise NotFoundError(f"no active key {key_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
