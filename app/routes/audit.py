"""A conversation's audit trail: every routing decision and human action, with its explanation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.auth import ReviewerOrAdmin
from app.deps import ServiceDep
from app.errors import ERROR_RESPONSES
from app.store.models import AuditRecord

router = APIRouter(prefix="/v1/conversations", tags=["audit"], responses=ERROR_RESPONSES)


class AuditRecordOut(BaseModel):
    """One link of the hash-chained audit log."""

    seq: int = Field(description="Position in the whole log (gaps mean deleted records).")
    at: datetime
    kind: str = Field(description="routing_decision, human_action or policy_change")
    actor: str
    explanation: str | None = Field(description="Why the policy decided as it did (routing decisions).")
    inputs: dict[str, Any] = Field(description="What the decision was made from (minimised).")
    details: dict[str, Any] = Field(description="Decision, rule, versions, retrieved articles, outcome.")
    hash: str
    prev_hash: str


def record_out(record: AuditRecord) -> AuditRecordOut:
    """The API view of one audit record."""
    policy = record.details.get("policy") or {}
    return AuditRecordOut(
        seq=record.seq,
        at=record.at,
        kind=record.kind,
        actor=record.actor,
        explanation=policy.get("explanation"),
        inputs=record.inputs,
        details=record.details,
        hash=record.hash,
        prev_hash=record.prev_hash,
    )


@router.get("/{conversation_id}/audit", response_model=list[AuditRecordOut])
async def conversation_audit(
    conversation_id: str, principal: ReviewerOrAdmin, service: ServiceDep
) -> list[AuditRecordOut]:
    """The conversation's trail in order (reviewers and admins)."""
    await service.conversation(principal, conversation_id)  # 404 for an unknown conversation
    return [record_out(r) for r in await service.store.audit.trail(conversation_id)]
