"""Retention for admins: delete or anonymise the conversations idle for longer than the configured age."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.auth import Admin
from app.deps import ServiceDep
from app.errors import ERROR_RESPONSES
from app.policies import actor_of
from app.retention import MAX_DAYS, RetentionPlan, RetentionReport, run_retention
from app.store.erasure import RemovalMode

router = APIRouter(prefix="/v1/retention", tags=["retention"], responses=ERROR_RESPONSES)


class RetentionIn(BaseModel):
    """A run; what it leaves out comes from the SUPPORT_ROUTER_RETENTION_* settings."""

    model_config = ConfigDict(extra="forbid")

    older_than_days: int | None = Field(
        default=None, ge=1, le=MAX_DAYS, description="Default SUPPORT_ROUTER_RETENTION_DAYS."
    )
    mode: RemovalMode | None = Field(default=None, description="Default SUPPORT_ROUTER_RETENTION_MODE.")
    # Strict: lax validation would read 1 or "yes" as true.
    dry_run: bool = Field(default=False, strict=True, description="Only count what a run would remove.")
    limit: int | None = Field(default=None, ge=1, description="Remove at most this many conversations.")

    @field_validator("older_than_days", "limit", mode="before")
    @classmethod
    def _a_number(cls, value: object) -> object:
        # Lax validation reads `true` as 1 and "5" as 5; strict would refuse 5.0, which JSON Schema calls
        # an integer.
        if isinstance(value, bool | str):
            raise ValueError("a count is a JSON number")
        return value


@router.post("/run", response_model=RetentionReport)
async def run(body: RetentionIn, principal: Admin, service: ServiceDep) -> RetentionReport:
    """Remove the conversations last active before the cutoff; keep those a person is working on.

    409 when no age is given and none is configured.
    """
    plan = RetentionPlan.configured(
        service.settings, body.older_than_days, body.mode, body.dry_run, body.limit
    )
    return await run_retention(service.remover, plan, actor_of(principal))
